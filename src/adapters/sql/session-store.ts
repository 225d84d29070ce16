/**
 * Sessions in the SQL database: the embedded default and the single-node setup. `find` joins
 * the user so the authenticated request path is one query.
 */
import type { Kysely, Selectable } from 'kysely';
import type { AuthMethod } from '../../domain/assurance.js';
import type { SessionStore, SessionWithUser } from '../../domain/ports.js';
import type { SessionRecord } from '../../domain/session.js';
import type { User } from '../../domain/user.js';
import type { Database, Dialect, SessionsTable } from './schema.js';
import { guarded, isForeignKeyViolation } from './errors.js';
import { toUser } from './user-repository.js';

export class SqlSessionStore implements SessionStore {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly dialect: Dialect,
  ) {}

  insert(session: SessionRecord, _user: User, limits: { keepAtMost: number }): Promise<'inserted' | 'stale'> {
    return guarded(() =>
      this.db.transaction().execute(async (tx) => {
        // The epoch check and the insert are one transaction. On PostgreSQL the user's row is
        // share-locked, so a concurrent credential change (an UPDATE of that row) either lands
        // before (and this insert sees its epoch) or waits for this insert and ends it after.
        // SQLite runs one write transaction at a time.
        const epochOf = tx.selectFrom('users').select('credential_epoch').where('id', '=', session.userId);
        const owner = await (this.dialect === 'postgres' ? epochOf.forShare() : epochOf).executeTakeFirst();
        if (!owner || Number(owner.credential_epoch) !== session.epoch) return 'stale' as const;
        try {
          await tx.insertInto('sessions').values(toRow(session)).execute();
        } catch (error) {
          // The account was deleted between the check and the insert (SQLite only reaches here).
          if (isForeignKeyViolation(error)) return 'stale' as const;
          throw error;
        }
        // Keep the `keepAtMost` most recently used live sessions; the rest (and any expired
        // leftovers of this user) end with this login. Live pending sessions (a second step
        // still to come) neither count nor end: whoever has the password but not the second
        // factor must not be able to sign the owner out by starting sign-ins.
        await tx
          .deleteFrom('sessions')
          .where('user_id', '=', session.userId)
          .where((eb) => eb.not(eb.and([eb('pending', '=', 1), eb('expires_at', '>', session.createdAt)])))
          .where('id', 'not in', (eb) =>
            eb
              .selectFrom('sessions')
              .select('id')
              .where('user_id', '=', session.userId)
              .where('pending', '=', 0)
              .where('expires_at', '>', session.createdAt)
              .orderBy('last_seen_at', 'desc')
              .orderBy('created_at', 'desc')
              .limit(limits.keepAtMost),
          )
          .execute();
        return 'inserted' as const;
      }),
    );
  }

  /** Sessions join the users table on every read: nothing cached to refresh. */
  async refreshUser(): Promise<void> {}

  recordReauthentication(sessionId: string, at: number): Promise<void> {
    return guarded(async () => {
      await this.db.updateTable('sessions').set({ authenticated_at: at }).where('id', '=', sessionId).execute();
    });
  }

  find(sessionId: string): Promise<SessionWithUser | null> {
    return guarded(async () => {
      const row = await this.db
        .selectFrom('sessions')
        .innerJoin('users', 'users.id', 'sessions.user_id')
        .selectAll('sessions')
        .select(['users.email', 'users.name', 'users.email_verified', 'users.created_at as user_created_at', 'users.role', 'users.two_factor'])
        .where('sessions.id', '=', sessionId)
        // A session of an older credential epoch is dead, even if a late insert left its row.
        .whereRef('sessions.epoch', '=', 'users.credential_epoch')
        .executeTakeFirst();
      if (!row) return null;
      const user = toUser({ ...row, id: row.user_id, created_at: row.user_created_at });
      return { session: toSession(row), user };
    });
  }

  touch(sessionId: string, lastSeenAt: number, expiresAt: number): Promise<void> {
    return guarded(async () => {
      await this.db
        .updateTable('sessions')
        .set({ last_seen_at: lastSeenAt, expires_at: expiresAt })
        .where('id', '=', sessionId)
        .execute();
    });
  }

  delete(sessionId: string): Promise<boolean> {
    return guarded(async () => {
      const result = await this.db.deleteFrom('sessions').where('id', '=', sessionId).executeTakeFirst();
      return Number(result.numDeletedRows) > 0;
    });
  }

  listByUser(userId: string, now: number): Promise<SessionRecord[]> {
    return guarded(async () => {
      const rows = await this.db
        .selectFrom('sessions')
        .innerJoin('users', 'users.id', 'sessions.user_id')
        .selectAll('sessions')
        .where('sessions.user_id', '=', userId)
        .where('sessions.expires_at', '>', now)
        .where('sessions.pending', '=', 0) // a second step still to come is not a session to list
        .whereRef('sessions.epoch', '=', 'users.credential_epoch')
        .orderBy('sessions.last_seen_at', 'desc')
        .orderBy('sessions.created_at', 'desc')
        .execute();
      return rows.map(toSession);
    });
  }

  /** The epoch itself lives on the user's row (bumped by `UserRepository.changeCredentials`). */
  deleteByUser(userId: string, { keepSessionId }: { epoch: number; keepSessionId?: string }): Promise<number> {
    return guarded(async () => {
      let query = this.db.deleteFrom('sessions').where('user_id', '=', userId);
      if (keepSessionId !== undefined) query = query.where('id', '!=', keepSessionId);
      const result = await query.executeTakeFirst();
      return Number(result.numDeletedRows);
    });
  }

  /** Removes expired rows; Redis does this by TTL, SQL needs a sweep. */
  purgeExpired(now: number): Promise<number> {
    return guarded(async () => {
      const result = await this.db.deleteFrom('sessions').where('expires_at', '<=', now).executeTakeFirst();
      return Number(result.numDeletedRows);
    });
  }

  ping(): Promise<void> {
    return guarded(async () => void (await this.db.selectFrom('sessions').select('id').limit(1).execute()));
  }
}

function toRow(session: SessionRecord) {
  return {
    id: session.id,
    user_id: session.userId,
    secret_hash: session.secretHash,
    created_at: session.createdAt,
    last_seen_at: session.lastSeenAt,
    expires_at: session.expiresAt,
    remember_me: session.rememberMe ? 1 : 0,
    authenticated_at: session.authenticatedAt,
    ip: session.ip,
    user_agent: session.userAgent,
    epoch: session.epoch,
    methods: session.methods.join(','),
    pending: session.pending ? 1 : 0,
  };
}

function toSession(row: Selectable<SessionsTable>): SessionRecord {
  return {
    id: row.id,
    userId: row.user_id,
    secretHash: Buffer.from(row.secret_hash),
    createdAt: Number(row.created_at),
    lastSeenAt: Number(row.last_seen_at),
    expiresAt: Number(row.expires_at),
    rememberMe: Boolean(row.remember_me),
    authenticatedAt: Number(row.authenticated_at),
    ip: row.ip,
    userAgent: row.user_agent,
    epoch: Number(row.epoch),
    methods: row.methods.split(',') as AuthMethod[],
    pending: Boolean(row.pending),
  };
}
