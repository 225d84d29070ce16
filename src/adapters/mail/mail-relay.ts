/**
 * Delivers what the outbox holds: claims due mails (a lease, so one instance at a time), sends
 * each through the transport, deletes it once sent, and otherwise schedules the next attempt
 * after MAIL_RETRY_DELAYS[attempt - 1]; after the last one the mail is marked failed. The
 * schedule lives in the database, so retries survive a restart and any instance may take them.
 *
 * A pass runs at once when this process queues a mail (`kick`) and every POLL_INTERVAL_MS for
 * the rest: retries that fell due, mails queued by other instances or by the command line, and
 * leases left by a process that stopped mid-delivery.
 *
 * Logs carry the recipient and subject, never the body: it holds one-time tokens.
 */
import type { Logger } from 'pino';
import type { Mail } from '../../domain/mails.js';
import type { MailTransport } from './transports.js';

export interface QueuedMail {
  id: string;
  /** This relay's lease on the row: updates from a holder whose lease ran out change nothing. */
  claim: string;
  /** Attempts so far, this one included. */
  attempts: number;
  mail: Mail;
}

export interface OutboxCounts {
  pending: number;
  failed: number;
}

export interface MailQueue {
  /** Leases up to `limit` mails that are due and not leased by a live holder. */
  claimDue(limit: number, leaseMs: number): Promise<QueuedMail[]>;
  sent(item: QueuedMail): Promise<void>;
  retryAt(item: QueuedMail, at: number, error: string): Promise<void>;
  giveUp(item: QueuedMail, error: string): Promise<void>;
}

export type DeliveryResult = 'sent' | 'retried' | 'failed';

export interface MailRelayOptions {
  retryDelaysMs: readonly number[];
  /** Longer than one delivery can take (the transport's timeouts), or a slow send is sent twice. */
  leaseMs: number;
  pollIntervalMs: number;
  now(): number;
  delivered(result: DeliveryResult): void;
  /** The outbox could not be read or written (the database is down): the next poll tries again. */
  unavailable(error: unknown): void;
}

export const POLL_INTERVAL_MS = 1_000;

export class MailRelay {
  private timer: NodeJS.Timeout | undefined;
  /** Wake-ups for retries this relay scheduled (other instances find them by polling). */
  private readonly wakeUps = new Set<NodeJS.Timeout>();
  private running: Promise<void> | undefined;
  private again = false;
  private closed = false;

  constructor(
    private readonly queue: MailQueue,
    private readonly transport: MailTransport,
    private readonly options: MailRelayOptions,
    private readonly logger: Logger,
  ) {}

  start(): void {
    this.timer = setInterval(() => this.kick(), this.options.pollIntervalMs).unref();
    this.kick();
  }

  /** Runs a pass now, or right after the one in progress. */
  kick(): void {
    if (this.closed) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.passes().finally(() => {
      this.running = undefined;
    });
  }

  /** Waits for the pass in progress (deliveries in flight finish), then stops; the rest waits in the outbox. */
  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.timer);
    for (const wakeUp of this.wakeUps) clearTimeout(wakeUp);
    await this.running;
    this.transport.close();
  }

  private async passes(): Promise<void> {
    do {
      this.again = false;
      try {
        await this.pass();
      } catch (error) {
        this.options.unavailable(error);
        return;
      }
    } while (this.again && !this.closed);
  }

  /**
   * One mail per claim, oldest first, one at a time: each lease starts when its own delivery
   * does (a batch sent behind a hanging SMTP server could outlive the lease of its last mail,
   * which another instance would then send too), and mails about one account arrive in the
   * order they were caused (the reset link before "your password was changed").
   */
  private async pass(): Promise<void> {
    while (!this.closed) {
      const [item] = await this.queue.claimDue(1, this.options.leaseMs);
      if (!item) return;
      await this.deliver(item);
    }
  }

  private wakeUpIn(delayMs: number): void {
    if (delayMs >= this.options.pollIntervalMs) return; // the poll comes as soon
    const wakeUp = setTimeout(() => {
      this.wakeUps.delete(wakeUp);
      this.kick();
    }, delayMs);
    wakeUp.unref();
    this.wakeUps.add(wakeUp);
  }

  private async deliver(item: QueuedMail): Promise<void> {
    const { to, subject } = item.mail;
    try {
      await this.transport.deliver(item.mail);
    } catch (error) {
      const message = (error as Error)?.message ?? String(error);
      const context = { to, subject, attempt: item.attempts, err: { message } };
      const delay = this.options.retryDelaysMs[item.attempts - 1];
      if (delay === undefined) {
        await this.queue.giveUp(item, message);
        this.options.delivered('failed');
        this.logger.error(context, 'mail not delivered; giving up');
      } else {
        await this.queue.retryAt(item, this.options.now() + delay, message);
        this.wakeUpIn(delay);
        this.options.delivered('retried');
        this.logger.warn({ ...context, retryInMs: delay }, 'mail not delivered; will retry');
      }
      return;
    }
    this.options.delivered('sent');
    this.logger.info({ to, subject, attempt: item.attempts }, 'mail sent');
    await this.queue.sent(item);
  }
}
