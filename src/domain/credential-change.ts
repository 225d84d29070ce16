/**
 * DESIGN.md, "Credentials change, everything derived from the old ones dies". One place runs
 * every credential change (password changed or reset, address changed, sign-out everywhere;
 * later: second factors, disable), so none of them can forget a derived secret:
 *
 * 1. The new credential is written and the user's credential epoch bumped in one statement.
 *    Sessions and mailed tokens carry the epoch they were issued under and are refused once it
 *    has moved on, at insert (a login that proved the old password while the change ran) and at
 *    every read: this is what holds under races and across instances.
 * 2. Mailed links (reset, verification, email change) are deleted: dead by the epoch already,
 *    gone so nothing lingers.
 * 3. The caller's own session, when there is one, is replaced by a new one (new id and secret,
 *    same sign-in): no token lives across a credential change.
 * 4. Every other session ends, and the session store learns the new epoch (Redis keeps its
 *    own copy, beside the sessions it guards).
 */
import { LatchError } from './errors.js';
import type { TokenStore } from './one-time-tokens.js';
import type { CredentialUpdate, SessionStore, UserRepository } from './ports.js';
import type { SessionRecord } from './session.js';
import type { ClientInfo, IssuedSession, RotationProofs, SessionIssuer } from './session-issuer.js';
import type { User } from './user.js';

export interface CredentialChangeDeps {
  users: UserRepository;
  sessions: SessionStore;
  tokens: Pick<TokenStore, 'revokeAll'>;
  issuer: SessionIssuer;
  /**
   * Runs `task` again, in the background, until it succeeds. A session store kept apart from
   * the database (Redis) may fail after the change committed: the sessions of the old epoch
   * must still end, as soon as the store answers again.
   */
  retry(task: () => Promise<void>): void;
}

export interface CredentialChangeOptions {
  /**
   * Only while the user's epoch is still this one (a mailed link issued under it). With
   * `current`, it defaults to that session's epoch: a change made from a session that another
   * change has ended meanwhile (a reset that landed while this one was hashing) must not win.
   */
  ifEpoch?: number;
  /** The session that made the change, to be replaced rather than ended. */
  current?: { session: SessionRecord; client: ClientInfo; proven?: RotationProofs };
}

export type CredentialChangeOutcome =
  | {
      ok: true;
      user: User;
      epoch: number;
      /** Sessions ended, not counting the caller's own (replaced) one. */
      ended: number;
      /** The caller's new session; absent when there was none, or a concurrent change ended it. */
      issued?: IssuedSession;
    }
  | { ok: false; reason: 'not_found' | 'stale' | 'email_taken' | 'last_admin' | 'unchanged' };

export class CredentialChanges {
  constructor(private readonly deps: CredentialChangeDeps) {}

  async apply(userId: string, update: CredentialUpdate, options: CredentialChangeOptions = {}): Promise<CredentialChangeOutcome> {
    const { users, tokens } = this.deps;
    const current = options.current;
    const changed = await users.changeCredentials(userId, update, options.ifEpoch ?? current?.session.epoch);
    if (!changed.ok) return changed;
    const { user, epoch } = changed;
    await tokens.revokeAll(userId);
    try {
      const { ended, issued } = await this.endDerivedSessions(user, epoch, current);
      if (update.email !== undefined) await this.deps.sessions.refreshUser(user);
      return issued ? { ok: true, user, epoch, ended, issued } : { ok: true, user, epoch, ended };
    } catch (error) {
      // The change is committed; the store did not answer. Its sessions of the old epoch
      // cannot be read while it is down, and must be gone once it is back.
      this.deps.retry(async () => {
        await this.deps.sessions.deleteByUser(user.id, { epoch });
        if (update.email !== undefined) await this.deps.sessions.refreshUser(user);
      });
      throw error;
    }
  }

  private async endDerivedSessions(
    user: User,
    epoch: number,
    current: CredentialChangeOptions['current'],
  ): Promise<{ ended: number; issued?: IssuedSession }> {
    const { sessions, issuer } = this.deps;
    let issued: IssuedSession | null = null;
    // Only a session that still exists is replaced: one ended meanwhile stays ended.
    if (current && (await sessions.delete(current.session.id))) {
      issued = await issuer.rotate(current.session, user, epoch, current.client, current.proven);
    }
    const ended = await sessions.deleteByUser(user.id, { epoch, ...(issued ? { keepSessionId: issued.session.id } : {}) });
    return issued ? { ended, issued } : { ended };
  }
}

/** A change asked from a session that another change (another tab, a reset) ended first. */
export function signedOutMeanwhile(): LatchError {
  return new LatchError('unauthorized', 'Your session was ended by another change to the account; sign in again');
}
