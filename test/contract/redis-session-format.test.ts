/**
 * The Redis session store decodes a packed session in two places: the hot read (`find`, written
 * out in line for speed) and the list (`listByUser`, through the shared helpers). Both must read
 * every field alike, for sessions of the current format and for those still stored in format 1
 * (no epoch, no methods, IP at byte 59), which read as epoch 0 proven by a password. And `find`
 * must refuse a session of an older credential epoch in both formats.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { SessionRecord } from '../../src/domain/session.js';
import { newSessionCredentials, userSlotTag } from '../../src/domain/session-token.js';
import type { User } from '../../src/domain/user.js';
import { redisTargets, withRedisSessionStore } from '../support/redis-session-store.js';

const random = { bytes: (n: number) => randomBytes(n), uuid: () => randomUUID() };

/** Rewrites a stored session in format 1: the same bytes up to the user-agent reference, then the IP. */
const TO_FORMAT_1 = `
local v = redis.call('GET', KEYS[1])
redis.call('SET', KEYS[1], string.char(1) .. v:sub(2, 58) .. v:sub(64), 'KEEPTTL')
return 1`;

for (const [name, available, url] of redisTargets) {
  describe.skipIf(!available)(`Redis session formats [${name}]`, () => {
    it('find and list read every field alike, in both formats, and refuse an older epoch', () =>
      withRedisSessionStore(url, async ({ redis, store, prefix }) => {
        const user: User = { id: randomUUID(), email: 'format@example.test', name: 'Format', emailVerified: true, createdAt: Date.now(), role: 'admin', twoFactor: true };
        const base = `${prefix}{${userSlotTag(user.id)}}`;
        const now = Date.now();
        const sessions = [0, 1].map((i): SessionRecord => {
          const credentials = newSessionCredentials(random, user.id);
          return {
            id: credentials.id, userId: user.id, secretHash: credentials.secretHash, createdAt: now - 9_000 + i, lastSeenAt: now - 5_000 + i,
            expiresAt: now + 3_600_000 + i, rememberMe: i === 0, authenticatedAt: now - 7_000 + i, ip: i === 0 ? '2001:db8::1' : '203.0.113.9',
            userAgent: `format-test ${i}`, epoch: 0, methods: ['password', 'totp'], pending: false,
          };
        });
        for (const session of sessions) await store.insert(session, user, { keepAtMost: 10 });
        const [current, older] = sessions as [SessionRecord, SessionRecord];

        const found = await store.find(current.id);
        expect(found?.user).toEqual(user);
        expect(found?.session).toEqual(current);
        expect((await store.listByUser(user.id, Date.now())).find((s) => s.id === current.id)).toEqual(found?.session);

        await redis.command(base + older.id, ['EVAL', TO_FORMAT_1, '1', base + older.id]);
        const asFormat1 = { ...older, epoch: 0, methods: ['password'] };
        expect((await store.find(older.id))?.session).toEqual(asFormat1);
        expect((await store.listByUser(user.id, Date.now())).find((s) => s.id === older.id)).toEqual(asFormat1);

        // A credential change past epoch 0: neither format is found any more.
        const epochKey = `${base}:e:${user.id.replace(/-/g, '')}`;
        await redis.command(epochKey, ['SET', epochKey, '1']);
        expect(await store.find(current.id)).toBeNull();
        expect(await store.find(older.id)).toBeNull();
      }));
  });
}
