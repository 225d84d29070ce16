import type { Kysely, Selectable } from 'kysely';
import type { CreateUserResult, UserRepository } from '../../domain/ports.js';
import type { User, UserWithPassword } from '../../domain/user.js';
import type { Database, UsersTable } from './schema.js';
import { guarded, isUniqueViolation } from './errors.js';

export class SqlUserRepository implements UserRepository {
  constructor(private readonly db: Kysely<Database>) {}

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
      const { passwordHash: _, ...publicFields } = user;
      return { ok: true, user: publicFields } as const;
    });
  }

  findByEmail(email: string): Promise<UserWithPassword | null> {
    return guarded(async () => {
      const row = await this.db.selectFrom('users').selectAll().where('email', '=', email).executeTakeFirst();
      return row ? { ...toUser(row), passwordHash: row.password_hash } : null;
    });
  }

  findById(id: string): Promise<UserWithPassword | null> {
    return guarded(async () => {
      const row = await this.db.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirst();
      return row ? { ...toUser(row), passwordHash: row.password_hash } : null;
    });
  }

  delete(userId: string): Promise<boolean> {
    return guarded(async () => {
      // Sessions (and later tokens and events) go with it by ON DELETE CASCADE.
      const result = await this.db.deleteFrom('users').where('id', '=', userId).executeTakeFirst();
      return Number(result.numDeletedRows) > 0;
    });
  }

  updatePasswordHash(userId: string, passwordHash: string): Promise<void> {
    return guarded(async () => {
      await this.db.updateTable('users').set({ password_hash: passwordHash }).where('id', '=', userId).execute();
    });
  }

  markEmailVerified(userId: string, email: string): Promise<User | null> {
    return guarded(async () => {
      await this.db.updateTable('users').set({ email_verified: 1 }).where('id', '=', userId).where('email', '=', email).execute();
      const row = await this.db.selectFrom('users').selectAll().where('id', '=', userId).where('email', '=', email).executeTakeFirst();
      return row ? toUser(row) : null;
    });
  }

  changeEmail(userId: string, newEmail: string): Promise<CreateUserResult | { ok: false; reason: 'not_found' }> {
    return guarded(async () => {
      try {
        const result = await this.db.updateTable('users').set({ email: newEmail, email_verified: 1 }).where('id', '=', userId).executeTakeFirst();
        if (Number(result.numUpdatedRows) === 0) return { ok: false, reason: 'not_found' } as const;
      } catch (error) {
        if (isUniqueViolation(error)) return { ok: false, reason: 'email_taken' } as const;
        throw error;
      }
      const row = await this.db.selectFrom('users').selectAll().where('id', '=', userId).executeTakeFirstOrThrow();
      return { ok: true, user: toUser(row) } as const;
    });
  }

  ping(): Promise<void> {
    return guarded(async () => void (await this.db.selectFrom('users').select('id').limit(1).execute()));
  }
}

export function toUser(row: Pick<Selectable<UsersTable>, 'id' | 'email' | 'name' | 'email_verified' | 'created_at'>): User {
  return {
    id: row.id,
    email: row.email,
    name: row.name,
    emailVerified: Boolean(row.email_verified),
    createdAt: Number(row.created_at),
  };
}
