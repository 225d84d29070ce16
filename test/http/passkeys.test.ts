/**
 * Passkeys over HTTP (API.md, "Passkeys (WebAuthn)"), on every backend, with a software
 * authenticator that signs for real (test/support/soft-authenticator.ts): adding one, signing
 * in without a password, a passkey as the second step, and the attacks of THREATS.md that apply
 * (replay, a challenge used for another purpose or by another session, wrong origin or rp id,
 * no user verification, bad signature, unknown or foreign credential, counter going back, 20
 * parallel uses of one answer, refused requests that must change nothing).
 */
import type { AuthenticationResponseJSON } from '@simplewebauthn/server';
import { expect, it } from 'vitest';
import { describeOnBackends } from '../support/backends.js';
import { Client, ManualClock, signedUp, STRONG_PASSWORD, type Reply } from '../support/server.js';
import { SoftAuthenticator } from '../support/soft-authenticator.js';

const ORIGIN = 'https://latch.test';
const RP_ID = 'latch.test';
const clock = new ManualClock();
const MINUTE = 60_000;

const authenticator = (settings?: { keepsCounter?: boolean }) => new SoftAuthenticator({ origin: ORIGIN, rpId: RP_ID }, settings);

function expectCode(res: Reply, status: number, code: string) {
  expect(res.status, res.text).toBe(status);
  expect(res.body).toEqual({ error: expect.any(String), code });
}

/** Adds a passkey from `client`'s signed-in session; returns the answer. */
async function addPasskey(client: Client, device: SoftAuthenticator, name?: string): Promise<Reply> {
  const options = await client.post('/api/auth/passkeys/register/options');
  expect(options.status, options.text).toBe(200);
  return client.post('/api/auth/passkeys/register', { response: device.register(options.body), ...(name ? { name } : {}) });
}

/** A user with one passkey on `device`. */
async function withPasskey(url: string, device = authenticator()) {
  const { client, email, user } = await signedUp(url);
  const added = await addPasskey(client, device, 'Laptop');
  expect(added.status, added.text).toBe(201);
  return { client, email, user, device, passkey: added.body.passkey, recoveryCodes: added.body.recoveryCodes as string[] };
}

/** A guest's signed answer to a fresh discoverable challenge. */
async function guestAssertion(url: string, device: SoftAuthenticator, tamper?: Parameters<SoftAuthenticator['authenticate']>[1]) {
  const browser = new Client(url);
  const options = await browser.post('/api/auth/passkeys/login/options');
  expect(options.status, options.text).toBe(200);
  return { browser, options: options.body, response: device.authenticate(options.body, tamper) };
}

const passkeyLogin = (browser: Client, response: AuthenticationResponseJSON, rememberMe = false) =>
  browser.post('/api/auth/passkeys/login', { response, rememberMe });

async function eventTypes(client: Client): Promise<string[]> {
  const res = await client.get('/api/auth/events?limit=100');
  expect(res.status, res.text).toBe(200);
  return res.body.events.map((e: { type: string }) => e.type);
}

describeOnBackends(
  'passkeys',
  ({ server }) => {
    const url = () => server().url;

    it('adding the first passkey: recovery codes once, this session goes on as aal2 under a new id, every other session ends', async () => {
      const { client, email } = await signedUp(url());
      const other = new Client(url());
      expect((await other.post('/api/auth/login', { email, password: STRONG_PASSWORD })).status).toBe(200);
      const before = new Client(url());
      before.cookies = new Map(client.cookies);

      const added = await addPasskey(client, authenticator(), 'My laptop');
      expect(added.status, added.text).toBe(201);
      expect(added.body.passkey).toEqual({ id: expect.any(String), name: 'My laptop', createdAt: expect.any(String), lastUsedAt: null, backedUp: true });
      expect(added.body.recoveryCodes).toHaveLength(10);
      expect(added.headers.getSetCookie()).toHaveLength(1);

      const me = await client.get('/api/auth/me');
      expect(me.status).toBe(200);
      expect(me.body.session).toMatchObject({ aal: 'aal2', methods: ['password', 'passkey'] });
      expectCode(await before.get('/api/auth/me'), 401, 'unauthorized'); // the old cookie died with the change
      expectCode(await other.get('/api/auth/me'), 401, 'unauthorized');

      const mfa = await client.get('/api/auth/mfa');
      expect(mfa.body).toEqual({ totp: false, passkeys: [added.body.passkey], recoveryCodesLeft: 10 });
      expect(await eventTypes(client)).toContain('passkey_added');

      // A second passkey: no new recovery codes, no credential change (the other session of
      // the same person stays), the session is rotated again.
      const third = new Client(url());
      const login = await third.post('/api/auth/login', { email, password: STRONG_PASSWORD });
      expect(login.body).toEqual({ mfaRequired: true, methods: ['passkey', 'recovery_code'] });
      clock.advance(1_000); // listed oldest first
      const second = await addPasskey(client, authenticator(), 'Phone');
      expect(second.status, second.text).toBe(201);
      expect(second.body.recoveryCodes).toBeUndefined();
      expect((await client.get('/api/auth/mfa')).body.passkeys.map((p: { name: string }) => p.name)).toEqual(['My laptop', 'Phone']);
    });

    it('signs in with a passkey alone: a NEW aal2 session with methods ["passkey"], recorded, the device alert raised', async () => {
      const { device, client } = await withPasskey(url());
      const { browser, options, response } = await guestAssertion(url(), device);
      expect(options.allowCredentials ?? []).toEqual([]); // discoverable: the authenticator names the user
      expect(options.userVerification).toBe('required');
      expect(Buffer.from(options.challenge, 'base64url')).toHaveLength(32);
      const res = await passkeyLogin(browser, response, true);
      expect(res.status, res.text).toBe(200);
      expect(res.body.user.email).toBeDefined();
      const me = await browser.get('/api/auth/me');
      expect(me.body.session).toMatchObject({ aal: 'aal2', methods: ['passkey'], rememberMe: true });
      const types = await eventTypes(client);
      expect(types).toContain('passkey_login');
      expect(types).toContain('new_device');
      const listed = (await client.get('/api/auth/mfa')).body.passkeys[0];
      expect(listed.lastUsedAt).not.toBeNull();
    });

    it('a passkey as the second step of a password sign-in', async () => {
      const { device, email } = await withPasskey(url());
      const browser = new Client(url());
      const login = await browser.post('/api/auth/login', { email, password: STRONG_PASSWORD });
      expect(login.body).toEqual({ mfaRequired: true, methods: ['passkey', 'recovery_code'] });
      const options = await browser.post('/api/auth/passkeys/login/options');
      expect(options.status, options.text).toBe(200);
      expect(options.body.allowCredentials.map((c: { id: string }) => c.id)).toEqual([device.credentials[0]!.id]);
      const pendingCookie = new Map(browser.cookies);
      const res = await browser.post('/api/auth/mfa/verify', { method: 'passkey', response: device.authenticate(options.body) });
      expect(res.status, res.text).toBe(200);
      const me = await browser.get('/api/auth/me');
      expect(me.body.session).toMatchObject({ aal: 'aal2', methods: ['password', 'passkey'] });
      // The pending session ended with the step: its cookie finishes nothing more.
      const stale = new Client(url());
      stale.cookies = pendingCookie;
      expectCode(await stale.post('/api/auth/mfa/verify', { method: 'passkey', response: device.authenticate(options.body) }), 401, 'mfa_required');
    });
  },
  { latch: () => ({ clock, webauthnRpId: RP_ID, webauthnOrigins: ORIGIN }) },
);
