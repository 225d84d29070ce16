/**
 * AuthService's registration and sign-in over the wired domain: what each outcome records,
 * REQUIRE_EMAIL_VERIFICATION, disabled accounts, and where a second step is asked for.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { ipKey } from '../../src/domain/client-key.js';
import { client, PASSWORD, refusal, world, type World } from '../support/domain-world.js';

let w: World;
afterEach(() => w.close());

const register = (email: string) => w.auth.register({ email, password: PASSWORD, name: 'Ada Lovelace' }, client);
const login = (email: string, password = PASSWORD) => w.auth.login({ email, password, rememberMe: false }, client);

describe('registration', () => {
  it('signs in at once: a one-factor session, the verification mail asked for, the browser known', async () => {
    w = await world();
    const outcome = await register('Ada@Example.test');
    if (outcome.kind !== 'signed_in') throw new Error('expected a session');
    expect(outcome.issued.session).toMatchObject({ methods: ['password'], rememberMe: false, pending: false, epoch: 0 });
    expect(outcome.issued.user).toMatchObject({ email: 'ada@example.test', role: 'user', twoFactor: false, emailVerified: false });
    expect(w.verificationsSent).toEqual([outcome.issued.user.id]);
    expect(w.events.events).toEqual([expect.objectContaining({ type: 'registered', userId: outcome.issued.user.id, sessionId: outcome.issued.session.id })]);
    expect(await w.devices.current(outcome.issued.user.id, outcome.device)).not.toBeNull();
    expect((await refusal(register('ada@example.test'))).code).toBe('email_taken');
  });

  it('with REQUIRE_EMAIL_VERIFICATION signs nobody in, and answers a taken address the same', async () => {
    w = await world({ requireEmailVerification: true });
    expect(await register('ada@example.test')).toEqual({ kind: 'verification_pending' });
    const ada = (await w.users.findByEmail('ada@example.test'))!;
    expect(w.verificationsSent).toEqual([ada.id]);
    expect(w.events.events).toEqual([expect.objectContaining({ type: 'registered', userId: ada.id })]);
    expect(w.events.events[0]!.sessionId).toBeUndefined();
    expect(await register('ada@example.test')).toEqual({ kind: 'verification_pending' });
    expect(w.verificationsSent).toEqual([ada.id]);
    expect(await w.sessions.listByUser(ada.id, w.clock.now())).toEqual([]);
    expect((await refusal(login('ada@example.test'))).code).toBe('email_unverified');
    await w.users.markEmailVerified(ada.id, 'ada@example.test');
    expect((await login('ada@example.test')).kind).toBe('signed_in');
  });
});

describe('registration limits and races', () => {
  it('refuses past the registrations allowed per client address', async () => {
    w = await world();
    for (let i = 0; i < 1000; i++) await w.registrationLimit.consume(ipKey(client.ip));
    expect((await refusal(register('ada@example.test'))).code).toBe('rate_limited');
    expect(await w.users.findByEmail('ada@example.test')).toBeNull();
  });

  it('issues no session when the new account changed while it was being created', async () => {
    w = await world();
    const create = w.users.create.bind(w.users);
    w.users.create = async (user) => {
      const created = await create(user);
      await w.users.changeCredentials(user.id, {});
      return created;
    };
    expect((await refusal(register('ada@example.test'))).code).toBe('unauthorized');
    expect(w.events.types()).toEqual([]);
  });
});

describe('signing in', () => {
  it('records a throttled attempt with the account it was for', async () => {
    w = await world();
    const ada = await w.member('ada@example.test');
    for (let i = 0; i < 5; i++) await refusal(login('ada@example.test', 'not-the-password-123'));
    expect((await refusal(login('ada@example.test'))).code).toBe('rate_limited');
    expect(w.events.events.at(-1)).toMatchObject({ type: 'login_throttled', userId: ada.user.id });
    for (let i = 0; i < 6; i++) await refusal(login('nobody@example.test'));
    expect(w.events.events.at(-1)).toMatchObject({ type: 'login_throttled', userId: null });
  });

  it('refuses the session when a credential change lands while the password is checked', async () => {
    w = await world();
    const ada = await w.member('ada@example.test');
    const verify = w.hasher.verify.bind(w.hasher);
    w.hasher.verify = async (hash, password) => {
      const result = await verify(hash, password);
      await w.changes.apply(ada.user.id, {});
      return result;
    };
    expect((await refusal(login('ada@example.test'))).code).toBe('invalid_credentials');
    expect(w.events.events.at(-1)).toMatchObject({ type: 'login_failed', userId: ada.user.id });
  });

  it('tells the owner about a browser new to the account, naming the session', async () => {
    w = await world();
    const ada = await w.member('ada@example.test');
    const outcome = await w.auth.login({ email: 'ada@example.test', password: PASSWORD, rememberMe: false }, { ...client, device: undefined });
    expect(w.events.events.at(-1)).toMatchObject({ type: 'new_device', userId: ada.user.id, sessionId: outcome.issued.session.id });
  });

  it('records failures with the account when there is one, and success with the session', async () => {
    w = await world();
    const ada = await w.member('ada@example.test');
    await refusal(login('nobody@example.test'));
    expect(w.events.events.at(-1)).toMatchObject({ type: 'login_failed', userId: null });
    await refusal(login('ada@example.test', 'not-the-password-123'));
    expect(w.events.events.at(-1)).toMatchObject({ type: 'login_failed', userId: ada.user.id });
    const outcome = await login('ada@example.test');
    expect(outcome).toMatchObject({ kind: 'signed_in', issued: { session: { methods: ['password'], pending: false } } });
    expect(w.events.events.at(-1)).toMatchObject({ type: 'login_succeeded', userId: ada.user.id, sessionId: outcome.issued.session.id });
  });

  it('tells a disabled account so only with the right password, and records the attempt', async () => {
    w = await world();
    const ada = await w.member('ada@example.test');
    await w.changes.apply(ada.user.id, { disabled: { at: w.clock.now(), reason: null, by: 'cli' } });
    expect((await refusal(login('ada@example.test', 'not-the-password-123'))).code).toBe('invalid_credentials');
    expect((await refusal(login('ada@example.test'))).code).toBe('account_disabled');
    expect(w.events.events.at(-1)).toMatchObject({ type: 'login_failed', userId: ada.user.id });
  });

  it('with a second factor: a pending session that lives minutes, and the methods to offer', async () => {
    w = await world();
    const ada = await w.member('ada@example.test');
    await w.withApp(ada);
    const outcome = await w.auth.login({ email: 'ada@example.test', password: PASSWORD, rememberMe: true }, client);
    if (outcome.kind !== 'mfa_required') throw new Error('expected a second step');
    expect(outcome.methods).toEqual(['totp', 'recovery_code']);
    expect(outcome.issued.session).toMatchObject({ pending: true, rememberMe: true, methods: ['password'] });
    expect(outcome.issued.session.expiresAt).toBe(w.clock.now() + 5 * 60_000);
    expect(w.events.events.at(-1)).toMatchObject({ type: 'mfa_challenged', userId: ada.user.id, sessionId: outcome.issued.session.id });
  });
});
