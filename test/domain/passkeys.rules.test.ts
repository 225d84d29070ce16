/**
 * PasskeyService's rules at the domain level, with a software authenticator and the real
 * WebAuthn verifier: challenges (bound, single use, counted), adding, naming and removing
 * passkeys, and signing in with one.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Authenticated } from '../../src/domain/auth-service.js';
import { CHALLENGE_TTL_MS } from '../../src/domain/passkey-service.js';
import { counterWentBack, publicPasskey, type Passkey } from '../../src/domain/passkeys.js';
import { client, MINUTE, PASSWORD, REAUTH_WINDOW, refusal, RP, world, type World } from '../support/domain-world.js';
import { SoftAuthenticator } from '../support/soft-authenticator.js';

let w: World;
let device: SoftAuthenticator;
beforeEach(async () => {
  w = await world();
  device = new SoftAuthenticator({ rpId: RP.id, origin: RP.origin });
});
afterEach(() => w.close());

const challengeOf = (options: { challenge: string }) => options.challenge;
const guest = { ip: '198.51.100.20', userAgent: 'Mozilla/5.0 guest', device: 'g'.repeat(43) };

/** A guest's passkey sign-in attempt from `device`, with the answer tampered as asked. */
async function guestSignIn(tamper: Parameters<SoftAuthenticator['authenticate']>[1] = {}, rememberMe = false) {
  const options = await w.passkeys.signInOptions(undefined, guest);
  return w.passkeys.signIn({ response: device.authenticate(options, tamper), rememberMe }, guest);
}

describe('adding a passkey', () => {
  it('offers creation options for this account, excluding its passkeys, under a stable opaque handle', async () => {
    const ada = await w.member('ada@example.test');
    const first = await w.passkeys.registrationOptions(ada);
    expect(first.rp.id).toBe(RP.id);
    expect(first.user).toMatchObject({ name: 'ada@example.test', displayName: 'Ada Lovelace' });
    expect(first.user.id).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(first.user.id).not.toContain(ada.user.id);
    expect(challengeOf(first)).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(first.excludeCredentials ?? []).toEqual([]);
    const { auth, passkey } = await w.withPasskey(ada, device);
    const second = await w.passkeys.registrationOptions(auth);
    expect(second.user.id).toBe(first.user.id);
    expect(challengeOf(second)).not.toBe(challengeOf(first));
    expect(second.excludeCredentials?.map((c) => c.id)).toEqual([passkey.credentialId]);
  });

  it('asks for a recent password and counts the options asked per session', async () => {
    const ada = await w.member();
    for (let i = 0; i < 20; i++) await w.passkeys.registrationOptions(ada);
    expect((await refusal(w.passkeys.registrationOptions(ada))).code).toBe('rate_limited');
    const other = await w.signIn(ada.user.email);
    await w.passkeys.registrationOptions(other);
    w.clock.advance(REAUTH_WINDOW + 1);
    expect((await refusal(w.passkeys.registrationOptions(other))).code).toBe('reauth_required');
  });

  it('stores the first passkey as a second factor: a new aal2 session and recovery codes', async () => {
    const ada = await w.member();
    const options = await w.passkeys.registrationOptions(ada);
    const added = await w.passkeys.register(ada, { response: device.register(options) }, client);
    expect(added.passkey).toMatchObject({
      userId: ada.user.id,
      name: 'Passkey added 2025-01-01',
      createdAt: w.clock.now(),
      lastUsedAt: null,
      credentialId: device.credentials[0]!.id,
      counter: 0,
    });
    expect(added.recoveryCodes).toHaveLength(10);
    expect(added.issued.session.methods).toEqual(['password', 'passkey']);
    expect(await w.sessions.find(ada.session.id)).toBeNull();
    expect(w.events.events.at(-1)).toMatchObject({ type: 'passkey_added', userId: ada.user.id, sessionId: added.issued.session.id });
    expect((await w.passkeys.list(ada.user.id)).map((p) => p.id)).toEqual([added.passkey.id]);
  });

  it('from a session another change ended meanwhile, stores nothing', async () => {
    const ada = await w.member();
    const options = await w.passkeys.registrationOptions(ada);
    await w.users.changeCredentials(ada.user.id, {});
    expect((await refusal(w.passkeys.register(ada, { response: device.register(options) }, client))).code).toBe('unauthorized');
    expect(await w.passkeys.list(ada.user.id)).toEqual([]);
    expect(w.events.types(ada.user.id)).not.toContain('passkey_added');
    expect((await w.users.findById(ada.user.id))?.twoFactor).toBe(false);
    expect(await w.factors.recoveryCodesLeft(ada.user.id)).toBe(0);
  });

  it('keeps the name given', async () => {
    const ada = await w.member();
    const options = await w.passkeys.registrationOptions(ada);
    const added = await w.passkeys.register(ada, { response: device.register(options), name: 'Work laptop' }, client);
    expect(added.passkey.name).toBe('Work laptop');
  });

  it('refuses an answer without user verification, a used challenge, and another session’s challenge', async () => {
    const ada = await w.member();
    const options = await w.passkeys.registrationOptions(ada);
    expect((await refusal(w.passkeys.register(ada, { response: device.register(options, { userVerified: false }) }, client))).code).toBe('invalid_passkey');
    // The challenge went with the refused answer.
    expect((await refusal(w.passkeys.register(ada, { response: device.register(options) }, client))).code).toBe('invalid_passkey');
    const other = await w.signIn(ada.user.email);
    const theirs = await w.passkeys.registrationOptions(other);
    expect((await refusal(w.passkeys.register(ada, { response: device.register(theirs) }, client))).code).toBe('invalid_passkey');
    const forged = await w.passkeys.registrationOptions(ada);
    expect((await refusal(w.passkeys.register(ada, { response: device.register(forged, { challenge: 'bm90LWEtY2hhbGxlbmdl' }) }, client))).code).toBe('invalid_passkey');
    expect(await w.passkeys.list(ada.user.id)).toEqual([]);
  });

  it('refuses a sign-in challenge answered as a registration', async () => {
    const ada = await w.member();
    const login = await w.passkeys.signInOptions(undefined, guest);
    const creation = await w.passkeys.registrationOptions(ada);
    const response = device.register({ ...creation, challenge: login.challenge });
    expect((await refusal(w.passkeys.register(ada, { response }, client))).code).toBe('invalid_passkey');
  });
});

describe('naming and removing passkeys', () => {
  it('renames only the owner’s own passkey', async () => {
    const ada = await w.member();
    const { passkey, auth } = await w.withPasskey(ada, device);
    expect((await w.passkeys.rename(auth, passkey.id, 'Phone')).name).toBe('Phone');
    const bob = await w.member();
    expect((await refusal(w.passkeys.rename(bob, passkey.id, 'Mine'))).code).toBe('not_found');
  });

  it('removing the last factor turns two-step off, with a new session', async () => {
    const ada = await w.member();
    const { passkey, auth } = await w.withPasskey(ada, device);
    const bob = await w.member();
    expect((await refusal(w.passkeys.remove(bob, passkey.id, client))).code).toBe('not_found');
    const issued = await w.passkeys.remove(auth, passkey.id, client);
    expect(issued?.session.id).toBeDefined();
    expect(issued!.session.id).not.toBe(auth.session.id);
    expect(w.events.events.at(-1)).toMatchObject({ type: 'passkey_removed', userId: ada.user.id, sessionId: issued!.session.id });
    expect(await w.passkeys.list(ada.user.id)).toEqual([]);
    expect(await w.lifecycle.isOn(ada.user.id)).toBe(false);
  });

  it('removing one of two keeps two-step on and the session', async () => {
    const ada = await w.member();
    const first = await w.withPasskey(ada, device);
    const second = await w.withPasskey(first.auth, new SoftAuthenticator({ rpId: RP.id, origin: RP.origin }));
    expect(await w.passkeys.remove(second.auth, first.passkey.id, client)).toBeUndefined();
    expect(w.events.events.at(-1)).toMatchObject({ type: 'passkey_removed', sessionId: second.auth.session.id });
    expect((await w.passkeys.list(ada.user.id)).map((p) => p.id)).toEqual([second.passkey.id]);
    expect(w.mailer.sent.at(-1)!.text).toContain('A passkey was just removed from your account.');
    expect(publicPasskey((await w.passkeys.list(ada.user.id))[0]!).lastUsedAt).toBeNull();
    w.clock.advance(REAUTH_WINDOW + 1);
    expect((await refusal(w.passkeys.registrationOptions(second.auth))).message).toContain('to add a passkey');
    expect((await refusal(w.passkeys.remove(second.auth, second.passkey.id, client))).code).toBe('reauth_required');
  });

  it('a passkey removed meanwhile is not found', async () => {
    const ada = await w.member();
    const { passkey, auth } = await w.withPasskey(ada, device);
    const store = w.passkeyStore;
    const remove = store.remove.bind(store);
    store.remove = async (userId, id, ifEpoch) => {
      await remove(userId, id, ifEpoch);
      return 'none';
    };
    expect((await refusal(w.passkeys.remove(auth, passkey.id, client))).code).toBe('not_found');
  });
});

describe('signing in with a passkey', () => {
  let ada: Authenticated;
  let passkey: Passkey;
  beforeEach(async () => {
    ada = await w.member('ada@example.test');
    ({ passkey } = await w.withPasskey(ada, device));
    w.mailer.sent.length = 0;
  });

  it('issues a new aal2 session proven by the passkey alone, and records the use', async () => {
    w.clock.advance(MINUTE);
    const { issued, device: cookie } = await guestSignIn({}, true);
    expect(issued.session).toMatchObject({ userId: ada.user.id, methods: ['passkey'], rememberMe: true, pending: false, ip: guest.ip });
    expect(cookie).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(w.events.events.filter((e) => e.type === 'passkey_login')).toEqual([
      expect.objectContaining({ userId: ada.user.id, sessionId: issued.session.id, ip: guest.ip, userAgent: guest.userAgent }),
    ]);
    expect(w.events.events.find((e) => e.type === 'new_device')).toMatchObject({ userId: ada.user.id, sessionId: issued.session.id });
    const used = (await w.passkeys.list(ada.user.id))[0]!;
    expect(used.lastUsedAt).toBe(w.clock.now());
    expect(used.counter).toBe(1);
    expect(publicPasskey(used)).toEqual({ id: used.id, name: used.name, createdAt: new Date(used.createdAt).toISOString(), lastUsedAt: new Date(w.clock.now()).toISOString(), backedUp: true });
  });

  it('counts guests’ options per client address', async () => {
    for (let i = 0; i < 20; i++) await w.passkeys.signInOptions(undefined, guest);
    expect((await refusal(w.passkeys.signInOptions(undefined, guest))).code).toBe('rate_limited');
    const options = await w.passkeys.signInOptions(undefined, { ...guest, ip: '198.51.100.21' });
    expect(options.allowCredentials ?? []).toEqual([]);
    expect(options.userVerification).toBe('required');
  });

  it('refuses every wrong answer alike, and records it', async () => {
    const failures = () => w.events.events.filter((e) => e.type === 'login_failed');
    expect((await refusal(guestSignIn({ badSignature: true }))).code).toBe('invalid_credentials');
    expect(failures().at(-1)).toMatchObject({ userId: ada.user.id, ip: guest.ip });
    expect((await refusal(guestSignIn({ userVerified: false }))).code).toBe('invalid_credentials');
    expect((await refusal(guestSignIn({ origin: 'https://evil.test' }))).code).toBe('invalid_credentials');
    expect((await refusal(guestSignIn({ challenge: 'bm90LWEtY2hhbGxlbmdl' }))).code).toBe('invalid_credentials');
    expect(failures().at(-1)).toMatchObject({ userId: null });
    expect(failures()).toHaveLength(4);
    expect(w.events.types().filter((t) => t === 'passkey_login')).toEqual([]);
  });

  it('takes each challenge out at its first use', async () => {
    const options = await w.passkeys.signInOptions(undefined, guest);
    const response = device.authenticate(options);
    await w.passkeys.signIn({ response, rememberMe: false }, guest);
    expect((await refusal(w.passkeys.signIn({ response, rememberMe: false }, guest))).code).toBe('invalid_credentials');
  });

  it('refuses a challenge that has expired', async () => {
    const options = await w.passkeys.signInOptions(undefined, guest);
    w.clock.advance(CHALLENGE_TTL_MS + 1);
    expect((await refusal(w.passkeys.signIn({ response: device.authenticate(options), rememberMe: false }, guest))).code).toBe('invalid_credentials');
  });

  it('refuses a second-step challenge answered as a sign-in', async () => {
    const pending = await w.authOf((await w.auth.login({ email: 'ada@example.test', password: PASSWORD, rememberMe: false }, client)).issued);
    const options = await w.passkeys.signInOptions(pending, client);
    expect(options.allowCredentials?.map((c) => c.id)).toEqual([passkey.credentialId]);
    expect((await refusal(w.passkeys.signIn({ response: device.authenticate(options), rememberMe: false }, guest))).code).toBe('invalid_credentials');
  });

  it('refuses a user handle that is not the passkey owner’s, and accepts none at all', async () => {
    const bob = await w.member();
    const bobsHandle = await w.passkeyStore.userHandleOf(bob.user.id, () => 'Ym9icy1oYW5kbGU');
    expect((await refusal(guestSignIn({ userHandle: bobsHandle }))).code).toBe('invalid_credentials');
    const { issued } = await guestSignIn({ userHandle: null });
    expect(issued.user.id).toBe(ada.user.id);
  });

  it('refuses a signature counter that went back, and records it', async () => {
    await guestSignIn();
    await guestSignIn();
    device.setCounter(passkey.credentialId, 1);
    expect((await refusal(guestSignIn())).code).toBe('invalid_credentials');
    expect(w.events.types(ada.user.id)).toContain('passkey_counter_error');
  });

  it('refuses the session when a credential change lands while the passkey is checked', async () => {
    const recordUse = w.passkeyStore.recordUse.bind(w.passkeyStore);
    w.passkeyStore.recordUse = async (...args) => {
      const recorded = await recordUse(...args);
      await w.changes.apply(ada.user.id, {});
      return recorded;
    };
    expect((await refusal(guestSignIn())).code).toBe('invalid_credentials');
    expect(w.events.events.at(-1)).toMatchObject({ type: 'login_failed', userId: ada.user.id });
    expect(await w.sessions.listByUser(ada.user.id, w.clock.now())).toEqual([]);
  });

  it('tells a disabled account so only once the passkey is proven', async () => {
    await w.changes.apply(ada.user.id, { disabled: { at: w.clock.now(), reason: null, by: 'cli' } });
    expect((await refusal(guestSignIn())).code).toBe('account_disabled');
    expect(w.events.events.at(-1)).toMatchObject({ type: 'login_failed', userId: ada.user.id });
  });

  it('answers second steps only for the account’s own passkeys', async () => {
    const bob = await w.member();
    expect(await w.passkeys.holds(ada.user.id, passkey.credentialId)).toBe(true);
    expect(await w.passkeys.holds(bob.user.id, passkey.credentialId)).toBe(false);
    expect(await w.passkeys.holds(ada.user.id, 'unknown')).toBe(false);
    const pending = await w.authOf((await w.auth.login({ email: 'ada@example.test', password: PASSWORD, rememberMe: false }, client)).issued);
    const options = await w.passkeys.signInOptions(pending, client);
    const response = device.authenticate(options);
    expect(await w.passkeys.verifySecondStep(bob.user.id, pending.session.id, response, client)).toBe(false);
  });

  it('lets a remembered browser’s one-factor session step up with the passkey', async () => {
    const pending = await w.signIn('ada@example.test');
    const options = await w.passkeys.signInOptions(pending, client);
    const done = await w.twoStep.verify(pending, { method: 'passkey', response: device.authenticate(options), rememberDevice: true }, client);
    const again = await w.auth.login({ email: 'ada@example.test', password: PASSWORD, rememberMe: false }, { ...client, device: done.device });
    const aal1 = await w.authOf(again.issued);
    expect(aal1.session.methods).toEqual(['password']);
    const stepUp = await w.passkeys.signInOptions(aal1, client);
    expect(stepUp.allowCredentials?.map((c) => c.id)).toEqual([passkey.credentialId]);
  });

  it('lets a signed-in session ask only to step up', async () => {
    const aal2 = await w.signIn('ada@example.test').then(async (pending) => {
      const options = await w.passkeys.signInOptions(pending, client);
      const done = await w.twoStep.verify(pending, { method: 'passkey', response: device.authenticate(options) }, client);
      return w.authOf(done.issued);
    });
    expect((await refusal(w.passkeys.signInOptions(aal2, client))).code).toBe('already_authenticated');
    const bob = await w.member();
    expect((await refusal(w.passkeys.signInOptions(bob, client))).code).toBe('already_authenticated');
  });
});

describe('with REQUIRE_EMAIL_VERIFICATION', () => {
  it('a passkey does not sign in an unverified address', async () => {
    await w.close();
    w = await world({ requireEmailVerification: true });
    await w.auth.register({ email: 'ada@example.test', password: PASSWORD, name: 'Ada' }, client);
    const { id } = (await w.users.findByEmail('ada@example.test'))!;
    await w.users.markEmailVerified(id, 'ada@example.test');
    await w.withPasskey(await w.signIn('ada@example.test'), device);
    await w.database.db.updateTable('users').set({ email_verified: 0 }).where('id', '=', id).execute();
    expect((await refusal(guestSignIn())).code).toBe('email_unverified');
    await w.users.markEmailVerified(id, 'ada@example.test');
    expect((await guestSignIn()).issued.user.id).toBe(id);
  });
});

describe('signature counters', () => {
  it('must move forward when the authenticator keeps one', () => {
    expect(counterWentBack(0, 0)).toBe(false);
    expect(counterWentBack(0, 1)).toBe(false);
    expect(counterWentBack(5, 6)).toBe(false);
    expect(counterWentBack(5, 5)).toBe(true);
    expect(counterWentBack(5, 4)).toBe(true);
    expect(counterWentBack(0, 0) || counterWentBack(1, 0)).toBe(true);
    expect(counterWentBack(3, 0)).toBe(true);
  });
});

