/**
 * The session store contract: one behaviour, written once, run against every backend
 * (SQLite, PostgreSQL, Redis standalone; Redis Cluster with the cluster issue).
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SessionStore } from '../../src/domain/ports.js';
import type { SessionRecord } from '../../src/domain/session.js';
import { newSessionCredentials } from '../../src/domain/session-token.js';
import type { User } from '../../src/domain/user.js';

export interface StoreFixture {
  store: SessionStore;
  /** Makes the user exist where the backend needs it (SQL foreign keys). */
  addUser(user: User): Promise<void>;
  close(): Promise<void>;
}

const LIMITS = { keepAtMost: 50 };
const random = { bytes: (n: number) => randomBytes(n), uuid: () => randomUUID() };

export function sessionStoreContract(name: string, available: boolean, setup: () => Promise<StoreFixture>): void {
  describe.skipIf(!available)(`session store contract: ${name}`, () => {
    let fixture: StoreFixture;
    let store: SessionStore;

    beforeAll(async () => {
      fixture = await setup();
      store = fixture.store;
    });
    afterAll(async () => fixture?.close());

    async function newUser(): Promise<User> {
      const user: User = {
        id: randomUUID(),
        email: `${randomUUID()}@example.test`,
        name: 'Contract User',
        emailVerified: false,
        createdAt: Date.now() - 1000,
      };
      await fixture.addUser(user);
      return user;
    }

    function newSession(user: User, overrides: Partial<SessionRecord> = {}): SessionRecord {
      const now = Date.now();
      const { id, secretHash } = newSessionCredentials(random, user.id);
      return {
        id,
        userId: user.id,
        secretHash,
        createdAt: now,
        lastSeenAt: now,
        expiresAt: now + 3_600_000,
        rememberMe: false,
        authenticatedAt: now,
        ip: '203.0.113.7',
        userAgent: 'Mozilla/5.0 (X11; Linux x86_64) contract-test ✓',
        ...overrides,
      };
    }

    it('finds an inserted session with its user, field for field', async () => {
      const user = await newUser();
      const session = newSession(user, { rememberMe: true });
      await store.insert(session, user, LIMITS);
      const found = await store.find(session.id);
      expect(found).not.toBeNull();
      expect(found!.session).toEqual(session);
      expect(found!.user).toEqual(user);
    });

    it('answers null for an id it never stored', async () => {
      const user = await newUser();
      expect(await store.find(newSession(user).id)).toBeNull();
    });

    it('touch moves lastSeenAt and expiresAt, and never resurrects a deleted session', async () => {
      const user = await newUser();
      const session = newSession(user);
      await store.insert(session, user, LIMITS);
      await store.touch(session.id, session.lastSeenAt + 5_000, session.expiresAt + 5_000);
      const found = await store.find(session.id);
      expect(found!.session.lastSeenAt).toBe(session.lastSeenAt + 5_000);
      expect(found!.session.expiresAt).toBe(session.expiresAt + 5_000);

      await store.delete(session.id);
      await store.touch(session.id, session.lastSeenAt + 9_000, session.expiresAt + 9_000);
      expect(await store.find(session.id)).toBeNull();
    });

    it('delete ends one session, says whether it existed, and leaves the others', async () => {
      const user = await newUser();
      const a = newSession(user);
      const b = newSession(user);
      await store.insert(a, user, LIMITS);
      await store.insert(b, user, LIMITS);
      expect(await store.delete(a.id)).toBe(true);
      expect(await store.delete(a.id)).toBe(false);
      expect(await store.find(a.id)).toBeNull();
      expect(await store.find(b.id)).not.toBeNull();
      expect((await store.listByUser(user.id, Date.now())).map((s) => s.id)).toEqual([b.id]);
    });

    it("lists only the user's live sessions, most recently used first", async () => {
      const user = await newUser();
      const other = await newUser();
      const now = Date.now();
      const older = newSession(user, { lastSeenAt: now - 60_000 });
      const newer = newSession(user, { lastSeenAt: now - 1_000 });
      const expiring = newSession(user, { expiresAt: now + 300 });
      await store.insert(older, user, LIMITS);
      await store.insert(newer, user, LIMITS);
      await store.insert(expiring, user, LIMITS);
      await store.insert(newSession(other), other, LIMITS);

      expect((await store.listByUser(user.id, now)).map((s) => s.id)).toEqual(sortByLastSeen([older, newer, expiring]));
      // Once past its expiry a session is neither listed nor found.
      await new Promise((resolve) => setTimeout(resolve, 400));
      const later = Date.now();
      expect((await store.listByUser(user.id, later)).map((s) => s.id)).toEqual([newer.id, older.id]);
    });

    it('deleteByUser ends every session of the user but the one kept, and counts them', async () => {
      const user = await newUser();
      const other = await newUser();
      const keep = newSession(user);
      const doomed = [newSession(user), newSession(user), newSession(user)];
      const bystander = newSession(other);
      for (const s of [keep, ...doomed]) await store.insert(s, user, LIMITS);
      await store.insert(bystander, other, LIMITS);

      expect(await store.deleteByUser(user.id, keep.id)).toBe(3);
      for (const s of doomed) expect(await store.find(s.id)).toBeNull();
      expect(await store.find(keep.id)).not.toBeNull();
      expect(await store.find(bystander.id)).not.toBeNull();

      expect(await store.deleteByUser(user.id)).toBe(1);
      expect(await store.find(keep.id)).toBeNull();
      expect(await store.listByUser(user.id, Date.now())).toEqual([]);
    });

    it('leaves no session issued before a revoke-all alive, while logins race it', async () => {
      const user = await newUser();
      const before = Array.from({ length: 20 }, () => newSession(user));
      await Promise.all(before.map((s) => store.insert(s, user, LIMITS)));
      const racing = Array.from({ length: 20 }, () => newSession(user));
      const [revoked] = await Promise.all([
        store.deleteByUser(user.id),
        ...racing.map((s) => store.insert(s, user, LIMITS)),
      ]);
      expect(revoked).toBeGreaterThanOrEqual(20);
      for (const s of before) expect(await store.find(s.id)).toBeNull();
      // Racing logins either ended with the revoke or are listed: nothing is half-indexed.
      const listed = new Set((await store.listByUser(user.id, Date.now())).map((s) => s.id));
      for (const s of racing) expect(listed.has(s.id)).toBe((await store.find(s.id)) !== null);
    });

    it('answers ping', async () => {
      await expect(store.ping()).resolves.toBeUndefined();
    });
  });
}

function sortByLastSeen(sessions: SessionRecord[]): string[] {
  return [...sessions].sort((a, b) => b.lastSeenAt - a.lastSeenAt).map((s) => s.id);
}
