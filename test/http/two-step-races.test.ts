/**
 * Two-step sign-in under attack (THREATS.md items 2, 3, 9): refused requests that must change
 * nothing when a sign-out everywhere lands while they run; parallel second steps on one pending
 * session; a device cookie planted before the owner asks to be remembered; a pending session
 * replaced by a new sign-in. On every backend, with a clock the test moves.
 */
import { expect, it } from 'vitest';
import { totpCode } from '../../src/domain/totp.js';
import { describeOnBackends } from '../support/backends.js';
import { Client, ManualClock, signedUp, STRONG_PASSWORD } from '../support/server.js';

const clock = new ManualClock();
const STEP = 30_000;
const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function withTotp(url: string) {
  const { client, email } = await signedUp(url);
  const setup = await client.post('/api/auth/mfa/totp');
  clock.advance(STEP);
  const confirm = await client.post('/api/auth/mfa/totp/confirm', { code: totpCode(setup.body.secret, clock.now()) });
  expect(confirm.status).toBe(200);
  return { client, email, secret: setup.body.secret as string, recoveryCodes: confirm.body.recoveryCodes as string[] };
}

async function secondStep(url: string, email: string, secret: string, browser = new Client(url), rememberDevice = false) {
  expect((await browser.post('/api/auth/login', { email, password: STRONG_PASSWORD })).body.mfaRequired).toBe(true);
  clock.advance(STEP);
  expect((await browser.post('/api/auth/mfa/verify', { method: 'totp', code: totpCode(secret, clock.now()), rememberDevice })).status).toBe(200);
  return browser;
}

describeOnBackends(
  'two-step sign-in under races',
  ({ server }) => {
    const url = () => server().url;

    it('turning the app off with a stolen session, while the owner signs out everywhere: refused means unchanged', async () => {
      const { client: thief, email, secret } = await withTotp(url());
      const owner = await secondStep(url(), email, secret);
      const disabling = thief.request('DELETE', '/api/auth/mfa/totp', { json: { password: STRONG_PASSWORD } }); // hashes first
      await pause(10);
      const revoke = await owner.request('DELETE', '/api/auth/sessions');
      const disable = await disabling;
      if (disable.status === 204) {
        // The disable's factor write landed first. The owner's request came after it (401) or
        // between the factor's removal and two-step going off, whose credential change then
        // ended the session the revoke had just rotated (200): either way the owner is out.
        expect([200, 401]).toContain(revoke.status);
        expect((await owner.get('/api/auth/me')).status).toBe(401);
        if (revoke.status === 200) expect((await thief.get('/api/auth/me')).status).toBe(401); // the revoke ended it too
        // Two-step is off: the password alone signs in.
        expect((await new Client(url()).post('/api/auth/login', { email, password: STRONG_PASSWORD })).body.mfaRequired).toBeUndefined();
      } else {
        expect(disable.status, disable.text).toBe(401);
        expect(revoke.status).toBe(200);
        expect((await owner.get('/api/auth/mfa')).body).toMatchObject({ totp: true, recoveryCodesLeft: 10 });
        expect((await new Client(url()).post('/api/auth/login', { email, password: STRONG_PASSWORD })).body.mfaRequired).toBe(true);
      }
    });

    it('confirming an app with a stolen session, while the owner signs out everywhere: refused means unchanged', async () => {
      for (let round = 0; round < 5; round++) {
        const { client: thief, email } = await signedUp(url());
        const owner = new Client(url());
        expect((await owner.post('/api/auth/login', { email, password: STRONG_PASSWORD })).status).toBe(200);
        const setup = await thief.post('/api/auth/mfa/totp');
        clock.advance(STEP);
        const [confirm, revoke] = await Promise.all([
          thief.post('/api/auth/mfa/totp/confirm', { code: totpCode(setup.body.secret, clock.now()) }),
          owner.request('DELETE', '/api/auth/sessions'),
        ]);
        if (confirm.status === 200) {
          expect(revoke.status).toBe(401); // the confirm landed first: it ended the owner's session
        } else {
          expect(confirm.status, confirm.text).toBe(401);
          expect((await owner.get('/api/auth/mfa')).body).toMatchObject({ totp: false, recoveryCodesLeft: 0 });
        }
      }
    });

    it('parallel second steps on one pending session with two recovery codes use up at most one', async () => {
      const { client, email, recoveryCodes } = await withTotp(url());
      const pending = new Client(url());
      expect((await pending.post('/api/auth/login', { email, password: STRONG_PASSWORD })).body.mfaRequired).toBe(true);
      const answers = await Promise.all(
        recoveryCodes.slice(0, 4).map((code) => pending.post('/api/auth/mfa/verify', { method: 'recovery_code', code })),
      );
      expect(answers.filter((a) => a.status === 200)).toHaveLength(1);
      for (const a of answers.filter((r) => r.status !== 200)) expect(['rate_limited', 'mfa_required']).toContain(a.body.code);
      expect((await client.get('/api/auth/mfa')).body.recoveryCodesLeft).toBe(9);
    });

    it('a device cookie planted before the owner asks to be remembered does not skip the second step for whoever planted it', async () => {
      const { email, secret } = await withTotp(url());
      const planted = 'P'.repeat(43);
      const victim = new Client(url());
      victim.cookies.set('did', planted);
      await secondStep(url(), email, secret, victim, true);
      expect(victim.cookies.get('did')).not.toBe(planted); // trust comes with a value the server made
      const attacker = new Client(url());
      attacker.cookies.set('did', planted);
      expect((await attacker.post('/api/auth/login', { email, password: STRONG_PASSWORD })).body.mfaRequired).toBe(true);
      // The victim's browser itself is remembered.
      expect((await victim.post('/api/auth/logout')).status).toBe(200);
      expect((await victim.post('/api/auth/login', { email, password: STRONG_PASSWORD })).body.user?.email).toBe(email);
    });

    it('a new sign-in replaces the pending one the browser held', async () => {
      const { email, secret } = await withTotp(url());
      const browser = new Client(url());
      expect((await browser.post('/api/auth/login', { email, password: STRONG_PASSWORD })).body.mfaRequired).toBe(true);
      const first = new Client(url());
      first.cookies.set('sid', browser.cookies.get('sid')!);
      expect((await browser.post('/api/auth/login', { email, password: STRONG_PASSWORD })).body.mfaRequired).toBe(true);
      clock.advance(STEP);
      const old = await first.post('/api/auth/mfa/verify', { method: 'totp', code: totpCode(secret, clock.now()) });
      expect(old.status).toBe(401);
      expect(old.body.code).toBe('mfa_required');
    });
  },
  { latch: () => ({ clock, loginMaxFailures: 1000 }) },
);
