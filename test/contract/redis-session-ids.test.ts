/**
 * Session ids were shortened from 22 to 18 characters (a Redis session key now fits
 * jemalloc's 32-byte class). Sessions made before keep their ids, cookies and Redis keys
 * (`<base>:s:<id>`) and must keep working beside new ones until they end: found, renewed,
 * listed, evicted past the cap, revoked. Standalone Redis and the cluster.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { SessionRecord } from '../../src/domain/session.js';
import { hashSecret, newSessionCredentials, parseToken, SESSION_ID_PATTERN, userSlotTag } from '../../src/domain/session-token.js';
import type { User } from '../../src/domain/user.js';
import { redisTargets, withRedisSessionStore } from '../support/redis-session-store.js';

const random = { bytes: (n: number) => randomBytes(n), uuid: () => randomUUID() };

/** A session as the code before the change made them: 15 random bytes after the tag. */
function legacyCredentials(userId: string) {
  const id = userSlotTag(userId) + randomBytes(15).toString('base64url');
  const secret = randomBytes(32).toString('base64url');
  return { id, secret, token: `${id}.${secret}`, secretHash: hashSecret(secret) };
}

function record(id: string, secretHash: Buffer, user: User, at: number): SessionRecord {
  return {
    id, userId: user.id, secretHash, createdAt: at, lastSeenAt: at, expiresAt: at + 3_600_000, rememberMe: false,
    authenticatedAt: at, ip: '203.0.113.7', userAgent: 'ids-test', epoch: 0, methods: ['password'], pending: false,
  };
}

describe('session ids', () => {
  it('new ids are 18 characters; tokens with the 22-character ids of before still parse', () => {
    const fresh = newSessionCredentials(random, randomUUID());
    expect(fresh.id).toHaveLength(18);
    expect(parseToken(fresh.token)).toEqual({ id: fresh.id, secret: fresh.secret });
    const legacy = legacyCredentials(randomUUID());
    expect(legacy.id).toHaveLength(22);
    expect(parseToken(legacy.token)).toEqual({ id: legacy.id, secret: legacy.secret });
    for (const id of [fresh.id, legacy.id]) expect(SESSION_ID_PATTERN.test(id)).toBe(true);
    for (const bad of [fresh.id.slice(1), `${fresh.id}a`, `${legacy.id}a`, `${fresh.id.slice(1)}.`]) {
      expect(SESSION_ID_PATTERN.test(bad)).toBe(false);
      expect(parseToken(`${bad}.${fresh.secret}`)).toBeNull();
    }
  });
});

for (const [name, available, url] of redisTargets) {
  describe.skipIf(!available)(`Redis sessions with ids of both lengths [${name}]`, () => {
    it('old and new sessions of one user are found, renewed, listed, evicted and revoked alike', () =>
      withRedisSessionStore(url, async ({ redis, store, prefix }) => {
        const user: User = { id: randomUUID(), email: 'ids@example.test', name: 'Ids', emailVerified: false, createdAt: Date.now(), role: 'user', twoFactor: false };
        const base = `${prefix}{${userSlotTag(user.id)}}`;
        const now = Date.now();
        const old = legacyCredentials(user.id);
        const fresh = newSessionCredentials(random, user.id);
        await store.insert(record(old.id, old.secretHash, user, now - 2_000), user, { keepAtMost: 3 });
        await store.insert(record(fresh.id, fresh.secretHash, user, now - 1_000), user, { keepAtMost: 3 });

        // Each where its code puts it: the old key shape for the old id, the short one for the new.
        expect(await redis.command<number>(`${base}:s:${old.id}`, ['EXISTS', `${base}:s:${old.id}`])).toBe(1);
        expect(await redis.command<number>(base + fresh.id, ['EXISTS', base + fresh.id])).toBe(1);
        expect(await redis.command<number>(`${base}:s:${fresh.id}`, ['EXISTS', `${base}:s:${fresh.id}`])).toBe(0);

        for (const s of [old, fresh]) expect((await store.find(s.id))?.session.secretHash.equals(s.secretHash)).toBe(true);
        await store.touch(old.id, now + 5_000, now + 3_605_000);
        await store.recordReauthentication(old.id, now + 6_000);
        const renewed = (await store.find(old.id))?.session;
        expect([renewed?.lastSeenAt, renewed?.authenticatedAt]).toEqual([now + 5_000, now + 6_000]);
        expect((await store.listByUser(user.id, Date.now())).map((s) => s.id)).toEqual([old.id, fresh.id]);

        // Past the cap the least recently used ends, whichever shape its key has.
        const third = newSessionCredentials(random, user.id);
        const fourth = newSessionCredentials(random, user.id);
        await store.insert(record(third.id, third.secretHash, user, now), user, { keepAtMost: 3 });
        await store.insert(record(fourth.id, fourth.secretHash, user, now + 1), user, { keepAtMost: 3 });
        expect(await store.find(fresh.id)).toBeNull();
        expect((await store.listByUser(user.id, Date.now())).map((s) => s.id).sort()).toEqual([old.id, third.id, fourth.id].sort());

        expect(await store.delete(old.id)).toBe(true);
        expect(await store.find(old.id)).toBeNull();
        expect(await store.deleteByUser(user.id, { epoch: 1 })).toBe(2);
        for (const id of [old.id, fresh.id, third.id, fourth.id]) expect(await store.find(id)).toBeNull();
        expect(await redis.command<number>(`${base}:s:${old.id}`, ['EXISTS', `${base}:s:${old.id}`])).toBe(0);
      }));
  });
}
