/**
 * Devices, new sign-in alerts and "remember this device" (API.md, "Devices and new sign-in
 * alerts", "Two-step sign-in"), on every backend with a real SMTP server and a clock the test
 * moves: a first sign-in from a browser mails the owner once; a remembered browser skips the
 * second step with an aal1 session that must step up before sensitive actions; a credential
 * change or "forget" ends the trust; the device cookie alone authenticates nothing.
 */
import { expect, it } from 'vitest';
import { totpCode } from '../../src/domain/totp.js';
import { describeOnBackends } from '../support/backends.js';
import { smtpForFile, SUBJECT } from '../support/mailbox.js';
import { Client, ManualClock, signedUp, STRONG_PASSWORD, type Reply } from '../support/server.js';

const clock = new ManualClock();
const STEP = 30_000;
const NEW_SIGN_IN = SUBJECT.newSignIn;
const box = smtpForFile();

function expectCode(res: Reply, status: number, code: string) {
  expect(res.status, res.text).toBe(status);
  expect(res.body?.code).toBe(code);
}

/** A signed-in user with an authenticator app on. */
async function withTotp(url: string) {
  const { client, email } = await signedUp(url);
  const setup = await client.post('/api/auth/mfa/totp');
  clock.advance(STEP);
  expect((await client.post('/api/auth/mfa/totp/confirm', { code: totpCode(setup.body.secret, clock.now()) })).status).toBe(200);
  return { client, email, secret: setup.body.secret as string };
}

/** Password, then the app's code (of the next step: each step works once). */
async function signInWithCode(browser: Client, email: string, secret: string, rememberDevice = false) {
  const first = await browser.post('/api/auth/login', { email, password: STRONG_PASSWORD });
  expect(first.body.mfaRequired).toBe(true);
  clock.advance(STEP);
  const res = await browser.post('/api/auth/mfa/verify', { method: 'totp', code: totpCode(secret, clock.now()), rememberDevice });
  expect(res.status, res.text).toBe(200);
}

describeOnBackends(
  'devices and new sign-in alerts',
  ({ server }) => {
    const url = () => server().url;

    it('a first sign-in from a browser mails the owner once; the same browser again does not', async () => {
      const { email } = await signedUp(url());
      const laptop = new Client(url());
      const alert = box.upcoming(email, NEW_SIGN_IN);
      expect((await laptop.post('/api/auth/login', { email, password: STRONG_PASSWORD }, { 'user-agent': 'Mozilla/5.0 (X11; Linux x86_64) Firefox/130.0' })).status).toBe(200);
      const mail = await alert();
      expect(mail.text).toContain('Firefox on Linux');
      expect(laptop.cookies.get('did')).toMatch(/^[A-Za-z0-9_-]{43}$/);
      expect((await laptop.post('/api/auth/logout')).status).toBe(200);
      expect((await laptop.post('/api/auth/login', { email, password: STRONG_PASSWORD })).status).toBe(200);
      await box.sentinel(url());
      expect(box.to(email, NEW_SIGN_IN)).toHaveLength(1); // the browser that signed up raised none
      const events = (await laptop.get('/api/auth/events?limit=100')).body.events.map((e: { type: string }) => e.type);
      expect(events.filter((t: string) => t === 'new_device')).toHaveLength(1);
      const devices = (await laptop.get('/api/auth/devices')).body.devices;
      expect(devices).toHaveLength(2); // the one that signed up, and the laptop
      expect(devices.filter((d: { current: boolean }) => d.current)).toHaveLength(1);
    });

    it('sign-ins racing from one new browser record it once: one device, one new_device event, one mail', async () => {
      const { client: owner, email } = await signedUp(url());
      const token = Buffer.alloc(32, 7).toString('base64url'); // a browser this account never used
      const tabs = Array.from({ length: 8 }, () => {
        const tab = new Client(url());
        tab.cookies.set('did', token);
        return tab;
      });
      const answers = await Promise.all(tabs.map((tab) => tab.post('/api/auth/login', { email, password: STRONG_PASSWORD })));
      for (const res of answers) expect(res.status, res.text).toBe(200);
      await box.sentinel(url());
      expect(box.to(email, NEW_SIGN_IN)).toHaveLength(1);
      const events = (await owner.get('/api/auth/events?limit=100')).body.events.map((e: { type: string }) => e.type);
      expect(events.filter((t: string) => t === 'new_device')).toHaveLength(1);
      expect((await owner.get('/api/auth/devices')).body.devices).toHaveLength(2); // the one that signed up, and this one
    });

    it('a remembered browser skips the second step with an aal1 session, which must step up for sensitive actions', async () => {
      const { email, secret } = await withTotp(url());
      const phone = new Client(url());
      await signInWithCode(phone, email, secret, true);
      expect((await phone.post('/api/auth/logout')).status).toBe(200);

      const again = await phone.post('/api/auth/login', { email, password: STRONG_PASSWORD });
      expect(again.body.user?.email).toBe(email); // no second step
      expect((await phone.get('/api/auth/me')).body.session).toMatchObject({ aal: 'aal1', methods: ['password'] });
      expectCode(await phone.request('DELETE', '/api/auth/account', { json: { password: STRONG_PASSWORD } }), 403, 'second_factor_required');
      expectCode(await phone.post('/api/auth/email', { newEmail: 'x@example.test', password: STRONG_PASSWORD }), 403, 'second_factor_required');
      expectCode(await phone.post('/api/auth/mfa/recovery-codes'), 403, 'second_factor_required');
      expectCode(await phone.request('DELETE', '/api/auth/mfa/totp', { json: { password: STRONG_PASSWORD } }), 403, 'second_factor_required');

      const before = phone.cookies.get('sid');
      clock.advance(STEP);
      const up = await phone.post('/api/auth/mfa/verify', { method: 'totp', code: totpCode(secret, clock.now()) });
      expect(up.status, up.text).toBe(200);
      expect(phone.cookies.get('sid')).not.toBe(before); // a step up is a new session
      expect((await phone.get('/api/auth/me')).body.session).toMatchObject({ aal: 'aal2', methods: ['password', 'totp'] });
      expect((await phone.post('/api/auth/mfa/recovery-codes')).status).toBe(200);
      const old = new Client(url());
      old.cookies.set('sid', before!);
      expect((await old.get('/api/auth/me')).status).toBe(401);
    });

    it('the device cookie alone authenticates nothing, and a stolen one does not skip the step without the password', async () => {
      const { email, secret } = await withTotp(url());
      const phone = new Client(url());
      await signInWithCode(phone, email, secret, true);
      const thief = new Client(url());
      thief.cookies.set('did', phone.cookies.get('did')!);
      expect((await thief.get('/api/auth/me')).status).toBe(401);
      expect((await thief.post('/api/auth/login', { email, password: 'not-the-password-at-all' })).status).toBe(401);
    });

    it('a password change ends the trust of every remembered browser', async () => {
      const { client, email, secret } = await withTotp(url());
      const phone = new Client(url());
      await signInWithCode(phone, email, secret, true);
      clock.advance(STEP);
      const up = await client.post('/api/auth/mfa/verify', { method: 'totp', code: totpCode(secret, clock.now()) });
      expect(up.status, up.text).toBe(400); // already aal2: nothing to step up
      expect((await client.post('/api/auth/password', { currentPassword: STRONG_PASSWORD, newPassword: 'copper-meadow-falcon-77' })).status).toBe(200);
      expect((await phone.post('/api/auth/login', { email, password: 'copper-meadow-falcon-77' })).body.mfaRequired).toBe(true);
    });

    it('forgetting a device ends its trust; a device of another account cannot be forgotten', async () => {
      const { client, email, secret } = await withTotp(url());
      const phone = new Client(url());
      await signInWithCode(phone, email, secret, true);
      const listed = (await client.get('/api/auth/devices')).body.devices;
      const trusted = listed.find((d: { trusted: boolean }) => d.trusted);
      expect(trusted).toBeDefined();
      const { client: stranger } = await signedUp(url());
      expectCode(await stranger.request('DELETE', `/api/auth/devices/${trusted.id}`), 404, 'not_found');
      expect((await client.request('DELETE', `/api/auth/devices/${trusted.id}`)).status).toBe(204);
      expect((await phone.post('/api/auth/logout')).status).toBe(200);
      expect((await phone.post('/api/auth/login', { email, password: STRONG_PASSWORD })).body.mfaRequired).toBe(true);
      const events = (await client.get('/api/auth/events?limit=100')).body.events.map((e: { type: string }) => e.type);
      expect(events).toContain('device_forgotten');
    });
  },
  {
    latch: () => ({
      clock,
      smtpUrl: box.smtp.url,
      mailAccountMax: 1000,
      mailIpMax: 1_000_000,
      mailRetryDelays: [100, 200],
      loginMaxFailures: 1000,
    }),
  },
);

describeOnBackends(
  'remember this device, turned off',
  ({ server }) => {
    it('with MFA_REMEMBER_DEVICE=0, rememberDevice is ignored: every sign-in takes the second step', async () => {
      const url = server().url;
      const { email, secret } = await withTotp(url);
      const phone = new Client(url);
      await signInWithCode(phone, email, secret, true);
      expect((await phone.post('/api/auth/logout')).status).toBe(200);
      expect((await phone.post('/api/auth/login', { email, password: STRONG_PASSWORD })).body.mfaRequired).toBe(true);
    });
  },
  { latch: () => ({ clock, mfaRememberDevice: 0, loginMaxFailures: 1000 }) },
);
