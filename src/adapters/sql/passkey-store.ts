/**
 * Passkeys in the SQL database (both deployments keep them beside the users). A use is one
 * conditional UPDATE on the counter last seen, so two uses racing with one counter value cannot
 * both be recorded; the credential id is unique across all accounts.
 */
import type { Kysely, Selectable } from 'kysely';
import type { Passkey, PasskeyStore } from '../../domain/passkeys.js';
import type { Database, Dialect, PasskeysTable } from './schema.js';
import { whileEpoch } from './epoch-guard.js';
import { guarded, isUniqueViolation } from './errors.js';

export class SqlPasskeyStore implements PasskeyStore {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly dialect: Dialect,
  ) {}

  listByUser(userId: string): Promise<Passkey[]> {
    return guarded(async () => {
      const rows = await this.db.selectFrom('passkeys').selectAll().where('user_id', '=', userId).orderBy('created_at', 'asc').orderBy('id').execute();
      return rows.map(toPasskey);
    });
  }

  countByUser(userId: string): Promise<number> {
    return guarded(async () => {
      const row = await this.db
        .selectFrom('passkeys')
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .where('user_id', '=', userId)
        .executeTakeFirst();
      return Number(row?.n ?? 0);
    });
  }

  findByCredentialId(credentialId: string): Promise<Passkey | null> {
    return guarded(async () => {
      const row = await this.db.selectFrom('passkeys').selectAll().where('credential_id', '=', credentialId).executeTakeFirst();
      return row ? toPasskey(row) : null;
    });
  }

  add(p: Passkey, ifEpoch: number): Promise<'added' | 'duplicate' | 'stale'> {
    return guarded(() => whileEpoch(this.db, this.dialect, { userId: p.userId, epoch: ifEpoch }, (tx) => this.insert(tx, p)));
  }

  private async insert(db: Kysely<Database>, p: Passkey): Promise<'added' | 'duplicate'> {
    {
      try {
        await db
          .insertInto('passkeys')
          .values({
            id: p.id,
            user_id: p.userId,
            credential_id: p.credentialId,
            public_key: p.publicKey,
            counter: p.counter,
            transports: p.transports.join(','),
            backup_eligible: p.backupEligible ? 1 : 0,
            backed_up: p.backedUp ? 1 : 0,
            name: p.name,
            created_at: p.createdAt,
            last_used_at: p.lastUsedAt,
          })
          .execute();
        return 'added';
      } catch (error) {
        if (isUniqueViolation(error)) return 'duplicate';
        throw error;
      }
    }
  }

  rename(userId: string, id: string, name: string): Promise<Passkey | null> {
    return guarded(async () => {
      const row = await this.db.updateTable('passkeys').set({ name }).where('user_id', '=', userId).where('id', '=', id).returningAll().executeTakeFirst();
      return row ? toPasskey(row) : null;
    });
  }

  remove(userId: string, id: string, ifEpoch?: number): Promise<'removed' | 'none' | 'stale'> {
    return guarded(async () => {
      const remove = async (db: Kysely<Database>) => {
        const result = await db.deleteFrom('passkeys').where('user_id', '=', userId).where('id', '=', id).executeTakeFirst();
        return Number(result.numDeletedRows) > 0 ? ('removed' as const) : ('none' as const);
      };
      return ifEpoch === undefined ? remove(this.db) : whileEpoch(this.db, this.dialect, { userId, epoch: ifEpoch }, remove);
    });
  }

  removeAll(userId: string): Promise<void> {
    return guarded(async () => {
      await this.db.deleteFrom('passkeys').where('user_id', '=', userId).execute();
    });
  }

  recordUse(id: string, seenCounter: number, use: { counter: number; backedUp: boolean; at: number }): Promise<boolean> {
    return guarded(async () => {
      const result = await this.db
        .updateTable('passkeys')
        .set({ counter: use.counter, backed_up: use.backedUp ? 1 : 0, last_used_at: use.at })
        .where('id', '=', id)
        .where('counter', '=', seenCounter)
        .executeTakeFirst();
      return Number(result.numUpdatedRows) > 0;
    });
  }

  userHandleOf(userId: string, fresh: () => string): Promise<string> {
    return guarded(async () => {
      const existing = await this.handleOf(userId);
      if (existing) return existing;
      // Two first registrations at once: the primary key lets one handle be made; both use it.
      await this.db.insertInto('passkey_user_handles').values({ user_id: userId, handle: fresh() }).onConflict((oc) => oc.column('user_id').doNothing()).execute();
      return (await this.handleOf(userId))!;
    });
  }

  userIdByHandle(handle: string): Promise<string | null> {
    return guarded(async () => {
      const row = await this.db.selectFrom('passkey_user_handles').select('user_id').where('handle', '=', handle).executeTakeFirst();
      return row?.user_id ?? null;
    });
  }

  private async handleOf(userId: string): Promise<string | undefined> {
    const row = await this.db.selectFrom('passkey_user_handles').select('handle').where('user_id', '=', userId).executeTakeFirst();
    return row?.handle;
  }
}

function toPasskey(row: Selectable<PasskeysTable>): Passkey {
  return {
    id: row.id,
    userId: row.user_id,
    credentialId: row.credential_id,
    publicKey: Buffer.from(row.public_key),
    counter: Number(row.counter),
    transports: row.transports === '' ? [] : row.transports.split(','),
    backupEligible: Boolean(row.backup_eligible),
    backedUp: Boolean(row.backed_up),
    name: row.name,
    createdAt: Number(row.created_at),
    lastUsedAt: row.last_used_at === null ? null : Number(row.last_used_at),
  };
}
