/**
 * The session store contract: one behaviour, written once, run against every backend
 * (SQLite, PostgreSQL, Redis standalone; Redis Cluster with the cluster issue).
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuthMethod } from '../../src/domain/assurance.js';
import type { SessionStore } from '../../src/domain/ports.js';
import type { SessionRecord } from '../../src/domain/session.js';
import { newSessionCredentials } from '../../src/domain/session-token.js';
import type { User } from '../../src/domain/user.js';

export interface StoreFixture {
  store: SessionStore;
  /** Makes the user exist where the backend needs it (SQL foreign keys). */
  addUser(user: User): Promise<void>;
  /**
   * A credential change as the user repository makes it: the user's epoch moves on (in SQL,
   * on the user's row; for Redis the record lives in SQL, so the fixture only counts). Returns
   * the new epoch. The store learns it from `deleteByUser` or from a newer insert.
   */
  bumpEpoch(userId: string): Promise<number>;
  /** Marks the user's address verified where the user's row lives (SQL); a no-op elsewhere. */
  verifyUser(user: User): Promise<void>;
  close(): Promise<void>;
}

/** For stores whose user records live elsewhere: the epoch the source of truth would hand out. */
export function epochCounter(): (userId: string) => Promise<number> {
  const epochs = new Map<string, number>();
  return async (userId) => {
    const next = (epochs.get(userId) ?? 0) + 1;
    epochs.set(userId, next);
    return next;
  };
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
        role: 'user',
        twoFactor: false,
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
        epoch: 0,
        methods: ['password'],
        pending: false,
        ...overrides,
      };
    }

    it('finds an inserted session with its user, field for field', async () => {
      const user = await newUser();
      const session = newSession(user, { rememberMe: true });
      expect(await store.insert(session, user, LIMITS)).toBe('inserted');
      const found = await store.find(session.id);
      expect(found).not.toBeNull();
      expect(found!.session).toEqual(session);
      expect(found!.user).toEqual(user);
    });

    it('keeps how each session was proven, in order', async () => {
      const user = await newUser();
      const proofs: AuthMethod[][] = [['password'], ['password', 'totp'], ['password', 'recovery_code'], ['passkey'], ['password', 'totp', 'passkey']];
      const sessions = proofs.map((methods) => newSession(user, { methods }));
      for (const s of sessions) await store.insert(s, user, LIMITS);
      for (const s of sessions) expect((await store.find(s.id))?.session.methods).toEqual(s.methods);
      const listed = new Map((await store.listByUser(user.id, Date.now())).map((s) => [s.id, s.methods]));
      for (const s of sessions) expect(listed.get(s.id)).toEqual(s.methods);
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

      expect(await store.deleteByUser(user.id, { epoch: 0, keepSessionId: keep.id })).toBe(3);
      for (const s of doomed) expect(await store.find(s.id)).toBeNull();
      expect(await store.find(keep.id)).not.toBeNull();
      expect(await store.find(bystander.id)).not.toBeNull();

      expect(await store.deleteByUser(user.id, { epoch: 0 })).toBe(1);
      expect(await store.find(keep.id)).toBeNull();
      expect(await store.listByUser(user.id, Date.now())).toEqual([]);
    });

    it('leaves no session issued before a revoke-all alive, while logins race it', async () => {
      const user = await newUser();
      const before = Array.from({ length: 20 }, () => newSession(user));
      await Promise.all(before.map((s) => store.insert(s, user, LIMITS)));
      const racing = Array.from({ length: 20 }, () => newSession(user));
      const [revoked] = await Promise.all([
        store.deleteByUser(user.id, { epoch: 0 }),
        ...racing.map((s) => store.insert(s, user, LIMITS)),
      ]);
      expect(revoked).toBeGreaterThanOrEqual(20);
      for (const s of before) expect(await store.find(s.id)).toBeNull();
      // Racing logins either ended with the revoke or are listed: nothing is half-indexed.
      const listed = new Set((await store.listByUser(user.id, Date.now())).map((s) => s.id));
      for (const s of racing) expect(listed.has(s.id)).toBe((await store.find(s.id)) !== null);
    });

    it('refuses a session issued under an older credential epoch, and stores nothing of it', async () => {
      const user = await newUser();
      const epoch = await fixture.bumpEpoch(user.id);
      await store.deleteByUser(user.id, { epoch });
      const late = newSession(user, { epoch: epoch - 1 });
      expect(await store.insert(late, user, LIMITS)).toBe('stale');
      expect(await store.find(late.id)).toBeNull();
      expect(await store.listByUser(user.id, Date.now())).toEqual([]);
      const current = newSession(user, { epoch });
      expect(await store.insert(current, user, LIMITS)).toBe('inserted');
      expect((await store.find(current.id))?.session.epoch).toBe(epoch);
    });

    it('ends the sessions of an older epoch once a newer one is inserted (the change itself may not have reached the store)', async () => {
      const user = await newUser();
      const old = [newSession(user), newSession(user)];
      for (const s of old) await store.insert(s, user, LIMITS);
      const epoch = await fixture.bumpEpoch(user.id);
      const successor = newSession(user, { epoch });
      expect(await store.insert(successor, user, LIMITS)).toBe('inserted');
      for (const s of old) expect(await store.find(s.id)).toBeNull();
      expect((await store.listByUser(user.id, Date.now())).map((s) => s.id)).toEqual([successor.id]);
    });

    it('lets no login that read the old epoch land after a credential change, under 30 parallel inserts', async () => {
      const user = await newUser();
      const survivor = newSession(user);
      await store.insert(survivor, user, LIMITS);
      const inFlight = Array.from({ length: 30 }, () => newSession(user)); // all read epoch 0
      const epoch = await fixture.bumpEpoch(user.id);
      const outcomes = await Promise.all([
        store.deleteByUser(user.id, { epoch }),
        ...inFlight.map((s) => store.insert(s, user, LIMITS)),
      ]);
      expect(outcomes.slice(1).every((o) => o === 'inserted' || o === 'stale')).toBe(true);
      for (const s of [survivor, ...inFlight]) expect(await store.find(s.id)).toBeNull();
      expect(await store.listByUser(user.id, Date.now())).toEqual([]);
    });

    it("refreshUser makes find answer the user's new public fields", async () => {
      const user = await newUser();
      const session = newSession(user);
      await store.insert(session, user, LIMITS);
      await fixture.verifyUser(user);
      await store.refreshUser({ ...user, emailVerified: true });
      expect((await store.find(session.id))?.user.emailVerified).toBe(true);
    });

    it('recordReauthentication moves authenticatedAt of that session only, and never creates one', async () => {
      const user = await newUser();
      const a = newSession(user);
      const b = newSession(user);
      await store.insert(a, user, LIMITS);
      await store.insert(b, user, LIMITS);
      await store.recordReauthentication(a.id, a.authenticatedAt + 7_000);
      expect((await store.find(a.id))?.session.authenticatedAt).toBe(a.authenticatedAt + 7_000);
      expect((await store.find(b.id))?.session.authenticatedAt).toBe(b.authenticatedAt);
      const ghost = newSession(user);
      await store.recordReauthentication(ghost.id, Date.now());
      expect(await store.find(ghost.id)).toBeNull();
    });

    it('keeps at most `keepAtMost` sessions per user, ending the least recently used', async () => {
      const user = await newUser();
      const now = Date.now();
      const sessions = [5, 1, 4, 2, 3].map((age) => newSession(user, { lastSeenAt: now - age * 60_000 }));
      for (const s of sessions) await store.insert(s, user, { keepAtMost: 3 });
      const kept = (await store.listByUser(user.id, Date.now())).map((s) => s.id);
      // Ages 1, 2, 3 minutes are the three most recently used; 4 and 5 ended.
      expect(kept).toEqual([sessions[1]!.id, sessions[3]!.id, sessions[4]!.id]);
      expect(await store.find(sessions[0]!.id)).toBeNull();
    });

    it('pending sessions neither count toward the per-user cap nor are ended by it', async () => {
      const user = await newUser();
      const now = Date.now();
      const owner = newSession(user, { lastSeenAt: now - 60_000 });
      await store.insert(owner, user, { keepAtMost: 2 });
      const pending = Array.from({ length: 5 }, () => newSession(user, { pending: true, expiresAt: now + 300_000 }));
      for (const p of pending) expect(await store.insert(p, user, { keepAtMost: 2 })).toBe('inserted');
      expect(await store.find(owner.id)).not.toBeNull(); // five sign-ins stuck at the second step evicted nobody
      for (const p of pending) expect((await store.find(p.id))?.session.pending).toBe(true);
      const second = newSession(user);
      const third = newSession(user);
      await store.insert(second, user, { keepAtMost: 2 });
      await store.insert(third, user, { keepAtMost: 2 });
      expect(await store.find(owner.id)).toBeNull(); // the cap still holds among full sessions
      expect((await store.listByUser(user.id, Date.now())).map((s) => s.id).sort()).toEqual([second.id, third.id].sort());
      for (const p of pending) expect(await store.find(p.id)).not.toBeNull();
    });

    it('answers ping', async () => {
      await expect(store.ping()).resolves.toBeUndefined();
    });
  });
}

function sortByLastSeen(sessions: SessionRecord[]): string[] {
  return [...sessions].sort((a, b) => b.lastSeenAt - a.lastSeenAt).map((s) => s.id);
}
