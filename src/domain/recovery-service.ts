/**
 * Account recovery by mail (API.md, the mail endpoints): email verification, password reset
 * and email change. Every mail-sending path answers the same whatever happens behind it (an
 * unknown address, a mail limit reached), so the answers reveal nothing; mails go out in the
 * background and never hold up a response.
 */
import { createHash } from 'node:crypto';
import type { AuthEventSink, AuthEventType } from './auth-events.js';
import type { Authenticated } from './auth-service.js';
import type { Credentials } from './credentials.js';
import { LatchError } from './errors.js';
import type { Mail, MailComposer, Mailer } from './mails.js';
import { hashOneTimeToken, isTokenShaped, newOneTimeToken, type TokenPurpose, type TokenStore } from './one-time-tokens.js';
import { normalizePassword, type PasswordPolicy } from './password-policy.js';
import type { Clock, Random, RateLimiter, SessionStore, UserRepository } from './ports.js';
import type { ClientInfo } from './session-issuer.js';
import { normalizeEmail, publicUser, type User } from './user.js';

export interface RecoveryServiceDeps {
  users: UserRepository;
  sessions: SessionStore;
  tokens: TokenStore;
  mailer: Mailer;
  mails: MailComposer;
  credentials: Credentials;
  passwordPolicy: PasswordPolicy;
  events: AuthEventSink;
  clock: Clock;
  random: Random;
  /** Mails per account and per client IP; past either, mail is silently not sent. */
  mailLimits: { perAccount: RateLimiter; perIp: RateLimiter };
  verifyTokenTtlMs: number;
  resetTokenTtlMs: number;
  reauthWindowMs: number;
}

export type VerifiedEmail = { user: User; changedAddress: boolean };

export class RecoveryService {
  constructor(private readonly deps: RecoveryServiceDeps) {}

  /** Sends the verification mail for the account's current address (after registration). */
  async sendVerification(user: User, client: ClientInfo): Promise<void> {
    const token = await this.issue(user.id, 'verify_email', user.email, this.deps.verifyTokenTtlMs);
    await this.mail(user.id, client, this.deps.mails.verifyEmail(user.email, user.name, token));
  }

  async resendVerification(auth: Authenticated, client: ClientInfo): Promise<void> {
    const user = await this.deps.users.findById(auth.user.id);
    if (!user || user.emailVerified) return; // nothing to verify: same 202
    await this.sendVerification(publicUser(user), client);
  }

  /** A registration for an address that already has an account: tell its owner, not the caller. */
  async notifySignupAttempt(email: string, client: ClientInfo): Promise<void> {
    const owner = await this.deps.users.findByEmail(email);
    if (owner) await this.mail(owner.id, client, this.deps.mails.signupAttemptNotice(owner.email, owner.name));
  }

  /** Verifies the address a token was sent to: the registered one, or a pending new one. */
  async verifyEmail(token: string, client: ClientInfo): Promise<VerifiedEmail> {
    const { users, sessions, tokens, clock } = this.deps;
    if (!isTokenShaped(token)) throw invalidToken();
    const hash = hashOneTimeToken(token);
    const now = clock.now();

    const verification = await tokens.consume(hash, 'verify_email', now);
    if (verification) {
      const user = await users.markEmailVerified(verification.userId, verification.email);
      if (!user) throw invalidToken(); // the account moved to another address since
      await sessions.refreshUser(user);
      await this.record('email_verified', user.id, client);
      return { user, changedAddress: false };
    }
    const change = await tokens.consume(hash, 'change_email', now);
    if (!change) throw invalidToken();
    const changed = await users.changeEmail(change.userId, change.email);
    if (!changed.ok) {
      if (changed.reason === 'email_taken') throw new LatchError('email_taken', 'That address now belongs to another account');
      throw invalidToken();
    }
    await sessions.refreshUser(changed.user);
    await this.record('email_changed', changed.user.id, client);
    return { user: changed.user, changedAddress: true };
  }

  /** Always the same answer; a reset link only to addresses that have an account. */
  async forgotPassword(email: string, client: ClientInfo): Promise<void> {
    const normalized = normalizeEmail(email);
    const account = await this.deps.users.findByEmail(normalized);
    // The answer is the same either way; the mail itself goes out in the background.
    if (!account) return;
    const token = await this.issue(account.id, 'reset_password', account.email, this.deps.resetTokenTtlMs);
    await this.mail(account.id, client, this.deps.mails.resetPassword(account.email, account.name, token));
  }

  /** Sets a new password from a mailed token; every session ends, nobody is signed in. */
  async resetPassword(token: string, password: string, client: ClientInfo): Promise<User> {
    const { users, sessions, tokens, credentials, passwordPolicy, clock } = this.deps;
    if (!isTokenShaped(token)) throw invalidToken();
    const hash = hashOneTimeToken(token);
    // Judge the password before using the token up, so a weak choice does not waste the link.
    const pending = await tokens.peek(hash, 'reset_password', clock.now());
    const account = pending ? await users.findById(pending.userId) : null;
    if (!pending || !account) throw invalidToken();
    const normalized = normalizePassword(password);
    const verdict = passwordPolicy.check(normalized, { email: account.email, name: account.name });
    if (!verdict.ok) throw new LatchError('weak_password', verdict.message);
    if (!(await tokens.consume(hash, 'reset_password', clock.now()))) throw invalidToken();

    await users.updatePasswordHash(account.id, await credentials.hash(normalized));
    await sessions.deleteByUser(account.id);
    await tokens.revokeAll(account.id, 'reset_password');
    await this.record('password_reset', account.id, client);
    this.deps.mailer.send(this.deps.mails.passwordChangedNotice(account.email, account.name));
    return publicUser(account);
  }

  /** After a password change by a signed-in user: old reset links die, the owner is told. */
  async afterPasswordChange(user: User): Promise<void> {
    await this.deps.tokens.revokeAll(user.id, 'reset_password');
    this.deps.mailer.send(this.deps.mails.passwordChangedNotice(user.email, user.name));
  }

  /** Starts a change of address: it takes effect when the new address is verified. */
  async requestEmailChange(auth: Authenticated, input: { newEmail: string; password: string }, client: ClientInfo): Promise<void> {
    const { users, credentials, clock, reauthWindowMs, mails } = this.deps;
    if (clock.now() - auth.session.authenticatedAt > reauthWindowMs) {
      throw new LatchError('reauth_required', 'Confirm your password again (re-authenticate) to change your email');
    }
    const account = await users.findById(auth.user.id);
    if (!account || !(await credentials.verify(account, input.password))) {
      throw new LatchError('invalid_credentials', 'Password is incorrect');
    }
    const newEmail = normalizeEmail(input.newEmail);
    if (newEmail === account.email || (await users.findByEmail(newEmail))) {
      throw new LatchError('email_taken', 'An account with this email already exists');
    }
    const token = await this.issue(account.id, 'change_email', newEmail, this.deps.verifyTokenTtlMs);
    if (await this.mayMail(account.id, client)) {
      this.deps.mailer.send(mails.confirmNewEmail(newEmail, account.name, token));
      this.deps.mailer.send(mails.emailChangeNotice(account.email, account.name, newEmail));
    }
    await this.record('email_change_requested', account.id, client);
  }

  private async issue(userId: string, purpose: TokenPurpose, email: string, ttlMs: number): Promise<string> {
    const { token, hash } = newOneTimeToken(this.deps.random);
    await this.deps.tokens.issue(hash, { userId, purpose, email, expiresAt: this.deps.clock.now() + ttlMs });
    return token;
  }

  private async mail(userId: string, client: ClientInfo, mail: Mail): Promise<void> {
    if (await this.mayMail(userId, client)) this.deps.mailer.send(mail);
  }

  /** Both budgets are counted every time, so neither reveals whether the other ran out. */
  private async mayMail(accountKey: string, client: ClientInfo): Promise<boolean> {
    const { perAccount, perIp } = this.deps.mailLimits;
    const key = createHash('sha256').update(accountKey).digest('base64url').slice(0, 22);
    const [account, ip] = await Promise.all([perAccount.consume(key), perIp.consume(client.ip)]);
    return account.allowed && ip.allowed;
  }

  private record(type: AuthEventType, userId: string, client: ClientInfo): Promise<void> {
    return this.deps.events.record({ type, userId, at: this.deps.clock.now(), ip: client.ip, userAgent: client.userAgent });
  }
}

function invalidToken(): LatchError {
  return new LatchError('invalid_token', 'This link is invalid or has expired; ask for a new one');
}
