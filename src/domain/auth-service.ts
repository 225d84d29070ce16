/**
 * The authentication flows. Knows nothing of HTTP, SQL or Redis: it speaks through the ports
 * and answers with values or with a `LatchError` carrying a code from the catalogue.
 */
import { LatchError } from './errors.js';
import { normalizePassword, type PasswordPolicy } from './password-policy.js';
import type { Clock, PasswordHasher, Random, SessionStore, UserRepository } from './ports.js';
import { type SessionPolicy, type SessionRecord } from './session.js';
import { newSessionCredentials, parseToken, secretMatches } from './session-token.js';
import { normalizeEmail, normalizeName, publicUser, type User } from './user.js';

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

export interface Authenticated {
  user: User;
  session: SessionRecord;
  /** True when this request slid the expiry, so a persistent cookie should be re-sent. */
  renewed: boolean;
}

export interface AuthServiceDeps {
  users: UserRepository;
  sessions: SessionStore;
  hasher: PasswordHasher;
  passwordPolicy: PasswordPolicy;
  sessionPolicy: SessionPolicy;
  clock: Clock;
  random: Random;
}

const USER_AGENT_MAX_LENGTH = 512;

export class AuthService {
  constructor(private readonly deps: AuthServiceDeps) {}

  async register(
    input: { email: string; password: string; name: string },
    client: ClientInfo,
  ): Promise<IssuedSession> {
    const { users, hasher, passwordPolicy, clock, random } = this.deps;
    const email = normalizeEmail(input.email);
    const name = normalizeName(input.name);
    const password = normalizePassword(input.password);
    const verdict = passwordPolicy.check(password, { email, name });
    if (!verdict.ok) throw new LatchError('weak_password', verdict.message);

    const passwordHash = await hasher.hash(password);
    const created = await users.create({
      id: random.uuid(),
      email,
      name,
      emailVerified: false,
      createdAt: clock.now(),
      passwordHash,
    });
    if (!created.ok) throw new LatchError('email_taken', 'An account with this email already exists');
    return this.startSession(created.user, { rememberMe: false }, client);
  }

  async login(
    input: { email: string; password: string; rememberMe: boolean },
    client: ClientInfo,
  ): Promise<IssuedSession> {
    const { users, hasher } = this.deps;
    const password = normalizePassword(input.password);
    const account = await users.findByEmail(normalizeEmail(input.email));
    if (!account) {
      // Same work, same answer as a wrong password: the response must not reveal whether
      // the email is registered (DESIGN.md, "Passwords and accounts").
      await hasher.verifyDummy(password);
      throw invalidCredentials();
    }
    const verdict = await hasher.verify(account.passwordHash, password);
    if (!verdict.ok) throw invalidCredentials();
    if (verdict.needsRehash) {
      // Parameters were raised since this hash was made; the plaintext is at hand only now.
      await users.updatePasswordHash(account.id, await hasher.hash(password));
    }
    return this.startSession(publicUser(account), { rememberMe: input.rememberMe }, client);
  }

  /**
   * Resolves a cookie value to its session. Malformed tokens, unknown ids, wrong secrets and
   * expired sessions all answer null, and an expired record is removed.
   */
  async authenticate(token: string): Promise<Authenticated | null> {
    const { sessions, sessionPolicy, clock } = this.deps;
    const parsed = parseToken(token);
    if (!parsed) return null;
    const found = await sessions.find(parsed.id);
    if (!found || !secretMatches(found.session.secretHash, parsed.secret)) return null;

    const now = clock.now();
    const check = sessionPolicy.check(found.session, now);
    if (check.state === 'expired') {
      await sessions.delete(found.session.id);
      return null;
    }
    if (check.state === 'valid') return { ...found, renewed: false };
    await sessions.touch(found.session.id, check.lastSeenAt, check.expiresAt);
    const session = { ...found.session, lastSeenAt: check.lastSeenAt, expiresAt: check.expiresAt };
    return { user: found.user, session, renewed: true };
  }

  async logout(sessionId: string): Promise<void> {
    await this.deps.sessions.delete(sessionId);
  }

  /** Every login and registration issues a brand-new session: a planted id is never adopted. */
  private async startSession(
    user: User,
    options: { rememberMe: boolean },
    client: ClientInfo,
  ): Promise<IssuedSession> {
    const { sessions, sessionPolicy, clock, random } = this.deps;
    const now = clock.now();
    const credentials = newSessionCredentials(random, user.id);
    const base = { createdAt: now, rememberMe: options.rememberMe };
    const session: SessionRecord = {
      id: credentials.id,
      userId: user.id,
      secretHash: credentials.secretHash,
      ...base,
      lastSeenAt: now,
      expiresAt: sessionPolicy.expiresAt(base, now),
      authenticatedAt: now,
      ip: client.ip,
      userAgent: [...client.userAgent].slice(0, USER_AGENT_MAX_LENGTH).join(''), // whole code points
    };
    await sessions.insert(session, user);
    return { user, session, token: credentials.token };
  }
}

function invalidCredentials(): LatchError {
  return new LatchError('invalid_credentials', 'Invalid email or password');
}
