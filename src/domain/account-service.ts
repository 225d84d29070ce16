/**
 * What a signed-in user does with their account and sessions: see and end sessions, prove
 * the password again, change it, delete the account (API.md, "Endpoints").
 */
import type { AuditLog, AuthEventPage, AuthEventSink, AuthEventType } from './auth-events.js';
import type { Authenticated } from './auth-service.js';
import type { Credentials } from './credentials.js';
import { LatchError } from './errors.js';
import { normalizePassword, type PasswordPolicy } from './password-policy.js';
import type { Clock, SessionStore, UserRepository } from './ports.js';
import type { SessionRecord } from './session.js';
import type { ClientInfo, IssuedSession, SessionIssuer } from './session-issuer.js';
import { publicUser, type User, type UserWithPassword } from './user.js';

export interface AccountServiceDeps {
  users: UserRepository;
  sessions: SessionStore;
  credentials: Credentials;
  issuer: SessionIssuer;
  passwordPolicy: PasswordPolicy;
  clock: Clock;
  /** How recent a password proof must be for sensitive actions (REAUTH_WINDOW). */
  reauthWindowMs: number;
  /** Reads and forgets history. */
  audit: AuditLog;
  /** Records events (the audit log, as observed by metrics). */
  events: AuthEventSink;
  /** Mail-side follow-up of a password change (void reset links, notify the owner). */
  afterPasswordChange(user: User): Promise<void>;
}

const EVENTS_PAGE_MAX = 100;

export class AccountService {
  constructor(private readonly deps: AccountServiceDeps) {}

  listSessions(userId: string): Promise<SessionRecord[]> {
    return this.deps.sessions.listByUser(userId, this.deps.clock.now());
  }

  /** Ends one of the caller's sessions. Another user's id is indistinguishable from none. */
  async revokeSession(auth: Authenticated, sessionId: string, client: ClientInfo): Promise<void> {
    const found = await this.deps.sessions.find(sessionId);
    if (!found || found.session.userId !== auth.user.id) throw new LatchError('not_found', 'No such session');
    await this.deps.sessions.delete(sessionId);
    await this.record('session_revoked', auth, client, { sessionId });
  }

  async revokeOtherSessions(auth: Authenticated, client: ClientInfo): Promise<number> {
    const count = await this.deps.sessions.deleteByUser(auth.user.id, auth.session.id);
    await this.record('sessions_revoked', auth, client, { count });
    return count;
  }

  async reauthenticate(auth: Authenticated, password: string, client: ClientInfo): Promise<SessionRecord> {
    await this.proveCurrentPassword(auth, password);
    const at = this.deps.clock.now();
    await this.deps.sessions.recordReauthentication(auth.session.id, at);
    await this.record('reauthenticated', auth, client, {});
    return { ...auth.session, authenticatedAt: at };
  }

  /** The user's own security activity, newest first. */
  listEvents(auth: Authenticated, options: { before?: string; limit?: number }): Promise<AuthEventPage> {
    const limit = Math.min(Math.max(options.limit ?? 20, 1), EVENTS_PAGE_MAX);
    return this.deps.audit.listForUser(auth.user.id, options.before === undefined ? { limit } : { before: options.before, limit });
  }

  /**
   * A new password ends every other session and rotates the current one: whoever may have
   * stolen a cookie or the old password is out, and the person changing it stays in.
   */
  async changePassword(
    auth: Authenticated,
    input: { currentPassword: string; newPassword: string },
    client: ClientInfo,
  ): Promise<IssuedSession> {
    const { users, sessions, credentials, issuer, passwordPolicy } = this.deps;
    const account = await this.proveCurrentPassword(auth, input.currentPassword);
    const password = normalizePassword(input.newPassword);
    const verdict = passwordPolicy.check(password, { email: account.email, name: account.name });
    if (!verdict.ok) throw new LatchError('weak_password', verdict.message);

    await users.updatePasswordHash(account.id, await credentials.hash(password));
    const issued = await issuer.issue(publicUser(account), { rememberMe: auth.session.rememberMe }, client);
    const count = await sessions.deleteByUser(account.id, issued.session.id);
    await this.record('password_changed', auth, client, { sessionId: issued.session.id, count });
    await this.deps.afterPasswordChange(publicUser(account));
    return issued;
  }

  /** A new cookie for the same sign-in (after an address change takes effect). */
  async rotateSession(auth: Authenticated, user: User, client: ClientInfo): Promise<IssuedSession> {
    const issued = await this.deps.issuer.issue(user, { rememberMe: auth.session.rememberMe }, client);
    await this.deps.sessions.delete(auth.session.id);
    return issued;
  }

  async deleteAccount(auth: Authenticated, password: string, client: ClientInfo): Promise<void> {
    const { users, sessions, clock, reauthWindowMs, audit } = this.deps;
    if (clock.now() - auth.session.authenticatedAt > reauthWindowMs) {
      throw new LatchError('reauth_required', 'Confirm your password again (re-authenticate) to delete the account');
    }
    await this.proveCurrentPassword(auth, password);
    // Sessions first, so none outlives the account; again after, for a login that raced in.
    await sessions.deleteByUser(auth.user.id);
    await users.delete(auth.user.id);
    await sessions.deleteByUser(auth.user.id);
    // The account's history goes with it; one pseudonymous line records that it went.
    await audit.forgetUser(auth.user.id);
    await this.record('account_deleted', auth, client, {});
  }

  private record(
    type: AuthEventType,
    auth: Authenticated,
    client: ClientInfo,
    details: { sessionId?: string; count?: number },
  ): Promise<void> {
    const { sessionId = auth.session.id, count } = details;
    const event = { type, userId: auth.user.id, at: this.deps.clock.now(), ip: client.ip, userAgent: client.userAgent, sessionId };
    return this.deps.events.record(count === undefined ? event : { ...event, count });
  }

  private async proveCurrentPassword(auth: Authenticated, password: string): Promise<UserWithPassword> {
    const account = await this.deps.users.findById(auth.user.id);
    if (!account) throw new LatchError('unauthorized', 'Authentication required');
    if (!(await this.deps.credentials.verify(account, password))) {
      throw new LatchError('invalid_credentials', 'Password is incorrect');
    }
    return account;
  }
}
