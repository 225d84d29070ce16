/**
 * WebAuthn challenges in SQL, when the sessions live there. Kept as SHA-256 (a dump holds no
 * live challenge); taken out by one `DELETE … RETURNING`, so of parallel takes exactly one gets
 * the row. Expired rows are refused at once and swept with the sessions.
 */
import { createHash } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { ChallengeBinding, ChallengeStore } from '../../domain/passkeys.js';
import type { Clock } from '../../domain/ports.js';
import type { Database } from './schema.js';
import { guarded } from './errors.js';

export class SqlChallengeStore implements ChallengeStore {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly clock: Clock,
  ) {}

  put(challenge: string, binding: ChallengeBinding, ttlMs: number): Promise<void> {
    return guarded(async () => {
      await this.db
        .insertInto('webauthn_challenges')
        .values({
          challenge_hash: hash(challenge),
          purpose: binding.purpose,
          session_id: 'sessionId' in binding ? binding.sessionId : null,
          expires_at: this.clock.now() + ttlMs,
        })
        .execute();
    });
  }

  take(challenge: string): Promise<ChallengeBinding | null> {
    return guarded(async () => {
      const row = await this.db.deleteFrom('webauthn_challenges').where('challenge_hash', '=', hash(challenge)).returningAll().executeTakeFirst();
      if (!row || Number(row.expires_at) <= this.clock.now()) return null;
      return toBinding(row.purpose, row.session_id);
    });
  }

  purgeExpired(now: number): Promise<void> {
    return guarded(async () => {
      await this.db.deleteFrom('webauthn_challenges').where('expires_at', '<=', now).execute();
    });
  }
}

function hash(challenge: string): Buffer {
  return createHash('sha256').update(challenge).digest();
}

/** The stored form back to a binding; anything unexpected binds to nothing usable. */
export function toBinding(purpose: string, sessionId: string | null): ChallengeBinding | null {
  if (purpose === 'login') return { purpose };
  if ((purpose === 'register' || purpose === 'second_step') && sessionId) return { purpose, sessionId };
  return null;
}
