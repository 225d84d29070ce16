/**
 * The durable outbox end to end, with the built server as a real process and a real SMTP
 * server: a mail survives a SIGKILL between the answer and its delivery, waits out an SMTP
 * outage, is delivered exactly once by two instances sharing one PostgreSQL, and once given up
 * on is counted in /metrics and kept without its body. After delivery no token is left in the
 * database. On SQLite and on PostgreSQL.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SUBJECT } from '../support/mailbox.js';
import { Client, STRONG_PASSWORD, uniqueEmail } from '../support/server.js';
import { createPostgresDatabase, hasPostgres } from '../support/services.js';
import { startSmtpServer, tokenFrom, type TestSmtpServer } from '../support/smtp.js';
import { until } from './helpers.js';
import { cleanEnv, ensureBuilt, ROOT, spawnLatch, type LatchProcess } from './latch-process.js';

/** Reads the database behind the server the way an intruder with a dump would: every row as text. */
interface Inspector {
  url: string;
  /** Rows of mail_outbox. */
  outbox(): Promise<Array<{ status: string; recipient: string; subject: string; body_text: string; body_html: string; link: string | null; attempts: number; claim: string | null }>>;
  /** Tables with a row whose text contains `needle`. */
  tablesContaining(needle: string): Promise<string[]>;
  close(): Promise<void>;
}

async function sqliteInspector(): Promise<Inspector> {
  const dir = mkdtempSync(join(tmpdir(), 'latch-outbox-'));
  const file = join(dir, 'latch.db');
  const open = () => new Database(file, { readonly: true, fileMustExist: true });
  return {
    url: `sqlite:${file}`,
    async outbox() {
      const db = open();
      try {
        return db.prepare('SELECT * FROM mail_outbox').all() as Awaited<ReturnType<Inspector['outbox']>>;
      } finally {
        db.close();
      }
    },
    async tablesContaining(needle) {
      const db = open();
      try {
        const tables = (db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as Array<{ name: string }>).map((t) => t.name);
        return tables.filter((table) => (db.prepare(`SELECT * FROM "${table}"`).all() as object[]).some((row) => JSON.stringify(row).includes(needle)));
      } finally {
        db.close();
      }
    },
    async close() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function postgresInspector(): Promise<Inspector> {
  const database = await createPostgresDatabase();
  const query = async <T,>(text: string, values: unknown[] = []): Promise<T[]> => {
    const client = new pg.Client({ connectionString: database.url });
    await client.connect();
    try {
      return (await client.query(text, values)).rows as T[];
    } finally {
      await client.end();
    }
  };
  return {
    url: database.url,
    outbox: () => query('SELECT * FROM mail_outbox'),
    async tablesContaining(needle) {
      const tables = (await query<{ table_name: string }>("SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'")).map((t) => t.table_name);
      const found: string[] = [];
      for (const table of tables) {
        const [hit] = await query<{ n: number }>(`SELECT count(*)::int AS n FROM "${table}" t WHERE t::text LIKE '%' || $1 || '%'`, [needle]);
        if (hit!.n > 0) found.push(table);
      }
      return found;
    },
    close: () => database.drop(),
  };
}

const deployments = [
  { name: 'SQLite', available: true, inspector: sqliteInspector, outageMs: 10_000 },
  // The production database gets the full minute of SMTP outage.
  { name: 'PostgreSQL', available: hasPostgres, inspector: postgresInspector, outageMs: 60_000 },
];

async function metric(url: string, name: string, labels: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name}{${labels}}`));
  return line ? Number(line.split(' ').at(-1)) : 0;
}

/** `latch <args>` (the built command line), run to its end. */
function cli(env: Record<string, string>, ...args: string[]): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile(process.execPath, [join(ROOT, 'dist', 'cli', 'main.js'), ...args], { cwd: ROOT, env: cleanEnv(env), timeout: 60_000 }, (_error, _stdout, stderr) =>
      resolve({ code: child.exitCode, stderr }),
    );
  });
}

async function register(url: string, email = uniqueEmail('outbox')): Promise<string> {
  const res = await new Client(url).post('/api/auth/register', { email, password: STRONG_PASSWORD, name: 'Outbox Test' });
  expect(res.status, res.text).toBe(201);
  return email;
}

for (const deployment of deployments) {
  describe.skipIf(!deployment.available)(`durable mail outbox on ${deployment.name}`, () => {
    let smtp: TestSmtpServer;
    let db: Inspector;
    let env: Record<string, string>;
    const running = new Set<LatchProcess>();

    const start = async (extra: Record<string, string> = {}) => {
      const latch = await spawnLatch({ ...env, ...extra });
      running.add(latch);
      return latch;
    };
    const stop = async (latch: LatchProcess) => {
      await latch.kill();
      running.delete(latch);
    };

    beforeAll(async () => {
      await ensureBuilt();
      smtp = await startSmtpServer();
      db = await deployment.inspector();
      env = { DATABASE_URL: db.url, SMTP_URL: smtp.url, PUBLIC_URL: 'http://localhost:3000', REGISTER_IP_MAX: '1000', MAIL_IP_MAX: '100000' };
    }, 60_000);

    afterAll(async () => {
      await Promise.all([...running].map((latch) => latch.kill()));
      await smtp?.stop();
      await db?.close();
    });

    it('SIGKILL after the answer and before delivery: the mail arrives after a restart, and then no token is left in the database', async () => {
      await smtp.stop(); // nothing listens: every attempt fails until it is back
      const latch = await start({ MAIL_RETRY_DELAYS: '1s,1s,1s,1s,1s,1s,1s,1s,1s,1s' });
      const email = await register(latch.url);
      // Killed between attempts, not while holding the mail's lease (a holder killed mid-attempt
      // leaves it leased for a minute, by design: at least once, never twice at the same time).
      await until('the first attempt failed and let the mail go', () => db.outbox(), (rows) => rows.length === 1 && rows[0]!.attempts >= 1 && rows[0]!.claim === null);
      await stop(latch); // SIGKILL: no shutdown, no chance to deliver
      expect(await db.outbox()).toEqual([expect.objectContaining({ recipient: email, subject: SUBJECT.verify, status: 'pending' })]);
      expect(smtp.messages.filter((m) => m.recipients.includes(email))).toEqual([]);

      await smtp.start();
      const next = smtp.waitFor((m) => m.recipients.includes(email) && m.subject === SUBJECT.verify, 15_000);
      const restarted = await start({ MAIL_RETRY_DELAYS: '1s,1s,1s,1s,1s,1s,1s,1s,1s,1s' });
      const token = tokenFrom(await next);
      await until('the delivered mail leaves the outbox', () => db.outbox(), (rows) => rows.length === 0);
      expect(await db.tablesContaining(token)).toEqual([]); // the one_time_tokens row holds only its hash
      expect((await new Client(restarted.url).post('/api/auth/email/verify', { token })).status).toBe(200);
      await stop(restarted);
    }, 60_000);

    it(`SMTP down for ${deployment.outageMs / 1000} s: retried on MAIL_RETRY_DELAYS from the database, delivered once it is back, once`, async () => {
      const latch = await start({ MAIL_RETRY_DELAYS: '2s,4s,8s,16s,32s' });
      const before = smtp.dropped;
      await smtp.stop('drop'); // connections accepted and closed at once: each attempt is seen failing
      const email = await register(latch.url);
      try {
        await until('the outbox counted in /metrics', () => metric(latch.url, 'latch_mail_outbox', 'state="pending"'), (n) => n === 1);
        await new Promise((resolve) => setTimeout(resolve, deployment.outageMs));
        expect(smtp.dropped - before).toBeGreaterThanOrEqual(3);
        // Every attempt the SMTP server saw failing is counted (the last one a moment after it is seen).
        await until('each failed attempt counted', () => metric(latch.url, 'latch_mail_deliveries_total', 'result="retried"'), (n) => n === smtp.dropped - before);
      } finally {
        await smtp.start();
      }
      await smtp.waitFor((m) => m.recipients.includes(email), 40_000);
      await until('the outbox empty', () => metric(latch.url, 'latch_mail_outbox', 'state="pending"'), (n) => n === 0);
      expect(smtp.messages.filter((m) => m.recipients.includes(email))).toHaveLength(1);
      expect(await metric(latch.url, 'latch_mail_deliveries_total', 'result="sent"')).toBe(1);
      await stop(latch);
    }, deployment.outageMs + 60_000);

    it('after the last retry: marked failed, counted in /metrics, logged without its link, kept without its body', async () => {
      const latch = await start({ MAIL_RETRY_DELAYS: '200ms,200ms' });
      await smtp.stop('drop');
      let email: string;
      try {
        email = await register(latch.url);
        await until('the mail given up on', () => metric(latch.url, 'latch_mail_outbox', 'state="failed"'), (n) => n === 1, { timeoutMs: 15_000 });
      } finally {
        await smtp.start();
      }
      expect(await metric(latch.url, 'latch_mail_deliveries_total', 'result="failed"')).toBe(1);
      expect(await metric(latch.url, 'latch_mail_deliveries_total', 'result="retried"')).toBe(2);
      const [row] = (await db.outbox()).filter((r) => r.recipient === email);
      expect(row).toMatchObject({ status: 'failed', subject: SUBJECT.verify, body_text: '', body_html: '', link: null });
      const givenUp = await latch.waitForLog((line) => line.msg === 'mail not delivered; giving up');
      expect(givenUp).toMatchObject({ to: email, subject: SUBJECT.verify, attempt: 3 });
      expect(latch.stdout).not.toMatch(/verify-email/); // no link, hence no token, in any line
      await stop(latch);
    }, 60_000);

    it('a mail caused by a one-shot command outlives the command: a running server delivers it once the SMTP server is back', async () => {
      const server = await start({ MAIL_RETRY_DELAYS: '1s,1s,1s,1s,1s,1s,1s,1s,1s,1s' });
      await smtp.stop();
      let email: string;
      try {
        email = await register(server.url);
        const reset = await cli(env, 'mfa', 'reset', email);
        expect(reset.code, reset.stderr).toBe(0);
      } finally {
        await smtp.start();
      }
      const isNotice = (m: { recipients: string[]; subject: string }) => m.recipients.includes(email) && m.subject === 'Your second factors were reset';
      await smtp.waitFor(isNotice, 15_000);
      // The row goes a moment after the SMTP server has the mail; a SIGKILL in between would
      // leave it leased (and send it again after the lease: delivery is at least once).
      await until('the delivered mails leave the outbox', () => db.outbox(), (rows) => rows.every((row) => row.status !== 'pending'));
      expect(smtp.messages.filter(isNotice)).toHaveLength(1);
      await stop(server);
    }, 60_000);

    if (deployment.name === 'PostgreSQL') {
      it('two instances on one PostgreSQL deliver every mail exactly once', async () => {
        const delays = { MAIL_RETRY_DELAYS: '1s,1s,1s,1s,1s,1s,1s,1s,1s,1s' };
        const instances = [await start(delays), await start(delays)];
        // Half the mails queue while the SMTP server is down, so both relays find them due at
        // once when it is back; the rest go out as they come, each instance polling the other's.
        await smtp.stop();
        const queued = await Promise.all(Array.from({ length: 20 }, (_, i) => register(instances[i % 2]!.url)));
        await smtp.start();
        const live = await Promise.all(Array.from({ length: 20 }, (_, i) => register(instances[i % 2]!.url)));
        const everyone = [...queued, ...live];
        await until('every mail delivered', async () => everyone.filter((e) => smtp.messages.some((m) => m.recipients.includes(e))).length, (n) => n === everyone.length, { timeoutMs: 30_000 });
        await until('none of these pending', () => db.outbox(), (rows) => rows.every((row) => row.status !== 'pending' || !everyone.includes(row.recipient)));
        await new Promise((resolve) => setTimeout(resolve, 2_500)); // two more polls of each instance
        for (const email of everyone) expect(smtp.messages.filter((m) => m.recipients.includes(email)), email).toHaveLength(1);
        const sent = await Promise.all(instances.map((latch) => metric(latch.url, 'latch_mail_deliveries_total', 'result="sent"')));
        expect(sent[0]! + sent[1]!).toBe(everyone.length);
        for (const latch of instances) await stop(latch);
      }, 90_000);
    }
  });
}
