/**
 * Work that runs after the answer has gone out (the forgot-password lookup and mail), so the
 * answer's timing cannot depend on it. A failure is logged, never lost silently, and shutdown
 * waits for what is still running.
 */
import type { Logger } from 'pino';

export class BackgroundTasks {
  private readonly running = new Set<Promise<void>>();

  constructor(private readonly logger: Logger) {}

  run(task: () => Promise<void>): void {
    const done: Promise<void> = Promise.resolve()
      .then(task)
      .catch((err: unknown) => this.logger.warn({ err }, 'background task failed'))
      .finally(() => this.running.delete(done));
    this.running.add(done);
  }

  /** Resolves once every task started so far has finished. */
  async settled(): Promise<void> {
    while (this.running.size > 0) await Promise.all([...this.running]);
  }
}
