/**
 * Abuse resistance against the real app (DESIGN.md, "Abuse"): login throttling per (account, IP),
 * per IP and per account, shared between instances; registration limits; the bounded hashing
 * queue; the audit trail and metrics. Client IPs are varied through X-Forwarded-For with
 * TRUST_PROXY=loopback, and spoofed without it.
 */
import { expect, it } from 'vitest';
import { describeOnBackends, postgresRedis, sqlite } from '../support/backends.js';
import { Client, signedUp, startServer, STRONG_PASSWORD, uniqueEmail, type Reply } from '../support/server.js';

const WRONG = 'not-the-password-123';
const TOKEN = 'metrics-token-0123456789';
const from = (ip: string) => ({ 'x-forwarded-for': ip });
let ipCounter = 1;
const freshIp = () => `198.51.100.${ipCounter++ % 250}`;

function expectThrottled(res: Reply, maxRetryAfterSeconds = 15 * 60) {
  expect(res.status).toBe(429);
  expect(res.body).toEqual({ error: expect.any(String), code: 'rate_limited' });
  expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
  expect(Number(res.headers.get('retry-after'))).toBeLessThanOrEqual(maxRetryAfterSeconds);
}

const login = (url: string, email: string, password: string, ip: string) =>
  new Client(url).post('/api/auth/login', { email, password }, from(ip));

describeOnBackends(
  'login throttling',
  ({ server }) => {
    const url = () => server().url;

    it('refuses the 6th attempt per (account, IP) — the right password too — with 429 and Retry-After', async () => {
      const { email } = await signedUp(url());
      const ip = freshIp();
      for (let i = 0; i < 5; i++) expect((await login(url(), email, WRONG, ip)).status).toBe(401);
      expectThrottled(await login(url(), email, STRONG_PASSWORD, ip));
      expectThrottled(await login(url(), email.toUpperCase(), STRONG_PASSWORD, ip)); // case changes nothing
      // The owner elsewhere is not locked out.
      expect((await login(url(), email, STRONG_PASSWORD, freshIp())).status).toBe(200);
    });

    it('throttles unknown emails exactly like known ones, with identical answers', async () => {
      const { email } = await signedUp(url());
      const unknown = uniqueEmail('ghost');
      const ipA = freshIp();
      const ipB = freshIp();
      for (let i = 0; i < 5; i++) {
        const known = await login(url(), email, WRONG, ipA);
        const ghost = await login(url(), unknown, WRONG, ipB);
        expect([known.status, ghost.status]).toEqual([401, 401]);
        expect(ghost.text).toBe(known.text);
      }
      const known = await login(url(), email, WRONG, ipA);
      const ghost = await login(url(), unknown, WRONG, ipB);
      expectThrottled(known);
      expectThrottled(ghost);
      expect(ghost.text).toBe(known.text);
    });

    it('counts atomically: of 20 parallel wrong logins at most 5 are evaluated, the rest get 429', async () => {
      const { email } = await signedUp(url());
      const ip = freshIp();
      const results = await Promise.all(Array.from({ length: 20 }, () => login(url(), email, WRONG, ip)));
      const statuses = results.map((r) => r.status);
      expect(statuses.filter((s) => s === 401)).toHaveLength(5);
      expect(statuses.filter((s) => s === 429)).toHaveLength(15);
    });

    it('a success clears the (account, IP) counter', async () => {
      const { email } = await signedUp(url());
      const ip = freshIp();
      for (let i = 0; i < 4; i++) expect((await login(url(), email, WRONG, ip)).status).toBe(401);
      expect((await login(url(), email, STRONG_PASSWORD, ip)).status).toBe(200);
      for (let i = 0; i < 5; i++) expect((await login(url(), email, WRONG, ip)).status).toBe(401);
      expectThrottled(await login(url(), email, WRONG, ip));
    });

    it('limits one IP across many accounts (password spraying)', async () => {
      const ip = freshIp();
      for (let i = 0; i < 10; i++) expect((await login(url(), uniqueEmail('spray'), WRONG, ip)).status).toBe(401);
      expectThrottled(await login(url(), uniqueEmail('spray'), WRONG, ip), 86_400);
    });

    it('shares the counters between two instances', async () => {
      const { email } = await signedUp(url());
      const { databaseUrl, redisUrl, redisKeyPrefix } = server().latch.config;
      const other = await startServer({ databaseUrl, redisUrl, redisKeyPrefix, trustProxy: 'loopback', migrateOnStart: false });
      try {
        const ip = freshIp();
        for (let i = 0; i < 3; i++) expect((await login(url(), email, WRONG, ip)).status).toBe(401);
        for (let i = 0; i < 2; i++) expect((await login(other.url, email, WRONG, ip)).status).toBe(401);
        expectThrottled(await login(url(), email, STRONG_PASSWORD, ip));
        expectThrottled(await login(other.url, email, STRONG_PASSWORD, ip));
      } finally {
        await other.close();
      }
    });
  },
  {
    backends: [sqlite, postgresRedis],
    latch: () => ({
      trustProxy: 'loopback',
      loginIpMaxFailures: 10,
    }),
  },
);

describeOnBackends(
  'registration limit',
  ({ server }) => {
    const url = () => server().url;

    it('limits registrations per IP', async () => {
      const ip = freshIp();
      for (let i = 0; i < 3; i++) {
        const res = await new Client(url()).post('/api/auth/register', { email: uniqueEmail('reg'), password: STRONG_PASSWORD, name: 'Reg Limit' }, from(ip));
        expect(res.status).toBe(201);
      }
      expectThrottled(await new Client(url()).post('/api/auth/register', { email: uniqueEmail('reg'), password: STRONG_PASSWORD, name: 'Reg Limit' }, from(ip)), 3600);
      // Another IP may still register.
      expect((await new Client(url()).post('/api/auth/register', { email: uniqueEmail('reg'), password: STRONG_PASSWORD, name: 'Reg Limit' }, from(freshIp()))).status).toBe(201);
    });
  },
  { backends: [sqlite, postgresRedis], latch: () => ({ trustProxy: 'loopback', registerIpMax: 3 }) },
);

describeOnBackends(
  'per-account throttling',
  ({ server }) => {
    const url = () => server().url;

    it('slows one account attacked from many IPs, but its owner gets in from an IP they used before', async () => {
      const { email } = await signedUp(url());
      const home = freshIp();
      expect((await login(url(), email, STRONG_PASSWORD, home)).status).toBe(200); // home becomes known
      for (let i = 0; i < 3; i++) expect((await login(url(), email, WRONG, freshIp())).status).toBe(401);
      const stuffing = await login(url(), email, WRONG, freshIp());
      expectThrottled(stuffing, 60); // never longer than the documented delay (LOGIN_ACCOUNT_WINDOW)
      expect((await login(url(), email, STRONG_PASSWORD, home)).status).toBe(200);
    });
  },
  { backends: [sqlite, postgresRedis], latch: () => ({ trustProxy: 'loopback', loginAccountMaxFailures: 3, loginAccountWindow: '1m' }) },
);

describeOnBackends(
  'throttling without a trusted proxy',
  ({ server }) => {
    it('a spoofed X-Forwarded-For never resets a counter', async () => {
      const { email } = await signedUp(server().url);
      for (let i = 0; i < 5; i++) expect((await login(server().url, email, WRONG, `203.0.113.${i}`)).status).toBe(401);
      expectThrottled(await login(server().url, email, STRONG_PASSWORD, '203.0.113.99'));
    });
  },
  { backends: [sqlite] },
);

describeOnBackends(
  'audit trail and metrics',
  ({ server }) => {
    const url = () => server().url;

    it('shows the signed-in user their own security activity, newest first, paginated', async () => {
      const { client, email } = await signedUp(url());
      await new Client(url()).post('/api/auth/login', { email, password: WRONG }, { 'user-agent': 'Attacker/1.0' });
      const second = new Client(url());
      await second.post('/api/auth/login', { email, password: STRONG_PASSWORD }, { 'user-agent': 'Phone/9' });
      await second.post('/api/auth/logout');
      await signedUp(url()); // someone else's activity must not show

      const res = await client.get('/api/auth/events');
      expect(res.status).toBe(200);
      const types = res.body.events.map((e: { type: string }) => e.type);
      // The phone's first sign-in is also a new device for the account.
      expect(types).toEqual(['logout', 'new_device', 'login_succeeded', 'login_failed', 'registered']);
      expect(res.body.events[3]).toMatchObject({ ip: '127.0.0.1', userAgent: 'Attacker/1.0' });
      expect(res.body.events[2]).toMatchObject({ userAgent: 'Phone/9', sessionId: expect.any(String) });
      expect(res.body.next).toBeUndefined();
      for (const e of res.body.events) expect(Date.parse(e.at)).not.toBeNaN();
      expect(res.text).not.toContain(STRONG_PASSWORD);
      expect(res.text).not.toContain(WRONG);

      const page1 = await client.get('/api/auth/events?limit=3');
      expect(page1.body.events.map((e: { type: string }) => e.type)).toEqual(['logout', 'new_device', 'login_succeeded']);
      const page2 = await client.get(`/api/auth/events?limit=3&before=${page1.body.next}`);
      expect(page2.body.events.map((e: { type: string }) => e.type)).toEqual(['login_failed', 'registered']);
      expect(page2.body.next).toBeUndefined();

      for (const query of ['limit=0', 'limit=101', 'limit=abc', 'before=x', 'limit=1&limit=2']) {
        const bad = await client.get(`/api/auth/events?${query}`);
        expect(bad.status, query).toBe(400);
        expect(bad.body.code).toBe('invalid_input');
      }
      expect((await new Client(url()).get('/api/auth/events')).status).toBe(401);
    });

    it('records no password, token or cookie in the audit table', async () => {
      const { client } = await signedUp(url());
      const events = await client.get('/api/auth/events');
      const secret = client.cookies.get('sid')!.split('.')[1]!;
      expect(events.text).not.toContain(secret);
    });

    it('serves Prometheus metrics only with the bearer token', async () => {
      const { email } = await signedUp(url());
      await new Client(url()).post('/api/auth/login', { email, password: WRONG });
      expect((await new Client(url()).get('/metrics')).status).toBe(401);
      expect((await new Client(url()).get('/metrics', { authorization: 'Bearer wrong-token-wrong-token' })).status).toBe(401);
      const res = await new Client(url()).get('/metrics', { authorization: `Bearer ${TOKEN}` });
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toContain('text/plain');
      expect(res.text).toMatch(/latch_logins_total\{outcome="failed"\} [1-9]/);
      expect(res.text).toMatch(/latch_sessions_created_total [1-9]/);
      expect(res.text).toMatch(/latch_http_requests_total\{route="\/api\/auth\/login",method="POST",status="401"\} [1-9]/);
      expect(res.text).toMatch(/latch_password_hash_duration_seconds_count\{operation="verify"\} [1-9]/);
      expect(res.text).toContain('latch_password_hash_queue_depth');
      expect(res.text).toContain('latch_password_hash_rest_seconds_total');
      expect(res.text).toContain('latch_dependency_errors_total');
    });
  },
  { backends: [sqlite, postgresRedis], latch: () => ({ metricsToken: TOKEN }) },
);

describeOnBackends(
  'bounded hashing queue',
  ({ server }) => {
    it('answers 503 with Retry-After once the hashing queue is full, and recovers', async () => {
      const { email } = await signedUp(server().url);
      const results = await Promise.all(
        Array.from({ length: 12 }, (_, i) => login(server().url, email, i % 2 ? WRONG : STRONG_PASSWORD, `192.0.2.${i}`)),
      );
      const statuses = results.map((r) => r.status);
      expect(statuses.filter((s) => s === 503).length).toBeGreaterThan(0);
      for (const r of results.filter((r) => r.status === 503)) {
        expect(r.body.code).toBe('unavailable');
        expect(r.headers.get('retry-after')).toBe('1');
      }
      expect(statuses.every((s) => [200, 401, 503].includes(s))).toBe(true);
      // Once the storm passes, logins work again.
      expect((await login(server().url, email, STRONG_PASSWORD, '192.0.2.200')).status).toBe(200);
    });
  },
  { backends: [sqlite], latch: () => ({ trustProxy: 'loopback', hashConcurrency: 1, hashQueueLimit: 1 }) },
);
