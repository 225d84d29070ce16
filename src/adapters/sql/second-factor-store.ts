/**
 * Second factors in the SQL database (both deployments keep them here, beside the users).
 * Every claim is one conditional statement, so of parallel uses of a code exactly one wins:
 * a time step is claimed by `UPDATE … WHERE last_step < step`, a recovery code by
 * `DELETE … RETURNING`.
 */
import type { Kysely } from 'kysely';
import type { SecondFactorStore, TotpFactor } from '../../domain/second-factors.js';
import type { Database, Dialect } from './schema.js';
import { whileEpoch } from './epoch-guard.js';
import { guarded } from './errors.js';

export class SqlSecondFactorStore implements SecondFactorStore {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly dialect: Dialect,
  ) {}

  totpOf(userId: string): Promise<TotpFactor | null> {
    return guarded(async () => {
      const row = await this.db.selectFrom('totp_factors').select(['sealed_secret', 'confirmed']).where('user_id', '=', userId).executeTakeFirst();
      return row ? { sealedSecret: row.sealed_secret, confirmed: Boolean(row.confirmed) } : null;
    });
  }

  startTotpSetup(userId: string, sealedSecret: string, at: number): Promise<boolean> {
    return guarded(async () => {
      // Insert, or replace an unconfirmed secret; a confirmed one is left alone (no row changes).
      const result = await this.db
        .insertInto('totp_factors')
        .values({ user_id: userId, sealed_secret: sealedSecret, confirmed: 0, last_step: -1, created_at: at })
        .onConflict((oc) =>
          oc
            .column('user_id')
            .doUpdateSet({ sealed_secret: sealedSecret, created_at: at, last_step: -1 })
            .where('totp_factors.confirmed', '=', 0),
        )
        .executeTakeFirst();
      return Number(result.numInsertedOrUpdatedRows ?? 0n) > 0;
    });
  }

  confirmTotp(userId: string, step: number, sealedSecret: string, ifEpoch: number): Promise<'confirmed' | 'no_match' | 'stale'> {
    return guarded(() =>
      whileEpoch(this.db, this.dialect, { userId, epoch: ifEpoch }, async (tx) => {
        const result = await tx
          .updateTable('totp_factors')
          .set({ confirmed: 1, last_step: step })
          .where('user_id', '=', userId)
          .where('confirmed', '=', 0)
          .where('sealed_secret', '=', sealedSecret)
          .executeTakeFirst();
        return Number(result.numUpdatedRows) > 0 ? ('confirmed' as const) : ('no_match' as const);
      }),
    );
  }

  claimTotpStep(userId: string, step: number): Promise<boolean> {
    return guarded(async () => {
      const result = await this.db
        .updateTable('totp_factors')
        .set({ last_step: step })
        .where('user_id', '=', userId)
        .where('confirmed', '=', 1)
        .where('last_step', '<', step)
        .executeTakeFirst();
      return Number(result.numUpdatedRows) > 0;
    });
  }

  resealTotp(userId: string, sealedSecret: string): Promise<void> {
    return guarded(async () => {
      await this.db.updateTable('totp_factors').set({ sealed_secret: sealedSecret }).where('user_id', '=', userId).execute();
    });
  }

  removeTotp(userId: string, ifEpoch?: number): Promise<'removed' | 'none' | 'stale'> {
    return guarded(async () => {
      const remove = async (db: Kysely<Database>) => {
        const result = await db.deleteFrom('totp_factors').where('user_id', '=', userId).executeTakeFirst();
        return Number(result.numDeletedRows) > 0 ? ('removed' as const) : ('none' as const);
      };
      return ifEpoch === undefined ? remove(this.db) : whileEpoch(this.db, this.dialect, { userId, epoch: ifEpoch }, remove);
    });
  }

  replaceRecoveryCodes(userId: string, hashes: Buffer[], at: number): Promise<void> {
    return guarded(() =>
      this.db.transaction().execute(async (tx) => {
        await tx.deleteFrom('recovery_codes').where('user_id', '=', userId).execute();
        await tx
          .insertInto('recovery_codes')
          .values(hashes.map((code_hash) => ({ code_hash, user_id: userId, created_at: at })))
          .execute();
      }),
    );
  }

  useRecoveryCode(userId: string, hash: Buffer): Promise<boolean> {
    return guarded(async () => {
      const row = await this.db
        .deleteFrom('recovery_codes')
        .where('code_hash', '=', hash)
        .where('user_id', '=', userId)
        .returning('code_hash')
        .executeTakeFirst();
      return row !== undefined;
    });
  }

  recoveryCodesLeft(userId: string): Promise<number> {
    return guarded(async () => {
      const row = await this.db
        .selectFrom('recovery_codes')
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .where('user_id', '=', userId)
        .executeTakeFirst();
      return Number(row?.n ?? 0);
    });
  }

  removeRecoveryCodes(userId: string): Promise<void> {
    return guarded(async () => {
      await this.db.deleteFrom('recovery_codes').where('user_id', '=', userId).execute();
    });
  }
}
