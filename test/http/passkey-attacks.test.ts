/**
 * Attacks on passkeys (THREATS.md, items 1, 3, 8, 9 and 11), on every backend, with a software
 * authenticator that signs for real. Each refusal is the same answer (401 `invalid_credentials`
 * at sign-in, 401 `invalid_code` at a second step, 400 `invalid_passkey` at registration) and
 * is checked to have changed nothing: no session, no cookie, no passkey, the challenge gone.
 */
import { createHash } from 'node:crypto';
import type { AuthenticationResponseJSON } from '@simplewebauthn/server';
import { expect, it } from 'vitest';
import { connectRedis } from '../../src/adapters/redis/connection.js';
import { describeOnBackends } from '../support/backends.js';
import { Client, ManualClock, signedUp, STRONG_PASSWORD, type Reply } from '../support/server.js';
import { clientDataOf, SoftAuthenticator } from '../support/soft-authenticator.js';

const ORIGIN = 'https://latch.test';
const RP_ID = 'latch.test';
const clock = new ManualClock();
const MINUTE = 60_000;
const latchOptions = () => ({ clock, webauthnRpId: RP_ID, webauthnOrigins: ORIGIN });

const authenticator = () => new SoftAuthenticator({ origin: ORIGIN, rpId: RP_ID });
/** Most passkeys keep no signature counter (always 0): nothing but the challenge stops a replay. */
const counterless = () => new SoftAuthenticator({ origin: ORIGIN, rpId: RP_ID }, { keepsCounter: false });

function expectCode(res: Reply, status: number, code: string) {
  expect(res.status, res.text).toBe(status);
  expect(res.body).toEqual({ error: expect.any(String), code });
}

async function registrationOptions(client: Client) {
  const options = await client.post('/api/auth/passkeys/register/options');
  expect(options.status, options.text).toBe(200);
  return options.body;
}

async function withPasskey(url: string, device = authenticator()) {
  const { client, email, user } = await signedUp(url);
  const added = await client.post('/api/auth/passkeys/register', { response: device.register(await registrationOptions(client)) });
  expect(added.status, added.text).toBe(201);
  return { client, email, user, device, passkey: added.body.passkey as { id: string } };
}

async function guestOptions(url: string) {
  const browser = new Client(url);
  const options = await browser.post('/api/auth/passkeys/login/options');
  expect(options.status, options.text).toBe(200);
  return { browser, options: options.body };
}

const passkeyLogin = (browser: Client, response: AuthenticationResponseJSON) => browser.post('/api/auth/passkeys/login', { response });

/** A refused sign-in: the same 401, and no cookie set. */
function expectRefusedSignIn(res: Reply) {
  expectCode(res, 401, 'invalid_credentials');
  expect(res.headers.getSetCookie().filter((c) => /^(__Host-)?sid=[^;]/.test(c))).toEqual([]);
}

async function passkeysOf(client: Client): Promise<Array<{ id: string; lastUsedAt: string | null }>> {
  const res = await client.get('/api/auth/mfa');
  expect(res.status, res.text).toBe(200);
  return res.body.passkeys;
}

async function eventTypes(client: Client): Promise<string[]> {
  return (await client.get('/api/auth/events?limit=100')).body.events.map((e: { type: string }) => e.type);
}

/** A password sign-in of an account with a passkey: the browser holds a pending session. */
async function pending(url: string, email: string) {
  const browser = new Client(url);
  const login = await browser.post('/api/auth/login', { email, password: STRONG_PASSWORD });
  expect(login.body.mfaRequired, login.text).toBe(true);
  const options = await browser.post('/api/auth/passkeys/login/options');
  expect(options.status, options.text).toBe(200);
  return { browser, options: options.body };
}

describeOnBackends(
  'passkey attacks',
  ({ server }) => {
    const url = () => server().url;

    it('a replayed assertion is refused: the challenge went with its first use', async () => {
      const { device } = await withPasskey(url(), counterless());
      const { browser, options } = await guestOptions(url());
      const response = device.authenticate(options);
      expect((await passkeyLogin(browser, response)).status).toBe(200);
      expectRefusedSignIn(await passkeyLogin(new Client(url()), response));
    });

    it('20 parallel uses of one assertion: exactly one signs in', async () => {
      const { device } = await withPasskey(url(), counterless());
      const { options } = await guestOptions(url());
      const response = device.authenticate(options);
      const replies = await Promise.all(Array.from({ length: 20 }, () => passkeyLogin(new Client(url()), response)));
      expect(replies.filter((r) => r.status === 200)).toHaveLength(1);
      for (const r of replies.filter((r) => r.status !== 200)) expectRefusedSignIn(r);
    });

    it('20 parallel second steps with one assertion: exactly one finishes', async () => {
      const { device, email } = await withPasskey(url(), counterless());
      const { browser, options } = await pending(url(), email);
      const response = device.authenticate(options);
      const replies = await Promise.all(
        Array.from({ length: 20 }, () => {
          const copy = new Client(url());
          copy.cookies = new Map(browser.cookies);
          return copy.post('/api/auth/mfa/verify', { method: 'passkey', response });
        }),
      );
      expect(replies.filter((r) => r.status === 200)).toHaveLength(1);
      for (const r of replies.filter((r) => r.status !== 200)) expect([401, 429]).toContain(r.status);
    });

    it('a challenge fails once for good: a tampered answer spends it, the honest one after it is refused', async () => {
      const { device } = await withPasskey(url());
      const { browser, options } = await guestOptions(url());
      expectRefusedSignIn(await passkeyLogin(browser, device.authenticate(options, { origin: 'https://evil.test' })));
      expectRefusedSignIn(await passkeyLogin(browser, device.authenticate(options)));
    });

    it('wrong origin, wrong rp id, no user verification, bad signature, forged challenge, create-type data: refused alike, nothing changes', async () => {
      const { device, client } = await withPasskey(url());
      const before = await passkeysOf(client);
      const tampers = [
        { origin: 'https://evil.test' },
        { origin: 'http://latch.test' },
        { rpId: 'evil.test' },
        { userVerified: false },
        { userPresent: false },
        { badSignature: true },
        { type: 'webauthn.create' },
      ];
      const bodies = new Set<string>();
      for (const tamper of tampers) {
        const { browser, options } = await guestOptions(url());
        const res = await passkeyLogin(browser, device.authenticate(options, tamper));
        expectRefusedSignIn(res);
        bodies.add(res.text);
      }
      // A challenge the server never issued.
      const { browser, options } = await guestOptions(url());
      const forged = device.authenticate(options, { challenge: Buffer.alloc(32, 7).toString('base64url') });
      expectRefusedSignIn(await passkeyLogin(browser, forged));
      expect(bodies.size).toBe(1); // byte for byte the same answer, whatever was wrong
      expect(await passkeysOf(client)).toEqual(before); // no use recorded
    });

    it('an unknown credential, and a credential named with another user\'s handle, are refused', async () => {
      const stranger = authenticator();
      stranger.register(await registrationOptions((await signedUp(url())).client)); // made, never stored
      const { options } = await guestOptions(url());
      expectRefusedSignIn(await passkeyLogin(new Client(url()), stranger.authenticate(options)));

      const alice = await withPasskey(url());
      const bob = await withPasskey(url());
      const second = await guestOptions(url());
      const mixed = alice.device.authenticate(second.options, { userHandle: bob.device.credentials[0]!.userHandle });
      expectRefusedSignIn(await passkeyLogin(second.browser, mixed));
    });

    it("a registration challenge does not sign in, a sign-in challenge does not register, another session's challenge registers nothing", async () => {
      const { device, client, email } = await withPasskey(url());
      // The registration challenge, answered as a sign-in.
      const creation = await registrationOptions(client);
      const asSignIn = device.authenticate({ challenge: creation.challenge, rpId: RP_ID, allowCredentials: [], userVerification: 'required' });
      expectRefusedSignIn(await passkeyLogin(new Client(url()), asSignIn));

      // A sign-in challenge, answered as a registration.
      const { options } = await guestOptions(url());
      const fresh = authenticator();
      const asRegistration = fresh.register({ ...(await registrationOptions(client)), challenge: options.challenge });
      expectCode(await client.post('/api/auth/passkeys/register', { response: asRegistration }), 400, 'invalid_passkey');

      // Session A's challenge, answered from session B of the same account.
      const b = new Client(url());
      const login = await b.post('/api/auth/login', { email, password: STRONG_PASSWORD });
      expect(login.body.mfaRequired).toBe(true);
      const step = await b.post('/api/auth/passkeys/login/options');
      expect((await b.post('/api/auth/mfa/verify', { method: 'passkey', response: device.authenticate(step.body) })).status).toBe(200);
      const ofA = await registrationOptions(client);
      const res = await b.post('/api/auth/passkeys/register', { response: authenticator().register(ofA) });
      expectCode(res, 400, 'invalid_passkey');
      expect(res.headers.getSetCookie()).toEqual([]);
      expect(await passkeysOf(client)).toHaveLength(1);
    });

    it('registration refusals change nothing: no passkey, no rotation, other sessions live', async () => {
      const { client, email } = await signedUp(url());
      const other = new Client(url());
      expect((await other.post('/api/auth/login', { email, password: STRONG_PASSWORD })).status).toBe(200);
      const device = authenticator();
      for (const tamper of [{ origin: 'https://evil.test' }, { rpId: 'evil.test' }, { userVerified: false }, { type: 'webauthn.get' }]) {
        const res = await client.post('/api/auth/passkeys/register', { response: device.register(await registrationOptions(client), tamper) });
        expectCode(res, 400, 'invalid_passkey');
        expect(res.headers.getSetCookie()).toEqual([]);
      }
      // A good answer replayed: its challenge is gone, and its credential is taken.
      const good = device.register(await registrationOptions(client));
      expect((await client.post('/api/auth/passkeys/register', { response: good })).status).toBe(201);
      const mfaBefore = (await client.get('/api/auth/mfa')).body;
      expectCode(await client.post('/api/auth/passkeys/register', { response: good }), 400, 'invalid_passkey');
      expect((await client.get('/api/auth/mfa')).body).toEqual(mfaBefore);
      // Before the good one, the other session lived through every refusal; the good one
      // (the first factor) ended it.
      expectCode(await other.get('/api/auth/me'), 401, 'unauthorized');
    });

    it("another user's passkey cannot finish my second step", async () => {
      const alice = await withPasskey(url());
      const bob = await withPasskey(url());
      const { browser, options } = await pending(url(), alice.email);
      const asBob = bob.device.authenticate({ ...options, allowCredentials: [] });
      expectCode(await browser.post('/api/auth/mfa/verify', { method: 'passkey', response: asBob }), 401, 'invalid_code');
      expectCode(await browser.get('/api/auth/me'), 401, 'mfa_required');
      expect(await eventTypes(alice.client)).toContain('mfa_failed');
    });

    it('a counter that goes back is refused and recorded as passkey_counter_error', async () => {
      const { device, client } = await withPasskey(url());
      const credential = device.credentials[0]!;
      for (let i = 0; i < 2; i++) {
        const { browser, options } = await guestOptions(url());
        expect((await passkeyLogin(browser, device.authenticate(options))).status).toBe(200);
      }
      device.setCounter(credential.id, 1); // a clone that missed the last use
      const { browser, options } = await guestOptions(url());
      expectRefusedSignIn(await passkeyLogin(browser, device.authenticate(options)));
      expect(await eventTypes(client)).toContain('passkey_counter_error');
    });

    it('a removed passkey signs in no more', async () => {
      const { device, client, passkey } = await withPasskey(url());
      const { options } = await guestOptions(url());
      const prepared = device.authenticate(options);
      const removed = await client.request('DELETE', `/api/auth/passkeys/${passkey.id}`);
      expect(removed.status, removed.text).toBe(204);
      expectRefusedSignIn(await passkeyLogin(new Client(url()), prepared));
      const later = await guestOptions(url());
      expectRefusedSignIn(await passkeyLogin(later.browser, device.authenticate(later.options)));
    });

    it('removing needs a recent password proof; a remembered (aal1) session must step up first', async () => {
      const { device, email, passkey } = await withPasskey(url());
      const browser = new Client(url());
      await browser.post('/api/auth/login', { email, password: STRONG_PASSWORD });
      const step = await browser.post('/api/auth/passkeys/login/options');
      const done = await browser.post('/api/auth/mfa/verify', { method: 'passkey', response: device.authenticate(step.body), rememberDevice: true });
      expect(done.status, done.text).toBe(200);
      await browser.post('/api/auth/logout');
      const again = await browser.post('/api/auth/login', { email, password: STRONG_PASSWORD });
      expect(again.body.user, again.text).toBeDefined(); // remembered: no second step
      expect((await browser.get('/api/auth/me')).body.session.aal).toBe('aal1');

      expectCode(await browser.request('DELETE', `/api/auth/passkeys/${passkey.id}`), 403, 'second_factor_required');
      expectCode(await browser.post('/api/auth/passkeys/register/options'), 403, 'second_factor_required');
      // Stepping up with the passkey itself: options for the aal1 session, then verify.
      const up = await browser.post('/api/auth/passkeys/login/options');
      expect(up.status, up.text).toBe(200);
      expect((await browser.post('/api/auth/mfa/verify', { method: 'passkey', response: device.authenticate(up.body) })).status).toBe(200);
      expect((await browser.get('/api/auth/me')).body.session.aal).toBe('aal2');
      expectCode(await browser.post('/api/auth/passkeys/login/options'), 400, 'already_authenticated');

      clock.advance(11 * MINUTE); // past REAUTH_WINDOW
      expectCode(await browser.request('DELETE', `/api/auth/passkeys/${passkey.id}`), 403, 'reauth_required');
      expect(await passkeysOf(browser)).toHaveLength(1);
      expect((await browser.post('/api/auth/reauth', { password: STRONG_PASSWORD })).status).toBe(200);
      expect((await browser.request('DELETE', `/api/auth/passkeys/${passkey.id}`)).status).toBe(204);
    });

    it('removing the last passkey turns two-step off: a credential change; removing one of two ends remembered devices only', async () => {
      const { device, client, email, passkey } = await withPasskey(url());
      const phone = authenticator();
      const second = await client.post('/api/auth/passkeys/register', { response: phone.register(await registrationOptions(client)) });
      expect(second.status).toBe(201);

      // A browser remembered for the second step, and a plain second session.
      const remembered = new Client(url());
      await remembered.post('/api/auth/login', { email, password: STRONG_PASSWORD });
      const step = await remembered.post('/api/auth/passkeys/login/options');
      await remembered.post('/api/auth/mfa/verify', { method: 'passkey', response: device.authenticate(step.body), rememberDevice: true });
      expect((await remembered.get('/api/auth/me')).status).toBe(200);

      expect((await client.request('DELETE', `/api/auth/passkeys/${second.body.passkey.id}`)).status).toBe(204);
      expect((await remembered.get('/api/auth/me')).status).toBe(200); // sessions stay
      await remembered.post('/api/auth/logout');
      const asked = await remembered.post('/api/auth/login', { email, password: STRONG_PASSWORD });
      expect(asked.body).toEqual({ mfaRequired: true, methods: ['passkey', 'recovery_code'] }); // no longer remembered

      const other = new Client(url());
      await other.post('/api/auth/login', { email, password: STRONG_PASSWORD });
      const o = await other.post('/api/auth/passkeys/login/options');
      expect((await other.post('/api/auth/mfa/verify', { method: 'passkey', response: device.authenticate(o.body) })).status).toBe(200);

      const last = await client.request('DELETE', `/api/auth/passkeys/${passkey.id}`);
      expect(last.status).toBe(204);
      expect(last.headers.getSetCookie()).toHaveLength(1); // rotated: a credential change
      expect((await client.get('/api/auth/me')).status).toBe(200);
      expectCode(await other.get('/api/auth/me'), 401, 'unauthorized');
      expect((await client.get('/api/auth/mfa')).body).toEqual({ totp: false, passkeys: [], recoveryCodesLeft: 0 });
      const plain = await new Client(url()).post('/api/auth/login', { email, password: STRONG_PASSWORD });
      expect(plain.body.user).toBeDefined();
      expect(await eventTypes(client)).toEqual(expect.arrayContaining(['passkey_removed']));
    });

    it('a signed-in browser cannot passkey-sign-in over its session; a pending session may not add a passkey', async () => {
      const { device, client, email } = await withPasskey(url());
      const { options } = await guestOptions(url());
      expectCode(await passkeyLogin(client, device.authenticate(options)), 400, 'already_authenticated');
      const { browser } = await pending(url(), email);
      expectCode(await browser.post('/api/auth/passkeys/register/options'), 401, 'mfa_required');
      // A signed-in account without two-step has nothing to step up to.
      const plain = await signedUp(url());
      expectCode(await plain.client.post('/api/auth/passkeys/login/options'), 400, 'already_authenticated');
      // Names are plain text: a control character is refused before any store sees it.
      const id = (await passkeysOf(client))[0]!.id;
      const named = await client.request('PATCH', `/api/auth/passkeys/${id}`, { json: { name: 'a\u0000b' } });
      expect(named.status, named.text).toBe(400);
      expect(named.body).toMatchObject({ code: 'invalid_input', issues: [{ path: 'name' }] });
    });

    it('account deletion: 20 passkey sign-ins racing it leave no working session, and the passkey goes with the account', async () => {
      const { device, client } = await withPasskey(url(), counterless());
      const prepared = await Promise.all(
        Array.from({ length: 20 }, async () => {
          const { browser, options } = await guestOptions(url());
          return { browser, response: device.authenticate(options) };
        }),
      );
      const deleting = client.request('DELETE', '/api/auth/account', { json: { password: STRONG_PASSWORD } });
      const results = await Promise.all(prepared.map(async ({ browser, response }) => ({ browser, res: await passkeyLogin(browser, response) })));
      expect((await deleting).status).toBe(204);
      for (const { browser, res } of results) {
        expect([200, 401]).toContain(res.status);
        if (res.status === 200) expectCode(await browser.get('/api/auth/me'), 401, 'unauthorized');
      }
      const later = await guestOptions(url());
      expectRefusedSignIn(await passkeyLogin(later.browser, device.authenticate(later.options)));
    });

    it('a challenge lives 5 minutes where the sessions live', async () => {
      const { device } = await withPasskey(url());
      const { browser, options } = await guestOptions(url());
      const config = server().latch.config;
      if (config.redisUrl) {
        // Redis expires it by its own clock: check the key's time to live.
        const redis = await connectRedis(config.redisUrl, { timeoutMs: 2_000 });
        try {
          const key = `${config.redisKeyPrefix}wac:${createHash('sha256').update(clientDataOf(device.authenticate(options)).challenge).digest('base64url')}`;
          const ttl = await redis.command<number>(key, ['PTTL', key]);
          expect(ttl).toBeGreaterThan(4 * MINUTE);
          expect(ttl).toBeLessThanOrEqual(5 * MINUTE);
        } finally {
          await redis.close();
        }
      } else {
        clock.advance(5 * MINUTE + 1_000);
        expectRefusedSignIn(await passkeyLogin(browser, device.authenticate(options)));
      }
    });
  },
  { latch: latchOptions },
);
