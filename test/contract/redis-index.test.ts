/**
 * THREATS.md item 11 for the Redis store's per-user index: an entry that went missing while
 * its session lives (pruned early by an instance whose clock ran fast, as the scripts did
 * before they read Redis' own TIME) comes back with the next sliding renewal, so "revoke all",
 * which walks the index, still ends that session. Standalone Redis and the cluster.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { connectRedis } from '../../src/adapters/redis/connection.js';
import { RedisSessionStore } from '../../src/adapters/redis/session-store.js';
import type { SessionRecord } from '../../src/domain/session.js';
import { newSessionCredentials, userSlotTag } from '../../src/domain/session-token.js';
import { deleteClusterKeys } from '../support/redis-cluster.js';
import { hasRedis, hasRedisCluster, redisPrefix, REDIS_CLUSTER_URL, REDIS_URL } from '../support/services.js';

const random = { bytes: (n: number) => randomBytes(n), uuid: () => randomUUID() };

for (const [name, available, url] of [
  ['Redis', hasRedis, REDIS_URL],
  ['Redis Cluster', hasRedisCluster, REDIS_CLUSTER_URL],
] as const) {
  describe.skipIf(!available)(`Redis session index [${name}]`, () => {
    it('an index entry lost early comes back on touch, and revoke-all still ends its session', async () => {
      const { prefix, cleanup } = redisPrefix();
      const redis = await connectRedis(url, { timeoutMs: 2000 });
      try {
        const store = new RedisSessionStore(redis, prefix);
        const user = { id: randomUUID(), email: 'index@example.test', name: 'Index', emailVerified: false, createdAt: Date.now(), role: 'user' as const, twoFactor: false };
        const now = Date.now();
        const { id, secretHash } = newSessionCredentials(random, user.id);
        const session: SessionRecord = {
          id, userId: user.id, secretHash, createdAt: now, lastSeenAt: now, expiresAt: now + 3_600_000,
          rememberMe: false, authenticatedAt: now, ip: '203.0.113.7', userAgent: 'index-test', epoch: 0, methods: ['password'], pending: false,
        };
        await store.insert(session, user, { keepAtMost: 50 });
        const index = `${prefix}{${userSlotTag(user.id)}}:i:${user.id.replace(/-/g, '')}`;
        expect(await redis.command<number>(index, ['ZREM', index, id])).toBe(1); // the early prune

        await store.touch(id, now + 60_000, now + 3_660_000);
        expect((await store.listByUser(user.id, Date.now())).map((s) => s.id)).toEqual([id]);
        expect(await store.deleteByUser(user.id, { epoch: 0 })).toBe(1);
        expect(await store.find(id)).toBeNull();
      } finally {
        await redis.close();
        if (url === REDIS_CLUSTER_URL) await deleteClusterKeys(REDIS_CLUSTER_URL, prefix);
        else await cleanup();
      }
    });
  });
}
