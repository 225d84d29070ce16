import type { AuthMethod } from './assurance.js';

/**
 * Session lifetime rules (API.md, "The session cookie"): a session ends at the earlier of
 * last use + idle timeout and login + absolute timeout; remember-me sessions use their own
 * (longer) timeout for both. Sliding renewal writes at most once per `touchInterval`, so the
 * common authenticated request is a single read.
 */
export interface SessionRecord {
  id: string;
  userId: string;
  /** SHA-256 of the secret half of the cookie. */
  secretHash: Buffer;
  createdAt: number;
  lastSeenAt: number;
  expiresAt: number;
  rememberMe: boolean;
  /** When this session last proved the password (login, re-authentication). */
  authenticatedAt: number;
  ip: string;
  userAgent: string;
  /** The user's credential epoch when the session was issued; an older one than the user's is dead. */
  epoch: number;
  /** How the session was proven, in order (its assurance level follows: `assuranceOf`). */
  methods: AuthMethod[];
  /**
   * A pending session (API.md, "Two-step sign-in"): the password was right, the second step is
   * still to come. It can do nothing but finish that step or log out, is never listed, and
   * does not slide.
   */
  pending: boolean;
}

export interface SessionTimeouts {
  idleTimeoutMs: number;
  absoluteTimeoutMs: number;
  rememberMeTimeoutMs: number;
}

export type SessionCheck =
  | { state: 'expired' }
  | { state: 'valid' }
  | { state: 'renew'; lastSeenAt: number; expiresAt: number };

export class SessionPolicy {
  /**
   * Minimum time between two writes of `lastSeenAt` for one session: once a minute, sooner
   * for very short idle timeouts (a tenth of it), so sliding stays accurate to 10 %.
   */
  readonly touchIntervalMs: number;

  constructor(private readonly timeouts: SessionTimeouts) {
    this.touchIntervalMs = Math.min(60_000, Math.floor(timeouts.idleTimeoutMs / 10));
  }

  /** The expiry of a session last used at `lastSeenAt`. */
  expiresAt(session: Pick<SessionRecord, 'createdAt' | 'rememberMe'>, lastSeenAt: number): number {
    const { idleTimeoutMs, absoluteTimeoutMs, rememberMeTimeoutMs } = this.timeouts;
    const idle = session.rememberMe ? rememberMeTimeoutMs : idleTimeoutMs;
    const absolute = session.rememberMe ? rememberMeTimeoutMs : absoluteTimeoutMs;
    return Math.min(lastSeenAt + idle, session.createdAt + absolute);
  }

  check(session: SessionRecord, now: number): SessionCheck {
    if (now >= session.expiresAt) return { state: 'expired' };
    if (session.pending) return { state: 'valid' }; // a pending session's few minutes never slide
    if (now - session.lastSeenAt < this.touchIntervalMs) return { state: 'valid' };
    return { state: 'renew', lastSeenAt: now, expiresAt: this.expiresAt(session, now) };
  }
}
