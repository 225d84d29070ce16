/**
 * API.md: "A dependency that is down (database, Redis) gives 503 `unavailable` quickly —
 * never a hang, never a 500 with internals — and the server recovers by itself when it comes
 * back." Exercised against a private redis-server that is hung (SIGSTOP) and killed, with
 * users in SQLite and sessions in Redis. Latch is never restarted.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hasRedisServer, startRedisServer, type PrivateRedis } from '../support/redis-server.js';
import { Client, signedUp, startServer, STRONG_PASSWORD, type TestServer } from '../support/server.js';
import { expectUnavailable, timed, unhandledErrors, until } from './helpers.js';

/** The dependency timeout is 2 s; the answer must follow it closely. */
const FAST_MS = 2_500;

describe.skipIf(!hasRedisServer)('Redis outage (private redis-server, SQLite users)', () => {
  let dir: string;
  let redis: PrivateRedis | undefined;
  let server: TestServer | undefined;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'latch-ops-redis-'));
    redis = await startRedisServer();
    server = await startServer({ databaseUrl: `sqlite:${join(dir, 'latch.db')}`, redisUrl: redis.url });
  });

  afterAll(async () => {
    try {
      redis?.resume();
      await server?.close();
    } finally {
      await redis?.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('answers 503 quickly while Redis hangs (SIGSTOP) and the same session works again after SIGCONT', async () => {
    const { client, email } = await signedUp(server!.url);
    expect((await client.get('/api/auth/me')).status).toBe(200);

    redis!.pause();
    try {
      const me = await timed(() => client.get('/api/auth/me'));
      expectUnavailable(me.value, 'GET /me while Redis hangs');
      expect(me.value.headers.get('retry-after')).toBe('1');
      expect(me.ms).toBeLessThan(FAST_MS);

      // Several at once: none queues behind another past the deadline.
      const burst = await timed(() => Promise.all(Array.from({ length: 5 }, () => client.get('/api/auth/me'))));
      for (const reply of burst.value) expectUnavailable(reply, 'GET /me burst while Redis hangs');
      expect(burst.ms).toBeLessThan(FAST_MS);

      const login = await timed(() => new Client(server!.url).post('/api/auth/login', { email, password: STRONG_PASSWORD }));
      expectUnavailable(login.value, 'POST /login while Redis hangs');
      expect(login.ms).toBeLessThan(FAST_MS);

      const ready = await timed(() => client.get('/readyz'));
      expect(ready.value.status).toBe(503);
      expect(ready.value.body).toMatchObject({ status: 'unavailable', database: true, sessionStore: false });
      expect(ready.ms).toBeLessThan(FAST_MS);

      const health = await timed(() => client.get('/healthz'));
      expect(health.value.status).toBe(200);
      expect(health.ms).toBeLessThan(500);

      console.info(`[redis hung] /me ${me.ms} ms, 5x /me ${burst.ms} ms, login ${login.ms} ms, /readyz ${ready.ms} ms, /healthz ${health.ms} ms`);
    } finally {
      redis!.resume();
    }

    const back = await until('GET /me with the old cookie after SIGCONT', () => client.get('/api/auth/me'), (r) => r.status === 200, {
      timeoutMs: 5_000,
    });
    expect(back.value.body.user.email).toBe(email);
    const ready = await until('/readyz after SIGCONT', () => client.get('/readyz'), (r) => r.status === 200, { timeoutMs: 5_000 });
    console.info(`[redis resumed] /me 200 after ${back.ms} ms, /readyz 200 after ${ready.ms} ms`);
    expect(unhandledErrors(server!.logs)).toEqual([]);
  });

  it('answers 503 quickly while Redis is down (SIGKILL) and recovers when an empty Redis comes back on the port', async () => {
    const { client, email } = await signedUp(server!.url);
    expect((await client.get('/api/auth/me')).status).toBe(200);

    await redis!.stop();

    const me = await timed(() => client.get('/api/auth/me'));
    expectUnavailable(me.value, 'GET /me while Redis is down');
    expect(me.ms).toBeLessThan(FAST_MS);

    const login = await timed(() => new Client(server!.url).post('/api/auth/login', { email, password: STRONG_PASSWORD }));
    expectUnavailable(login.value, 'POST /login while Redis is down');
    expect(login.ms).toBeLessThan(FAST_MS);

    const ready = await timed(() => client.get('/readyz'));
    expect(ready.value.status).toBe(503);
    expect(ready.value.body).toMatchObject({ database: true, sessionStore: false });
    expect(ready.ms).toBeLessThan(FAST_MS);
    expect((await client.get('/healthz')).status).toBe(200);
    console.info(`[redis down] /me ${me.ms} ms, login ${login.ms} ms, /readyz ${ready.ms} ms`);

    await redis!.restart();
    const recovered = await until('/readyz after Redis restart', () => client.get('/readyz'), (r) => r.status === 200, {
      timeoutMs: 10_000,
    });

    // The data went with the old process: the old session is simply gone (401, not 500).
    const stale = await client.get('/api/auth/me');
    expect(stale.status, stale.text).toBe(401);
    expect(stale.body).toEqual({ error: expect.any(String), code: 'unauthorized' });

    const fresh = new Client(server!.url);
    const relogin = await fresh.post('/api/auth/login', { email, password: STRONG_PASSWORD });
    expect(relogin.status, relogin.text).toBe(200);
    const meAgain = await fresh.get('/api/auth/me');
    expect(meAgain.status, meAgain.text).toBe(200);
    expect(meAgain.body.user.email).toBe(email);
    console.info(`[redis restarted] /readyz 200 after ${recovered.ms} ms`);
    expect(unhandledErrors(server!.logs)).toEqual([]);
  });
});
