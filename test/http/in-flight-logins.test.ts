/**
 * THREATS.md item 2: a login that checked the old password before a revoke must not land its
 * session after it. 30 logins with the old password are fired right behind each revoking
 * action (password change, reset, account deletion): they read the account while the action
 * is still hashing, and finish after it. Whatever each of them answered, no session they were
 * given may work afterwards, nothing may answer 5xx, and (on Redis) a deleted account must
 * not come back to life through its cached fields. On every backend.
 */
import { expect, it } from 'vitest';
import { describeOnBackends } from '../support/backends.js';
import { smtpForFile, SUBJECT } from '../support/mailbox.js';
import { Client, signedUp, STRONG_PASSWORD, type Reply } from '../support/server.js';

const NEW_PASSWORD = 'copper-meadow-falcon-77';
const RACERS = 30;
const box = smtpForFile();

/**
 * Starts `action`, then RACERS logins with the old password while it runs. Returns each
 * login's answer and browser, and the action's answer.
 */
async function race(url: string, email: string, action: () => Promise<Reply>) {
  const acting = action();
  let actionDone = 0;
  const acted = acting.then((res) => ((actionDone = performance.now()), res));
  const logins = Array.from({ length: RACERS }, async () => {
    const client = new Client(url);
    const res = await client.post('/api/auth/login', { email, password: STRONG_PASSWORD });
    return { client, res, at: performance.now() };
  });
  const [actionRes, ...results] = await Promise.all([acted, ...logins]);
  return { actionRes, results, finishedAfterAction: results.filter((r) => r.at > actionDone).length };
}

async function expectNoSurvivor(results: Array<{ client: Client; res: Reply }>) {
  for (const { client, res } of results) {
    expect(res.status, res.text).toBeLessThan(500);
    expect([200, 401]).toContain(res.status);
    if (res.status === 200) expect((await client.get('/api/auth/me')).status).toBe(401);
  }
}

describeOnBackends(
  'logins in flight during a revoke',
  ({ server }) => {
    const url = () => server().url;

    it('a password change ends every session a racing login was given with the old password', async () => {
      const { client, email } = await signedUp(url());
      // The change hashes twice (proof, new hash), and its second hash may queue behind the
      // racers: they then land before or after its epoch bump depending on scheduling, and
      // either way none of their sessions may survive.
      const { actionRes, results } = await race(url(), email, () =>
        client.post('/api/auth/password', { currentPassword: STRONG_PASSWORD, newPassword: NEW_PASSWORD }),
      );
      expect(actionRes.status, actionRes.text).toBe(200);
      await expectNoSurvivor(results);
      expect((await client.get('/api/auth/me')).status).toBe(200);
      const sessions = (await client.get('/api/auth/sessions')).body.sessions;
      expect(sessions).toHaveLength(1);
    });

    it('a password reset ends every session a racing login was given', async () => {
      const { email } = await signedUp(url());
      const token = await box.tokenFrom(email, SUBJECT.reset, () => new Client(url()).post('/api/auth/password/forgot', { email }));
      const { actionRes, results, finishedAfterAction } = await race(url(), email, () =>
        new Client(url()).post('/api/auth/password/reset', { token, password: NEW_PASSWORD }),
      );
      expect(actionRes.status, actionRes.text).toBe(200);
      expect(finishedAfterAction).toBeGreaterThan(0); // racers queued behind its one hash: they land after it
      await expectNoSurvivor(results);
      const fresh = new Client(url());
      expect((await fresh.post('/api/auth/login', { email, password: NEW_PASSWORD })).status).toBe(200);
      expect((await fresh.get('/api/auth/sessions')).body.sessions).toHaveLength(1);
    });

    it('"sign out everywhere else": a racing login is refused, or revoked, or listed and working — never a session outside the index', async () => {
      const { client, email } = await signedUp(url());
      const { actionRes, results } = await race(url(), email, () => client.request('DELETE', '/api/auth/sessions'));
      expect(actionRes.status, actionRes.text).toBe(200);
      const listed = new Set((await client.get('/api/auth/sessions')).body.sessions.map((s: { id: string }) => s.id));
      for (const { client: racer, res } of results) {
        expect([200, 401]).toContain(res.status); // 401: it read the account before the revoke
        if (res.status !== 200) continue;
        const alive = (await racer.get('/api/auth/me')).status === 200;
        expect(listed.has(racer.cookies.get('sid')!.split('.')[0])).toBe(alive);
      }
    });

    it('deleting the account leaves no session of it, and no racing login fails with a 5xx', async () => {
      const { client, email } = await signedUp(url());
      const { actionRes, results, finishedAfterAction } = await race(url(), email, () =>
        client.request('DELETE', '/api/auth/account', { json: { password: STRONG_PASSWORD } }),
      );
      expect(actionRes.status, actionRes.text).toBe(204);
      expect(finishedAfterAction).toBeGreaterThan(0);
      await expectNoSurvivor(results);
      expect((await new Client(url()).post('/api/auth/login', { email, password: STRONG_PASSWORD })).status).toBe(401);
    });
  },
  // Each racer is the right password from one IP: lift the per-pair limit so all 30 are heard.
  { latch: () => ({ smtpUrl: box.smtp.url, loginMaxFailures: 1000, mailAccountMax: 1000, mailIpMax: 1_000_000, mailRetryDelays: [100, 200] }) },
);
