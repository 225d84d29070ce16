/**
 * One-time tokens in the SQL database; `consume` is a single DELETE … RETURNING, so one use
 * wins. Both reads compare the token's epoch with the user's in the same statement: a token
 * mailed before a credential change never works after it, even if a late issue left its row.
 */
import type { Kysely } from 'kysely';
import type { Mail } from '../../domain/mails.js';
import type { OneTimeToken, TokenPurpose, TokenStore } from '../../domain/one-time-tokens.js';
import type { Database } from './schema.js';
import { guarded } from './errors.js';
import type { SqlMailOutbox } from './mail-outbox.js';

export class SqlTokenStore implements TokenStore {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly outbox: SqlMailOutbox,
  ) {}

  async issue(tokenHash: Buffer, token: OneTimeToken, mail?: Mail): Promise<void> {
    await guarded(() =>
      this.db.transaction().execute(async (tx) => {
        await tx.deleteFrom('one_time_tokens').where('user_id', '=', token.userId).where('purpose', '=', token.purpose).execute();
        await tx
          .insertInto('one_time_tokens')
          .values({
            token_hash: tokenHash,
            user_id: token.userId,
            purpose: token.purpose,
            email: token.email,
            expires_at: token.expiresAt,
            epoch: token.epoch,
          })
          .execute();
        if (mail) await this.outbox.insert(tx, mail);
      }),
    );
    if (mail) this.outbox.queued();
  }

  peek(tokenHash: Buffer, purpose: TokenPurpose, now: number): Promise<OneTimeToken | null> {
    return guarded(async () => {
      const row = await this.db
        .selectFrom('one_time_tokens')
        .selectAll()
        .where('token_hash', '=', tokenHash)
        .where('purpose', '=', purpose)
        .where('expires_at', '>', now)
        .where(({ eb, selectFrom }) => eb('epoch', '=', selectFrom('users').select('credential_epoch').whereRef('users.id', '=', 'one_time_tokens.user_id')))
        .executeTakeFirst();
      return row ? toToken(row) : null;
    });
  }

  consume(tokenHash: Buffer, purpose: TokenPurpose, now: number): Promise<OneTimeToken | null> {
    return guarded(async () => {
      const row = await this.db
        .deleteFrom('one_time_tokens')
        .where('token_hash', '=', tokenHash)
        .where('purpose', '=', purpose)
        .where('expires_at', '>', now)
        .where(({ eb, selectFrom }) => eb('epoch', '=', selectFrom('users').select('credential_epoch').whereRef('users.id', '=', 'one_time_tokens.user_id')))
        .returningAll()
        .executeTakeFirst();
      return row ? toToken(row) : null;
    });
  }

  revokeAll(userId: string, purpose?: TokenPurpose): Promise<void> {
    return guarded(async () => {
      let query = this.db.deleteFrom('one_time_tokens').where('user_id', '=', userId);
      if (purpose !== undefined) query = query.where('purpose', '=', purpose);
      await query.execute();
    });
  }
}

function toToken(row: { user_id: string; purpose: string; email: string; expires_at: number; epoch: number }): OneTimeToken {
  return {
    userId: row.user_id,
    purpose: row.purpose as TokenPurpose,
    email: row.email,
    expiresAt: Number(row.expires_at),
    epoch: Number(row.epoch),
  };
}
