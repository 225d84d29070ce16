/**
 * Sessions in Redis (standalone or cluster). Records expire by TTL; the scripts in
 * `session-scripts.ts` keep the per-user index exact. See there for the key layout.
 */
import type { SessionStore, SessionWithUser } from '../../domain/ports.js';
import type { SessionRecord } from '../../domain/session.js';
import { slotTagOfSessionId, userSlotTag } from '../../domain/session-token.js';
import type { User } from '../../domain/user.js';
import type { RedisConnection } from './connection.js';
import * as scripts from './session-scripts.js';

export class RedisSessionStore implements SessionStore {
  constructor(
    private readonly redis: RedisConnection,
    private readonly clock: { now(): number },
    /** Namespaces every key, so several Latch deployments (or test runs) can share a Redis. */
    private readonly prefix = 'latch:',
  ) {}

  async insert(session: SessionRecord, user: User, limits: { keepAtMost: number }): Promise<void> {
    const base = this.baseOfSession(session.id);
    await this.redis.script(
      scripts.insertSession,
      [`${base}s:${session.id}`],
      [
        base,
        session.id,
        session.userId,
        JSON.stringify(user),
        String(session.expiresAt),
        String(this.clock.now()),
        String(limits.keepAtMost),
        ...encodeSession(session),
      ],
    );
  }

  async find(sessionId: string): Promise<SessionWithUser | null> {
    const base = this.baseOfSession(sessionId);
    const reply = await this.redis.script<[string[], string] | null>(
      scripts.findSession,
      [`${base}s:${sessionId}`],
      [base],
    );
    if (!reply) return null;
    const [fields, userJson] = reply;
    return { session: decodeSession(sessionId, fields), user: JSON.parse(userJson) as User };
  }

  async touch(sessionId: string, lastSeenAt: number, expiresAt: number): Promise<void> {
    const base = this.baseOfSession(sessionId);
    await this.redis.script(
      scripts.touchSession,
      [`${base}s:${sessionId}`],
      [base, sessionId, String(lastSeenAt), String(expiresAt)],
    );
  }

  async recordReauthentication(sessionId: string, at: number): Promise<void> {
    const base = this.baseOfSession(sessionId);
    await this.redis.script(scripts.recordReauthentication, [`${base}s:${sessionId}`], [String(at)]);
  }

  async delete(sessionId: string): Promise<boolean> {
    const base = this.baseOfSession(sessionId);
    const ended = await this.redis.script<number>(scripts.deleteSession, [`${base}s:${sessionId}`], [base, sessionId]);
    return ended === 1;
  }

  async listByUser(userId: string, now: number): Promise<SessionRecord[]> {
    const base = this.baseOfUser(userId);
    const reply = await this.redis.script<Array<string | string[]>>(
      scripts.listSessions,
      [`${base}i:${userId}`],
      [base, String(now)],
    );
    const sessions: SessionRecord[] = [];
    for (let i = 0; i < reply.length; i += 2) {
      sessions.push(decodeSession(reply[i] as string, reply[i + 1] as string[]));
    }
    return sessions.filter((s) => s.expiresAt > now).sort((a, b) => b.lastSeenAt - a.lastSeenAt || b.createdAt - a.createdAt);
  }

  async deleteByUser(userId: string, keepSessionId?: string): Promise<number> {
    const base = this.baseOfUser(userId);
    return this.redis.script<number>(scripts.deleteUserSessions, [`${base}i:${userId}`], [base, keepSessionId ?? '']);
  }

  ping(): Promise<void> {
    return this.redis.ping();
  }

  private baseOfSession(sessionId: string): string {
    return `${this.prefix}{${slotTagOfSessionId(sessionId)}}:`;
  }

  private baseOfUser(userId: string): string {
    return `${this.prefix}{${userSlotTag(userId)}}:`;
  }
}

function encodeSession(s: SessionRecord): string[] {
  return [
    'u', s.userId,
    'h', s.secretHash.toString('base64url'),
    'c', String(s.createdAt),
    'l', String(s.lastSeenAt),
    'e', String(s.expiresAt),
    'r', s.rememberMe ? '1' : '0',
    'a', String(s.authenticatedAt),
    'i', s.ip,
    'g', s.userAgent,
  ];
}

function decodeSession(id: string, flat: string[]): SessionRecord {
  const f: Record<string, string> = {};
  for (let i = 0; i < flat.length; i += 2) f[flat[i]!] = flat[i + 1]!;
  return {
    id,
    userId: f.u ?? '',
    secretHash: Buffer.from(f.h ?? '', 'base64url'),
    createdAt: Number(f.c),
    lastSeenAt: Number(f.l),
    expiresAt: Number(f.e),
    rememberMe: f.r === '1',
    authenticatedAt: Number(f.a),
    ip: f.i ?? '',
    userAgent: f.g ?? '',
  };
}
