/**
 * THREATS.md items 1–3 under races the first suites did not reach: a password change made with
 * a stolen cookie while the owner resets, logins arriving all through an account deletion, and
 * a login that re-hashes the old password while a reset lands. On every backend.
 */
import { expect, it } from 'vitest';
import { describeOnBackends } from '../support/backends.js';
import { smtpForFile, SUBJECT } from '../support/mailbox.js';
import { Client, signedUp, startServer, STRONG_PASSWORD } from '../support/server.js';

const OWNER_PASSWORD = 'owner-new-secret-55q';
const THIEF_PASSWORD = 'thief-owns-this-99x';
const box = smtpForFile();

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const loginStatus = async (url: string, email: string, password: string) =>
  (await new Client(url).post('/api/auth/login', { email, password })).status;

describeOnBackends(
  'credential changes under races',
  ({ server }) => {
    const url = () => server().url;

    it('a password change made with a stolen cookie never outlives the reset the owner made meanwhile', async () => {
      const { email } = await signedUp(url());
      const thief = new Client(url());
      expect((await thief.post('/api/auth/login', { email, password: STRONG_PASSWORD })).status).toBe(200);
      const token = await box.tokenFrom(email, SUBJECT.reset, () => new Client(url()).post('/api/auth/password/forgot', { email }));

      // The thief's change hashes twice; the owner's reset, started just after, once.
      const changing = thief.post('/api/auth/password', { currentPassword: STRONG_PASSWORD, newPassword: THIEF_PASSWORD });
      await pause(5);
      const reset = await new Client(url()).post('/api/auth/password/reset', { token, password: OWNER_PASSWORD });
      const change = await changing;

      if (reset.status !== 200) {
        // The thief's change landed first: it voided the link (as any credential change does).
        // A fresh link then wins, as the owner would do next.
        expect(reset.body.code).toBe('invalid_token');
        expect(change.status).toBe(200);
        const again = await box.tokenFrom(email, SUBJECT.reset, () => new Client(url()).post('/api/auth/password/forgot', { email }));
        expect((await new Client(url()).post('/api/auth/password/reset', { token: again, password: OWNER_PASSWORD })).status).toBe(200);
      } else {
        expect([200, 401]).toContain(change.status); // 401: the reset landed first, the change found its epoch gone
      }
      // Whichever order they landed in, the owner's reset is the last word.
      expect((await thief.get('/api/auth/me')).status).toBe(401);
      expect(await loginStatus(url(), email, THIEF_PASSWORD)).toBe(401);
      expect(await loginStatus(url(), email, OWNER_PASSWORD)).toBe(200);
    });

    it('logins arriving all through an account deletion leave no working session of the deleted account', async () => {
      for (let round = 0; round < 3; round++) {
        const { client, email } = await signedUp(url());
        const deleting = client.request('DELETE', '/api/auth/account', { json: { password: STRONG_PASSWORD } });
        const logins: Array<Promise<{ racer: Client; status: number }>> = [];
        for (let i = 0; i < 40; i++) {
          const racer = new Client(url());
          logins.push(racer.post('/api/auth/login', { email, password: STRONG_PASSWORD }).then((res) => ({ racer, status: res.status })));
          await pause(1); // spread over the deletion: some read the account before, some during, some after
        }
        expect((await deleting).status).toBe(204);
        for (const { racer, status } of await Promise.all(logins)) {
          expect([200, 401]).toContain(status);
          if (status === 200) expect((await racer.get('/api/auth/me')).status).toBe(401);
        }
      }
    });

    it('a login that re-hashes the old password (raised argon2 cost) does not write it back over a reset', async () => {
      const { email } = await signedUp(url());
      // The operator raises the cost: every stored hash now wants an upgrade at its next login.
      const { databaseUrl, redisUrl, redisKeyPrefix } = server().latch.config;
      const raised = await startServer({
        databaseUrl, redisKeyPrefix, ...(redisUrl ? { redisUrl } : {}),
        argon2TimeCost: 4, smtpUrl: box.smtp.url, mailRetryDelays: [100], loginMaxFailures: 1000,
      });
      try {
        const token = await box.tokenFrom(email, SUBJECT.reset, () => new Client(raised.url).post('/api/auth/password/forgot', { email }));
        const logins = Array.from({ length: 4 }, () => new Client(raised.url).post('/api/auth/login', { email, password: STRONG_PASSWORD }));
        await pause(5);
        const reset = await new Client(raised.url).post('/api/auth/password/reset', { token, password: OWNER_PASSWORD });
        await Promise.all(logins);
        expect(reset.status, reset.text).toBe(200);
        expect(await loginStatus(raised.url, email, STRONG_PASSWORD)).toBe(401);
        expect(await loginStatus(raised.url, email, OWNER_PASSWORD)).toBe(200);
      } finally {
        await raised.close();
      }
    });
  },
  {
    latch: () => ({
      smtpUrl: box.smtp.url,
      mailAccountMax: 1000,
      mailIpMax: 1_000_000,
      mailRetryDelays: [100, 200],
      // Every racer is one IP guessing one account: lift those limits so all are heard.
      loginMaxFailures: 1000,
      loginAccountMaxFailures: 100_000,
      hashQueueLimit: 1000,
    }),
  },
);
