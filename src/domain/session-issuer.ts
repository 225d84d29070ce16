/**
 * Issues sessions. Every login, registration and rotation comes through here, so every one of
 * them gets a brand-new id and secret (a planted or old cookie is never adopted) and the
 * per-user cap (MAX_SESSIONS_PER_USER) is applied in one place.
 */
import type { Clock, Random, SessionStore } from './ports.js';
import type { AuthMethod } from './assurance.js';
import type { SessionPolicy, SessionRecord } from './session.js';
import { newSessionCredentials } from './session-token.js';
import type { User } from './user.js';

/** What a rotation's request proved beyond its predecessor's sign-in. */
export interface RotationProofs {
  /** The password was proven again now. */
  at?: number;
  /** Factors proven now (a confirmed authenticator app), added to the session's methods. */
  methods?: AuthMethod[];
}

/** Where a request came from, recorded on the session for the owner to see. */
export interface ClientInfo {
  ip: string;
  userAgent: string;
  /** The browser's device cookie, when it sent one (Devices): recognises, never authenticates. */
  device?: string;
}

export interface IssuedSession {
  user: User;
  session: SessionRecord;
  /** The cookie value. Only ever handed to the client, never stored or logged. */
  token: string;
}

export interface SessionIssuerDeps {
  sessions: SessionStore;
  sessionPolicy: SessionPolicy;
  clock: Clock;
  random: Random;
  maxSessionsPerUser: number;
}

const USER_AGENT_MAX_LENGTH = 512;

export class SessionIssuer {
  constructor(private readonly deps: SessionIssuerDeps) {}

  /**
   * A new sign-in under the user's credential epoch `epoch` (read with the password hash).
   * Null when the epoch moved on (or the account went) while the password was being checked:
   * that proof belongs to credentials that no longer exist.
   */
  issue(
    user: User,
    epoch: number,
    options: { rememberMe: boolean; methods: AuthMethod[] },
    client: ClientInfo,
  ): Promise<IssuedSession | null> {
    const now = this.deps.clock.now();
    const { rememberMe, methods } = options;
    return this.store(user, { createdAt: now, authenticatedAt: now, rememberMe, epoch, methods, pending: false }, client);
  }

  /**
   * A pending session after a right password for an account with a second factor: it lives
   * `timeoutMs` at most and never slides; `rememberMe` is kept for the session the second step
   * will issue.
   */
  issuePending(user: User, epoch: number, options: { rememberMe: boolean; timeoutMs: number }, client: ClientInfo): Promise<IssuedSession | null> {
    const now = this.deps.clock.now();
    const origin = { createdAt: now, authenticatedAt: now, rememberMe: options.rememberMe, epoch, methods: ['password' as const], pending: true };
    return this.store(user, origin, client, now + options.timeoutMs);
  }

  /**
   * A new id and secret for the same sign-in (after a credential change, a new address): the
   * successor keeps its predecessor's creation time, so the absolute lifetime does not restart,
   * and its proofs, plus what `proven` says this request proved.
   */
  rotate(predecessor: SessionRecord, user: User, epoch: number, client: ClientInfo, proven: RotationProofs = {}): Promise<IssuedSession | null> {
    const { createdAt, rememberMe } = predecessor;
    const authenticatedAt = proven.at ?? predecessor.authenticatedAt;
    const methods = [...predecessor.methods, ...(proven.methods ?? []).filter((m) => !predecessor.methods.includes(m))];
    return this.store(user, { createdAt, authenticatedAt, rememberMe, epoch, methods, pending: false }, client);
  }

  private async store(
    user: User,
    origin: Pick<SessionRecord, 'createdAt' | 'authenticatedAt' | 'rememberMe' | 'epoch' | 'methods' | 'pending'>,
    client: ClientInfo,
    expiresAt?: number,
  ): Promise<IssuedSession | null> {
    const { sessions, sessionPolicy, clock, random, maxSessionsPerUser } = this.deps;
    const now = clock.now();
    const credentials = newSessionCredentials(random, user.id);
    const session: SessionRecord = {
      id: credentials.id,
      userId: user.id,
      secretHash: credentials.secretHash,
      ...origin,
      lastSeenAt: now,
      expiresAt: expiresAt ?? sessionPolicy.expiresAt(origin, now),
      ip: client.ip,
      userAgent: [...client.userAgent].slice(0, USER_AGENT_MAX_LENGTH).join(''), // whole code points
    };
    const stored = await sessions.insert(session, user, { keepAtMost: maxSessionsPerUser });
    return stored === 'inserted' ? { user, session, token: credentials.token } : null;
  }
}
