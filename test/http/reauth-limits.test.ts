/**
 * THREATS.md item 6: a stolen cookie is not an unlimited password oracle. Every endpoint that
 * checks the password of a signed-in user (POST /reauth, POST /password, POST /email,
 * DELETE /account) counts its checks per account, in the shared store (so across endpoints,
 * parallel requests and instances), answers 429 with Retry-After past LOGIN_MAX_FAILURES
 * (5 per 15 minutes) whatever the password, and records each failure as `reauth_failed`.
 */
import { expect, it } from 'vitest';
import { describeOnBackends } from '../support/backends.js';
import { Client, signedUp, startServer, STRONG_PASSWORD, uniqueEmail } from '../support/server.js';

const WRONG = 'not-the-password-at-all-1';

describeOnBackends('password checks for signed-in users are limited', ({ server }) => {
  const url = () => server().url;

  const guesses: Record<string, (client: Client, password: string) => ReturnType<Client['request']>> = {
    reauth: (c, password) => c.post('/api/auth/reauth', { password }),
    password: (c, password) => c.post('/api/auth/password', { currentPassword: password, newPassword: 'copper-meadow-falcon-77' }),
    email: (c, password) => c.post('/api/auth/email', { newEmail: uniqueEmail('guess'), password }),
    account: (c, password) => c.request('DELETE', '/api/auth/account', { json: { password } }),
  };

  it('five wrong passwords, then 429 even for the right one, counted across all four endpoints', async () => {
    const { client } = await signedUp(url());
    for (const guess of [guesses.reauth!, guesses.password!, guesses.email!, guesses.account!, guesses.reauth!]) {
      const res = await guess(client, WRONG);
      expect(res.status, res.text).toBe(401);
      expect(res.body.code).toBe('invalid_credentials');
    }
    for (const guess of Object.values(guesses)) {
      const res = await guess(client, STRONG_PASSWORD);
      expect(res.status, res.text).toBe(429);
      expect(res.body).toEqual({ error: expect.any(String), code: 'rate_limited' });
      expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
    }
    expect((await client.get('/api/auth/me')).status).toBe(200); // the session itself is untouched
    const events = (await client.get('/api/auth/events?limit=100')).body.events.map((e: { type: string }) => e.type);
    expect(events.filter((t: string) => t === 'reauth_failed')).toHaveLength(5);
  });

  it('20 parallel wrong guesses from one cookie: at most 5 are heard', async () => {
    const { client } = await signedUp(url());
    const answers = await Promise.all(Array.from({ length: 20 }, () => guesses.reauth!(client, WRONG)));
    const statuses = answers.map((r) => r.status);
    expect(statuses.filter((s) => s === 401).length).toBeLessThanOrEqual(5);
    expect(statuses.filter((s) => s === 429).length).toBeGreaterThanOrEqual(15);
    expect(statuses.every((s) => s === 401 || s === 429)).toBe(true);
  });

  it('a new login does not buy more guesses, and another instance sees the same count', async () => {
    const { client, email } = await signedUp(url());
    for (let i = 0; i < 3; i++) expect((await guesses.reauth!(client, WRONG)).status).toBe(401);
    // A second Latch on the same database and Redis: the count is shared.
    const { databaseUrl, redisUrl, redisKeyPrefix } = server().latch.config;
    const other = await startServer({ databaseUrl, redisKeyPrefix, ...(redisUrl ? { redisUrl } : {}) });
    try {
      const again = new Client(other.url);
      expect((await again.post('/api/auth/login', { email, password: STRONG_PASSWORD })).status).toBe(200);
      for (let i = 0; i < 2; i++) expect((await guesses.reauth!(again, WRONG)).status).toBe(401);
      expect((await guesses.reauth!(again, STRONG_PASSWORD)).status).toBe(429);
      expect((await guesses.reauth!(client, STRONG_PASSWORD)).status).toBe(429);
    } finally {
      await other.close();
    }
  });

  it('a right password is not counted against the owner', async () => {
    const { client } = await signedUp(url());
    for (let i = 0; i < 10; i++) expect((await guesses.reauth!(client, STRONG_PASSWORD)).status).toBe(200);
    expect((await guesses.reauth!(client, WRONG)).status).toBe(401);
  });
});
