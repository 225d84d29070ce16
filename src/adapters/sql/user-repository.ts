import type { Kysely, Selectable } from 'kysely';
import type { CreateUserResult, CredentialChangeResult, CredentialUpdate, UserRepository } from '../../domain/ports.js';
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
      return row ? withPassword(row) : null;
    });
  }

  findById(id: string): Promise<UserWithPassword | null> {
    return guarded(async () => {
      const row = await this.db.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirst();
      return row ? withPassword(row) : null;
    });
  }

  delete(userId: string): Promise<{ epoch: number } | null> {
    return guarded(() =>
      this.db.transaction().execute(async (tx) => {
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
    return guarded(async () => {
      // One UPDATE writes the new credential and bumps the epoch: nothing can observe one
      // without the other.
      let query = this.db
        .updateTable('users')
        .set((eb) => ({
          credential_epoch: eb('credential_epoch', '+', 1),
          ...(update.passwordHash === undefined ? {} : { password_hash: update.passwordHash }),
          ...(update.email === undefined ? {} : { email: update.email, email_verified: 1 }),
        }))
        .where('id', '=', userId);
      if (ifEpoch !== undefined) query = query.where('credential_epoch', '=', ifEpoch);
      let row: Selectable<UsersTable> | undefined;
      try {
        row = await query.returningAll().executeTakeFirst();
      } catch (error) {
        if (isUniqueViolation(error)) return { ok: false, reason: 'email_taken' } as const;
        throw error;
      }
      if (row) return { ok: true, user: toUser(row), epoch: Number(row.credential_epoch) } as const;
      const exists = await this.db.selectFrom('users').select('id').where('id', '=', userId).executeTakeFirst();
      return { ok: false, reason: exists ? 'stale' : 'not_found' } as const;
    });
  }

  ping(): Promise<void> {
    return guarded(async () => void (await this.db.selectFrom('users').select('id').limit(1).execute()));
  }
}

function withPassword(row: Selectable<UsersTable>): UserWithPassword {
  return { ...toUser(row), passwordHash: row.password_hash, credentialEpoch: Number(row.credential_epoch) };
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
