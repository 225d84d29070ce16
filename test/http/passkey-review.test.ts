/**
 * Review of the passkey change against THREATS.md: each test here attacks a gap found in review
 * and fails until it is fixed. Races are made deterministic by holding one store write (a test
 * gate on a SQL store's prototype, released by a timeout so that a fix that serialises the
 * writes cannot deadlock the test); everything else goes through HTTP only. Without the gate,
 * the two removal races below also happen on their own on PostgreSQL (plain parallel requests).
 */
import type { AuthenticationResponseJSON } from '@simplewebauthn/server';
import { afterEach, expect, it, vi } from 'vitest';
import { SqlDeviceStore } from '../../src/adapters/sql/device-store.js';
import { SqlPasskeyStore } from '../../src/adapters/sql/passkey-store.js';
import { SqlUserRepository } from '../../src/adapters/sql/user-repository.js';
import { describeOnBackends } from '../support/backends.js';
import { Client, ManualClock, signedUp, startServer, STRONG_PASSWORD, type Reply } from '../support/server.js';
import { SoftAuthenticator } from '../support/soft-authenticator.js';

const ORIGIN = 'https://latch.test';
const RP_ID = 'latch.test';
const NEW_PASSWORD = 'copper-meadow-falcon-77';
const clock = new ManualClock();

const authenticator = () => new SoftAuthenticator({ origin: ORIGIN, rpId: RP_ID }, { keepsCounter: false });

function expectCode(res: Reply, status: number, code: string) {
  expect(res.status, res.text).toBe(status);
  expect(res.body).toEqual({ error: expect.any(String), code });
}

async function addPasskey(client: Client, device: SoftAuthenticator): Promise<Reply> {
  const options = await client.post('/api/auth/passkeys/register/options');
  expect(options.status, options.text).toBe(200);
  return client.post('/api/auth/passkeys/register', { response: device.register(options.body) });
}

async function withPasskey(url: string, device = authenticator()) {
  const { client, email } = await signedUp(url);
  const added = await addPasskey(client, device);
  expect(added.status, added.text).toBe(201);
  return { client, email, device, passkey: added.body.passkey as { id: string } };
}

async function guestAssertion(url: string, device: SoftAuthenticator) {
  const browser = new Client(url);
  const options = await browser.post('/api/auth/passkeys/login/options');
  expect(options.status, options.text).toBe(200);
  return { browser, response: device.authenticate(options.body) };
}

const passkeyLogin = (browser: Client, response: AuthenticationResponseJSON) => browser.post('/api/auth/passkeys/login', { response });

/** A second session of the account, finished with the passkey (aal2). */
async function secondSession(url: string, email: string, device: SoftAuthenticator): Promise<Client> {
  const browser = new Client(url);
  const login = await browser.post('/api/auth/login', { email, password: STRONG_PASSWORD });
  expect(login.body.mfaRequired, login.text).toBe(true);
  const step = await browser.post('/api/auth/passkeys/login/options');
  const done = await browser.post('/api/auth/mfa/verify', { method: 'passkey', response: device.authenticate(step.body) });
  expect(done.status, done.text).toBe(200);
  return browser;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

const heldStores = {
  add: SqlPasskeyStore,
  remove: SqlPasskeyStore,
  trust: SqlDeviceStore,
  changeCredentials: SqlUserRepository, // every credential change, two-step's flips among them
} as const;

/**
 * Holds calls of one SQL store method (`heldStores`) until `release()`,
 * or `arrivals` calls have come in: the interleaving a slow database or a busy event loop gives at
 * random. `maxHoldMs` only keeps a broken test from hanging: a hold that ran out before `release()`
 * did not make the interleaving under test (on a loaded machine a password change can take
 * seconds), so `release()` then fails the test instead of letting it judge another order.
 */
function holdStore(method: keyof typeof heldStores, { arrivals = Infinity, maxHoldMs = 20_000 } = {}) {
  const proto = heldStores[method].prototype as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>;
  const original = proto[method]!;
  let open!: () => void;
  const gate = new Promise<void>((resolve) => (open = resolve));
  let ranOut = false;
  const timer = setTimeout(() => {
    ranOut = true;
    open();
  }, maxHoldMs);
  let arrived = 0;
  let reached!: () => void;
  const firstArrival = new Promise<void>((resolve) => (reached = resolve));
  vi.spyOn(proto, method).mockImplementation(async function (this: unknown, ...args: unknown[]) {
    arrived += 1;
    reached();
    if (arrived >= arrivals) open();
    await gate;
    return original.apply(this, args);
  } as never);
  return {
    firstArrival: Promise.race([firstArrival, sleep(maxHoldMs)]),
    arrived: () => arrived,
    release() {
      clearTimeout(timer);
      open();
      if (ranOut) throw new Error(`the hold on ${method} ran out (${maxHoldMs} ms) before release: the order under test did not happen`);
    },
  };
}

describeOnBackends(
  'passkey review',
  ({ server }) => {
    const url = () => server().url;
    afterEach(() => {
      vi.restoreAllMocks();
    });

    it('removing the last two passkeys at once is still "last factor off": a credential change, no recovery codes left', async () => {
      const { client, email, device } = await withPasskey(url());
      const phone = authenticator();
      const second = await addPasskey(client, phone);
      expect(second.status, second.text).toBe(201);
      const ids = ((await client.get('/api/auth/mfa')).body.passkeys as Array<{ id: string }>).map((p) => p.id);
      expect(ids).toHaveLength(2);
      const other = await secondSession(url(), email, device); // e.g. a thief's session

      // Both removals decide "not the last one" before either writes (counted two passkeys).
      const held = holdStore('remove', { arrivals: 2 });
      const removals = await Promise.all(ids.map((id) => client.request('DELETE', `/api/auth/passkeys/${id}`)));
      held.release();
      for (const r of removals) expect(r.status, r.text).toBe(204);

      const mfa = (await client.get('/api/auth/mfa')).body;
      expect(mfa.passkeys).toEqual([]);
      // Two-step is off: API.md says that is a credential change (other sessions end) and the
      // recovery codes go.
      expectCode(await other.get('/api/auth/me'), 401, 'unauthorized');
      expect(mfa.recoveryCodesLeft).toBe(0);
    });

    it('a passkey sign-in racing the removal of the last passkey (two-step off) keeps no session', async () => {
      const { client, device, passkey } = await withPasskey(url());
      const { browser, response } = await guestAssertion(url(), device);

      // The removal has bumped the epoch and ended the other sessions; its passkey row is not gone yet.
      const held = holdStore('remove');
      const removing = client.request('DELETE', `/api/auth/passkeys/${passkey.id}`);
      await held.firstArrival;
      const signIn = passkeyLogin(browser, response);
      await Promise.race([signIn, sleep(1_000)]);
      held.release();
      expect((await removing).status).toBe(204);

      const res = await signIn;
      expect([200, 401]).toContain(res.status);
      // Whatever it answered, the removed passkey must not have left a working session behind.
      expectCode(await browser.get('/api/auth/me'), 401, 'unauthorized');
      const sessions = (await client.get('/api/auth/sessions')).body.sessions as unknown[];
      expect(sessions).toHaveLength(1);
    });

    /** A new account registering its first passkey, held at `method` (the write, or the flip after it). */
    async function firstPasskeyHeldAt(method: 'add' | 'changeCredentials') {
      const { client: owner, email } = await signedUp(url());
      const options = await owner.post('/api/auth/passkeys/register/options');
      expect(options.status, options.text).toBe(200);
      const held = holdStore(method);
      const registering = owner.post('/api/auth/passkeys/register', { response: authenticator().register(options.body) });
      await held.firstArrival;
      expect(held.arrived()).toBe(1);
      return { owner, email, held, registering };
    }

    it('a password login racing the first passkey (two-step on) keeps no password-only session', async () => {
      // The passkey row is not written yet, and two-step is still off (the flip comes after the write).
      const { owner, email, held, registering } = await firstPasskeyHeldAt('add');
      const racer = new Client(url());
      const login = racer.post('/api/auth/login', { email, password: STRONG_PASSWORD });
      await Promise.race([login, sleep(1_000)]);
      held.release();
      expect((await registering).status).toBe(201);

      const res = await login;
      expect(res.status, res.text).toBe(200);
      // Two-step is on: a password alone never gives a full session, on any path.
      if (res.body.user) expectCode(await racer.get('/api/auth/me'), 401, 'unauthorized');
      else expect(res.body.mfaRequired).toBe(true);
      expect((await owner.get('/api/auth/sessions')).body.sessions).toHaveLength(1);
    });

    it('a password login between the first passkey\'s write and two-step\'s flip is asked for the second step', async () => {
      // The passkey is written; the flip of two-step (with its epoch bump) has not run. A sign-in
      // now must find the passkey itself: the account's flag still reads off.
      const { owner, email, held, registering } = await firstPasskeyHeldAt('changeCredentials');
      const racer = new Client(url());
      const res = await racer.post('/api/auth/login', { email, password: STRONG_PASSWORD });
      expect(res.status, res.text).toBe(200);
      held.release();
      expect((await registering).status).toBe(201);

      expect(res.body, res.text).toEqual({ mfaRequired: true, methods: ['passkey', 'recovery_code'] });
      expectCode(await racer.get('/api/auth/me'), 401, 'unauthorized'); // the flip ended the pending session too
      expect((await owner.get('/api/auth/sessions')).body.sessions).toHaveLength(1);
      const again = await new Client(url()).post('/api/auth/login', { email, password: STRONG_PASSWORD });
      expect(again.body.mfaRequired, again.text).toBe(true);
    });

    it('"remember this device" asked by a second step in flight when the owner removes that passkey does not survive the removal', async () => {
      const { client: owner, email, device: stolen } = await withPasskey(url());
      clock.advance(1_000); // passkeys are listed oldest first: the stolen one is [0]
      const kept = await addPasskey(owner, authenticator());
      expect(kept.status, kept.text).toBe(201);
      const stolenId = ((await owner.get('/api/auth/mfa')).body.passkeys as Array<{ id: string }>)[0]!.id;

      // The thief (password + the stolen passkey) finishes a second step asking to be remembered.
      const thief = new Client(url());
      expect((await thief.post('/api/auth/login', { email, password: STRONG_PASSWORD })).body.mfaRequired).toBe(true);
      const step = await thief.post('/api/auth/passkeys/login/options');
      const held = holdStore('trust');
      const verifying = thief.post('/api/auth/mfa/verify', { method: 'passkey', response: stolen.authenticate(step.body), rememberDevice: true });
      await held.firstArrival;
      // The owner removes the stolen passkey (one of two): every remembered device ends.
      expect((await owner.request('DELETE', `/api/auth/passkeys/${stolenId}`)).status).toBe(204);
      held.release();
      expect((await verifying).status).toBe(200);

      await thief.post('/api/auth/logout');
      const again = await thief.post('/api/auth/login', { email, password: STRONG_PASSWORD });
      expect(again.body, again.text).toEqual({ mfaRequired: true, methods: ['passkey', 'recovery_code'] });
    });

    it('a passkey registration in flight when the owner changes the password adds nothing', async () => {
      const { client: owner, email, device } = await withPasskey(url());
      const thief = await secondSession(url(), email, device); // password + second factor, recent proof
      const thiefKey = authenticator();
      const options = await thief.post('/api/auth/passkeys/register/options');
      expect(options.status, options.text).toBe(200);

      // The thief's registration has rotated its session; its passkey row is not written yet.
      const held = holdStore('add');
      const registering = thief.post('/api/auth/passkeys/register', { response: thiefKey.register(options.body) });
      await held.firstArrival;
      expect(held.arrived(), 'the hook on SqlPasskeyStore.add was not reached: move it to the new write').toBe(1);
      const changed = await owner.post('/api/auth/password', { currentPassword: STRONG_PASSWORD, newPassword: NEW_PASSWORD });
      expect(changed.status, changed.text).toBe(200);
      held.release();
      await registering;

      expectCode(await thief.get('/api/auth/me'), 401, 'unauthorized');
      // The thief's passkey must not outlive the password change that signed the thief out.
      expect((await owner.get('/api/auth/mfa')).body.passkeys).toHaveLength(1);
      const { browser, response } = await guestAssertion(url(), thiefKey);
      expectCode(await passkeyLogin(browser, response), 401, 'invalid_credentials');
    });
  },
  { latch: () => ({ clock, webauthnRpId: RP_ID, webauthnOrigins: ORIGIN }) },
);

describeOnBackends(
  'passkey review: shared NAT',
  ({ server }) => {
    const url = () => server().url;

    it('a noisy neighbour spending the IP budget for passkey options does not lock out an owner who proved the password from a known browser', async () => {
      const { email, device } = await withPasskey(url());
      // The owner's browser: signed in before (device cookie), logged out.
      const owner = await secondSession(url(), email, device);
      expect((await owner.post('/api/auth/logout')).status).toBe(200);
      expect([...owner.cookies.keys()].some((k) => /did$/.test(k))).toBe(true);

      // A neighbour behind the same address asks for guest options until refused.
      let refused = false;
      for (let i = 0; i < 20 && !refused; i++) refused = (await new Client(url()).post('/api/auth/passkeys/login/options')).status === 429;
      expect(refused).toBe(true);

      const login = await owner.post('/api/auth/login', { email, password: STRONG_PASSWORD });
      expect(login.body.mfaRequired, login.text).toBe(true);
      const step = await owner.post('/api/auth/passkeys/login/options'); // the pending session's own options
      expect(step.status, step.text).toBe(200);
    });
  },
  { latch: () => ({ clock, webauthnRpId: RP_ID, webauthnOrigins: ORIGIN, passkeyOptionsIpMax: 6 }) },
);

describeOnBackends(
  'passkey review: email verification',
  ({ server }) => {
    const url = () => server().url;

    it('with REQUIRE_EMAIL_VERIFICATION on, an unverified account signs in with a passkey no more than with its password', async () => {
      // The passkey was added while the setting was off (the default); then the operator turns it on.
      const { email, device } = await withPasskey(url());
      const { databaseUrl, redisUrl, redisKeyPrefix } = server().latch.config;
      const strict = await startServer({
        databaseUrl,
        ...(redisUrl ? { redisUrl, redisKeyPrefix } : {}),
        requireEmailVerification: true,
        clock,
        webauthnRpId: RP_ID,
        webauthnOrigins: ORIGIN,
      });
      try {
        expectCode(await new Client(strict.url).post('/api/auth/login', { email, password: STRONG_PASSWORD }), 403, 'email_unverified');
        const { browser, response } = await guestAssertion(strict.url, device);
        const res = await passkeyLogin(browser, response);
        expectCode(res, 403, 'email_unverified');
      } finally {
        await strict.close();
      }
    });
  },
  { latch: () => ({ clock, webauthnRpId: RP_ID, webauthnOrigins: ORIGIN }) },
);
