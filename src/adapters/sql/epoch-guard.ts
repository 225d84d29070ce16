/**
 * Writes that a session asks for, made only while the user's credential epoch is still the
 * session's: a second factor added or removed by a session that a password change, a reset or
 * a sign-out everywhere ended meanwhile changes nothing (THREATS.md, item 3). On PostgreSQL the
 * user row is share-locked for the write's transaction, so a credential change either lands
 * before (and the write sees its epoch) or waits for the write; SQLite runs one write
 * transaction at a time.
 */
import type { Kysely, Transaction } from 'kysely';
import type { Database, Dialect } from './schema.js';

export async function whileEpoch<T>(
  db: Kysely<Database>,
  dialect: Dialect,
  guard: { userId: string; epoch: number },
  write: (tx: Transaction<Database>) => Promise<T>,
): Promise<T | 'stale'> {
  return db.transaction().execute(async (tx) => {
    const epochOf = tx.selectFrom('users').select('credential_epoch').where('id', '=', guard.userId);
    const owner = await (dialect === 'postgres' ? epochOf.forShare() : epochOf).executeTakeFirst();
    if (!owner || Number(owner.credential_epoch) !== guard.epoch) return 'stale' as const;
    return write(tx);
  });
}
