/**
 * Work that runs after the answer has gone out (the forgot-password lookup and mail), and
 * store steps that must be retried until they succeed (a credential change whose Redis step
 * failed after the database committed). A failure is logged, never lost silently; shutdown
 * waits for what is running and stops retrying.
 */
import type { Logger } from 'pino';

/** Waits between attempts of a retried task; the last one repeats until the deadline. */
// Short: while the store is down nothing of the old epoch can be used, and once it is back the
// window before the retry lands should be a fraction of a second.
const RETRY_DELAYS_MS = [50, 100, 200, 250];
const RETRY_DEADLINE_MS = 15 * 60_000;

export class BackgroundTasks {
  private readonly running = new Set<Promise<void>>();
  /** The `run` tasks among them (work after an answer), which `settled` waits for. */
  private readonly afterAnswers = new Set<Promise<void>>();
  private closed = false;
  private readonly wakeups = new Set<() => void>();

  constructor(private readonly logger: Logger) {}

  run(task: () => Promise<void>): void {
    const done = this.track(task().catch((err: unknown) => this.logger.warn({ err }, 'background task failed')));
    this.afterAnswers.add(done);
    void done.finally(() => this.afterAnswers.delete(done));
  }

  /** Runs `task` until it succeeds, backing off, for at most RETRY_DEADLINE_MS. */
  retry(task: () => Promise<void>, what = 'retried task'): void {
    const started = Date.now();
    const attempt = async (): Promise<void> => {
      for (let i = 0; !this.closed; i++) {
        await this.sleep(RETRY_DELAYS_MS[Math.min(i, RETRY_DELAYS_MS.length - 1)]!);
        if (this.closed) break;
        try {
          await task();
          this.logger.info({ attempts: i + 1 }, `${what} succeeded after retrying`);
          return;
        } catch (err) {
          if (i === 0) this.logger.warn({ err }, `${what} failed; retrying`);
          if (Date.now() - started > RETRY_DEADLINE_MS) {
            this.logger.error({ err }, `${what} gave up after ${RETRY_DEADLINE_MS / 60_000} minutes`);
            return;
          }
        }
      }
      this.logger.error(`${what} abandoned at shutdown`);
    };
    this.track(attempt());
  }

  /** Resolves once every `run` task started so far has finished (retries are not waited for). */
  async settled(): Promise<void> {
    while (this.afterAnswers.size > 0) await Promise.all([...this.afterAnswers]);
  }

  /** Resolves once every task started so far has finished; retries stop. */
  async close(): Promise<void> {
    this.closed = true;
    for (const wake of this.wakeups) wake();
    while (this.running.size > 0) await Promise.all([...this.running]);
  }

  private track(promise: Promise<void>): Promise<void> {
    const done = promise.finally(() => this.running.delete(done));
    this.running.add(done);
    return done;
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        this.wakeups.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, ms);
      this.wakeups.add(wake);
    });
  }
}
