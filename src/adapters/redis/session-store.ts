/**
 * Sessions in Redis (standalone or cluster). Records expire by TTL; the scripts in
 * `session-scripts.ts` keep the per-user index exact. See there for the key layout and the
 * packed session format.
 */
import { createHash } from 'node:crypto';
import { authMethods, type AuthMethod } from '../../domain/assurance.js';
import type { SessionStore, SessionWithUser } from '../../domain/ports.js';
import type { SessionRecord } from '../../domain/session.js';
import { slotTagOfSessionId, userSlotTag } from '../../domain/session-token.js';
import type { User } from '../../domain/user.js';
import type { RedisConnection } from './connection.js';
import * as scripts from './session-scripts.js';

/** [uidHex, secretHashHex, createdAt, lastSeenAt, authenticatedAt, flags, expiresAt, ip, userAgent, epoch, methods] */
type PackedFields = [string, string, number, number, number, number, number, string, string, number, number];
const PACKED_FIELDS = 11;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const REMEMBER_ME = 1;
const PENDING = 2;
const MAX_EPOCH = 0xffffff;
/** Ids of sessions made before ids were shortened; their keys keep the older shape. */
const LEGACY_ID_LENGTH = 22;

export class RedisSessionStore implements SessionStore {
  constructor(
    private readonly redis: RedisConnection,
    /** Namespaces every key, so several Latch deployments (or test runs) can share a Redis. */
    private readonly prefix = 'latch:',
  ) {}

  async insert(session: SessionRecord, user: User, limits: { keepAtMost: number }): Promise<'inserted' | 'stale'> {
    // The packed format keeps the epoch in 24 bits: 16 million credential changes per user.
    if (session.epoch > MAX_EPOCH) throw new Error('credential epoch past what the Redis session format holds');
    const base = this.baseOfSession(session.id);
    const stored = await this.redis.script<number>(
      scripts.insertSession,
      [sessionKey(base, session.id)],
      [
        base,
        session.id,
        uidHex(session.userId),
        encodeUser(user),
        String(session.expiresAt),
        String(limits.keepAtMost),
        session.secretHash.toString('hex'),
        String(session.createdAt),
        String(session.lastSeenAt),
        String(session.authenticatedAt),
        String((session.rememberMe ? REMEMBER_ME : 0) | (session.pending ? PENDING : 0)),
        userAgentRef(session.userAgent),
        session.ip,
        session.userAgent,
        String(session.epoch),
        String(packMethods(session.methods)),
      ],
    );
    return stored === 1 ? 'inserted' : 'stale';
  }

  async find(sessionId: string): Promise<SessionWithUser | null> {
    const base = this.baseOfSession(sessionId);
    const reply = await this.redis.script<[...PackedFields, string] | null>(scripts.findSession, [sessionKey(base, sessionId)], [base]);
    if (!reply) return null;
    return { session: decodeSession(sessionId, reply), user: decodeUser(reply[PACKED_FIELDS]) };
  }

  async touch(sessionId: string, lastSeenAt: number, expiresAt: number): Promise<void> {
    const base = this.baseOfSession(sessionId);
    await this.redis.script(scripts.touchSession, [sessionKey(base, sessionId)], [base, sessionId, String(lastSeenAt), String(expiresAt)]);
  }

  /** Rewrites the cached public fields, if cached (keeping their TTL). */
  async refreshUser(user: User): Promise<void> {
    const key = `${this.baseOfUser(user.id)}:u:${uidHex(user.id)}`;
    await this.redis.command(key, ['SET', key, encodeUser(user), 'XX', 'KEEPTTL']);
  }

  async recordReauthentication(sessionId: string, at: number): Promise<void> {
    const base = this.baseOfSession(sessionId);
    await this.redis.script(scripts.recordReauthentication, [sessionKey(base, sessionId)], [String(at)]);
  }

  async delete(sessionId: string): Promise<boolean> {
    const base = this.baseOfSession(sessionId);
    const ended = await this.redis.script<number>(scripts.deleteSession, [sessionKey(base, sessionId)], [base, sessionId]);
    return ended === 1;
  }

  async listByUser(userId: string, now: number): Promise<SessionRecord[]> {
    const base = this.baseOfUser(userId);
    const uid = uidHex(userId);
    const reply = await this.redis.script<Array<string | PackedFields>>(scripts.listSessions, [`${base}:i:${uid}`], [base, uid]);
    const sessions: SessionRecord[] = [];
    for (let i = 0; i < reply.length; i += 2) sessions.push(decodeSession(reply[i] as string, reply[i + 1] as PackedFields));
    return sessions
      .filter((s) => s.expiresAt > now && !s.pending) // a second step still to come is not listed
      .sort((a, b) => b.lastSeenAt - a.lastSeenAt || b.createdAt - a.createdAt);
  }

  async deleteByUser(userId: string, options: { epoch: number; keepSessionId?: string }): Promise<number> {
    const base = this.baseOfUser(userId);
    const uid = uidHex(userId);
    return this.redis.script<number>(scripts.deleteUserSessions, [`${base}:i:${uid}`], [
      base,
      uid,
      options.keepSessionId ?? '',
      String(options.epoch),
    ]);
  }

  ping(): Promise<void> {
    return this.redis.ping();
  }

  private baseOfSession(sessionId: string): string {
    return `${this.prefix}{${slotTagOfSessionId(sessionId)}}`;
  }

  private baseOfUser(userId: string): string {
    return `${this.prefix}{${userSlotTag(userId)}}`;
  }
}

/** The layout is in session-scripts.ts (`sessionKey` there is the same rule in Lua). */
function sessionKey(base: string, sessionId: string): string {
  return sessionId.length === LEGACY_ID_LENGTH ? `${base}:s:${sessionId}` : base + sessionId;
}

/** The packed format stores user ids as 16 bytes, so they must be UUIDs (Latch makes v4s). */
function uidHex(userId: string): string {
  if (!UUID.test(userId)) throw new Error('the Redis session store needs UUID user ids');
  return userId.replace(/-/g, '').toLowerCase();
}

function uuidOf(hex: string): string {
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** 48 bits of SHA-256: collisions among the user agents that share one slot are negligible. */
function userAgentRef(userAgent: string): string {
  return createHash('sha256').update(userAgent).digest('hex').slice(0, 12);
}

/**
 * [id, email, name, flags, createdAt]: a bare array, to keep the key small. Flags: 1 email
 * verified, 2 two-step on, 4 admin (entries written before roles had only 0 or 1).
 */
function encodeUser(user: User): string {
  const flags = (user.emailVerified ? 1 : 0) | (user.twoFactor ? 2 : 0) | (user.role === 'admin' ? 4 : 0);
  return JSON.stringify([user.id, user.email, user.name, flags, user.createdAt]);
}

function decodeUser(json: string): User {
  const [id, email, name, flags, createdAt] = JSON.parse(json) as [string, string, string, number, number];
  return { id, email, name, emailVerified: (flags & 1) !== 0, createdAt, twoFactor: (flags & 2) !== 0, role: (flags & 4) !== 0 ? 'admin' : 'user' };
}

function decodeSession(id: string, f: PackedFields | [...PackedFields, string]): SessionRecord {
  const [uid, hash, createdAt, lastSeenAt, authenticatedAt, flags, expiresAt, ip, userAgent, epoch, methods] = f;
  return {
    id,
    userId: uuidOf(uid),
    secretHash: Buffer.from(hash, 'hex'),
    createdAt: Number(createdAt),
    lastSeenAt: Number(lastSeenAt),
    expiresAt: Number(expiresAt),
    rememberMe: (Number(flags) & REMEMBER_ME) !== 0,
    authenticatedAt: Number(authenticatedAt),
    ip,
    userAgent,
    epoch: Number(epoch),
    methods: unpackMethods(Number(methods)),
    pending: (Number(flags) & PENDING) !== 0,
  };
}

/**
 * A session's methods in 16 bits: up to four 4-bit codes, first method in the highest nibble,
 * 0 = none (codes are 1 + the index in `authMethods`). Four is more than any sign-in needs.
 */
function packMethods(methods: readonly AuthMethod[]): number {
  if (methods.length > 4) throw new Error('a session records at most four methods');
  return methods.reduce((packed, method, i) => packed | ((authMethods.indexOf(method) + 1) << (12 - 4 * i)), 0);
}

function unpackMethods(packed: number): AuthMethod[] {
  const methods: AuthMethod[] = [];
  for (let shift = 12; shift >= 0; shift -= 4) {
    const method = authMethods[((packed >> shift) & 0xf) - 1];
    if (method === undefined) break;
    methods.push(method);
  }
  return methods;
}
