/**
 * Administration (API.md, "Administration"; DESIGN.md, "Administration"): what an operator does
 * to someone else's account, from the admin API or the command line. Every action goes through
 * the same domain rules as the owner's own (CredentialChanges ends what a change must end,
 * RecoveryService mails the reset link, AccountService removes the account), and lands on the
 * target's trail with the actor, where the owner sees it.
 *
 * - `self_target` is checked first: an admin cannot disable, demote or delete their own account
 *   through the API (the command line has no self).
 * - Disabling, a role change and a second-factor reset are credential changes: every session,
 *   mailed link and login in flight of the target ends at once, on every instance.
 * - The last admin who can sign in is never demoted, also under two racing demotions
 *   (UserRepository.changeCredentials).
 */
import { lastAdmin, type AccountService } from './account-service.js';
import type { Actor, AuditLog, AuthEventPage, AuthEventSink, AuthEventType } from './auth-events.js';
import type { CredentialChanges } from './credential-change.js';
import type { Devices } from './devices.js';
import { LatchError } from './errors.js';
import { greetingName, type MailComposer, type Mailer } from './mails.js';
import type { PasskeyStore } from './passkeys.js';
import type { Clock, SessionStore, UserRepository } from './ports.js';
import type { RecoveryService } from './recovery-service.js';
import type { SecondFactorStore } from './second-factors.js';
import type { SessionRecord } from './session.js';
import type { ClientInfo } from './session-issuer.js';
import type { Disabled, Role, User } from './user.js';

/** An account as administrators see it. */
export interface AdminUser extends User {
  disabled: Disabled | null;
  lastLoginAt: number | null;
  sessionCount: number;
}

export type DirectoryEntry = Omit<AdminUser, 'sessionCount'>;

/** The questions administrators ask of the accounts (SQL adapter: adapters/sql/admin-directory.ts). */
export interface AdminDirectory {
  /** Accounts whose email or name contains `query` (case-insensitive), newest first. */
  search(filter: { query?: string; cursor?: string; limit: number }): Promise<{ users: DirectoryEntry[]; next?: string }>;
  find(userId: string): Promise<DirectoryEntry | null>;
  findByEmail(email: string): Promise<DirectoryEntry | null>;
}

export interface AdminServiceDeps {
  directory: AdminDirectory;
  users: UserRepository;
  sessions: SessionStore;
  changes: CredentialChanges;
  recovery: Pick<RecoveryService, 'sendResetLink'>;
  accounts: Pick<AccountService, 'remove'>;
  factors: SecondFactorStore;
  passkeys: Pick<PasskeyStore, 'removeAll'>;
  devices: Pick<Devices, 'untrustAll'>;
  audit: AuditLog;
  /** Where events are recorded (the audit log, observed by the metrics). */
  events: AuthEventSink;
  mailer: Mailer;
  mails: MailComposer;
  clock: Clock;
}

/** Who acts, and from where (the command line: the machine it runs on). */
export interface Acting {
  actor: Actor;
  client: ClientInfo;
}

/** How many of a user's newest events the user page shows. */
const USER_PAGE_EVENTS = 20;

export class AdminService {
  constructor(private readonly deps: AdminServiceDeps) {}

  async list(filter: { query?: string; cursor?: string; limit: number }): Promise<{ users: AdminUser[]; next?: string }> {
    const page = await this.deps.directory.search(filter);
    const users = await Promise.all(page.users.map((u) => this.withSessionCount(u)));
    return page.next === undefined ? { users } : { users, next: page.next };
  }

  async show(userId: string): Promise<{ user: AdminUser; sessions: SessionRecord[]; events: AuthEventPage['events'] }> {
    const entry = await this.entry(userId);
    const [sessions, events] = await Promise.all([
      this.deps.sessions.listByUser(userId, this.deps.clock.now()),
      this.deps.audit.list({ userId, limit: USER_PAGE_EVENTS }),
    ]);
    return { user: { ...entry, sessionCount: sessions.length }, sessions, events: events.events };
  }

  /** The account whose address this is, for the command line. */
  async byEmail(email: string): Promise<AdminUser> {
    const entry = await this.deps.directory.findByEmail(email.trim().toLowerCase());
    if (!entry) throw notFound();
    return this.withSessionCount(entry);
  }

  /** Disables the account: a credential change, so every session and link ends at once. */
  async disable(userId: string, reason: string | undefined, acting: Acting): Promise<AdminUser> {
    notSelf(userId, acting, 'disable');
    const disabled: Disabled = { at: this.deps.clock.now(), reason: reason ?? null, by: actorName(acting.actor) };
    const changed = await this.deps.changes.apply(userId, { disabled });
    if (!changed.ok && changed.reason === 'last_admin') throw lastAdmin();
    if (!changed.ok) throw notFound();
    await this.record('account_disabled', userId, acting, { count: changed.ended });
    return this.fresh(userId);
  }

  /** Lets the account sign in again (its old sessions stay ended). */
  async enable(userId: string, acting: Acting): Promise<AdminUser> {
    const entry = await this.entry(userId);
    if (entry.disabled === null) return this.withSessionCount(entry); // nothing to do, nothing recorded
    if (!(await this.deps.users.enable(userId))) throw notFound();
    await this.record('account_enabled', userId, acting);
    return this.fresh(userId);
  }

  /** Ends every session, mailed link and login in flight of the account. */
  async revokeSessions(userId: string, acting: Acting): Promise<number> {
    const changed = await this.deps.changes.apply(userId, {});
    if (!changed.ok) throw notFound();
    await this.record('sessions_revoked', userId, acting, { count: changed.ended });
    return changed.ended;
  }

  async sendPasswordReset(userId: string, acting: Acting): Promise<void> {
    // A disabled account's reset is refused like its sign-in: a link would be of no use.
    if ((await this.entry(userId)).disabled) throw new LatchError('account_disabled', 'This account is disabled; enable it first, then send the link');
    if (!(await this.deps.recovery.sendResetLink(userId, acting.actor, acting.client))) throw notFound();
  }

  /**
   * Removes every second factor (app, passkeys, recovery codes) and remembered browser: the
   * owner lost them all. Two-step goes off, a credential change; the owner is told by mail.
   */
  async resetSecondFactors(userId: string, acting: Acting): Promise<void> {
    const { changes, factors, passkeys, devices, mailer, mails } = this.deps;
    if (!(await this.deps.directory.find(userId))) throw notFound();
    // The factors go first, then the flag flips with the epoch bump: a sign-in that found a
    // passkey before it went holds a session of the old epoch, which the bump ends.
    await Promise.all([factors.removeTotp(userId), passkeys.removeAll(userId), factors.removeRecoveryCodes(userId), devices.untrustAll(userId)]);
    let changed = await changes.apply(userId, { twoFactor: false });
    if (!changed.ok && changed.reason === 'unchanged') changed = await changes.apply(userId, {}); // it had none: still end everything
    if (!changed.ok) throw notFound();
    await this.record('mfa_reset', userId, acting, { count: changed.ended });
    await mailer.send(mails.secondFactorsResetNotice(changed.user.email, greetingName(changed.user)));
  }

  /** A new role; the account's sessions end (it signs in again with the new role). */
  async setRole(userId: string, role: Role, acting: Acting): Promise<AdminUser> {
    notSelf(userId, acting, 'change the role of');
    const entry = await this.entry(userId);
    if (entry.role === role) return this.withSessionCount(entry); // already so: nothing ends
    const changed = await this.deps.changes.apply(userId, { role });
    if (!changed.ok && changed.reason === 'last_admin') throw lastAdmin();
    if (!changed.ok) throw notFound();
    await this.record('role_changed', userId, acting, { count: changed.ended });
    return this.fresh(userId);
  }

  async remove(userId: string, acting: Acting): Promise<void> {
    notSelf(userId, acting, 'delete');
    if (!(await this.deps.accounts.remove(userId, acting.client, { actor: acting.actor }))) throw notFound();
  }

  events(filter: { userId?: string; type?: AuthEventType; before?: string; limit: number }): Promise<AuthEventPage> {
    return this.deps.audit.list(filter);
  }

  private async fresh(userId: string): Promise<AdminUser> {
    return this.withSessionCount(await this.entry(userId));
  }

  private async entry(userId: string): Promise<DirectoryEntry> {
    const entry = await this.deps.directory.find(userId);
    if (!entry) throw notFound();
    return entry;
  }

  private async withSessionCount(entry: DirectoryEntry): Promise<AdminUser> {
    const sessions = await this.deps.sessions.listByUser(entry.id, this.deps.clock.now());
    return { ...entry, sessionCount: sessions.length };
  }

  private record(type: AuthEventType, userId: string, acting: Acting, details: { count?: number } = {}): Promise<void> {
    const { client, actor } = acting;
    return this.deps.events.record({ type, userId, at: this.deps.clock.now(), ip: client.ip, userAgent: client.userAgent, actor, ...details });
  }
}

/** Checked before anything else: an admin's own account is not the API's to change. */
function notSelf(userId: string, acting: Acting, verb: string): void {
  if (acting.actor.role === 'admin' && acting.actor.id === userId) {
    throw new LatchError('self_target', `You cannot ${verb} your own account here`);
  }
}

function actorName(actor: Actor): string {
  return actor.role === 'admin' ? actor.id : 'cli';
}

function notFound(): LatchError {
  return new LatchError('not_found', 'No such user');
}
