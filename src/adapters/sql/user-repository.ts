import { sql, type Kysely, type Selectable } from 'kysely';
import type { CreateUserResult, CredentialChangeResult, CredentialUpdate, UserRepository } from '../../domain/ports.js';
import type { Disabled, User, UserWithPassword } from '../../domain/user.js';
import type { Database, Dialect, UsersTable } from './schema.js';
import { guarded, isUniqueViolation } from './errors.js';

/** The advisory lock key of the last-admin rule (any constant of Latch's own). */
const ADMIN_RULE_LOCK = 0x1a7c4_ad;

export class SqlUserRepository implements UserRepository {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly dialect: Dialect,
  ) {}

  create(user: UserWithPassword): Promise<CreateUserResult> {
    return guarded(async () => {
      try {
        await this.db
          .insertInto('users')
          .values({
            id: user.id,
            email: user.email,
            name: user.name,
            password_hash: user.passwordHash,
            email_verified: user.emailVerified ? 1 : 0,
            created_at: user.createdAt,
          })
          .execute();
      } catch (error) {
        // The unique index decides races between concurrent sign-ups for one address.
        if (isUniqueViolation(error)) return { ok: false, reason: 'email_taken' } as const;
        throw error;
      }
      const { passwordHash: _, credentialEpoch: __, disabled: ___, ...publicFields } = user;
      return { ok: true, user: publicFields } as const;
    });
  }

  findByEmail(email: string): Promise<UserWithPassword | null> {
    return guarded(async () => {
      const row = await this.db.selectFrom('users').selectAll().where('email', '=', email).executeTakeFirst();
      return row ? withPassword(row) : null;
    });
  }

  findById(id: string): Promise<UserWithPassword | null> {
    return guarded(async () => {
      const row = await this.db.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirst();
      return row ? withPassword(row) : null;
    });
  }

  delete(userId: string, options: { keepAnAdmin?: boolean } = {}): Promise<{ epoch: number } | null | 'last_admin'> {
    return guarded(() =>
      this.db.transaction().execute(async (tx) => {
        if (options.keepAnAdmin && (await this.isLastAdmin(tx, userId))) return 'last_admin' as const;
        const bumped = await tx
          .updateTable('users')
          .set((eb) => ({ credential_epoch: eb('credential_epoch', '+', 1) }))
          .where('id', '=', userId)
          .returning('credential_epoch')
          .executeTakeFirst();
        if (!bumped) return null;
        // Sessions and tokens go with it by ON DELETE CASCADE.
        await tx.deleteFrom('users').where('id', '=', userId).execute();
        return { epoch: Number(bumped.credential_epoch) };
      }),
    );
  }

  updatePasswordHash(userId: string, passwordHash: string, replacing: string): Promise<void> {
    return guarded(async () => {
      await this.db
        .updateTable('users')
        .set({ password_hash: passwordHash })
        .where('id', '=', userId)
        .where('password_hash', '=', replacing)
        .execute();
    });
  }

  markEmailVerified(userId: string, email: string): Promise<User | null> {
    return guarded(async () => {
      await this.db.updateTable('users').set({ email_verified: 1 }).where('id', '=', userId).where('email', '=', email).execute();
      const row = await this.db.selectFrom('users').selectAll().where('id', '=', userId).where('email', '=', email).executeTakeFirst();
      return row ? toUser(row) : null;
    });
  }

  changeCredentials(userId: string, update: CredentialUpdate, ifEpoch?: number): Promise<CredentialChangeResult> {
    // Demoting or disabling an admin must leave one who can sign in.
    if (update.role === 'user' || (update.disabled !== undefined && update.disabled !== null)) {
      return guarded(() =>
        this.db.transaction().execute(async (tx) =>
          (await this.isLastAdmin(tx, userId)) ? { ok: false, reason: 'last_admin' } : this.change(tx, userId, update, ifEpoch),
        ),
      );
    }
    return guarded(() => this.change(this.db, userId, update, ifEpoch));
  }

  /**
   * Whether `userId` is an admin and no other admin who can sign in remains. PostgreSQL: every
   * such check takes one transaction-scoped advisory lock first, so two demotions, disables or
   * deletions racing (each of the other) run one after the other and the second sees the first
   * committed (row locks taken by many racing transactions deadlocked). SQLite: writers are
   * serialized by the database itself.
   */
  private async isLastAdmin(tx: Kysely<Database>, userId: string): Promise<boolean> {
    if (this.dialect === 'postgres') await sql`select pg_advisory_xact_lock(${ADMIN_RULE_LOCK})`.execute(tx);
    const rows = await tx.selectFrom('users').select(['id', 'disabled_at']).where('role', '=', 'admin').execute();
    return rows.some((r) => r.id === userId) && !rows.some((r) => r.id !== userId && r.disabled_at === null);
  }

  private async change(db: Kysely<Database>, userId: string, update: CredentialUpdate, ifEpoch?: number): Promise<CredentialChangeResult> {
    // One UPDATE writes the new credential and bumps the epoch: nothing can observe one
    // without the other.
    let query = db
      .updateTable('users')
      .set((eb) => ({
        credential_epoch: eb('credential_epoch', '+', 1),
        ...(update.passwordHash === undefined ? {} : { password_hash: update.passwordHash }),
        ...(update.email === undefined ? {} : { email: update.email, email_verified: 1 }),
        ...(update.twoFactor === undefined ? {} : { two_factor: update.twoFactor ? 1 : 0 }),
        ...(update.role === undefined ? {} : { role: update.role }),
        ...(update.disabled === undefined ? {} : disabledColumns(update.disabled)),
      }))
      .where('id', '=', userId);
    if (ifEpoch !== undefined) query = query.where('credential_epoch', '=', ifEpoch);
    if (update.twoFactor !== undefined) query = query.where('two_factor', '=', update.twoFactor ? 0 : 1);
    let row: Selectable<UsersTable> | undefined;
    try {
      row = await query.returningAll().executeTakeFirst();
    } catch (error) {
      if (isUniqueViolation(error)) return { ok: false, reason: 'email_taken' } as const;
      throw error;
    }
    if (row) return { ok: true, user: toUser(row), epoch: Number(row.credential_epoch) } as const;
    const exists = await db.selectFrom('users').select(['id', 'two_factor']).where('id', '=', userId).executeTakeFirst();
    if (!exists) return { ok: false, reason: 'not_found' } as const;
    const unchanged = update.twoFactor !== undefined && Boolean(exists.two_factor) === update.twoFactor;
    return { ok: false, reason: unchanged ? 'unchanged' : 'stale' } as const;
  }

  /** Lets a disabled account sign in again (its old sessions stay ended: no epoch change). */
  enable(userId: string): Promise<User | null> {
    return guarded(async () => {
      const row = await this.db
        .updateTable('users')
        .set({ disabled_at: null, disabled_reason: null, disabled_by: null })
        .where('id', '=', userId)
        .returningAll()
        .executeTakeFirst();
      return row ? toUser(row) : null;
    });
  }

  ping(): Promise<void> {
    return guarded(async () => void (await this.db.selectFrom('users').select('id').limit(1).execute()));
  }
}

function withPassword(row: Selectable<UsersTable>): UserWithPassword {
  return { ...toUser(row), passwordHash: row.password_hash, credentialEpoch: Number(row.credential_epoch), disabled: disabledOf(row) };
}

export function disabledOf(row: Pick<Selectable<UsersTable>, 'disabled_at' | 'disabled_reason' | 'disabled_by'>): Disabled | null {
  return row.disabled_at === null ? null : { at: Number(row.disabled_at), reason: row.disabled_reason, by: row.disabled_by ?? 'cli' };
}

function disabledColumns(disabled: Disabled | null) {
  return { disabled_at: disabled?.at ?? null, disabled_reason: disabled?.reason ?? null, disabled_by: disabled?.by ?? null };
}

export type UserColumns = 'id' | 'email' | 'name' | 'email_verified' | 'created_at' | 'role' | 'two_factor';

export function toUser(row: Pick<Selectable<UsersTable>, UserColumns>): User {
  return {
    id: row.id,
    email: row.email,
    name: row.name,
    emailVerified: Boolean(row.email_verified),
    createdAt: Number(row.created_at),
    role: row.role === 'admin' ? 'admin' : 'user',
    twoFactor: Boolean(row.two_factor),
  };
}
