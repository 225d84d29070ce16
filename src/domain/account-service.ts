/**
 * What a signed-in user does with their account and sessions: see and end sessions, prove
 * the password again, change it, delete the account (API.md, "Endpoints").
 */
import type { Actor, AuditLog, AuthEventPage, AuthEventSink, AuthEventType } from './auth-events.js';
import type { Authenticated } from './auth-service.js';
import type { Credentials } from './credentials.js';
import { signedOutMeanwhile, type CredentialChanges } from './credential-change.js';
import { LatchError } from './errors.js';
import type { PasswordProofs } from './password-proof.js';
import { normalizePassword, type PasswordPolicy } from './password-policy.js';
import type { Clock, SessionStore, UserRepository } from './ports.js';
import type { SessionRecord } from './session.js';
import type { ClientInfo, IssuedSession } from './session-issuer.js';
import type { User } from './user.js';

export interface AccountServiceDeps {
  users: UserRepository;
  sessions: SessionStore;
  credentials: Credentials;
  changes: CredentialChanges;
  proofs: PasswordProofs;
  passwordPolicy: PasswordPolicy;
  clock: Clock;
  /** Reads and forgets history. */
  audit: AuditLog;
  /** Records events (the audit log, as observed by metrics). */
  events: AuthEventSink;
  /** Tells the owner their password changed (by mail). */
  notifyPasswordChanged(user: User): Promise<void>;
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

  /**
   * "Sign out everywhere else" is the owner's answer to a suspected theft, so it ends
   * everything derived from the current state, like a credential change: other sessions,
   * logins still in flight, mailed links. The caller's session gets a new id and secret.
   */
  async revokeOtherSessions(auth: Authenticated, client: ClientInfo): Promise<{ count: number; issued: IssuedSession }> {
    const changed = await this.deps.changes.apply(auth.user.id, {}, { current: { session: auth.session, client } });
    const issued = changed.ok ? changed.issued : undefined;
    if (!changed.ok || !issued) throw signedOutMeanwhile();
    await this.record('sessions_revoked', auth, client, { sessionId: issued.session.id, count: changed.ended });
    return { count: changed.ended, issued };
  }

  async reauthenticate(auth: Authenticated, password: string, client: ClientInfo): Promise<SessionRecord> {
    await this.deps.proofs.prove(auth, password, client);
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
   * A new password is a credential change: every other session, mailed link and login in
   * flight ends, and the current session is replaced: whoever may have stolen a cookie or the
   * old password is out, and the person changing it stays in.
   */
  async changePassword(
    auth: Authenticated,
    input: { currentPassword: string; newPassword: string },
    client: ClientInfo,
  ): Promise<IssuedSession> {
    const { credentials, passwordPolicy, proofs, changes, clock } = this.deps;
    const account = await proofs.prove(auth, input.currentPassword, client);
    const password = normalizePassword(input.newPassword);
    const verdict = passwordPolicy.check(password, { email: account.email, name: account.name });
    if (!verdict.ok) throw new LatchError('weak_password', verdict.message);

    const passwordHash = await credentials.hash(password);
    const changed = await changes.apply(account.id, { passwordHash }, { current: { session: auth.session, client, proven: { at: clock.now() } } });
    if (!changed.ok) throw signedOutMeanwhile();
    await this.record('password_changed', auth, client, { ...(changed.issued ? { sessionId: changed.issued.session.id } : {}), count: changed.ended });
    await this.deps.notifyPasswordChanged(changed.user);
    if (!changed.issued) throw signedOutMeanwhile();
    return changed.issued;
  }

  async deleteAccount(auth: Authenticated, password: string, client: ClientInfo): Promise<void> {
    const { users, sessions, proofs, audit } = this.deps;
    await proofs.requireRecent(auth, 'delete the account');
    await proofs.prove(auth, password, client);
    await this.remove(auth.user.id, client, { sessionId: auth.session.id });
  }

  /**
   * Removes an account (its owner's request, an administrator's or the command line's): false
   * when there was none. The row goes with a last epoch bump, in one transaction; the session
   * store then learns that epoch, so a login still in flight cannot land a session for the
   * account (on Redis, which has no foreign key to stop it) after it is gone.
   */
  async remove(userId: string, client: ClientInfo, by: { sessionId?: string; actor?: Actor }): Promise<boolean> {
    const { users, sessions, audit, events, clock } = this.deps;
    // An administrator (or the command line) never deletes the last admin who can sign in.
    const gone = await users.delete(userId, { keepAnAdmin: by.actor !== undefined });
    if (gone === 'last_admin') throw lastAdmin();
    if (!gone) return false;
    await sessions.deleteByUser(userId, { epoch: gone.epoch });
    // The account's history goes with it; one pseudonymous line records that it went.
    await audit.forgetUser(userId);
    await events.record({ type: 'account_deleted', userId, at: clock.now(), ip: client.ip, userAgent: client.userAgent, ...by });
    return true;
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
}

export function lastAdmin(): LatchError {
  return new LatchError('last_admin', 'This is the last administrator who can sign in; make another one first');
}
