/**
 * Mail delivery off the request path: `send` queues and returns at once; delivery is retried
 * after each of MAIL_RETRY_DELAYS, then given up and logged. The queue lives in this process,
 * so a mail still being retried is lost if the process stops — the user can ask again (resend,
 * forgot password), which is why every mail endpoint is idempotent from the user's side.
 */
import type { Logger } from 'pino';
import type { Mail, Mailer } from '../../domain/mails.js';
import type { MailTransport } from './transports.js';

export class BackgroundMailer implements Mailer {
  private readonly pending = new Set<Promise<void>>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private closed = false;

  constructor(
    private readonly transport: MailTransport,
    private readonly retryDelaysMs: readonly number[],
    private readonly logger: Logger,
  ) {}

  send(mail: Mail): void {
    this.attempt(mail, 0);
  }

  /** Waits for deliveries in flight (not for scheduled retries), then stops. */
  async close(): Promise<void> {
    this.closed = true;
    for (const timer of this.timers) clearTimeout(timer);
    await Promise.allSettled([...this.pending]);
    this.transport.close();
  }

  private attempt(mail: Mail, attempt: number): void {
    if (this.closed) return;
    const delivery = this.transport.deliver(mail).then(
      // Recipient and subject only: the body carries one-time tokens.
      () => this.logger.info({ to: mail.to, subject: mail.subject, attempt: attempt + 1 }, 'mail sent'),
      (error: unknown) => {
        const delay = this.retryDelaysMs[attempt];
        const context = { to: mail.to, subject: mail.subject, attempt: attempt + 1, err: { message: (error as Error)?.message } };
        if (delay === undefined) return this.logger.error(context, 'mail not delivered; giving up');
        this.logger.warn({ ...context, retryInMs: delay }, 'mail not delivered; will retry');
        const timer = setTimeout(() => {
          this.timers.delete(timer);
          this.attempt(mail, attempt + 1);
        }, delay);
        timer.unref();
        this.timers.add(timer);
      },
    );
    this.pending.add(delivery);
    void delivery.finally(() => this.pending.delete(delivery));
  }
}
