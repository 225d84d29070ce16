/**
 * WebAuthn challenges in Redis, beside the sessions: one key per challenge (its SHA-256), with
 * Redis' own expiry, taken out by GETDEL so exactly one of parallel takes gets it. One key per
 * command: fine on a cluster.
 */
import { createHash } from 'node:crypto';
import type { ChallengeBinding, ChallengeStore } from '../../domain/passkeys.js';
import { toBinding } from '../sql/challenge-store.js';
import type { RedisConnection } from './connection.js';

export class RedisChallengeStore implements ChallengeStore {
  constructor(
    private readonly redis: RedisConnection,
    private readonly prefix: string,
  ) {}

  async put(challenge: string, binding: ChallengeBinding, ttlMs: number): Promise<void> {
    const value = `${binding.purpose}:${'sessionId' in binding ? binding.sessionId : ''}`;
    await this.redis.command(this.key(challenge), ['SET', this.key(challenge), value, 'PX', String(ttlMs)]);
  }

  async take(challenge: string): Promise<ChallengeBinding | null> {
    const value = await this.redis.command<string | null>(this.key(challenge), ['GETDEL', this.key(challenge)]);
    if (value === null) return null;
    const [purpose = '', sessionId = ''] = value.split(':');
    return toBinding(purpose, sessionId || null);
  }

  private key(challenge: string): string {
    return `${this.prefix}wac:${createHash('sha256').update(challenge).digest('base64url')}`;
  }
}
