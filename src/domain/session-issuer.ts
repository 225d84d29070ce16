/**
 * Issues sessions. Every login, registration and rotation comes through here, so every one of
 * them gets a brand-new id and secret (a planted or old cookie is never adopted) and the
 * per-user cap (MAX_SESSIONS_PER_USER) is applied in one place.
 */
import type { Clock, Random, SessionStore } from './ports.js';
import type { SessionPolicy, SessionRecord } from './session.js';
import { newSessionCredentials } from './session-token.js';
import type { User } from './user.js';

/** Where a request came from, recorded on the session for the owner to see. */
export interface ClientInfo {
  ip: string;
  userAgent: string;
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

  async issue(user: User, options: { rememberMe: boolean }, client: ClientInfo): Promise<IssuedSession> {
    const { sessions, sessionPolicy, clock, random, maxSessionsPerUser } = this.deps;
    const now = clock.now();
    const credentials = newSessionCredentials(random, user.id);
    const lifetime = { createdAt: now, rememberMe: options.rememberMe };
    const session: SessionRecord = {
      id: credentials.id,
      userId: user.id,
      secretHash: credentials.secretHash,
      ...lifetime,
      lastSeenAt: now,
      expiresAt: sessionPolicy.expiresAt(lifetime, now),
      authenticatedAt: now,
      ip: client.ip,
      userAgent: [...client.userAgent].slice(0, USER_AGENT_MAX_LENGTH).join(''), // whole code points
    };
    await sessions.insert(session, user, { keepAtMost: maxSessionsPerUser });
    return { user, session, token: credentials.token };
  }
}
