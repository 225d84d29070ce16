/**
 * Two-step sign-in's rules at the domain level (TwoStepService, FactorLifecycle): turning the
 * app on and off, recovery codes, finishing and stepping up a sign-in, and what each of them
 * ends or keeps. HTTP behaviour has its own suites (test/http/two-step*.test.ts).
 */
import { randomBytes } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SecretBox } from '../../src/adapters/secret-box.js';
import type { Authenticated } from '../../src/domain/auth-service.js';
import { hashRecoveryCode, normalizeRecoveryCode } from '../../src/domain/recovery-codes.js';
import { totpCode } from '../../src/domain/totp.js';
import { client, PASSWORD, REAUTH_WINDOW, refusal, TOTP_STEP, world, type World } from '../support/domain-world.js';

let w: World;
beforeEach(async () => {
  w = await world();
});
afterEach(() => w.close());

const ON = 'Two-step sign-in is on';
const OFF = 'Two-step sign-in is off';

/** A password sign-in of an account with two-step on: the pending session it gets. */
async function pendingSignIn(email: string, device?: string): Promise<Authenticated> {
  const outcome = await w.auth.login({ email, password: PASSWORD, rememberMe: true }, { ...client, ...(device ? { device } : {}) });
  expect(outcome.kind).toBe('mfa_required');
  const pending = await w.auth.authenticate(outcome.issued.token);
  return pending!;
}

describe('turning the authenticator app on', () => {
  it('keeps the new secret sealed for this account until a code confirms it', async () => {
    const ada = await w.member('ada@example.test');
    expect(await w.twoStep.status(ada.user.id)).toEqual({ totp: false, recoveryCodesLeft: 0 });
    const setup = await w.twoStep.startTotp(ada);
    expect(setup.uri).toContain('issuer=accounts.latch.test');
    expect(decodeURIComponent(setup.uri)).toContain('ada@example.test');
    const stored = await w.factors.totpOf(ada.user.id);
    expect(stored?.confirmed).toBe(false);
    expect(stored!.sealedSecret).not.toContain(setup.secret);
    expect(w.sealer.open(stored!.sealedSecret, `totp:${ada.user.id}`)).toBe(setup.secret);
    expect(await w.twoStep.status(ada.user.id)).toEqual({ totp: false, recoveryCodesLeft: 0 });
    expect(await w.twoStep.methodsFor(ada.user.id)).toEqual([]);
  });

  it('asks for a recent password and refuses a second app', async () => {
    const ada = await w.member();
    w.clock.advance(REAUTH_WINDOW + 1);
    expect((await refusal(w.twoStep.startTotp(ada))).code).toBe('reauth_required');
    expect((await refusal(w.twoStep.confirmTotp(ada, '123456', client))).code).toBe('reauth_required');
    const fresh = await w.signIn(ada.user.email);
    const { auth } = await w.withApp(fresh);
    expect((await refusal(w.twoStep.startTotp(auth))).code).toBe('already_enabled');
  });

  it('needs a pending setup to confirm', async () => {
    const ada = await w.member();
    expect((await refusal(w.twoStep.confirmTotp(ada, '123456', client))).code).toBe('no_pending_setup');
    const { auth, secret } = await w.withApp(ada);
    expect((await refusal(w.twoStep.confirmTotp(auth, w.nextCode(secret), client))).code).toBe('no_pending_setup');
  });

  it('refuses a wrong code, records it and counts it against the account', async () => {
    const ada = await w.member();
    const setup = await w.twoStep.startTotp(ada);
    const wrong = totpCode(setup.secret, w.clock.now() + 10 * TOTP_STEP);
    expect((await refusal(w.twoStep.confirmTotp(ada, wrong, client))).code).toBe('invalid_code');
    expect(w.events.events.at(-1)).toMatchObject({ type: 'mfa_failed', userId: ada.user.id, sessionId: ada.session.id, ip: client.ip, userAgent: client.userAgent });
    expect(await w.limits.accountFailures.peek(ada.user.id)).toBe(1);
    expect((await w.factors.totpOf(ada.user.id))?.confirmed).toBe(false);
    // The right code is not held against the account.
    await w.twoStep.confirmTotp(ada, w.nextCode(setup.secret), client);
    expect(await w.limits.accountFailures.peek(ada.user.id)).toBe(1);
  });

  it('from a session another change ended meanwhile, turns nothing on', async () => {
    const ada = await w.member();
    const setup = await w.twoStep.startTotp(ada);
    await w.users.changeCredentials(ada.user.id, {});
    expect((await refusal(w.twoStep.confirmTotp(ada, w.nextCode(setup.secret), client))).code).toBe('unauthorized');
    expect((await w.factors.totpOf(ada.user.id))?.confirmed).toBe(false);
    expect(w.events.types(ada.user.id)).not.toContain('totp_enabled');
    expect((await w.users.findById(ada.user.id))?.twoFactor).toBe(false);
    expect(await w.factors.recoveryCodesLeft(ada.user.id)).toBe(0);
  });

  it('refuses past the account limit before looking at the code', async () => {
    const ada = await w.member();
    const setup = await w.twoStep.startTotp(ada);
    for (let i = 0; i < 10; i++) await refusal(w.twoStep.confirmTotp(ada, '000000', client));
    expect((await refusal(w.twoStep.confirmTotp(ada, w.nextCode(setup.secret), client))).code).toBe('rate_limited');
  });

  it('is a credential change: a new aal2 session, every other one ended, recovery codes, a mail', async () => {
    const ada = await w.member('ada@example.test');
    const other = await w.signIn('ada@example.test');
    const setup = await w.twoStep.startTotp(ada);
    const confirmed = await w.twoStep.confirmTotp(ada, w.nextCode(setup.secret), client);
    expect(confirmed.issued.session.id).not.toBe(ada.session.id);
    expect(confirmed.issued.session.methods).toEqual(['password', 'totp']);
    expect(confirmed.issued.session.createdAt).toBe(ada.session.createdAt);
    expect(confirmed.recoveryCodes).toHaveLength(10);
    expect(new Set(confirmed.recoveryCodes).size).toBe(10);
    for (const code of confirmed.recoveryCodes!) expect(code).toMatch(/^[0-9A-HJKMNP-TV-Z]{4}(-[0-9A-HJKMNP-TV-Z]{4}){3}$/);
    expect(await w.sessions.find(ada.session.id)).toBeNull();
    expect(await w.sessions.find(other.session.id)).toBeNull();
    expect(await w.auth.authenticate(confirmed.issued.token)).not.toBeNull();
    expect((await w.users.findById(ada.user.id))?.twoFactor).toBe(true);
    expect(w.mailer.subjects()).toEqual([ON]);
    expect(w.mailer.sent[0]!.to).toBe('ada@example.test');
    expect(w.events.events.at(-1)).toMatchObject({ type: 'totp_enabled', userId: ada.user.id, sessionId: confirmed.issued.session.id });
    expect(await w.twoStep.status(ada.user.id)).toEqual({ totp: true, recoveryCodesLeft: 10 });
    expect(await w.twoStep.methodsFor(ada.user.id)).toEqual(['totp', 'recovery_code']);
  });

  it('stores the recovery codes hashed, each usable in the form it was shown', async () => {
    const ada = await w.member();
    const { recoveryCodes } = await w.withApp(ada);
    const [first, second] = recoveryCodes;
    expect(await w.factors.useRecoveryCode(ada.user.id, hashRecoveryCode(normalizeRecoveryCode(first!)!))).toBe(true);
    expect(await w.factors.useRecoveryCode(ada.user.id, hashRecoveryCode(normalizeRecoveryCode(first!)!))).toBe(false);
    expect(await w.factors.useRecoveryCode(ada.user.id, Buffer.from(second!))).toBe(false);
    expect(await w.factors.recoveryCodesLeft(ada.user.id)).toBe(9);
  });
});

describe('turning the authenticator app off', () => {
  it('asks for a recent session, the password, and an app that is there', async () => {
    const ada = await w.member();
    expect((await refusal(w.twoStep.disableTotp(ada, PASSWORD, client))).code).toBe('not_found');
    const { auth } = await w.withApp(ada);
    expect((await refusal(w.twoStep.disableTotp(auth, 'not-the-password-at-all', client))).code).toBe('invalid_credentials');
    w.clock.advance(REAUTH_WINDOW + 1);
    expect((await refusal(w.twoStep.disableTotp(auth, PASSWORD, client))).code).toBe('reauth_required');
  });

  it('leaves a setup that was never confirmed alone', async () => {
    const ada = await w.member();
    await w.twoStep.startTotp(ada);
    expect((await refusal(w.twoStep.disableTotp(ada, PASSWORD, client))).code).toBe('not_found');
    expect((await w.factors.totpOf(ada.user.id))?.confirmed).toBe(false);
    expect(w.events.types(ada.user.id)).not.toContain('totp_disabled');
  });

  it('as the last factor turns two-step off: a credential change, codes gone, a mail', async () => {
    const ada = await w.member();
    const { auth } = await w.withApp(ada);
    const other = await w.authOf((await w.auth.login({ email: ada.user.email, password: PASSWORD, rememberMe: false }, client)).issued);
    expect(other.session.pending).toBe(true);
    const issued = await w.twoStep.disableTotp(auth, PASSWORD, client);
    expect(issued).toBeDefined();
    expect(issued!.session.id).not.toBe(auth.session.id);
    expect(issued!.session.methods).toEqual(['password', 'totp']);
    expect(await w.sessions.find(auth.session.id)).toBeNull();
    expect(await w.sessions.find(other.session.id)).toBeNull();
    expect(await w.twoStep.status(ada.user.id)).toEqual({ totp: false, recoveryCodesLeft: 0 });
    expect(await w.twoStep.methodsFor(ada.user.id)).toEqual([]);
    expect((await w.users.findById(ada.user.id))?.twoFactor).toBe(false);
    expect(w.mailer.subjects()).toEqual([ON, OFF]);
    expect(w.events.events.at(-1)).toMatchObject({ type: 'totp_disabled', userId: ada.user.id, sessionId: issued!.session.id });
  });

  it('with a passkey left, two-step stays on: no rotation, remembered browsers forgotten, a mail', async () => {
    const ada = await w.member();
    const { auth: withApp } = await w.withApp(ada);
    const added = await w.withPasskey(withApp);
    const auth = added.auth;
    device = added.device;
    const response = await passkeyAnswer(ada.user.email);
    await w.twoStep.verify(lastPending!, { method: 'passkey', response, rememberDevice: true }, client);
    expect((await w.deviceStore.listByUser(ada.user.id)).some((d) => d.trustedUntil !== null)).toBe(true);
    const issued = await w.twoStep.disableTotp(auth, PASSWORD, client);
    expect(issued).toBeUndefined();
    expect(await w.sessions.find(auth.session.id)).not.toBeNull();
    expect((await w.deviceStore.listByUser(ada.user.id)).every((d) => d.trustedUntil === null)).toBe(true);
    expect(w.mailer.subjects().at(-1)).toBe('A second factor was removed');
    expect(w.mailer.sent.at(-1)!.text).toContain('An authenticator app was just removed from your account');
    expect(w.events.events.at(-1)).toMatchObject({ type: 'totp_disabled', sessionId: auth.session.id });
    expect(await w.twoStep.status(ada.user.id)).toEqual({ totp: false, recoveryCodesLeft: 10 });
    expect(await w.twoStep.methodsFor(ada.user.id)).toEqual(['passkey', 'recovery_code']);
  });
});

/** A passkey's answer to a second-step challenge of the account's newest pending session. */
let device: import('../support/soft-authenticator.js').SoftAuthenticator | undefined;
async function passkeyAnswer(email: string) {
  const pending = await pendingSignIn(email);
  const options = await w.passkeys.signInOptions(pending, client);
  lastPending = pending;
  return device!.authenticate(options);
}
let lastPending: Authenticated | undefined;

describe('recovery codes', () => {
  it('are made anew only with two-step on, and the old ones stop working', async () => {
    const ada = await w.member();
    expect((await refusal(w.twoStep.regenerateRecoveryCodes(ada, client))).code).toBe('mfa_not_enabled');
    const { auth, recoveryCodes } = await w.withApp(ada);
    const fresh = await w.twoStep.regenerateRecoveryCodes(auth, client);
    expect(fresh).toHaveLength(10);
    expect(fresh).not.toContain(recoveryCodes[0]);
    expect(w.events.events.at(-1)).toMatchObject({ type: 'recovery_codes_generated', userId: ada.user.id, sessionId: auth.session.id });
    const pending = await pendingSignIn(ada.user.email);
    expect((await refusal(w.twoStep.verify(pending, { method: 'recovery_code', code: recoveryCodes[0]! }, client))).code).toBe('invalid_code');
    const done = await w.twoStep.verify(pending, { method: 'recovery_code', code: fresh[0]! }, client);
    expect(done.issued.session.methods).toEqual(['password', 'recovery_code']);
    w.clock.advance(REAUTH_WINDOW + 1);
    expect((await refusal(w.twoStep.regenerateRecoveryCodes(auth, client))).code).toBe('reauth_required');
  });
});

describe('the second step', () => {
  let ada: Authenticated;
  let secret: string;
  let recoveryCodes: string[];
  beforeEach(async () => {
    ada = await w.member('ada@example.test');
    ({ secret, recoveryCodes } = await w.withApp(ada));
    w.mailer.sent.length = 0;
  });

  it('with the app: a new aal2 session for the same sign-in choice, the pending one ended', async () => {
    const pending = await pendingSignIn('ada@example.test');
    const done = await w.twoStep.verify(pending, { method: 'totp', code: w.nextCode(secret) }, client);
    expect(done.issued.session.id).not.toBe(pending.session.id);
    expect(done.issued.session).toMatchObject({ methods: ['password', 'totp'], rememberMe: true, pending: false, userId: ada.user.id });
    expect(await w.sessions.find(pending.session.id)).toBeNull();
    expect(done.device).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(w.events.events.at(-1)).toMatchObject({ type: 'mfa_succeeded', userId: ada.user.id, sessionId: done.issued.session.id });
    expect(await w.limits.oneAtATime.peek(pending.session.id)).toBe(0);
    expect(await w.limits.accountFailures.peek(ada.user.id)).toBe(0);
    expect(w.mailer.sent).toEqual([]);
  });

  it('refuses a code of a step already used', async () => {
    const first = await pendingSignIn('ada@example.test');
    const code = w.nextCode(secret);
    await w.twoStep.verify(first, { method: 'totp', code }, client);
    const second = await pendingSignIn('ada@example.test');
    expect((await refusal(w.twoStep.verify(second, { method: 'totp', code }, client))).code).toBe('invalid_code');
    expect(w.events.events.at(-1)).toMatchObject({ type: 'mfa_failed', sessionId: second.session.id });
  });

  it('ends the pending session at its fifth wrong code, and it finishes nothing after', async () => {
    const pending = await pendingSignIn('ada@example.test');
    for (let i = 1; i <= 4; i++) {
      expect((await refusal(w.twoStep.verify(pending, { method: 'totp', code: '000000' }, client))).code).toBe('invalid_code');
      expect(await w.sessions.find(pending.session.id)).not.toBeNull();
    }
    expect((await refusal(w.twoStep.verify(pending, { method: 'totp', code: '000000' }, client))).code).toBe('invalid_code');
    expect(await w.sessions.find(pending.session.id)).toBeNull();
    expect((await refusal(w.twoStep.verify(pending, { method: 'totp', code: w.nextCode(secret) }, client))).code).toBe('mfa_required');
    expect((await refusal(w.twoStep.verify(pending, { method: 'totp', code: '000000' }, client))).code).toBe('mfa_required');
  });

  it('counts wrong codes per account across pending sessions', async () => {
    for (let i = 0; i < 2; i++) {
      const pending = await pendingSignIn('ada@example.test');
      for (let j = 0; j < 5; j++) await refusal(w.twoStep.verify(pending, { method: 'recovery_code', code: 'nope' }, client));
    }
    const pending = await pendingSignIn('ada@example.test');
    expect((await refusal(w.twoStep.verify(pending, { method: 'totp', code: w.nextCode(secret) }, client))).code).toBe('rate_limited');
  });

  it('runs one at a time per session', async () => {
    const pending = await pendingSignIn('ada@example.test');
    const code = w.nextCode(secret);
    await w.limits.oneAtATime.consume(pending.session.id);
    const busy = await refusal(w.twoStep.verify(pending, { method: 'totp', code }, client));
    expect(busy.code).toBe('rate_limited');
    expect(await w.limits.pendingFailures.peek(pending.session.id)).toBe(0);
  });

  it('with a recovery code: typed loosely, works once, and the owner is told how many are left', async () => {
    const code = recoveryCodes[3]!;
    const typed = ` ${code.toLowerCase().replace(/-/g, ' ')} `;
    const pending = await pendingSignIn('ada@example.test');
    const done = await w.twoStep.verify(pending, { method: 'recovery_code', code: typed }, client);
    expect(done.issued.session.methods).toEqual(['password', 'recovery_code']);
    expect(w.events.types(ada.user.id).slice(-2)).toEqual(['mfa_succeeded', 'recovery_code_used']);
    expect(w.events.events.at(-1)).toMatchObject({ sessionId: done.issued.session.id });
    expect(w.mailer.subjects()).toEqual(['A recovery code was used to sign in']);
    expect(w.mailer.sent[0]!.text).toContain('9 of your recovery codes are left');
    expect(w.mailer.sent[0]!.to).toBe('ada@example.test');
    const again = await pendingSignIn('ada@example.test');
    expect((await refusal(w.twoStep.verify(again, { method: 'recovery_code', code }, client))).code).toBe('invalid_code');
  });

  it('refuses a session that already has two factors, and one of an account without', async () => {
    const pending = await pendingSignIn('ada@example.test');
    const done = await w.twoStep.verify(pending, { method: 'totp', code: w.nextCode(secret) }, client);
    const aal2 = await w.authOf(done.issued);
    expect((await refusal(w.twoStep.verify(aal2, { method: 'totp', code: w.nextCode(secret) }, client))).code).toBe('invalid_input');
    const bob = await w.member();
    expect((await refusal(w.twoStep.verify(bob, { method: 'totp', code: '123456' }, client))).code).toBe('mfa_not_enabled');
  });

  it('remembers the browser when asked: its next password sign-in is aal1 and steps up in place', async () => {
    const pending = await pendingSignIn('ada@example.test');
    const done = await w.twoStep.verify(pending, { method: 'totp', code: w.nextCode(secret), rememberDevice: true }, client);
    const remembered = await w.auth.login({ email: 'ada@example.test', password: PASSWORD, rememberMe: false }, { ...client, device: done.device });
    expect(remembered.kind).toBe('signed_in');
    const aal1 = await w.authOf(remembered.issued);
    expect(aal1.session.methods).toEqual(['password']);
    expect((await refusal(w.twoStep.startTotp(aal1))).code).toBe('second_factor_required');
    w.clock.advance(MINUTE);
    const stepped = await w.twoStep.verify(aal1, { method: 'totp', code: w.nextCode(secret) }, client);
    expect(stepped.issued.session).toMatchObject({ methods: ['password', 'totp'], createdAt: aal1.session.createdAt, rememberMe: false });
    expect(await w.sessions.find(aal1.session.id)).toBeNull();
  });

  it('does not remember the browser unless asked', async () => {
    const pending = await pendingSignIn('ada@example.test');
    const done = await w.twoStep.verify(pending, { method: 'totp', code: w.nextCode(secret) }, client);
    const again = await w.auth.login({ email: 'ada@example.test', password: PASSWORD, rememberMe: false }, { ...client, device: done.device });
    expect(again.kind).toBe('mfa_required');
  });

  it('a remembered recovery-code sign-in is kept while two-step is on', async () => {
    const pending = await pendingSignIn('ada@example.test');
    const done = await w.twoStep.verify(pending, { method: 'recovery_code', code: recoveryCodes[0]!, rememberDevice: true }, client);
    const again = await w.auth.login({ email: 'ada@example.test', password: PASSWORD, rememberMe: false }, { ...client, device: done.device });
    expect(again.kind).toBe('signed_in');
  });

  it('a credential change while the code is checked refuses the new session', async () => {
    const pending = await pendingSignIn('ada@example.test');
    await w.users.changeCredentials(ada.user.id, {});
    expect((await refusal(w.twoStep.verify(pending, { method: 'totp', code: w.nextCode(secret) }, client))).code).toBe('mfa_required');
  });
});

const MINUTE = 60_000;

describe('with a passkey as the second step', () => {
  it('finishes the sign-in, and a remembered browser keeps its trust while the passkey stays', async () => {
    const ada = await w.member('ada@example.test');
    const added = await w.withPasskey(ada);
    device = added.device;
    expect(added.recoveryCodes).toHaveLength(10);
    expect(await w.twoStep.methodsFor(ada.user.id)).toEqual(['passkey', 'recovery_code']);
    const response = await passkeyAnswer('ada@example.test');
    const done = await w.twoStep.verify(lastPending!, { method: 'passkey', response, rememberDevice: true }, client);
    expect(done.issued.session.methods).toEqual(['password', 'passkey']);
    const again = await w.auth.login({ email: 'ada@example.test', password: PASSWORD, rememberMe: false }, { ...client, device: done.device });
    expect(again.kind).toBe('signed_in');
  });

  it('refuses an app code for an account with passkeys only', async () => {
    await w.withPasskey(await w.member('ada@example.test'));
    const pending = await pendingSignIn('ada@example.test');
    expect((await refusal(w.twoStep.verify(pending, { method: 'totp', code: '123456' }, client))).code).toBe('invalid_code');
  });

  it('refuses an answer to another session’s challenge', async () => {
    const ada = await w.member('ada@example.test');
    device = (await w.withPasskey(ada)).device;
    const response = await passkeyAnswer('ada@example.test');
    const other = await pendingSignIn('ada@example.test');
    expect((await refusal(w.twoStep.verify(other, { method: 'passkey', response }, client))).code).toBe('invalid_code');
  });
});

describe('secrets sealed under a previous key', () => {
  it('move to the current key at their next use', async () => {
    await w.close();
    const oldKey = randomBytes(32);
    const old = new SecretBox(oldKey);
    w = await world({ sealer: new SecretBox(randomBytes(32), [oldKey]) });
    const ada = await w.member('ada@example.test');
    const { secret } = await w.withApp(ada);
    // As a store written before the key rotation holds it.
    const sealedOld = old.seal(secret, `totp:${ada.user.id}`);
    await w.factors.resealTotp(ada.user.id, sealedOld);
    expect(w.sealer.needsReencryption(sealedOld)).toBe(true);
    const pending = await pendingSignIn('ada@example.test');
    await w.twoStep.verify(pending, { method: 'totp', code: w.nextCode(secret) }, client);
    const resealed = (await w.factors.totpOf(ada.user.id))!.sealedSecret;
    expect(w.sealer.needsReencryption(resealed)).toBe(false);
    expect(w.sealer.open(resealed, `totp:${ada.user.id}`)).toBe(secret);
  });
});
