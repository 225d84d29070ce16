/**
 * In-memory fakes of the domain ports, for fast domain tests. They keep the semantics of the
 * SQL adapters (unique email, sessions joined to their user, expired records still found,
 * touch never resurrects) and record the calls a test wants to count.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { UnavailableError } from '../../src/domain/errors.js';
import type {
  Clock,
  CreateUserResult,
  CredentialChangeResult,
  CredentialUpdate,
  PasswordHasher,
  Random,
  RateLimiter,
  SessionStore,
  SessionWithUser,
  ThrottleVerdict,
  UserRepository,
  VerifyResult,
} from '../../src/domain/ports.js';
import type { AuthEvent, AuthEventSink } from '../../src/domain/auth-events.js';
import type { SessionRecord } from '../../src/domain/session.js';
import { publicUser, type User, type UserWithPassword } from '../../src/domain/user.js';

/** A clock the test sets and moves by hand; starts at a fixed instant. */
export class ManualClock implements Clock {
  constructor(private time = Date.UTC(2025, 0, 1, 12, 0, 0)) {}
  now(): number {
    return this.time;
  }
  set(time: number): void {
    this.time = time;
  }
  advance(ms: number): void {
    this.time += ms;
  }
}

/** Real CSPRNG: session secrets in tests are as random as in production. */
export const cryptoRandom: Random = { bytes: (n) => randomBytes(n), uuid: () => randomUUID() };

export class InMemoryUserRepository implements UserRepository {
  private readonly byId = new Map<string, UserWithPassword>();

  async create(user: UserWithPassword): Promise<CreateUserResult> {
    // Like the SQL unique index: emails arrive normalized, uniqueness is on the stored value.
    for (const existing of this.byId.values()) {
      if (existing.email === user.email) return { ok: false, reason: 'email_taken' };
    }
    if (this.byId.has(user.id)) throw new Error(`duplicate user id ${user.id}`);
    this.byId.set(user.id, { ...user });
    return { ok: true, user: publicUser(user) };
  }

  async findByEmail(email: string): Promise<UserWithPassword | null> {
    for (const user of this.byId.values()) if (user.email === email) return { ...user };
    return null;
  }

  async findById(id: string): Promise<UserWithPassword | null> {
    const user = this.byId.get(id);
    return user ? { ...user } : null;
  }

  async delete(userId: string): Promise<{ epoch: number } | null> {
    const user = this.byId.get(userId);
    if (!user) return null;
    this.byId.delete(userId);
    return { epoch: user.credentialEpoch + 1 };
  }

  async enable(userId: string): Promise<User | null> {
    const user = this.byId.get(userId);
    if (!user) return null;
    user.disabled = null;
    return publicUser(user);
  }

  async markEmailVerified(userId: string, email: string): Promise<User | null> {
    const user = this.byId.get(userId);
    if (!user || user.email !== email) return null;
    user.emailVerified = true;
    return publicUser(user);
  }

  async changeCredentials(userId: string, update: CredentialUpdate, ifEpoch?: number): Promise<CredentialChangeResult> {
    const user = this.byId.get(userId);
    if (!user) return { ok: false, reason: 'not_found' };
    if (update.twoFactor !== undefined && user.twoFactor === update.twoFactor) return { ok: false, reason: 'unchanged' };
    if (ifEpoch !== undefined && user.credentialEpoch !== ifEpoch) return { ok: false, reason: 'stale' };
    if (update.email !== undefined) {
      for (const other of this.byId.values()) if (other.email === update.email && other.id !== userId) return { ok: false, reason: 'email_taken' };
      user.email = update.email;
      user.emailVerified = true;
    }
    if (update.role === 'user' && user.role === 'admin') {
      const others = [...this.byId.values()].filter((u) => u.role === 'admin' && u.id !== userId && u.disabled === null);
      if (others.length === 0) return { ok: false, reason: 'last_admin' };
    }
    if (update.passwordHash !== undefined) user.passwordHash = update.passwordHash;
    if (update.twoFactor !== undefined) user.twoFactor = update.twoFactor;
    if (update.role !== undefined) user.role = update.role;
    if (update.disabled !== undefined) user.disabled = update.disabled;
    user.credentialEpoch += 1;
    return { ok: true, user: publicUser(user), epoch: user.credentialEpoch };
  }

  async updatePasswordHash(userId: string, passwordHash: string, replacing: string): Promise<void> {
    const user = this.byId.get(userId);
    if (user && user.passwordHash === replacing) user.passwordHash = passwordHash;
  }

  async ping(): Promise<void> {}

  /** Test helper: the stored row, hash included. */
  stored(userId: string): UserWithPassword | undefined {
    const user = this.byId.get(userId);
    return user ? { ...user } : undefined;
  }

  get size(): number {
    return this.byId.size;
  }
}

type StoreMethod = 'insert' | 'find' | 'touch' | 'recordReauthentication' | 'delete' | 'listByUser' | 'deleteByUser';

/**
 * Sessions as `SqlSessionStore` keeps them: `find` joins the current user (and answers null
 * once the user is gone, as the inner join and the cascade do) and may return expired records;
 * `touch` on a missing id is a no-op; `listByUser` hides expired ones, most recently used first.
 * Credential epochs: with `users`, the user's own (like SQL); without, one kept here and raised
 * by `deleteByUser` and by newer inserts (like Redis).
 */
export class InMemorySessionStore implements SessionStore {
  private readonly sessions = new Map<string, SessionRecord>();
  private readonly insertedUsers = new Map<string, User>();
  private readonly epochs = new Map<string, number>();
  readonly calls: Record<StoreMethod, number> = { insert: 0, find: 0, touch: 0, recordReauthentication: 0, delete: 0, listByUser: 0, deleteByUser: 0 };

  /** With `users`, sessions resolve their user from it like the SQL join does. */
  constructor(private readonly users?: UserRepository) {}

  async insert(session: SessionRecord, user: User, limits: { keepAtMost: number }): Promise<'inserted' | 'stale'> {
    this.calls.insert++;
    if (this.sessions.has(session.id)) throw new Error(`duplicate session id ${session.id}`);
    const current = await this.epochOf(session.userId);
    if (current === null || session.epoch < current) return 'stale';
    if (!this.users) this.epochs.set(session.userId, session.epoch);
    this.sessions.set(session.id, copy(session));
    this.insertedUsers.set(user.id, publicUser(user));
    const mine = [...this.sessions.values()].filter((s) => s.userId === user.id && !s.pending).sort((a, b) => b.lastSeenAt - a.lastSeenAt);
    for (const evicted of mine.slice(limits.keepAtMost)) this.sessions.delete(evicted.id);
    return 'inserted';
  }

  /** The user's current epoch, or null when the user is gone. */
  private async epochOf(userId: string): Promise<number | null> {
    if (!this.users) return this.epochs.get(userId) ?? 0;
    const user = await this.users.findById(userId);
    return user ? user.credentialEpoch : null;
  }

  async refreshUser(user: User): Promise<void> {
    this.insertedUsers.set(user.id, publicUser(user));
  }

  async recordReauthentication(sessionId: string, at: number): Promise<void> {
    this.calls.recordReauthentication++;
    const session = this.sessions.get(sessionId);
    if (session) this.sessions.set(sessionId, { ...session, authenticatedAt: at });
  }

  async find(sessionId: string): Promise<SessionWithUser | null> {
    this.calls.find++;
    const session = this.sessions.get(sessionId);
    if (!session) return null;
    const user = this.users ? await this.users.findById(session.userId) : this.insertedUsers.get(session.userId);
    if (!user) return null;
    if (session.epoch < ((await this.epochOf(session.userId)) ?? Infinity)) return null;
    return { session: copy(session), user: publicUser(user) };
  }

  async touch(sessionId: string, lastSeenAt: number, expiresAt: number): Promise<void> {
    this.calls.touch++;
    const session = this.sessions.get(sessionId);
    if (session) this.sessions.set(sessionId, { ...session, lastSeenAt, expiresAt });
  }

  async delete(sessionId: string): Promise<boolean> {
    this.calls.delete++;
    return this.sessions.delete(sessionId);
  }

  async listByUser(userId: string, now: number): Promise<SessionRecord[]> {
    this.calls.listByUser++;
    const epoch = (await this.epochOf(userId)) ?? Infinity;
    return [...this.sessions.values()]
      .filter((s) => s.userId === userId && s.expiresAt > now && s.epoch >= epoch && !s.pending)
      .sort((a, b) => b.lastSeenAt - a.lastSeenAt)
      .map(copy);
  }

  async deleteByUser(userId: string, { epoch, keepSessionId }: { epoch: number; keepSessionId?: string }): Promise<number> {
    this.calls.deleteByUser++;
    if (!this.users) this.epochs.set(userId, Math.max(epoch, this.epochs.get(userId) ?? 0));
    let count = 0;
    for (const [id, s] of this.sessions) {
      if (s.userId === userId && id !== keepSessionId) {
        this.sessions.delete(id);
        count++;
      }
    }
    return count;
  }

  async ping(): Promise<void> {}

  /** Test helper: the stored record without counting a `find`. */
  peek(sessionId: string): SessionRecord | undefined {
    const session = this.sessions.get(sessionId);
    return session ? copy(session) : undefined;
  }

  get size(): number {
    return this.sessions.size;
  }
}

function copy(session: SessionRecord): SessionRecord {
  return { ...session, secretHash: Buffer.from(session.secretHash) };
}

export interface HasherCall {
  method: 'hash' | 'verify' | 'verifyDummy';
  password: string;
}

/**
 * A fast, reversible stand-in for argon2: `fake$<version>$<base64url(password)>`. Raising
 * `version` makes older hashes report `needsRehash`, like raised argon2 parameters.
 */
export class FakePasswordHasher implements PasswordHasher {
  readonly calls: HasherCall[] = [];
  version = 1;
  /** While true, every operation fails as the real pool does when it refuses (503). */
  unavailable = false;
  /** While true, `admitsNow` answers false, as the real pool does with its queue at its bound. */
  full = false;

  admitsNow(): boolean {
    return !this.full;
  }

  private refuseIfUnavailable(): void {
    if (this.unavailable) throw new UnavailableError('password hashing');
  }

  async hash(password: string): Promise<string> {
    this.refuseIfUnavailable();
    this.calls.push({ method: 'hash', password });
    return `fake$${this.version}$${Buffer.from(password, 'utf8').toString('base64url')}`;
  }

  async verify(hash: string, password: string): Promise<VerifyResult> {
    this.refuseIfUnavailable();
    this.calls.push({ method: 'verify', password });
    const match = /^fake\$(\d+)\$([A-Za-z0-9_-]*)$/.exec(hash);
    if (!match || Buffer.from(match[2]!, 'base64url').toString('utf8') !== password) return { ok: false };
    return { ok: true, needsRehash: Number(match[1]) !== this.version };
  }

  async verifyDummy(password: string): Promise<void> {
    this.refuseIfUnavailable();
    this.calls.push({ method: 'verifyDummy', password });
  }

  count(method: HasherCall['method']): number {
    return this.calls.filter((c) => c.method === method).length;
  }
}

/** A fixed-window counter on a clock, like the real limiters but in memory (domain tests only). */
export class InMemoryRateLimiter implements RateLimiter {
  private readonly windows = new Map<string, { count: number; endsAt: number }>();

  constructor(
    private readonly points: number,
    private readonly durationMs: number,
    private readonly clock: Clock,
  ) {}

  private window(key: string) {
    const now = this.clock.now();
    let window = this.windows.get(key);
    if (!window || window.endsAt <= now) {
      window = { count: 0, endsAt: now + this.durationMs };
      this.windows.set(key, window);
    }
    return window;
  }

  async consume(key: string): Promise<ThrottleVerdict> {
    const window = this.window(key);
    window.count++;
    return window.count > this.points ? { allowed: false, retryAfterMs: window.endsAt - this.clock.now() } : { allowed: true };
  }

  async peek(key: string): Promise<number> {
    return this.window(key).count;
  }

  async reward(key: string): Promise<void> {
    const window = this.window(key);
    window.count = Math.max(0, window.count - 1);
  }

  async reset(key: string): Promise<void> {
    this.windows.delete(key);
  }
}

/** Keeps every recorded auth event, for assertions. */
export class RecordingEventSink implements AuthEventSink {
  readonly events: AuthEvent[] = [];
  async record(event: AuthEvent): Promise<void> {
    this.events.push(event);
  }
}
