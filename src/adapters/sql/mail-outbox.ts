/**
 * The durable mail outbox: every mail is a row before the answer goes out (a link's row in the
 * same transaction as its token, see SqlTokenStore), then any instance claims and delivers it
 * (MailRelay). A claim is a lease: `claim` names the holder and `claimed_until` when a holder
 * that crashed stops counting, so the mail is delivered after a restart, and by one instance
 * at a time. PostgreSQL claims with FOR UPDATE SKIP LOCKED, so instances polling together
 * neither wait for each other nor take the same row; SQLite has one writer at a time.
 *
 * The row holds the token only as long as it must: it is deleted once the mail is sent, and a
 * mail given up on keeps its recipient and subject for the operator, never its body.
 */
import { randomUUID } from 'node:crypto';
import { sql, type Kysely, type Transaction } from 'kysely';
import type { Mail, Mailer } from '../../domain/mails.js';
import type { Clock } from '../../domain/ports.js';
import type { MailQueue, OutboxCounts, QueuedMail } from '../mail/mail-relay.js';
import { guarded } from './errors.js';
import type { Database, Dialect, MailOutboxTable } from './schema.js';

/** SMTP answers can be long; an error kept for the operator needs a line, not a transcript. */
const ERROR_MAX_LENGTH = 300;

export class SqlMailOutbox implements Mailer, MailQueue {
  private listener: () => void = () => {};

  constructor(
    private readonly db: Kysely<Database>,
    private readonly dialect: Dialect,
    private readonly clock: Clock,
  ) {}

  /** Called after a mail was queued (the local relay delivers it at once instead of at its next poll). */
  onQueued(listener: () => void): void {
    this.listener = listener;
  }

  async send(mail: Mail): Promise<void> {
    await guarded(() => this.insert(this.db, mail));
    this.queued();
  }

  /** Writes the mail inside the caller's transaction; call `queued()` once it has committed. */
  async insert(executor: Kysely<Database> | Transaction<Database>, mail: Mail): Promise<void> {
    const now = this.clock.now();
    await executor
      .insertInto('mail_outbox')
      .values({
        id: randomUUID(),
        recipient: mail.to,
        subject: mail.subject,
        body_text: mail.text,
        body_html: mail.html,
        link: mail.link ?? null,
        status: 'pending',
        attempts: 0,
        next_attempt_at: now,
        claim: null,
        claimed_until: null,
        created_at: now,
        last_error: null,
      })
      .execute();
  }

  queued(): void {
    this.listener();
  }

  claimDue(limit: number, leaseMs: number): Promise<QueuedMail[]> {
    return guarded(async () => {
      const now = this.clock.now();
      const claim = randomUUID();
      const due = this.db
        .selectFrom('mail_outbox')
        .select('id')
        .where('status', '=', 'pending')
        .where('next_attempt_at', '<=', now)
        .where((eb) => eb.or([eb('claimed_until', 'is', null), eb('claimed_until', '<=', now)]))
        .orderBy('next_attempt_at')
        .limit(limit)
        .$if(this.dialect === 'postgres', (query) => query.forUpdate().skipLocked());
      const rows = await this.db
        .updateTable('mail_outbox')
        .set({ claim, claimed_until: now + leaseMs, attempts: sql<number>`attempts + 1` })
        .where('id', 'in', due)
        .returningAll()
        .execute();
      // RETURNING has no order of its own.
      rows.sort((a, b) => Number(a.next_attempt_at) - Number(b.next_attempt_at) || Number(a.created_at) - Number(b.created_at));
      return rows.map((row) => toQueued(row, claim));
    });
  }

  sent(item: QueuedMail): Promise<void> {
    // Whoever holds the lease now, the mail went out: the row (and the token in it) goes.
    return guarded(async () => void (await this.db.deleteFrom('mail_outbox').where('id', '=', item.id).execute()));
  }

  retryAt(item: QueuedMail, at: number, error: string): Promise<void> {
    return guarded(async () => {
      await this.db
        .updateTable('mail_outbox')
        .set({ next_attempt_at: at, claim: null, claimed_until: null, last_error: error.slice(0, ERROR_MAX_LENGTH) })
        .where('id', '=', item.id)
        .where('claim', '=', item.claim)
        .execute();
    });
  }

  giveUp(item: QueuedMail, error: string): Promise<void> {
    return guarded(async () => {
      await this.db
        .updateTable('mail_outbox')
        .set({ status: 'failed', body_text: '', body_html: '', link: null, claim: null, claimed_until: null, last_error: error.slice(0, ERROR_MAX_LENGTH) })
        .where('id', '=', item.id)
        .where('claim', '=', item.claim)
        .execute();
    });
  }

  counts(): Promise<OutboxCounts> {
    return guarded(async () => {
      const rows = await this.db.selectFrom('mail_outbox').select(['status', (eb) => eb.fn.countAll<number | string>().as('count')]).groupBy('status').execute();
      const count = (status: string) => Number(rows.find((row) => row.status === status)?.count ?? 0);
      return { pending: count('pending'), failed: count('failed') };
    });
  }

  /** Failed mails are kept for the operator as long as the audit trail is. */
  pruneFailed(before: number): Promise<void> {
    return guarded(async () => void (await this.db.deleteFrom('mail_outbox').where('status', '=', 'failed').where('created_at', '<', before).execute()));
  }
}

function toQueued(row: MailOutboxTable, claim: string): QueuedMail {
  const mail: Mail = { to: row.recipient, subject: row.subject, text: row.body_text, html: row.body_html };
  if (row.link !== null) mail.link = row.link;
  return { id: row.id, claim, attempts: Number(row.attempts), mail };
}
