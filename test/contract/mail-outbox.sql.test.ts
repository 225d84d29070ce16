/**
 * The outbox's claims on SQLite and PostgreSQL (SqlMailOutbox): a lease keeps a mail with one
 * holder until it runs out, a holder whose lease ran out changes nothing, many relays claiming
 * at once on PostgreSQL take each mail once, and a mail given up on keeps no body.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase, type SqlDatabase } from '../../src/adapters/sql/database.js';
import { SqlMailOutbox } from '../../src/adapters/sql/mail-outbox.js';
import { migrateToLatest } from '../../src/adapters/sql/migrations.js';
import type { Mail } from '../../src/domain/mails.js';
import { createPostgresDatabase, hasPostgres } from '../support/services.js';
import { ManualClock } from '../support/server.js';

const LEASE = 60_000;

function mailTo(n: number): Mail {
  const token = `token-${n}-${'x'.repeat(30)}`;
  return { to: `r${n}@example.com`, subject: 'Reset your password', text: `open https://latch.test/reset-password#${token}`, html: `<a href="https://latch.test/reset-password#${token}">x</a>`, link: `https://latch.test/reset-password#${token}` };
}

const backends = [
  {
    name: 'SQLite',
    available: true,
    async open() {
      const dir = mkdtempSync(join(tmpdir(), 'latch-outbox-'));
      return { url: `sqlite:${join(dir, 'latch.db')}`, drop: async () => rmSync(dir, { recursive: true, force: true }) };
    },
  },
  { name: 'PostgreSQL', available: hasPostgres, open: createPostgresDatabase },
];

for (const backend of backends) {
  describe.skipIf(!backend.available)(`mail outbox on ${backend.name}`, () => {
    let database: SqlDatabase;
    let drop: () => Promise<void>;
    let url: string;
    const clock = new ManualClock();
    let outbox: SqlMailOutbox;

    beforeAll(async () => {
      ({ url, drop } = await backend.open());
      database = openDatabase(url, { timeoutMs: 5_000 });
      await migrateToLatest(database.db, database.dialect);
      outbox = new SqlMailOutbox(database.db, database.dialect, clock);
    });

    afterAll(async () => {
      await database?.close();
      await drop?.();
    });

    const rows = () => database.db.selectFrom('mail_outbox').selectAll().execute();
    const empty = () => database.db.deleteFrom('mail_outbox').execute();

    it('a claimed mail stays with its holder until the lease runs out, then goes to the next one', async () => {
      await empty();
      let kicked = 0;
      outbox.onQueued(() => (kicked += 1));
      await outbox.send(mailTo(1));
      expect(kicked).toBe(1);

      const [first] = await outbox.claimDue(10, LEASE);
      expect(first).toMatchObject({ attempts: 1, mail: mailTo(1) });
      expect(await outbox.claimDue(10, LEASE)).toEqual([]);
      clock.advance(LEASE - 1);
      expect(await outbox.claimDue(10, LEASE)).toEqual([]);
      clock.advance(1);
      const [second] = await outbox.claimDue(10, LEASE);
      expect(second).toMatchObject({ id: first!.id, attempts: 2 });
      expect(second!.claim).not.toBe(first!.claim);

      // The first holder, back from a long stall, can neither reschedule nor fail the mail.
      await outbox.retryAt(first!, clock.now() + 1_000, 'stale');
      await outbox.giveUp(first!, 'stale');
      expect(await rows()).toEqual([expect.objectContaining({ status: 'pending', claim: second!.claim, body_text: mailTo(1).text })]);

      await outbox.sent(second!);
      expect(await rows()).toEqual([]);
    });

    it('a retry waits for its time and keeps the attempts count', async () => {
      await empty();
      await outbox.send(mailTo(2));
      const [item] = await outbox.claimDue(10, LEASE);
      await outbox.retryAt(item!, clock.now() + 5_000, 'connection refused');
      expect(await outbox.claimDue(10, LEASE)).toEqual([]);
      clock.advance(5_000);
      const [again] = await outbox.claimDue(10, LEASE);
      expect(again).toMatchObject({ id: item!.id, attempts: 2 });
      expect(await outbox.counts()).toEqual({ pending: 1, failed: 0 });
      await outbox.sent(again!);
    });

    it('a mail given up on keeps its recipient and subject, never its body or link, and is never claimed again', async () => {
      await empty();
      await outbox.send(mailTo(3));
      const [item] = await outbox.claimDue(10, LEASE);
      await outbox.giveUp(item!, `550 mailbox unavailable ${'!'.repeat(1000)}`);
      const [row] = await rows();
      expect(row).toMatchObject({ status: 'failed', recipient: 'r3@example.com', subject: 'Reset your password', body_text: '', body_html: '', link: null, claim: null });
      expect(row!.last_error!.length).toBeLessThanOrEqual(300);
      expect(JSON.stringify(row)).not.toContain('token-3');
      clock.advance(LEASE * 10);
      expect(await outbox.claimDue(10, LEASE)).toEqual([]);
      expect(await outbox.counts()).toEqual({ pending: 0, failed: 1 });
      await outbox.pruneFailed(clock.now() - 1);
      expect(await outbox.counts()).toEqual({ pending: 0, failed: 0 });
    });

    it('claims come in batches, oldest first', async () => {
      await empty();
      for (let n = 10; n < 15; n++) {
        await outbox.send(mailTo(n));
        clock.advance(1);
      }
      const batch = await outbox.claimDue(3, LEASE);
      expect(batch.map((item) => item.mail.to)).toEqual(['r10@example.com', 'r11@example.com', 'r12@example.com']);
      expect((await outbox.claimDue(3, LEASE)).map((item) => item.mail.to)).toEqual(['r13@example.com', 'r14@example.com']);
    });

    // SKIP LOCKED is PostgreSQL's; SQLite has one writer at a time.
    if (backend.name === 'PostgreSQL') it('eight relays on their own connections claiming at once take each of 200 mails exactly once', async () => {
      await empty();
      for (let n = 0; n < 200; n++) await outbox.send(mailTo(1000 + n));
      const relays = Array.from({ length: 8 }, () => openDatabase(url, { timeoutMs: 5_000 }));
      try {
        const claimed: string[] = [];
        await Promise.all(
          relays.map(async (relay) => {
            const mine = new SqlMailOutbox(relay.db, relay.dialect, clock);
            for (;;) {
              const batch = await mine.claimDue(7, LEASE);
              if (batch.length === 0) return;
              claimed.push(...batch.map((item) => item.mail.to));
            }
          }),
        );
        expect(claimed).toHaveLength(200);
        expect(new Set(claimed).size).toBe(200);
      } finally {
        await Promise.all(relays.map((relay) => relay.close()));
      }
    });
  });
}
