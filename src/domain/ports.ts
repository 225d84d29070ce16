/**
 * Ports: what the domain needs from the outside world, shaped by the questions it asks.
 * Each has an SQL and/or Redis implementation under `adapters/` and one contract test suite.
 */
import type { SessionRecord } from './session.js';
import type { Disabled, Role, User, UserWithPassword } from './user.js';

export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
}

export interface Random {
  /** Cryptographically secure random bytes. */
  bytes(length: number): Buffer;
  uuid(): string;
}

export type CreateUserResult = { ok: true; user: User } | { ok: false; reason: 'email_taken' };

/** What a credential change writes together with the epoch bump (nothing, for "end everything"). */
export interface CredentialUpdate {
  passwordHash?: string;
  /** A new, verified address. */
  email?: string;
  /**
   * Two-step sign-in turned on (the first factor) or off (the last one removed): written only
   * when it changes the state (`unchanged` otherwise), so of racing turns exactly one is it.
   */
  twoFactor?: boolean;
  role?: Role;
  /** Disabled by an administrator (ends every session), or null: enabled again. */
  disabled?: Disabled | null;
}

export type CredentialChangeResult =
  | { ok: true; user: User; epoch: number }
  | { ok: false; reason: 'not_found' | 'stale' | 'email_taken' | 'last_admin' | 'unchanged' };

export interface UserRepository {
  create(user: UserWithPassword): Promise<CreateUserResult>;
  findByEmail(email: string): Promise<UserWithPassword | null>;
  findById(id: string): Promise<UserWithPassword | null>;
  /**
   * Replaces the hash of the SAME password (parameter upgrade): not a credential change. Only
   * while the stored hash is still `replacing`, so a change that landed since is never undone.
   */
  updatePasswordHash(userId: string, passwordHash: string, replacing: string): Promise<void>;
  /**
   * A credential change: bumps the user's credential epoch and writes `update` in one atomic
   * step. With `ifEpoch`, only while the epoch is still that one (`stale` otherwise): a mailed
   * link confirmed after a later change must not win. Demoting or disabling the last admin who
   * can sign in is refused (`last_admin`), also when two such changes race.
   */
  changeCredentials(userId: string, update: CredentialUpdate, ifEpoch?: number): Promise<CredentialChangeResult>;
  /**
   * Removes the account and every record that belongs to it, bumping its credential epoch in
   * the same transaction: a login that read the account before cannot land a session in a
   * store that keeps its own copy of the epoch (Redis). Returns that last epoch, or null when
   * there was no such account.
   */
  delete(userId: string, options?: { keepAnAdmin?: boolean }): Promise<{ epoch: number } | null | 'last_admin'>;
  /** Lets a disabled account sign in again; null when there is no such account. */
  enable(userId: string): Promise<User | null>;
  /** Marks the address verified, if it is still the account's address. Returns the user, or null. */
  markEmailVerified(userId: string, email: string): Promise<User | null>;
  ping(): Promise<void>;
}

/** A session together with the user it belongs to, as read on every authenticated request. */
export interface SessionWithUser {
  session: SessionRecord;
  user: User;
}

export interface SessionStore {
  /**
   * Stores a new session; `user` lets stores that cannot join (Redis) answer `find` in one
   * read. When the user then has more than `keepAtMost` live sessions, the least recently
   * used ones end (MAX_SESSIONS_PER_USER), atomically with the insert where the backend can.
   * `stale` (nothing stored): the user's credential epoch has moved past `session.epoch`, or
   * the user is gone: checked atomically with the insert, so a login that proved an old
   * password never lands after the change that replaced it.
   */
  insert(session: SessionRecord, user: User, limits: { keepAtMost: number }): Promise<'inserted' | 'stale'>;
  /**
   * The session and its user, or null when there is none, or when it was issued under an
   * older credential epoch than the user's (expired records may be returned).
   */
  find(sessionId: string): Promise<SessionWithUser | null>;
  /** Records use: the new last-seen time and the new expiry. No-op when the session is gone. */
  touch(sessionId: string, lastSeenAt: number, expiresAt: number): Promise<void>;
  /** The user's public fields changed (address, verification): stores that cache them update. */
  refreshUser(user: User): Promise<void>;
  /** The session proved the password again (login, re-authentication) at `at`. */
  recordReauthentication(sessionId: string, at: number): Promise<void>;
  /** Ends one session. Returns whether it existed. */
  delete(sessionId: string): Promise<boolean>;
  /** The user's live (unexpired) sessions, most recently used first. */
  listByUser(userId: string, now: number): Promise<SessionRecord[]>;
  /**
   * The user's credential epoch is now `epoch`: every session of the user except
   * `keepSessionId` ends, and a session of an older epoch inserted late is refused. Returns
   * how many ended.
   */
  deleteByUser(userId: string, options: { epoch: number; keepSessionId?: string }): Promise<number>;
  ping(): Promise<void>;
}

export type VerifyResult = { ok: true; needsRehash: boolean } | { ok: false };

export interface PasswordHasher {
  hash(password: string): Promise<string>;
  verify(hash: string, password: string): Promise<VerifyResult>;
  /**
   * Burns the same work as `verify` against a real hash, for requests about unknown accounts,
   * so their timing does not reveal which emails are registered.
   */
  verifyDummy(password: string): Promise<void>;
  /**
   * False while hashing would refuse a check asked for now (its bound is reached: a storm), so
   * that a login can be shed before any other work. True promises nothing: the check itself may
   * still be refused.
   */
  admitsNow(): boolean;
}

export type ThrottleVerdict = { allowed: true } | { allowed: false; retryAfterMs: number };

/**
 * An atomic counter with a window, kept where the sessions are (Redis or the SQL database) so
 * every instance sees the same count. Keys are opaque to the store.
 */
export interface RateLimiter {
  /** Counts one event; refuses once the window's limit is passed. */
  consume(key: string): Promise<ThrottleVerdict>;
  /** Events counted in the current window (0 when none). */
  peek(key: string): Promise<number>;
  /** Gives one counted event back. */
  reward(key: string): Promise<void>;
  /** Forgets the key's window. */
  reset(key: string): Promise<void>;
}
