/**
 * Signing in and out: register, login, resolving a cookie to its session, logout. Knows
 * nothing of HTTP, SQL or Redis: it speaks through the ports and answers with values or with
 * a `LatchError` carrying a code from the catalogue.
 */
import type { Credentials } from './credentials.js';
import { LatchError } from './errors.js';
import { normalizePassword, type PasswordPolicy } from './password-policy.js';
import type { Clock, Random, SessionStore, UserRepository } from './ports.js';
import type { SessionPolicy, SessionRecord } from './session.js';
import type { ClientInfo, IssuedSession, SessionIssuer } from './session-issuer.js';
import { parseToken, secretMatches } from './session-token.js';
import { normalizeEmail, normalizeName, publicUser, type User } from './user.js';

export type { ClientInfo, IssuedSession } from './session-issuer.js';

export interface Authenticated {
  user: User;
  session: SessionRecord;
  /** True when this request slid the expiry, so a persistent cookie should be re-sent. */
  renewed: boolean;
}

export interface AuthServiceDeps {
  users: UserRepository;
  sessions: SessionStore;
  credentials: Credentials;
  issuer: SessionIssuer;
  passwordPolicy: PasswordPolicy;
  sessionPolicy: SessionPolicy;
  clock: Clock;
  random: Random;
}

export class AuthService {
  constructor(private readonly deps: AuthServiceDeps) {}

  async register(
    input: { email: string; password: string; name: string },
    client: ClientInfo,
  ): Promise<IssuedSession> {
    const { users, credentials, passwordPolicy, clock, random, issuer } = this.deps;
    const email = normalizeEmail(input.email);
    const name = normalizeName(input.name);
    const password = normalizePassword(input.password);
    const verdict = passwordPolicy.check(password, { email, name });
    if (!verdict.ok) throw new LatchError('weak_password', verdict.message);

    const created = await users.create({
      id: random.uuid(),
      email,
      name,
      emailVerified: false,
      createdAt: clock.now(),
      passwordHash: await credentials.hash(password),
    });
    if (!created.ok) throw new LatchError('email_taken', 'An account with this email already exists');
    return issuer.issue(created.user, { rememberMe: false }, client);
  }

  async login(
    input: { email: string; password: string; rememberMe: boolean },
    client: ClientInfo,
  ): Promise<IssuedSession> {
    const { users, credentials, issuer } = this.deps;
    const account = await users.findByEmail(normalizeEmail(input.email));
    if (!account) {
      // Same work, same answer as a wrong password: the response must not reveal whether
      // the email is registered (DESIGN.md, "Passwords and accounts").
      await credentials.burn(input.password);
      throw invalidCredentials();
    }
    if (!(await credentials.verify(account, input.password))) throw invalidCredentials();
    return issuer.issue(publicUser(account), { rememberMe: input.rememberMe }, client);
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
}

export function invalidCredentials(): LatchError {
  return new LatchError('invalid_credentials', 'Invalid email or password');
}
