/**
 * THREATS.md item 1 (DESIGN.md, "Credentials change"): each credential change × each thing
 * derived from the old state. A password change, a reset, a confirmed email change and "sign
 * out everywhere else" each end every other session and void every mailed link (reset,
 * verification, email change); the session that made the change goes on under a new id and
 * secret, keeping its sign-in clocks (item 7). On every backend, with a real SMTP server.
 */
import { expect, it } from 'vitest';
import { describeOnBackends } from '../support/backends.js';
import { smtpForFile, SUBJECT } from '../support/mailbox.js';
import { Client, ManualClock, STRONG_PASSWORD, uniqueEmail, type Reply } from '../support/server.js';

const NEW_PASSWORD = 'copper-meadow-falcon-77';
const OTHER_PASSWORD = 'amber-glacier-otter-93';
const MINUTE = 60_000;
const clock = new ManualClock();
const box = smtpForFile();

const sid = (client: Client) => client.cookies.get('sid')!;

/**
 * A user signed in on two browsers, holding one of each mailed link: the verification link
 * from sign-up, a reset link, and an email-change link that someone on the second browser (a
 * thief with the password) started towards their own address.
 */
async function victim(url: string) {
  const email = uniqueEmail('victim');
  const thiefAddress = uniqueEmail('thief');
  const owner = new Client(url);
  const verify = await box.tokenFrom(email, SUBJECT.verify, () =>
    owner.post('/api/auth/register', { email, password: STRONG_PASSWORD, name: 'Victim' }),
  );
  expect(sid(owner)).toBeDefined();
  const thief = new Client(url);
  expect((await thief.post('/api/auth/login', { email, password: STRONG_PASSWORD })).status).toBe(200);
  const reset = await box.tokenFrom(email, SUBJECT.reset, () => new Client(url).post('/api/auth/password/forgot', { email }));
  const change = await box.tokenFrom(thiefAddress, SUBJECT.confirmNew, () =>
    thief.post('/api/auth/email', { newEmail: thiefAddress, password: STRONG_PASSWORD }),
  );
  return { email, thiefAddress, owner, thief, tokens: { verify, reset, change } };
}

const me = (client: Client) => client.get('/api/auth/me');
const useReset = (url: string, token: string) => new Client(url).post('/api/auth/password/reset', { token, password: OTHER_PASSWORD });
const useVerify = (url: string, token: string) => new Client(url).post('/api/auth/email/verify', { token });

function expectInvalidToken(res: Reply) {
  expect(res.status, res.text).toBe(400);
  expect(res.body.code).toBe('invalid_token');
}

/** A copy of the browser as it was: its cookie must be dead after the change. */
function snapshot(client: Client): Client {
  const copy = new Client(client.baseUrl);
  copy.cookies = new Map(client.cookies);
  return copy;
}

describeOnBackends(
  'a credential change ends everything derived from the old state',
  ({ server }) => {
    const url = () => server().url;

    it('password change: other sessions, the reset link, the email-change link and the verification link all die', async () => {
      const { owner, thief, tokens, thiefAddress, email } = await victim(url());
      const before = snapshot(owner);
      const res = await owner.post('/api/auth/password', { currentPassword: STRONG_PASSWORD, newPassword: NEW_PASSWORD });
      expect(res.status).toBe(200);

      expect((await me(owner)).status).toBe(200); // the changer stays, under a new cookie
      expect(sid(owner)).not.toBe(sid(before));
      expect((await me(before)).status).toBe(401);
      expect((await me(thief)).status).toBe(401);
      expectInvalidToken(await useVerify(url(), tokens.change)); // the thief cannot take the address
      expectInvalidToken(await useReset(url(), tokens.reset));
      expectInvalidToken(await useVerify(url(), tokens.verify));
      expect((await me(owner)).body.user.email).toBe(email);
      expect((await new Client(url()).post('/api/auth/login', { email: thiefAddress, password: NEW_PASSWORD })).status).toBe(401);
    });

    it('password reset: every session, the email-change link and the verification link die', async () => {
      const { owner, thief, tokens, email } = await victim(url());
      const res = await useReset(url(), tokens.reset);
      expect(res.status, res.text).toBe(200);

      expect((await me(owner)).status).toBe(401);
      expect((await me(thief)).status).toBe(401);
      expectInvalidToken(await useVerify(url(), tokens.change));
      expectInvalidToken(await useVerify(url(), tokens.verify));
      expectInvalidToken(await useReset(url(), tokens.reset));
      expect((await new Client(url()).post('/api/auth/login', { email, password: OTHER_PASSWORD })).status).toBe(200);
    });

    it('email change confirmed from the signed-in browser: other sessions, the reset link sent to the old address and the verification link die', async () => {
      const { owner, thief, tokens, email } = await victim(url());
      const newEmail = uniqueEmail('moved');
      const confirm = await box.tokenFrom(newEmail, SUBJECT.confirmNew, () =>
        owner.post('/api/auth/email', { newEmail, password: STRONG_PASSWORD }),
      );
      const before = snapshot(owner);
      const res = await owner.post('/api/auth/email/verify', { token: confirm });
      expect(res.status, res.text).toBe(200);
      expect(res.body.user.email).toBe(newEmail);

      expect((await me(owner)).body.user.email).toBe(newEmail);
      expect((await me(before)).status).toBe(401);
      expect((await me(thief)).status).toBe(401);
      expectInvalidToken(await useReset(url(), tokens.reset)); // mailed to the old address
      expectInvalidToken(await useVerify(url(), tokens.verify));
      expect((await new Client(url()).post('/api/auth/login', { email, password: STRONG_PASSWORD })).status).toBe(401);
    });

    it('sign out everywhere else: other sessions and every mailed link die, this browser goes on under a new cookie', async () => {
      const { owner, thief, tokens } = await victim(url());
      const before = snapshot(owner);
      const res = await owner.request('DELETE', '/api/auth/sessions');
      expect(res.status).toBe(200);
      expect(res.body.revoked).toBe(1);

      expect((await me(owner)).status).toBe(200);
      expect((await me(before)).status).toBe(401);
      expect((await me(thief)).status).toBe(401);
      expectInvalidToken(await useVerify(url(), tokens.change));
      expectInvalidToken(await useReset(url(), tokens.reset));
      expectInvalidToken(await useVerify(url(), tokens.verify));
      const sessions = (await owner.get('/api/auth/sessions')).body.sessions;
      expect(sessions.map((s: { id: string }) => s.id)).toEqual([sid(owner).split('.')[0]]);
    });

    it('a rotated session keeps its creation time and its last password proof (confirming a link is not a password proof)', async () => {
      const email = uniqueEmail('clocks');
      const owner = new Client(url());
      expect((await owner.post('/api/auth/register', { email, password: STRONG_PASSWORD, name: 'Clocks' })).status).toBe(201);
      const first = (await me(owner)).body.session;
      const newEmail = uniqueEmail('clocks-new');
      const confirm = await box.tokenFrom(newEmail, SUBJECT.confirmNew, () =>
        owner.post('/api/auth/email', { newEmail, password: STRONG_PASSWORD }),
      );
      clock.advance(30 * MINUTE); // past REAUTH_WINDOW (10 min)
      expect((await owner.post('/api/auth/email/verify', { token: confirm })).status).toBe(200);

      const rotated = (await me(owner)).body.session;
      expect(rotated.id).not.toBe(first.id);
      expect(rotated.createdAt).toBe(first.createdAt); // the absolute lifetime did not restart
      // The link proved the mailbox, not the password: deleting the account still wants a fresh proof.
      const del = await owner.request('DELETE', '/api/auth/account', { json: { password: STRONG_PASSWORD } });
      expect(del.status, del.text).toBe(403);
      expect(del.body.code).toBe('reauth_required');

      // "Sign out everywhere else" rotates too, and keeps the clocks as well.
      expect((await owner.request('DELETE', '/api/auth/sessions')).status).toBe(200);
      const again = (await me(owner)).body.session;
      expect(again.id).not.toBe(rotated.id);
      expect(again.createdAt).toBe(first.createdAt);
      expect((await owner.request('DELETE', '/api/auth/account', { json: { password: STRONG_PASSWORD } })).status).toBe(403);
    });
  },
  {
    latch: () => ({
      clock,
      smtpUrl: box.smtp.url,
      publicUrl: 'https://accounts.latch.example.test',
      mailAccountMax: 1000,
      mailIpMax: 1_000_000,
      mailRetryDelays: [100, 200, 400],
    }),
  },
);
