/**
 * THREATS.md item 11 for the Redis store's per-user index: an entry that went missing while
 * its session lives (pruned early by an instance whose clock ran fast, as the scripts did
 * before they read Redis' own TIME) comes back with the next sliding renewal, so "revoke all",
 * which walks the index, still ends that session. Standalone Redis and the cluster.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { SessionRecord } from '../../src/domain/session.js';
import { newSessionCredentials, userSlotTag } from '../../src/domain/session-token.js';
import { redisTargets, withRedisSessionStore } from '../support/redis-session-store.js';

const random = { bytes: (n: number) => randomBytes(n), uuid: () => randomUUID() };

for (const [name, available, url] of redisTargets) {
  describe.skipIf(!available)(`Redis session index [${name}]`, () => {
    it('an index entry lost early comes back on touch, and revoke-all still ends its session', () =>
      withRedisSessionStore(url, async ({ redis, store, prefix }) => {
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
      }));
  });
}
