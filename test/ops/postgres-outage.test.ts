/**
 * API.md: "A dependency that is down (database, Redis) gives 503 `unavailable` quickly —
 * never a hang, never a 500 with internals — and the server recovers by itself when it comes
 * back." Latch reaches a fresh PostgreSQL database (users and sessions in SQL) through a TCP
 * proxy the test cuts (connections reset, port refused) and stalls (bytes held: a hung server
 * or a partition). Latch is never restarted.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPostgresDatabase, hasPostgres, POSTGRES_URL } from '../support/services.js';
import { Client, signedUp, startServer, STRONG_PASSWORD, type TestServer } from '../support/server.js';
import { startTcpProxy, throughProxy, type TcpProxy } from '../support/tcp-proxy.js';
import { expectUnavailable, timed, unhandledErrors, until } from './helpers.js';
import { ensureBuilt, spawnLatch, type LatchProcess } from './latch-process.js';

/** The dependency timeout is 2 s; the answer must follow it closely. */
const FAST_MS = 2_500;

describe.skipIf(!hasPostgres)('PostgreSQL outage (through a TCP proxy, sessions in SQL)', () => {
  let database: Awaited<ReturnType<typeof createPostgresDatabase>> | undefined;
  let proxy: TcpProxy | undefined;
  let server: TestServer | undefined;
  // A driver error nobody listens to is an uncaught exception: in the real server, a crash.
  const uncaught: unknown[] = [];
  const onUncaught = (error: unknown) => uncaught.push(error);

  beforeAll(async () => {
    process.on('uncaughtException', onUncaught);
    database = await createPostgresDatabase();
    const target = new URL(POSTGRES_URL);
    proxy = await startTcpProxy({ host: target.hostname, port: Number(target.port || 5432) });
    server = await startServer({ databaseUrl: throughProxy(database.url, proxy) });
  });

  afterAll(async () => {
    process.off('uncaughtException', onUncaught);
    try {
      proxy?.unstall();
      await server?.close();
      await proxy?.close();
    } finally {
      await database?.drop();
    }
  });

  it('answers 503 quickly while the database is cut off and recovers when it is reachable again', async () => {
    uncaught.length = 0;
    const { client, email } = await signedUp(server!.url);
    expect((await client.get('/api/auth/me')).status).toBe(200);
    expect(proxy!.connections).toBeGreaterThan(0);

    await proxy!.cut();

    const me = await timed(() => client.get('/api/auth/me'));
    expectUnavailable(me.value, 'GET /me while PostgreSQL is cut off');
    expect(me.value.headers.get('retry-after')).toBe('1');
    expect(me.ms).toBeLessThan(FAST_MS);

    const login = await timed(() => new Client(server!.url).post('/api/auth/login', { email, password: STRONG_PASSWORD }));
    expectUnavailable(login.value, 'POST /login while PostgreSQL is cut off');
    expect(login.ms).toBeLessThan(FAST_MS);

    const ready = await timed(() => client.get('/readyz'));
    expect(ready.value.status).toBe(503);
    expect(ready.value.body).toMatchObject({ status: 'unavailable', database: false, sessionStore: false });
    expect(ready.ms).toBeLessThan(FAST_MS);
    expect((await client.get('/healthz')).status).toBe(200);
    console.info(`[postgres cut] /me ${me.ms} ms, login ${login.ms} ms, /readyz ${ready.ms} ms`);

    await proxy!.restore();
    const recovered = await until('/readyz after the proxy is restored', () => client.get('/readyz'), (r) => r.status === 200, {
      timeoutMs: 10_000,
    });

    // Sessions live in PostgreSQL, so the old cookie is still good.
    const old = await until('GET /me with the old cookie', () => client.get('/api/auth/me'), (r) => r.status === 200, {
      timeoutMs: 5_000,
    });
    expect(old.value.body.user.email).toBe(email);

    const fresh = new Client(server!.url);
    const relogin = await fresh.post('/api/auth/login', { email, password: STRONG_PASSWORD });
    expect(relogin.status, relogin.text).toBe(200);
    const meAgain = await fresh.get('/api/auth/me');
    expect(meAgain.status, meAgain.text).toBe(200);
    console.info(`[postgres restored] /readyz 200 after ${recovered.ms} ms`);
    expect(unhandledErrors(server!.logs)).toEqual([]);
    expect(uncaught.map(String), 'uncaught exceptions (each one would crash node dist/main.js)').toEqual([]);
  });

  it('answers 503 within the deadline while the database hangs (traffic stalled) and recovers afterwards', async () => {
    uncaught.length = 0;
    const { client, email } = await signedUp(server!.url);
    expect((await client.get('/api/auth/me')).status).toBe(200);

    proxy!.stall();
    try {
      const me = await timed(() => client.get('/api/auth/me'));
      expectUnavailable(me.value, 'GET /me while PostgreSQL hangs');
      expect(me.ms).toBeLessThan(FAST_MS);

      const login = await timed(() => new Client(server!.url).post('/api/auth/login', { email, password: STRONG_PASSWORD }));
      expectUnavailable(login.value, 'POST /login while PostgreSQL hangs');
      expect(login.ms).toBeLessThan(FAST_MS);

      const ready = await timed(() => client.get('/readyz'));
      expect(ready.value.status).toBe(503);
      expect(ready.ms).toBeLessThan(FAST_MS);
      console.info(`[postgres hung] /me ${me.ms} ms, login ${login.ms} ms, /readyz ${ready.ms} ms`);
    } finally {
      proxy!.unstall();
    }

    const recovered = await until('/readyz after the stall ends', () => client.get('/readyz'), (r) => r.status === 200, {
      timeoutMs: 10_000,
    });
    const back = await until('GET /me after the stall ends', () => client.get('/api/auth/me'), (r) => r.status === 200, {
      timeoutMs: 10_000,
    });
    expect(back.value.body.user.email).toBe(email);
    const fresh = new Client(server!.url);
    const relogin = await fresh.post('/api/auth/login', { email, password: STRONG_PASSWORD });
    expect(relogin.status, relogin.text).toBe(200);
    expect((await fresh.get('/api/auth/me')).status).toBe(200);
    console.info(`[postgres unstalled] /readyz 200 after ${recovered.ms} ms, /me 200 after ${back.ms} ms`);
    expect(unhandledErrors(server!.logs)).toEqual([]);
    expect(uncaught.map(String), 'uncaught exceptions (each one would crash node dist/main.js)').toEqual([]);
  });
});

describe.skipIf(!hasPostgres)('PostgreSQL outage under load, real process (node dist/main.js)', () => {
  let database: Awaited<ReturnType<typeof createPostgresDatabase>> | undefined;
  let proxy: TcpProxy | undefined;
  let latch: LatchProcess | undefined;

  beforeAll(async () => {
    await ensureBuilt();
    database = await createPostgresDatabase();
    const target = new URL(POSTGRES_URL);
    proxy = await startTcpProxy({ host: target.hostname, port: Number(target.port || 5432) });
    latch = await spawnLatch({ DATABASE_URL: throughProxy(database.url, proxy) });
  }, 180_000);

  afterAll(async () => {
    try {
      await latch?.kill();
      await proxy?.close();
    } finally {
      await database?.drop();
    }
  });

  it('survives the database connection dropping while requests are in flight (no crash, 503s, recovery)', async () => {
    const { client } = await signedUp(latch!.url);
    const rounds = 6;
    for (let round = 1; round <= rounds; round++) {
      // Requests in flight, several pooled connections busy or just released...
      const burst = Promise.all(
        Array.from({ length: 12 }, () => client.get('/api/auth/me').catch((error: unknown) => ({ status: -1, text: String(error) }))),
      );
      await new Promise((resolve) => setTimeout(resolve, round)); // a slightly different moment each round
      // ...and the database goes away under them.
      await proxy!.cut();
      const replies = await burst;
      await new Promise((resolve) => setTimeout(resolve, 50)); // let a crash, if any, complete
      expect(latch!.child.exitCode, `round ${round}: the process died; stderr:\n${latch!.stderr.slice(-1500)}`).toBeNull();
      for (const reply of replies) {
        expect([200, 503], `round ${round}: ${reply.status} ${reply.text}`).toContain(reply.status);
      }
      const during = await client.get('/api/auth/me').catch((error: unknown) => ({ status: -1, text: String(error), body: undefined }));
      expect(latch!.child.exitCode, `round ${round}: the process died; stderr:\n${latch!.stderr.slice(-1500)}`).toBeNull();
      expect(during.status, `round ${round}: ${during.text}`).toBe(503);

      await proxy!.restore();
      await until(`round ${round}: /me after the database is back`, () => client.get('/api/auth/me'), (r) => r.status === 200, {
        timeoutMs: 10_000,
      });
    }
    expect(latch!.child.exitCode).toBeNull();
    expect(latch!.stderr).toBe('');
  });
});
