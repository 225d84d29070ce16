/**
 * The server as deployed: `node dist/main.js` in a child process with a clean environment.
 * Start-up validation, graceful shutdown on SIGTERM, first start on an empty disk, the
 * migration CLI, and what reaches stdout.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Client, STRONG_PASSWORD, uniqueEmail } from '../support/server.js';
import { ensureBuilt, MIGRATE_JS, MAIN_JS, runScript, spawnLatch, withDeadline, type LatchProcess } from './latch-process.js';

let dir: string;
const started: LatchProcess[] = [];

beforeAll(async () => {
  await ensureBuilt();
  dir = mkdtempSync(join(tmpdir(), 'latch-ops-process-'));
}, 180_000);

afterEach(async () => {
  await Promise.all(started.splice(0).map((p) => p.kill()));
});

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

let dbCounter = 0;
function freshDatabaseUrl(): { url: string; file: string } {
  dbCounter += 1;
  const file = join(dir, `run-${dbCounter}`, 'data', 'latch.db');
  return { url: `sqlite:${file}`, file };
}

async function start(env: Record<string, string>): Promise<LatchProcess> {
  const latch = await spawnLatch(env);
  started.push(latch);
  return latch;
}

/** Reads one HTTP/1.1 response (status line, headers, Content-Length body) from a socket. */
function readResponse(socket: net.Socket, timeoutMs = 10_000): Promise<{ status: number; headers: string; body: string; raw: string }> {
  return withDeadline(
    new Promise((resolve, reject) => {
      let raw = '';
      const onData = (chunk: Buffer) => {
        raw += chunk.toString('utf8');
        const end = raw.indexOf('\r\n\r\n');
        if (end < 0) return;
        const headers = raw.slice(0, end);
        const length = Number(/\r\ncontent-length:\s*(\d+)/i.exec(headers)?.[1] ?? NaN);
        const body = raw.slice(end + 4);
        if (Number.isNaN(length) || Buffer.byteLength(body) < length) return;
        socket.off('data', onData);
        const status = Number(/^HTTP\/1\.[01] (\d{3}) /.exec(headers)?.[1] ?? NaN);
        resolve({ status, headers, body, raw });
      };
      socket.on('data', onData);
      socket.once('error', reject);
      socket.once('end', () => reject(new Error(`connection ended before a full response: ${JSON.stringify(raw)}`)));
    }),
    timeoutMs,
    'HTTP response',
  );
}

function connect(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.off('error', reject);
      resolve(socket);
    });
    socket.once('error', reject);
  });
}

describe('the built server process (node dist/main.js)', () => {
  it('reports the real port in its "latch listening" line when PORT=0', async () => {
    const latch = await start({ DATABASE_URL: freshDatabaseUrl().url });
    expect(latch.port).toBeGreaterThan(0);
    const health = await fetch(`${latch.url}/healthz`);
    expect(health.status).toBe(200);
  });

  it.each([
    ['SESSION_IDLE_TIMEOUT', 'soon'],
    ['PORT', '99999'],
    ['DATABASE_URL', 'mysql://localhost/latch'],
  ])('refuses to start with a bad %s (%s): exit code 1, the variable named on stderr', async (name, value) => {
    const result = await runScript(MAIN_JS, { DATABASE_URL: freshDatabaseUrl().url, [name]: value });
    expect(result.code, result.stderr).toBe(1);
    expect(result.stderr).toContain(name);
    expect(result.stdout).not.toContain('latch listening');
  });

  it('finishes an in-flight request after SIGTERM, refuses new connections, then exits 0', async () => {
    const latch = await start({ DATABASE_URL: freshDatabaseUrl().url });
    const body = JSON.stringify({ email: uniqueEmail('shutdown'), password: 'not-the-right-password-at-all' });
    const cut = Math.floor(body.length / 2);

    const socket = await connect(latch.port);
    try {
      socket.write(
        `POST /api/auth/login HTTP/1.1\r\nHost: 127.0.0.1:${latch.port}\r\nContent-Type: application/json\r\n` +
          `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body.slice(0, cut)}`,
      );
      const response = readResponse(socket);
      response.catch(() => undefined); // awaited below; avoid an unhandled rejection meanwhile
      // Headers and half the body must have reached the server before the signal.
      await new Promise((resolve) => setTimeout(resolve, 300));

      const signalledAt = performance.now();
      latch.child.kill('SIGTERM');
      await latch.waitForLog((line) => String(line.msg).startsWith('shutting down'), 5_000);

      // The listener is closed: a new connection is refused.
      await expect(connect(latch.port)).rejects.toMatchObject({ code: 'ECONNREFUSED' });
      expect(latch.child.exitCode).toBeNull(); // still serving the request in flight

      socket.write(body.slice(cut));
      const reply = await response;
      const answeredAt = performance.now();
      expect(reply.status, reply.raw).toBe(401);
      expect(JSON.parse(reply.body)).toEqual({ error: expect.any(String), code: 'invalid_credentials' });
      const connection = /\r\nconnection:\s*([^\r]*)/i.exec(reply.headers)?.[1] ?? '(none)';

      // The client keeps its side open, as a keep-alive client or proxy would: the server must
      // not wait for it to leave (nor invite it to send more requests) before exiting.
      const exit = await withDeadline(latch.exited, 15_000, 'exit after SIGTERM');
      const afterResponseMs = Math.round(performance.now() - answeredAt);
      const afterSignalMs = Math.round(performance.now() - signalledAt);
      console.info(`[graceful shutdown] response "Connection: ${connection}"; exit ${JSON.stringify(exit)} ${afterSignalMs} ms after SIGTERM, ${afterResponseMs} ms after the response`);
      expect(exit).toEqual({ code: 0, signal: null });
      expect(afterResponseMs, `exit took ${afterResponseMs} ms after the last response (Connection: ${connection})`).toBeLessThan(2_000);
      expect(latch.stdout).toContain('"msg":"stopped"');
    } finally {
      socket.destroy();
    }
  });

  it('a request whose client left before the answer still finishes its work before the stores close on SIGTERM', async () => {
    // A costlier hash than the default keeps the registration at work past the client's
    // departure (a few milliseconds later), yet ends well within the grace period even where
    // the suite keeps every core busy (hashing threads run at the lowest priority).
    const { url } = freshDatabaseUrl();
    const latch = await start({ DATABASE_URL: url, ARGON2_TIME_COST: '4' });
    const email = uniqueEmail('left');
    const body = JSON.stringify({ email, password: STRONG_PASSWORD, name: 'Gone Early' });
    const socket = await connect(latch.port);
    socket.write(
      `POST /api/auth/register HTTP/1.1\r\nHost: 127.0.0.1:${latch.port}\r\nContent-Type: application/json\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
    );
    // Hashing threads start at the first hash: this registration's, which is then under way.
    await latch.waitForLog((line) => String(line.msg).startsWith('password hashing'), 10_000);
    socket.destroy(); // the client leaves; its connection is gone at once
    latch.child.kill('SIGTERM');
    expect(await withDeadline(latch.exited, 15_000, 'exit after SIGTERM')).toEqual({ code: 0, signal: null });
    // Nothing failed under it (a closed hasher or database would have logged a warning or an error)...
    const troubles = latch.stdout.split('\n').filter((line) => /"level":(4|5|6)0/.test(line));
    expect(troubles).toEqual([]);
    // ...and the account it was creating exists.
    const again = await start({ DATABASE_URL: url });
    const login = await new Client(again.url).post('/api/auth/login', { email, password: STRONG_PASSWORD });
    expect(login.status, `${login.text}; the first server logged:\n${latch.stdout}`).toBe(200);
  });

  it('creates the SQLite file on first start; the migration CLI then finds it up to date', async () => {
    const { url, file } = freshDatabaseUrl();
    expect(existsSync(file)).toBe(false);
    const latch = await start({ DATABASE_URL: url });
    expect(existsSync(file)).toBe(true);
    const client = new Client(latch.url);
    const registered = await client.post('/api/auth/register', { email: uniqueEmail('first'), password: STRONG_PASSWORD, name: 'First Start' });
    expect(registered.status, registered.text).toBe(201);
    latch.child.kill('SIGTERM');
    expect(await withDeadline(latch.exited, 10_000, 'exit after SIGTERM')).toEqual({ code: 0, signal: null });

    const migrate = await runScript(MIGRATE_JS, { DATABASE_URL: url });
    expect(migrate.code, migrate.stderr).toBe(0);
    expect(migrate.stdout).toMatch(/up to date/);

    // And the server starts again on the migrated file, with the account still there.
    const again = await start({ DATABASE_URL: url });
    const login = await new Client(again.url).post('/api/auth/login', { email: registered.body.user.email, password: STRONG_PASSWORD });
    expect(login.status, login.text).toBe(200);
  });

  it('never writes the password or the session cookie to its logs', async () => {
    const latch = await start({ DATABASE_URL: freshDatabaseUrl().url, LOG_LEVEL: 'info' });
    const email = uniqueEmail('logs');
    const browser = new Client(latch.url);
    const registered = await browser.post('/api/auth/register', { email, password: STRONG_PASSWORD, name: 'Log Reader' });
    expect(registered.status, registered.text).toBe(201);
    const registerToken = browser.cookies.get('sid');
    expect((await browser.post('/api/auth/logout')).status).toBe(200);

    const login = await browser.post('/api/auth/login', { email, password: STRONG_PASSWORD });
    expect(login.status, login.text).toBe(200);
    const loginToken = browser.cookies.get('sid');
    expect((await browser.get('/api/auth/me')).status).toBe(200);
    // A failed login with a different password, which also must not be logged.
    const wrong = 'wrong-password-that-should-not-be-logged';
    expect((await new Client(latch.url).post('/api/auth/login', { email, password: wrong })).status).toBe(401);

    latch.child.kill('SIGTERM');
    expect(await withDeadline(latch.exited, 10_000, 'exit after SIGTERM')).toEqual({ code: 0, signal: null });

    const output = latch.stdout + latch.stderr;
    expect(output).toContain('/api/auth/login'); // the requests were logged at all
    for (const token of [registerToken, loginToken]) {
      expect(token).toMatch(/^[\w-]+\.[\w-]+$/);
      const secret = token!.split('.')[1]!;
      expect(output).not.toContain(token);
      expect(output).not.toContain(secret);
    }
    expect(output).not.toContain(STRONG_PASSWORD);
    expect(output).not.toContain(wrong);
    expect(output.toLowerCase()).not.toContain('set-cookie');
  });
});
