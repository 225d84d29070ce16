/**
 * The accounts as administrators look them up: search by email or name, newest first, with a
 * keyset cursor (created_at, id) that stays right while accounts are added; the last sign-in
 * comes from the audit trail.
 */
import { sql, type Kysely } from 'kysely';
import type { AdminDirectory, DirectoryEntry } from '../../domain/admin-service.js';
import type { Database, Dialect } from './schema.js';
import { foldForSearch } from './database.js';
import { guarded } from './errors.js';
import { disabledOf, toUser } from './user-repository.js';

/** What counts as a sign-in for "last login". */
const SIGN_IN_EVENTS = ['login_succeeded', 'passkey_login', 'mfa_succeeded'];

export class SqlAdminDirectory implements AdminDirectory {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly dialect: Dialect,
  ) {}

  search(filter: { query?: string; cursor?: string; limit: number }): Promise<{ users: DirectoryEntry[]; next?: string }> {
    return guarded(async () => {
      let query = this.select().orderBy('users.created_at', 'desc').orderBy('users.id', 'desc').limit(filter.limit + 1);
      if (filter.query) {
        // Case-insensitive on both databases (PostgreSQL's lower() folds by its UTF-8 locale,
        // SQLite's only ASCII: there latch_fold, database.ts); LIKE's wildcards are literal.
        const pattern = `%${foldForSearch(filter.query).replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
        const fold = this.dialect === 'sqlite' ? 'latch_fold' : 'lower';
        query = query.where((eb) =>
          eb.or([
            eb(sql`${sql.raw(fold)}(users.email)`, 'like', sql`${pattern} escape '\\'`),
            eb(sql`${sql.raw(fold)}(users.name)`, 'like', sql`${pattern} escape '\\'`),
          ]),
        );
      }
      const cursor = filter.cursor === undefined ? null : decodeCursor(filter.cursor);
      if (cursor) {
        query = query.where((eb) =>
          eb.or([eb('users.created_at', '<', cursor.createdAt), eb.and([eb('users.created_at', '=', cursor.createdAt), eb('users.id', '<', cursor.id)])]),
        );
      }
      const rows = await query.execute();
      const users = rows.slice(0, filter.limit).map(toEntry);
      const last = users.at(-1);
      return rows.length > filter.limit && last ? { users, next: encodeCursor(last) } : { users };
    });
  }

  find(userId: string): Promise<DirectoryEntry | null> {
    return guarded(async () => {
      const row = await this.select().where('users.id', '=', userId).executeTakeFirst();
      return row ? toEntry(row) : null;
    });
  }

  findByEmail(email: string): Promise<DirectoryEntry | null> {
    return guarded(async () => {
      const row = await this.select().where('users.email', '=', email).executeTakeFirst();
      return row ? toEntry(row) : null;
    });
  }

  private select() {
    return this.db
      .selectFrom('users')
      .select(['id', 'email', 'name', 'email_verified', 'created_at', 'role', 'two_factor', 'disabled_at', 'disabled_reason', 'disabled_by'])
      .select((eb) =>
        eb
          .selectFrom('auth_events')
          .select((e) => e.fn.max('auth_events.at').as('at'))
          .whereRef('auth_events.user_id', '=', 'users.id')
          .where('auth_events.type', 'in', SIGN_IN_EVENTS)
          .as('last_login_at'),
      );
  }
}

type Row = Awaited<ReturnType<ReturnType<SqlAdminDirectory['select']>['executeTakeFirstOrThrow']>>;

function toEntry(row: Row): DirectoryEntry {
  return {
    ...toUser(row),
    disabled: disabledOf(row),
    lastLoginAt: row.last_login_at === null || row.last_login_at === undefined ? null : Number(row.last_login_at),
  };
}

/** Opaque to clients: base64url of "createdAt:id". */
function encodeCursor(entry: DirectoryEntry): string {
  return Buffer.from(`${entry.createdAt}:${entry.id}`).toString('base64url');
}

function decodeCursor(cursor: string): { createdAt: number; id: string } | null {
  const match = /^(\d{1,16}):([0-9a-f-]{36})$/.exec(Buffer.from(cursor, 'base64url').toString());
  return match ? { createdAt: Number(match[1]), id: match[2]! } : null;
}

