/**
 * Two-step sign-in over HTTP (API.md, "Two-step sign-in"), on every backend, with a clock the
 * test moves (TOTP codes are computed from the secret the API hands out, at that clock):
 * the pending state and its refusals, TOTP and recovery codes, replay under parallel use,
 * guesses counted per pending session and per account, and turning two-step on and off as a
 * credential change.
 */
import { expect, it } from 'vitest';
import { totpCode } from '../../src/domain/totp.js';
import { OPERATIONS } from '../../src/http/openapi/operations.js';
import { describeOnBackends } from '../support/backends.js';
import { smtpForFile, SUBJECT } from '../support/mailbox.js';
import { Client, ManualClock, signedUp, startServer, STRONG_PASSWORD, uniqueEmail, type Reply } from '../support/server.js';

const clock = new ManualClock();
const STEP = 30_000;
const box = smtpForFile();
const MINUTE = 60_000;

/** Moves to the start of a fresh time step, so codes of this step, the one before and after are ours. */
function freshStep(): void {
  clock.advance(STEP - (clock.now() % STEP) + 1_000);
}

/** A signed-in user with an authenticator app on; returns its secret and recovery codes. */
async function withTotp(url: string) {
  const { client, email, user } = await signedUp(url);
  const setup = await client.post('/api/auth/mfa/totp');
  expect(setup.status, setup.text).toBe(200);
  freshStep();
  const confirm = await client.post('/api/auth/mfa/totp/confirm', { code: totpCode(setup.body.secret, clock.now() - STEP) });
  expect(confirm.status, confirm.text).toBe(200);
  return { client, email, user, secret: setup.body.secret as string, recoveryCodes: confirm.body.recoveryCodes as string[] };
}

async function pendingLogin(url: string, email: string, headers?: Record<string, string>) {
  const browser = new Client(url);
  const res = await browser.post('/api/auth/login', { email, password: STRONG_PASSWORD }, headers);
  expect(res.status, res.text).toBe(200);
  expect(res.body).toEqual({ mfaRequired: true, methods: ['totp', 'recovery_code'] });
  return browser;
}

const verify = (browser: Client, method: 'totp' | 'recovery_code', code: string) => browser.post('/api/auth/mfa/verify', { method, code });

function expectCode(res: Reply, status: number, code: string) {
  expect(res.status, res.text).toBe(status);
  expect(res.body).toEqual({ error: expect.any(String), code });
}

describeOnBackends(
  'two-step sign-in',
  ({ server }) => {
    const url = () => server().url;

    it('turning the app on: recovery codes once, this session goes on as aal2, every other session ends', async () => {
      const { client, email } = await signedUp(url());
      const other = new Client(url());
      expect((await other.post('/api/auth/login', { email, password: STRONG_PASSWORD })).status).toBe(200);
      const setup = await client.post('/api/auth/mfa/totp');
      expect(setup.body.uri).toMatch(/^otpauth:\/\/totp\//);
      expect(setup.body.secret).toMatch(/^[A-Z2-7]{32}$/);
      expectCode(await client.post('/api/auth/mfa/totp/confirm', { code: '000000' }), 401, 'invalid_code');
      freshStep();
      const before = client.cookies.get('sid');
      const confirm = await client.post('/api/auth/mfa/totp/confirm', { code: totpCode(setup.body.secret, clock.now()) });
      expect(confirm.status, confirm.text).toBe(200);
      expect(confirm.body.recoveryCodes).toHaveLength(10);
      expect(new Set(confirm.body.recoveryCodes).size).toBe(10);
      expect(client.cookies.get('sid')).not.toBe(before);
      const me = (await client.get('/api/auth/me')).body.session;
      expect(me).toMatchObject({ aal: 'aal2', methods: ['password', 'totp'] });
      expect((await other.get('/api/auth/me')).status).toBe(401);
      expect((await client.get('/api/auth/mfa')).body).toEqual({ totp: true, passkeys: [], recoveryCodesLeft: 10 });
      expectCode(await client.post('/api/auth/mfa/totp'), 409, 'already_enabled');
    });

    it('a right password answers mfaRequired with a pending session that every other route refuses', async () => {
      const { email } = await withTotp(url());
      const pending = await pendingLogin(url(), email);
      for (const op of OPERATIONS.filter((o) => o.access === 'user' || o.access === 'reauth')) {
        const path = op.path.replace('{id}', 'AAAAAAAAAAAAAAAAAAAAAA');
        if (path === '/api/auth/logout') continue; // allowed to a pending session: tried last
        const res = await pending.request(op.method.toUpperCase(), path, op.method === 'get' ? {} : { json: {} });
        expect(`${op.method} ${path} ${res.status} ${res.body?.code}`).toBe(`${op.method} ${path} 401 mfa_required`);
      }
      // Guest routes treat it as a guest: signing in again replaces it.
      expect((await pending.post('/api/auth/login', { email, password: STRONG_PASSWORD })).body.mfaRequired).toBe(true);
      // And it can log out.
      expect((await pending.post('/api/auth/logout')).status).toBe(200);
      expectCode(await verify(pending, 'totp', '123456'), 401, 'mfa_required');
    });

    it('a wrong password answers byte for byte the same for an account with two-step and one without', async () => {
      const { email: twoStep } = await withTotp(url());
      const { email: oneStep } = await signedUp(url());
      const answer = async (email: string) => {
        const res = await new Client(url()).post('/api/auth/login', { email, password: 'not-the-password-at-all' });
        return { status: res.status, text: res.text, headers: [...res.headers].filter(([n]) => n !== 'date') };
      };
      expect(await answer(twoStep)).toEqual(await answer(oneStep));
    });

    it('the app code finishes the sign-in: a NEW session, aal2, and the pending one is over', async () => {
      const { email, secret } = await withTotp(url());
      const pending = await pendingLogin(url(), email);
      const pendingCookie = pending.cookies.get('sid');
      clock.advance(STEP);
      const res = await verify(pending, 'totp', totpCode(secret, clock.now()));
      expect(res.status, res.text).toBe(200);
      expect(res.body.user.email).toBe(email);
      expect(pending.cookies.get('sid')).not.toBe(pendingCookie);
      expect((await pending.get('/api/auth/me')).body.session).toMatchObject({ aal: 'aal2', methods: ['password', 'totp'] });
      const stale = new Client(url());
      stale.cookies.set('sid', pendingCookie!);
      expectCode(await verify(stale, 'totp', totpCode(secret, clock.now())), 401, 'mfa_required');
      // Not listed while pending, listed once signed in.
      expect((await pending.get('/api/auth/sessions')).body.sessions.every((s: { aal: string }) => s.aal === 'aal2')).toBe(true);
    });

    it('one code, 20 parallel uses from 20 pending sessions: exactly one signs in (a time step works once)', async () => {
      const { email, secret } = await withTotp(url());
      const browsers = await Promise.all(Array.from({ length: 20 }, () => pendingLogin(url(), email)));
      clock.advance(STEP);
      const code = totpCode(secret, clock.now());
      const answers = await Promise.all(browsers.map((b) => verify(b, 'totp', code)));
      expect(answers.filter((r) => r.status === 200)).toHaveLength(1);
      // The others: a replay (401), or past the account's 10 guesses (429): never a session.
      for (const r of answers.filter((a) => a.status !== 200)) expect(['invalid_code', 'rate_limited']).toContain(r.body.code);
    });

    it('a recovery code works once, also under 20 parallel uses', async () => {
      const { client, email, recoveryCodes } = await withTotp(url());
      const browsers = await Promise.all(Array.from({ length: 20 }, () => pendingLogin(url(), email)));
      const typed = recoveryCodes[0]!.toLowerCase().replace(/-/g, ' ');
      const answers = await Promise.all(browsers.map((b) => verify(b, 'recovery_code', typed)));
      expect(answers.filter((r) => r.status === 200)).toHaveLength(1);
      for (const r of answers.filter((a) => a.status !== 200)) expect(['invalid_code', 'rate_limited']).toContain(r.body.code);
      const signedIn = browsers[answers.findIndex((r) => r.status === 200)]!;
      expect((await signedIn.get('/api/auth/me')).body.session).toMatchObject({ aal: 'aal2', methods: ['password', 'recovery_code'] });
      expect((await client.get('/api/auth/mfa')).body.recoveryCodesLeft).toBe(9);
    });

    it('a new set of recovery codes voids the old one', async () => {
      const { client, email, recoveryCodes } = await withTotp(url());
      const fresh = await client.post('/api/auth/mfa/recovery-codes');
      expect(fresh.status, fresh.text).toBe(200);
      expect(fresh.body.recoveryCodes).toHaveLength(10);
      expectCode(await verify(await pendingLogin(url(), email), 'recovery_code', recoveryCodes[1]!), 401, 'invalid_code');
      expect((await verify(await pendingLogin(url(), email), 'recovery_code', fresh.body.recoveryCodes[0])).status).toBe(200);
    });

    it('the 5th wrong code ends the pending session; after it the session is gone', async () => {
      const { email, secret } = await withTotp(url());
      const pending = await pendingLogin(url(), email);
      for (let i = 0; i < 5; i++) expectCode(await verify(pending, 'totp', '000000'), 401, 'invalid_code');
      clock.advance(STEP);
      expectCode(await verify(pending, 'totp', totpCode(secret, clock.now())), 401, 'mfa_required');
    });

    it('wrong codes count per account across pending sessions: logging in again buys no more guesses', async () => {
      const { email, secret } = await withTotp(url());
      for (let round = 0; round < 3; round++) {
        const pending = await pendingLogin(url(), email);
        for (let i = 0; i < (round < 2 ? 4 : 2); i++) expectCode(await verify(pending, 'totp', '000000'), 401, 'invalid_code');
      }
      // 10 wrong codes in this window: the right code is refused too, from any pending session.
      clock.advance(STEP);
      const res = await verify(await pendingLogin(url(), email), 'totp', totpCode(secret, clock.now()));
      expectCode(res, 429, 'rate_limited');
      expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
    });

    it('wrong codes are counted across instances too', async () => {
      const { email, secret } = await withTotp(url());
      const { databaseUrl, redisUrl, redisKeyPrefix } = server().latch.config;
      const other = await startServer({ databaseUrl, redisKeyPrefix, ...(redisUrl ? { redisUrl } : {}), clock, loginMaxFailures: 1000 });
      try {
        for (const base of [url(), other.url]) {
          const pending = await pendingLogin(base, email);
          for (let i = 0; i < 5; i++) expectCode(await verify(pending, 'totp', '000000'), 401, 'invalid_code');
        }
        clock.advance(STEP);
        expectCode(await verify(await pendingLogin(url(), email), 'totp', totpCode(secret, clock.now())), 429, 'rate_limited');
      } finally {
        await other.close();
      }
    });

    it('a pending session ends after MFA_PENDING_TIMEOUT and never slides', async () => {
      const { email, secret } = await withTotp(url());
      const pending = await pendingLogin(url(), email);
      clock.advance(4 * MINUTE);
      expectCode(await pending.get('/api/auth/me'), 401, 'mfa_required'); // using it does not extend it
      clock.advance(1 * MINUTE + 1_000);
      expectCode(await verify(pending, 'totp', totpCode(secret, clock.now())), 401, 'mfa_required');
    });

    it('turning the app off needs the password, ends every other session, and sign-in is one step again', async () => {
      const { client, email, secret } = await withTotp(url());
      clock.advance(STEP);
      const other = await pendingLogin(url(), email);
      expect((await verify(other, 'totp', totpCode(secret, clock.now()))).status).toBe(200);
      expectCode(await client.request('DELETE', '/api/auth/mfa/totp', { json: { password: 'not-the-password-at-all' } }), 401, 'invalid_credentials');
      const off = await client.request('DELETE', '/api/auth/mfa/totp', { json: { password: STRONG_PASSWORD } });
      expect(off.status, off.text).toBe(204);
      expect((await client.get('/api/auth/me')).status).toBe(200);
      expect((await other.get('/api/auth/me')).status).toBe(401);
      expect((await client.get('/api/auth/mfa')).body).toEqual({ totp: false, passkeys: [], recoveryCodesLeft: 0 });
      expectCode(await client.post('/api/auth/mfa/recovery-codes'), 409, 'mfa_not_enabled');
      const again = await new Client(url()).post('/api/auth/login', { email, password: STRONG_PASSWORD });
      expect(again.body.user?.email).toBe(email);
      expectCode(await client.request('DELETE', '/api/auth/mfa/totp', { json: { password: STRONG_PASSWORD } }), 404, 'not_found');
    });

    it('every path to a session asks for the second step: after a reset and after an email change too', async () => {
      const { client, email, secret } = await withTotp(url());
      // A reset leaves the factor on: the new password alone still stops halfway.
      const reset = await box.tokenFrom(email, SUBJECT.reset, () => new Client(url()).post('/api/auth/password/forgot', { email }));
      expect((await new Client(url()).post('/api/auth/password/reset', { token: reset, password: 'copper-meadow-falcon-77' })).status).toBe(200);
      expect((await new Client(url()).post('/api/auth/login', { email, password: 'copper-meadow-falcon-77' })).body.mfaRequired).toBe(true);
      // So does a new address, confirmed from a signed-in browser.
      const browser = new Client(url());
      expect((await browser.post('/api/auth/login', { email, password: 'copper-meadow-falcon-77' })).body.mfaRequired).toBe(true);
      clock.advance(STEP);
      expect((await verify(browser, 'totp', totpCode(secret, clock.now()))).status).toBe(200);
      const moved = uniqueEmail('moved');
      const confirm = await box.tokenFrom(moved, SUBJECT.confirmNew, () =>
        browser.post('/api/auth/email', { newEmail: moved, password: 'copper-meadow-falcon-77' }),
      );
      expect((await browser.post('/api/auth/email/verify', { token: confirm })).status).toBe(200);
      expect((await browser.get('/api/auth/me')).body.session.aal).toBe('aal2'); // the confirming browser kept its proofs
      expect((await new Client(url()).post('/api/auth/login', { email: moved, password: 'copper-meadow-falcon-77' })).body.mfaRequired).toBe(true);
      expect((await client.get('/api/auth/me')).status).toBe(401); // every other session ended
    });

    it('turning two-step on or off is a credential change: mailed links and pending second steps die', async () => {
      const { client, email } = await signedUp(url());
      const forgot = () => new Client(url()).post('/api/auth/password/forgot', { email });
      const beforeOn = await box.tokenFrom(email, SUBJECT.reset, forgot);
      const setup = await client.post('/api/auth/mfa/totp');
      clock.advance(STEP);
      expect((await client.post('/api/auth/mfa/totp/confirm', { code: totpCode(setup.body.secret, clock.now()) })).status).toBe(200);
      expectCode(await new Client(url()).post('/api/auth/password/reset', { token: beforeOn, password: 'copper-meadow-falcon-77' }), 400, 'invalid_token');

      const thief = await pendingLogin(url(), email); // has the password, waits at the second step
      const beforeOff = await box.tokenFrom(email, SUBJECT.reset, forgot);
      expect((await client.request('DELETE', '/api/auth/mfa/totp', { json: { password: STRONG_PASSWORD } })).status).toBe(204);
      clock.advance(STEP);
      expectCode(await verify(thief, 'totp', totpCode(setup.body.secret, clock.now())), 401, 'mfa_required');
      expectCode(await new Client(url()).post('/api/auth/password/reset', { token: beforeOff, password: 'copper-meadow-falcon-77' }), 400, 'invalid_token');
    });

    it('a password change ends a second step that was waiting with the old password', async () => {
      const { client, email, secret } = await withTotp(url());
      const thief = await pendingLogin(url(), email);
      expect((await client.post('/api/auth/password', { currentPassword: STRONG_PASSWORD, newPassword: 'copper-meadow-falcon-77' })).status).toBe(200);
      clock.advance(STEP);
      expectCode(await verify(thief, 'totp', totpCode(secret, clock.now())), 401, 'mfa_required');
    });

    it('setup and its confirmation need a recent password proof', async () => {
      const { client } = await signedUp(url());
      clock.advance(11 * MINUTE);
      expectCode(await client.post('/api/auth/mfa/totp'), 403, 'reauth_required');
      expectCode(await client.post('/api/auth/mfa/totp/confirm', { code: '123456' }), 403, 'reauth_required');
      expect((await client.post('/api/auth/reauth', { password: STRONG_PASSWORD })).status).toBe(200);
      expect((await client.post('/api/auth/mfa/totp')).status).toBe(200);
    });
  },
  // Many sign-ins of one account from one IP in parallel: lift the per-pair login limit.
  {
    latch: () => ({ clock, loginMaxFailures: 1000, smtpUrl: box.smtp.url, mailAccountMax: 1000, mailIpMax: 1_000_000, mailRetryDelays: [100, 200] }),
  },
);
