/**
 * Account recovery by mail (API.md, the mail endpoints): email verification, password reset
 * and email change. Every mail-sending path answers the same whatever happens behind it (an
 * unknown address, a mail limit reached), so the answers reveal nothing; mails go out in the
 * background and never hold up a response.
 *
 * A refused request changes nothing (THREATS.md, item 3): the mail budget is asked first, and
 * a new token (which replaces the one the user holds) is issued only when its mail goes out.
 * Past the budget, the link already in the user's inbox keeps working.
 */
import type { Actor, AuthEventSink, AuthEventType } from './auth-events.js';
import type { Authenticated } from './auth-service.js';
import type { Credentials } from './credentials.js';
import type { CredentialChanges } from './credential-change.js';
import { accountDisabled, LatchError } from './errors.js';
import { greetingName, type Mail, type MailComposer, type Mailer } from './mails.js';
import { hashOneTimeToken, isTokenShaped, newOneTimeToken, type TokenPurpose, type TokenStore } from './one-time-tokens.js';
import type { PasswordProofs } from './password-proof.js';
import { normalizePassword, type PasswordPolicy } from './password-policy.js';
import type { Clock, Random, RateLimiter, SessionStore, UserRepository } from './ports.js';
import type { ClientInfo, IssuedSession } from './session-issuer.js';
import { normalizeEmail, type User } from './user.js';
import { accountKey } from './account-key.js';

export interface RecoveryServiceDeps {
  users: UserRepository;
  /** Stores that cache the user's public fields learn that the address is verified. */
  sessions: Pick<SessionStore, 'refreshUser'>;
  tokens: TokenStore;
  changes: CredentialChanges;
  proofs: PasswordProofs;
  mailer: Mailer;
  mails: MailComposer;
  credentials: Credentials;
  passwordPolicy: PasswordPolicy;
  events: AuthEventSink;
  clock: Clock;
  random: Random;
  /** Mails per account and per client IP; past either, mail is silently not sent. */
  mailLimits: { perAccount: RateLimiter; perIp: RateLimiter; ipKey(ip: string): string };
  /** Runs work after the answer has gone out (and logs its failure): see `forgotPassword`. */
  later(task: () => Promise<void>): void;
  /**
   * The owner proved control of the address by a reset: the account's login throttles (and
   * those of the IP the reset came from) are lifted, so the new password works at once.
   */
  afterReset(email: string, clientIp: string): Promise<void>;
  verifyTokenTtlMs: number;
  resetTokenTtlMs: number;
  /** REQUIRE_EMAIL_VERIFICATION: no answer may tell whether an address has an account. */
  requireEmailVerification: boolean;
}

export type VerifiedEmail = { user: User; changedAddress: boolean; issued?: IssuedSession };

/** A user whose token can be issued: its credential epoch is part of the token. */
type Recipient = User & { credentialEpoch: number };

export class RecoveryService {
  constructor(private readonly deps: RecoveryServiceDeps) {}

  /** Sends the verification mail for the account's current address (after registration). */
  async sendVerification(user: Recipient, client: ClientInfo): Promise<void> {
    if (!(await this.mayMail(user.id, client))) return;
    await this.issue(user, 'verify_email', user.email, this.deps.verifyTokenTtlMs, (token) => this.deps.mails.verifyEmail(user.email, token));
  }

  async resendVerification(auth: Authenticated, client: ClientInfo): Promise<void> {
    const user = await this.deps.users.findById(auth.user.id);
    if (!user || user.emailVerified) return; // nothing to verify: same 202
    await this.sendVerification(user, client);
  }

  /** A registration for an address that already has an account: tell its owner, not the caller. */
  async notifySignupAttempt(email: string, client: ClientInfo): Promise<void> {
    const owner = await this.deps.users.findByEmail(email);
    if (owner && (await this.mayMail(owner.id, client))) {
      await this.deps.mailer.send(this.deps.mails.signupAttemptNotice(owner.email, greetingName(owner)));
    }
  }

  /**
   * Verifies the address a token was sent to: the registered one, or a pending new one. A new
   * address is a credential change: every session ends, except that the browser confirming it,
   * when signed in to that account (`current`), gets a new session for its sign-in.
   */
  async verifyEmail(token: string, client: ClientInfo, current?: Authenticated): Promise<VerifiedEmail> {
    const { users, tokens, clock, changes } = this.deps;
    if (!isTokenShaped(token)) throw invalidToken();
    const hash = hashOneTimeToken(token);
    const now = clock.now();

    const verification = await tokens.consume(hash, 'verify_email', now);
    if (verification) {
      const user = await users.markEmailVerified(verification.userId, verification.email);
      if (!user) throw invalidToken(); // the account moved to another address since
      await this.deps.sessions.refreshUser(user);
      await this.record('email_verified', user.id, client);
      return { user, changedAddress: false };
    }
    const change = await tokens.consume(hash, 'change_email', now);
    if (!change) throw invalidToken();
    const signedInHere = current?.user.id === change.userId && current.session.epoch === change.epoch;
    const mine = signedInHere ? { session: current.session, client } : undefined;
    // Only while the epoch the link was mailed under holds: a reset or password change that
    // landed after the token was read still wins.
    const changed = await changes.apply(change.userId, { email: change.email }, { ifEpoch: change.epoch, ...(mine ? { current: mine } : {}) });
    if (!changed.ok) {
      if (changed.reason === 'email_taken') throw new LatchError('email_taken', 'That address now belongs to another account');
      throw invalidToken();
    }
    await this.record('email_changed', changed.user.id, client);
    return changed.issued ? { user: changed.user, changedAddress: true, issued: changed.issued } : { user: changed.user, changedAddress: true };
  }

  /**
   * Always the same answer, at once: the lookup, the budget, the token and the mail all run
   * after it (`later`), so neither the answer nor its timing tells whether the address has an
   * account. A reset link goes only to addresses that have one.
   */
  forgotPassword(email: string, client: ClientInfo): void {
    const normalized = normalizeEmail(email);
    this.deps.later(async () => {
      const account = await this.deps.users.findByEmail(normalized);
      // A disabled account gets no link (it could not be used), and no difference shows.
      if (!account || account.disabled) {
        // The per-IP budget is spent alike, or running out of it would tell real addresses apart.
        await this.deps.mailLimits.perIp.consume(this.deps.mailLimits.ipKey(client.ip));
        return;
      }
      if (!(await this.mayMail(account.id, client))) return;
      await this.issueResetLink(account);
    });
  }

  /** Sets a new password from a mailed token; every session and link ends, nobody is signed in. */
  async resetPassword(token: string, password: string, client: ClientInfo): Promise<User> {
    const { users, tokens, credentials, passwordPolicy, clock, changes } = this.deps;
    if (!isTokenShaped(token)) throw invalidToken();
    const hash = hashOneTimeToken(token);
    // Judge the password before using the token up, so a weak choice does not waste the link.
    const pending = await tokens.peek(hash, 'reset_password', clock.now());
    const account = pending ? await users.findById(pending.userId) : null;
    if (!pending || !account) throw invalidToken();
    if (account.disabled) throw accountDisabled();
    const normalized = normalizePassword(password);
    const verdict = passwordPolicy.check(normalized, { email: account.email, name: account.name });
    if (!verdict.ok) throw new LatchError('weak_password', verdict.message);
    const passwordHash = await credentials.hash(normalized);
    const used = await tokens.consume(hash, 'reset_password', clock.now());
    if (!used) throw invalidToken();

    const changed = await changes.apply(account.id, { passwordHash }, { ifEpoch: used.epoch });
    if (!changed.ok) throw invalidToken();
    await this.deps.afterReset(changed.user.email, client.ip);
    await this.deps.proofs.forgive(changed.user.id);
    await this.record('password_reset', account.id, client);
    await this.notifyPasswordChanged(changed.user);
    return changed.user;
  }

  /**
   * An administrator (or the command line) mails the account a reset link: outside the mail
   * budget, which covers only what anyone can cause (API.md, "Endpoints").
   */
  async sendResetLink(userId: string, actor: Actor, client: ClientInfo): Promise<boolean> {
    const account = await this.deps.users.findById(userId);
    if (!account) return false;
    await this.issueResetLink(account);
    await this.deps.events.record({ type: 'password_reset_requested', userId, at: this.deps.clock.now(), ip: client.ip, userAgent: client.userAgent, actor });
    return true;
  }

  /** After a password change by a signed-in user: the owner is told. */
  notifyPasswordChanged(user: User): Promise<void> {
    return this.deps.mailer.send(this.deps.mails.passwordChangedNotice(user.email, greetingName(user)));
  }

  /** Starts a change of address: it takes effect when the new address is verified. */
  async requestEmailChange(auth: Authenticated, input: { newEmail: string; password: string }, client: ClientInfo): Promise<void> {
    const { users, proofs, mails, requireEmailVerification } = this.deps;
    await proofs.requireRecent(auth, 'change your email');
    const account = await proofs.prove(auth, input.password, client);
    const newEmail = normalizeEmail(input.newEmail);
    const holder = newEmail === account.email ? account : await users.findByEmail(newEmail);
    if (holder && !requireEmailVerification) throw new LatchError('email_taken', 'An account with this email already exists');
    // With REQUIRE_EMAIL_VERIFICATION no answer may tell whether an address has an account:
    // a taken address gets the same 202, event, budget, notice to the asker and replaced
    // pending link as a free one. Only the confirmation differs: it goes to nobody (the link
    // is made, so the one pending before is void as usual, but never mailed), and the holder
    // is told instead.
    await this.record('email_change_requested', account.id, client);
    if (!(await this.mayMail(account.id, client))) return;
    await this.issue(account, 'change_email', newEmail, this.deps.verifyTokenTtlMs, (token) => (holder ? undefined : mails.confirmNewEmail(newEmail, token)));
    if (holder && holder.id !== account.id) await this.deps.mailer.send(mails.emailChangeAttemptNotice(holder.email, greetingName(holder)));
    await this.deps.mailer.send(mails.emailChangeNotice(account.email, greetingName(account), newEmail));
  }

  private issueResetLink(account: Recipient): Promise<void> {
    const { mails, resetTokenTtlMs } = this.deps;
    return this.issue(account, 'reset_password', account.email, resetTokenTtlMs, (token) => mails.resetPassword(account.email, greetingName(account), token));
  }

  /** A new token and the mail carrying it (`undefined`: made, so the older one is void, but mailed to nobody) go out together. */
  private async issue(user: Recipient, purpose: TokenPurpose, email: string, ttlMs: number, mailFor: (token: string) => Mail | undefined): Promise<void> {
    const { token, hash } = newOneTimeToken(this.deps.random);
    const expiresAt = this.deps.clock.now() + ttlMs;
    await this.deps.tokens.issue(hash, { userId: user.id, purpose, email, expiresAt, epoch: user.credentialEpoch }, mailFor(token));
  }

  /** Both budgets are counted every time, so neither reveals whether the other ran out. */
  private async mayMail(userId: string, client: ClientInfo): Promise<boolean> {
    const { perAccount, perIp, ipKey } = this.deps.mailLimits;
    const [account, ip] = await Promise.all([perAccount.consume(accountKey(userId)), perIp.consume(ipKey(client.ip))]);
    return account.allowed && ip.allowed;
  }

  private record(type: AuthEventType, userId: string, client: ClientInfo): Promise<void> {
    return this.deps.events.record({ type, userId, at: this.deps.clock.now(), ip: client.ip, userAgent: client.userAgent });
  }
}

function invalidToken(): LatchError {
  return new LatchError('invalid_token', 'This link is invalid or has expired; ask for a new one');
}

