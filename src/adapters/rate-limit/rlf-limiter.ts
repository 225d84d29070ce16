/**
 * RateLimiter (the domain port) over rate-limiter-flexible, on the same backend as the sessions:
 * Redis (standalone or cluster) when REDIS_URL is set, else the SQL database. Its counters are
 * atomic in that backend (a Lua INCR in Redis, an upsert in SQL), so limits hold across
 * instances. A store failure or a late answer is a 503, never a silent pass.
 */
import {
  RateLimiterPostgres,
  RateLimiterRedis,
  RateLimiterRes,
  RateLimiterSQLite,
  type RateLimiterAbstract,
} from 'rate-limiter-flexible';
import { UnavailableError } from '../../domain/errors.js';
import type { RateLimiter, ThrottleVerdict } from '../../domain/ports.js';
import type { SqlDriver } from '../sql/database.js';

export type LimiterBackend = { kind: 'redis'; client: unknown } | { kind: 'sql'; driver: SqlDriver };

export interface LimiterOptions {
  /** Distinguishes this limiter's keys from every other's. */
  keyPrefix: string;
  points: number;
  durationMs: number;
  timeoutMs: number;
}

const TABLE = 'latch_rate_limits';

export function createRateLimiter(backend: LimiterBackend, options: LimiterOptions): RateLimiter {
  const base = { keyPrefix: options.keyPrefix, points: options.points, duration: Math.ceil(options.durationMs / 1000) };
  let limiter: RateLimiterAbstract;
  if (backend.kind === 'redis') {
    limiter = new RateLimiterRedis({ ...base, storeClient: backend.client, useRedisPackage: true, rejectIfRedisNotReady: true });
  } else if (backend.driver.dialect === 'postgres') {
    limiter = new RateLimiterPostgres({ ...base, storeClient: backend.driver.pool, storeType: 'pool', tableName: TABLE, tableCreated: true });
  } else {
    limiter = new RateLimiterSQLite({ ...base, storeClient: backend.driver.database, storeType: 'better-sqlite3', tableName: TABLE, tableCreated: true });
  }
  return new RlfRateLimiter(limiter, options.timeoutMs);
}

class RlfRateLimiter implements RateLimiter {
  constructor(
    private readonly limiter: RateLimiterAbstract,
    private readonly timeoutMs: number,
  ) {}

  async consume(key: string): Promise<ThrottleVerdict> {
    try {
      await this.guard(this.limiter.consume(key));
      return { allowed: true };
    } catch (rejection) {
      // rate-limiter-flexible rejects with a RateLimiterRes when the limit is passed.
      if (rejection instanceof RateLimiterRes) return { allowed: false, retryAfterMs: Math.max(1000, rejection.msBeforeNext) };
      throw rejection;
    }
  }

  async peek(key: string): Promise<number> {
    const res = await this.guard(this.limiter.get(key));
    return res?.consumedPoints ?? 0;
  }

  async reward(key: string): Promise<void> {
    await this.guard(this.limiter.reward(key));
  }

  async reset(key: string): Promise<void> {
    await this.guard(this.limiter.delete(key));
  }

  private async guard<T>(operation: Promise<T>): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new UnavailableError('rate limiter')), this.timeoutMs);
    });
    try {
      return await Promise.race([operation, deadline]);
    } catch (error) {
      if (error instanceof RateLimiterRes || error instanceof UnavailableError) throw error;
      throw new UnavailableError('rate limiter', { cause: error });
    } finally {
      clearTimeout(timer);
    }
  }
}
