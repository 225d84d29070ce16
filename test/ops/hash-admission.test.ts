/**
 * Hashing admission (the speed issue, "Bursts"): with Latch's default limits, a burst of 50
 * logins at once is queued and served, not refused; a storm whose queue would take longer than
 * HASH_MAX_WAIT to drain is shed, and what was admitted did not wait much past it. Real argon2id
 * at the configured cost, on this machine's cores.
 */
import { describe, expect, it } from 'vitest';
import { Argon2Hasher } from '../../src/adapters/argon2-hasher.js';
import { resolveConfig } from '../../src/config.js';
import { UnavailableError } from '../../src/domain/errors.js';

const config = resolveConfig({ hashConcurrency: 2 });
const params = { memoryCost: config.argon2MemoryCost, timeCost: config.argon2TimeCost, parallelism: config.argon2Parallelism };

function hasher(overrides: { maxWaitMs?: number } = {}) {
  return new Argon2Hasher(params, { concurrency: config.hashConcurrency, queueLimit: config.hashQueueLimit, maxWaitMs: overrides.maxWaitMs ?? config.hashMaxWait });
}

/** Fires `n` verifies at once; returns how many were refused and the slowest admitted one's ms. */
async function burst(h: Argon2Hasher, hash: string, n: number): Promise<{ refused: number; slowestMs: number }> {
  const started = performance.now();
  let slowestMs = 0;
  const outcomes = await Promise.allSettled(
    Array.from({ length: n }, () => h.verify(hash, 'right password').then(() => (slowestMs = Math.max(slowestMs, performance.now() - started)))),
  );
  const refused = outcomes.filter((o) => o.status === 'rejected');
  for (const o of refused) expect((o as PromiseRejectedResult).reason).toBeInstanceOf(UnavailableError);
  return { refused: refused.length, slowestMs };
}

describe('password hashing admission', { timeout: 60_000 }, () => {
  it('defaults: 50 logins at once (a page of users after an outage) are all served, on a warm and on a cold hasher', async () => {
    const h = hasher();
    const hash = await h.hash('right password');
    expect((await burst(h, hash, 50)).refused).toBe(0); // warm: the hash time is known
    expect((await burst(hasher(), hash, 50)).refused).toBe(0); // cold: nothing measured yet
  });

  it('a storm whose queue would outlast HASH_MAX_WAIT is shed; what was admitted waited about that long at most', async () => {
    const maxWaitMs = 500;
    const h = hasher({ maxWaitMs });
    const hash = await h.hash('right password');
    await burst(h, hash, 4); // measure the hash time
    const { refused, slowestMs } = await burst(h, hash, 400);
    expect(refused).toBeGreaterThan(0);
    expect(400 - refused).toBeGreaterThan(2); // queued, not only the running ones
    // The estimate is an average: allow for hashes slower than it, never for an unbounded queue.
    expect(slowestMs).toBeLessThan(maxWaitMs * 4);
  });
});
