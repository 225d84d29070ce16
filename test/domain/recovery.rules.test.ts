/**
 * Account recovery by mail (RecoveryService) over the wired domain: verification, reset and
 * address change, their mail budgets, and which mails go where. Tokens live in a small
 * in-memory store with the SQL store's rules (one per user and purpose, expiry, epoch, single use).
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { accountKey } from '../../src/domain/account-key.js';
import type { Authenticated } from '../../src/domain/auth-service.js';
import { ipKey } from '../../src/domain/client-key.js';
import { Credentials } from '../../src/domain/credentials.js';
import type { Mail } from '../../src/domain/mails.js';
import type { OneTimeToken, TokenPurpose, TokenStore } from '../../src/domain/one-time-tokens.js';
import { PasswordPolicy } from '../../src/domain/password-policy.js';
import type { UserRepository } from '../../src/domain/ports.js';
import { RecoveryService } from '../../src/domain/recovery-service.js';
import { client, HOUR, MINUTE, PASSWORD, refusal, world, type World } from '../support/domain-world.js';
import { cryptoRandom, InMemoryRateLimiter } from '../support/fakes.js';

class KeptTokens implements TokenStore {
  private readonly byHash = new Map<string, OneTimeToken>();
  constructor(
    private readonly users: UserRepository,
    private readonly mailer: { send(mail: Mail): Promise<void> },
  ) {}
  async issue(hash: Buffer, token: OneTimeToken, mail?: Mail): Promise<void> {
    await this.revokeAll(token.userId, token.purpose);
    this.byHash.set(hash.toString('hex'), token);
    if (mail) await this.mailer.send(mail);
  }
  async peek(hash: Buffer, purpose: TokenPurpose, now: number): Promise<OneTimeToken | null> {
    const token = this.byHash.get(hash.toString('hex'));
    if (!token || token.purpose !== purpose || token.expiresAt <= now) return null;
    const user = await this.users.findById(token.userId);
    return user && user.credentialEpoch === token.epoch ? token : null;
  }
  async consume(hash: Buffer, purpose: TokenPurpose, now: number): Promise<OneTimeToken | null> {
    const token = await this.peek(hash, purpose, now);
    if (token) this.byHash.delete(hash.toString('hex'));
    return token;
  }
  async revokeAll(userId: string, purpose?: TokenPurpose): Promise<void> {
    for (const [hash, token] of this.byHash) if (token.userId === userId && (purpose === undefined || token.purpose === purpose)) this.byHash.delete(hash);
  }
}

let w: World;
let recovery: RecoveryService;
let later: Array<() => Promise<void>>;
let lifted: string[];
let perAccount: InMemoryRateLimiter;
let perIp: InMemoryRateLimiter;

async function setUp(requireEmailVerification = false) {
  w = await world({ requireEmailVerification });
  later = [];
  lifted = [];
  perAccount = new InMemoryRateLimiter(3, HOUR, w.clock);
  perIp = new InMemoryRateLimiter(5, HOUR, w.clock);
  recovery = new RecoveryService({
    users: w.users,
    sessions: w.sessions,
    tokens: new KeptTokens(w.users, w.mailer),
    changes: w.changes,
    proofs: w.proofs,
    mailer: w.mailer,
    mails: w.mails,
    credentials: new Credentials(w.users, w.hasher),
    passwordPolicy: new PasswordPolicy({ minLength: 15, maxLength: 256 }, []),
    events: w.events,
    clock: w.clock,
    random: cryptoRandom,
    mailLimits: { perAccount, perIp, ipKey },
    later: (task) => void later.push(task),
    afterReset: async (email, ip) => void lifted.push(`${email} ${ip}`),
    verifyTokenTtlMs: 24 * HOUR,
    resetTokenTtlMs: HOUR,
    requireEmailVerification,
  });
}
afterEach(() => w.close());

const NEW_PASSWORD = 'copper-meadow-falcon-77';
const tokenOf = (mail: Mail | undefined) => new URL(mail!.link!).searchParams.get('token')!;
const lastMail = () => w.mailer.sent.at(-1);
const runLater = async () => {
  for (const task of later.splice(0)) await task();
};

describe('verifying the address', () => {
  let ada: Authenticated;
  beforeEach(async () => {
    await setUp();
    ada = await w.member('ada@example.test');
  });

  it('mails a link to the address, and the link verifies it once', async () => {
    await recovery.sendVerification({ ...ada.user, credentialEpoch: 0 }, client);
    expect(lastMail()).toMatchObject({ to: 'ada@example.test', subject: 'Verify your email address' });
    expect(lastMail()!.link).toMatch(/^https:\/\/accounts\.latch\.test\/verify-email\?token=[A-Za-z0-9_-]{43}$/);
    expect(lastMail()!.text).not.toContain('Ada');
    const verified = await recovery.verifyEmail(tokenOf(lastMail()), client);
    expect(verified).toEqual({ user: expect.objectContaining({ id: ada.user.id, emailVerified: true }), changedAddress: false });
    expect(w.events.events.at(-1)).toMatchObject({ type: 'email_verified', userId: ada.user.id, ip: client.ip, userAgent: client.userAgent, at: w.clock.now() });
    expect((await refusal(recovery.verifyEmail(tokenOf(lastMail()), client))).code).toBe('invalid_token');
  });

  it('resends only while the address is unverified', async () => {
    await recovery.resendVerification(ada, client);
    expect(w.mailer.sent).toHaveLength(1);
    await recovery.verifyEmail(tokenOf(lastMail()), client);
    await recovery.resendVerification(ada, client);
    expect(w.mailer.sent).toHaveLength(1);
  });

  it('refuses a malformed, unknown or expired link', async () => {
    expect((await refusal(recovery.verifyEmail('short', client))).code).toBe('invalid_token');
    expect((await refusal(recovery.verifyEmail('x'.repeat(43), client))).code).toBe('invalid_token');
    await recovery.sendVerification({ ...ada.user, credentialEpoch: 0 }, client);
    w.clock.advance(24 * HOUR);
    expect((await refusal(recovery.verifyEmail(tokenOf(lastMail()), client))).code).toBe('invalid_token');
  });

  it('refuses a link to an address the account no longer has', async () => {
    await recovery.sendVerification({ ...ada.user, credentialEpoch: 0 }, client);
    const token = tokenOf(lastMail());
    await w.database.db.updateTable('users').set({ email: 'other@example.test' }).where('id', '=', ada.user.id).execute();
    expect((await refusal(recovery.verifyEmail(token, client))).code).toBe('invalid_token');
  });

  it('mails within a budget per account and per client address; past it, silently nothing', async () => {
    for (let i = 0; i < 5; i++) await recovery.sendVerification({ ...ada.user, credentialEpoch: 0 }, client);
    expect(w.mailer.sent).toHaveLength(3);
    expect(await perAccount.peek(accountKey(ada.user.id))).toBe(5);
    expect(await perIp.peek(ipKey(client.ip))).toBe(5);
    const bob = await w.member('bob@example.test');
    await recovery.sendVerification({ ...bob.user, credentialEpoch: 0 }, client);
    expect(w.mailer.sent).toHaveLength(3);
    await recovery.sendVerification({ ...bob.user, credentialEpoch: 0 }, { ...client, ip: '198.51.100.7' });
    expect(w.mailer.sent).toHaveLength(4);
  });

  it('tells the owner of an address someone tried to register, within the budget', async () => {
    await w.users.markEmailVerified(ada.user.id, ada.user.email);
    await recovery.notifySignupAttempt('ada@example.test', client);
    expect(lastMail()).toMatchObject({ to: 'ada@example.test', subject: 'Someone tried to sign up with your address' });
    expect(lastMail()!.text).toContain('Hello Ada Lovelace,');
    await recovery.notifySignupAttempt('nobody@example.test', client);
    expect(w.mailer.sent).toHaveLength(1);
    for (let i = 0; i < 5; i++) await recovery.notifySignupAttempt('ada@example.test', client);
    expect(w.mailer.sent).toHaveLength(3);
  });
});

describe('resetting the password', () => {
  let ada: Authenticated;
  beforeEach(async () => {
    await setUp();
    ada = await w.member('ada@example.test');
  });

  it('answers at once; the link goes out afterwards, only to an account', async () => {
    recovery.forgotPassword('  ADA@example.test ', client);
    recovery.forgotPassword('nobody@example.test', client);
    expect(w.mailer.sent).toEqual([]);
    await runLater();
    expect(w.mailer.sent.map((m) => [m.to, m.subject])).toEqual([['ada@example.test', 'Reset your password']]);
    expect(lastMail()!.link).toMatch(/^https:\/\/accounts\.latch\.test\/reset-password\?token=/);
    expect(await perIp.peek(ipKey(client.ip))).toBe(2);
  });

  it('sends no link to a disabled account, spending the same budget', async () => {
    await w.changes.apply(ada.user.id, { disabled: { at: 0, reason: null, by: 'cli' } });
    recovery.forgotPassword('ada@example.test', client);
    await runLater();
    expect(w.mailer.sent).toEqual([]);
    expect(await perIp.peek(ipKey(client.ip))).toBe(1);
    expect(await perAccount.peek(accountKey(ada.user.id))).toBe(0);
  });

  it('past the budget, mails nothing and keeps the link already sent', async () => {
    for (let i = 0; i < 4; i++) recovery.forgotPassword('ada@example.test', client);
    await runLater();
    expect(w.mailer.sent).toHaveLength(3);
    const token = tokenOf(lastMail());
    await recovery.resetPassword(token, NEW_PASSWORD, client);
  });

  it('sets the new password: every session ends, throttles lifted, the owner told', async () => {
    recovery.forgotPassword('ada@example.test', client);
    await runLater();
    const token = tokenOf(lastMail());
    await w.proofs.prove(ada, 'wrong-password-here-1', client).catch(() => {});
    expect((await refusal(recovery.resetPassword(token, 'short', client))).code).toBe('weak_password');
    const user = await recovery.resetPassword(token, NEW_PASSWORD, client);
    expect(user.id).toBe(ada.user.id);
    expect(await w.sessions.find(ada.session.id)).toBeNull();
    expect(lifted).toEqual([`ada@example.test ${client.ip}`]);
    expect(await w.reauthAttempts.peek(ada.user.id)).toBe(0);
    expect(w.events.events.at(-1)).toMatchObject({ type: 'password_reset', userId: ada.user.id });
    expect(lastMail()).toMatchObject({ to: 'ada@example.test', subject: 'Your password was changed' });
    expect((await w.auth.login({ email: 'ada@example.test', password: NEW_PASSWORD, rememberMe: false }, client)).kind).toBe('signed_in');
    expect((await refusal(recovery.resetPassword(token, NEW_PASSWORD, client))).code).toBe('invalid_token');
  });

  it('refuses a malformed or unknown link, a disabled account, and a link older than a change', async () => {
    expect((await refusal(recovery.resetPassword('bad', NEW_PASSWORD, client))).code).toBe('invalid_token');
    expect((await refusal(recovery.resetPassword('y'.repeat(43), NEW_PASSWORD, client))).code).toBe('invalid_token');
    recovery.forgotPassword('ada@example.test', client);
    await runLater();
    const token = tokenOf(lastMail());
    await w.database.db.updateTable('users').set({ disabled_at: 1, disabled_by: 'cli' }).where('id', '=', ada.user.id).execute();
    expect((await refusal(recovery.resetPassword(token, NEW_PASSWORD, client))).code).toBe('account_disabled');
    await w.database.db.updateTable('users').set({ disabled_at: null, disabled_by: null }).where('id', '=', ada.user.id).execute();
    await w.changes.apply(ada.user.id, {});
    expect((await refusal(recovery.resetPassword(token, NEW_PASSWORD, client))).code).toBe('invalid_token');
  });

  it('an administrator’s link skips the budget and is recorded with the actor', async () => {
    for (let i = 0; i < 4; i++) expect(await recovery.sendResetLink(ada.user.id, { role: 'cli' }, client)).toBe(true);
    expect(w.mailer.sent).toHaveLength(4);
    expect(w.events.events.at(-1)).toMatchObject({ type: 'password_reset_requested', userId: ada.user.id, actor: { role: 'cli' }, ip: client.ip });
    expect(await recovery.sendResetLink('no-such-user', { role: 'cli' }, client)).toBe(false);
    w.clock.advance(HOUR);
    expect((await refusal(recovery.resetPassword(tokenOf(lastMail()), NEW_PASSWORD, client))).code).toBe('invalid_token');
  });
});

describe('changing the address', () => {
  let ada: Authenticated;

  it('asks for a recent session, the password and a free address', async () => {
    await setUp();
    ada = await w.member('ada@example.test');
    await w.member('bob@example.test');
    expect((await refusal(recovery.requestEmailChange(ada, { newEmail: 'x@example.test', password: 'wrong-password-here-1' }, client))).code).toBe('invalid_credentials');
    expect((await refusal(recovery.requestEmailChange(ada, { newEmail: 'BOB@example.test', password: PASSWORD }, client))).code).toBe('email_taken');
    expect((await refusal(recovery.requestEmailChange(ada, { newEmail: 'ada@example.test', password: PASSWORD }, client))).code).toBe('email_taken');
    w.clock.advance(10 * MINUTE);
    expect((await refusal(recovery.requestEmailChange(ada, { newEmail: 'x@example.test', password: PASSWORD }, client))).code).toBe('reauth_required');
    expect(w.mailer.sent).toEqual([]);
  });

  it('mails a confirmation to the new address and a notice to the old; confirming it is a credential change', async () => {
    await setUp();
    ada = await w.member('ada@example.test');
    const other = await w.signIn('ada@example.test');
    await recovery.requestEmailChange(ada, { newEmail: ' Lovelace@Example.test ', password: PASSWORD }, client);
    expect(w.events.events.at(-1)).toMatchObject({ type: 'email_change_requested', userId: ada.user.id });
    expect(w.mailer.sent.map((m) => [m.to, m.subject])).toEqual([
      ['lovelace@example.test', 'Confirm your new email address'],
      ['ada@example.test', 'Your email address is being changed'],
    ]);
    expect(w.mailer.sent[1]!.text).toContain('lovelace@example.test');
    const verified = await recovery.verifyEmail(tokenOf(w.mailer.sent[0]), client, ada);
    expect(verified.changedAddress).toBe(true);
    expect(verified.user.email).toBe('lovelace@example.test');
    expect(verified.issued?.session.id).toBeDefined();
    expect(verified.issued!.session.id).not.toBe(ada.session.id);
    expect(await w.sessions.find(other.session.id)).toBeNull();
    expect(w.events.events.at(-1)).toMatchObject({ type: 'email_changed', userId: ada.user.id });
  });

  it('confirmed from elsewhere, signs nobody in', async () => {
    await setUp();
    ada = await w.member('ada@example.test');
    await recovery.requestEmailChange(ada, { newEmail: 'lovelace@example.test', password: PASSWORD }, client);
    const bob = await w.member('bob@example.test');
    const verified = await recovery.verifyEmail(tokenOf(w.mailer.sent[0]), client, bob);
    expect(verified).toEqual({ user: expect.objectContaining({ email: 'lovelace@example.test' }), changedAddress: true });
    expect(await w.sessions.find(ada.session.id)).toBeNull();
  });

  it('confirmed by a browser with no session, signs nobody in', async () => {
    await setUp();
    ada = await w.member('ada@example.test');
    await recovery.requestEmailChange(ada, { newEmail: 'lovelace@example.test', password: PASSWORD }, client);
    expect(await recovery.verifyEmail(tokenOf(w.mailer.sent[0]), client)).toEqual({ user: expect.objectContaining({ email: 'lovelace@example.test' }), changedAddress: true });
  });

  it('mails within the budget; past it the request is recorded and nothing is sent', async () => {
    await setUp();
    ada = await w.member('ada@example.test');
    for (let i = 0; i < 4; i++) await recovery.requestEmailChange(ada, { newEmail: `new${i}@example.test`, password: PASSWORD }, client);
    expect(w.mailer.sent).toHaveLength(6);
    expect(w.events.types(ada.user.id).filter((t) => t === 'email_change_requested')).toHaveLength(4);
  });

  it('refuses a confirmation when the address was taken meanwhile', async () => {
    await setUp();
    ada = await w.member('ada@example.test');
    await recovery.requestEmailChange(ada, { newEmail: 'lovelace@example.test', password: PASSWORD }, client);
    await w.member('lovelace@example.test');
    expect((await refusal(recovery.verifyEmail(tokenOf(w.mailer.sent[0]), client, ada))).code).toBe('email_taken');
  });

  it('with REQUIRE_EMAIL_VERIFICATION answers a taken address like a free one, telling its holder instead', async () => {
    await setUp(true);
    await w.auth.register({ email: 'ada@example.test', password: PASSWORD, name: 'Ada Lovelace' }, client);
    await w.auth.register({ email: 'bob@example.test', password: PASSWORD, name: 'Bob Babbage' }, client);
    const adaId = (await w.users.findByEmail('ada@example.test'))!.id;
    await w.users.markEmailVerified(adaId, 'ada@example.test');
    ada = await w.signIn('ada@example.test');
    w.mailer.sent.length = 0; // the new sign-in alert
    await recovery.requestEmailChange(ada, { newEmail: 'bob@example.test', password: PASSWORD }, client);
    expect(w.mailer.sent.map((m) => [m.to, m.subject])).toEqual([
      ['bob@example.test', 'Someone tried to move an account to your address'],
      ['ada@example.test', 'Your email address is being changed'],
    ]);
    expect(w.mailer.sent[1]!.text).toContain('Hello Ada Lovelace,');
    expect(w.mailer.sent[0]!.text).toContain('Hello,');
    await recovery.requestEmailChange(ada, { newEmail: 'ada@example.test', password: PASSWORD }, client);
    expect(w.mailer.sent.map((m) => m.to).slice(2)).toEqual(['ada@example.test']);
  });
});
