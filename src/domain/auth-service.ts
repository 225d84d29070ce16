/**
 * Signing in and out: register, login, resolving a cookie to its session, logout. Knows
 * nothing of HTTP, SQL or Redis: it speaks through the ports and answers with values or with
 * a `LatchError` carrying a code from the catalogue.
 */
import type { AuthEventSink, AuthEventType } from './auth-events.js';
import { ipKey } from './client-key.js';
import type { Credentials } from './credentials.js';
import type { SecondStepMethod } from './two-step-service.js';
import type { Devices } from './devices.js';
import { accountDisabled, LatchError, RateLimitedError, uncountedIfUnavailable } from './errors.js';
import type { LoginThrottle } from './login-throttle.js';
import { normalizePassword, type PasswordPolicy } from './password-policy.js';
import type { Clock, Random, RateLimiter, SessionStore, UserRepository } from './ports.js';
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
  loginThrottle: LoginThrottle;
  /** Registrations per client IP. */
  registrationLimit: RateLimiter;
  events: AuthEventSink;
  verification: EmailVerification;
  /** REQUIRE_EMAIL_VERIFICATION: no session until the address is verified. */
  requireEmailVerification: boolean;
  /** Which second step an account needs after its password (TwoStepService). */
  twoStep: { methodsFor(userId: string): Promise<SecondStepMethod[]> };
  /** MFA_PENDING_TIMEOUT: how long a pending (second step) session lives. */
  mfaPendingTimeoutMs: number;
  devices: Pick<Devices, 'signedIn' | 'isRemembered'>;
}

/** What registration needs from the mail side (RecoveryService). */
export interface EmailVerification {
  sendVerification(user: User & { credentialEpoch: number }, client: ClientInfo): Promise<void>;
  notifySignupAttempt(email: string, client: ClientInfo): Promise<void>;
}

/**
 * With REQUIRE_EMAIL_VERIFICATION a registration never signs in, and a new address and a taken
 * one get the same answer (the owner of a taken one is told by mail instead).
 */
export type LoginOutcome =
  /** `device`: the device cookie the browser should hold from now on. */
  | { kind: 'signed_in'; issued: IssuedSession; device: string }
  /** The password was right; a pending session waits for the second step (`methods`). */
  | { kind: 'mfa_required'; issued: IssuedSession; methods: SecondStepMethod[] };

export type RegisterOutcome = { kind: 'signed_in'; issued: IssuedSession; device: string } | { kind: 'verification_pending' };

/** A new account's credential epoch (the column's default). */
const NEW_ACCOUNT_EPOCH = 0;

export class AuthService {
  constructor(private readonly deps: AuthServiceDeps) {}

  async register(
    input: { email: string; password: string; name: string },
    client: ClientInfo,
  ): Promise<RegisterOutcome> {
    const { users, credentials, passwordPolicy, clock, random, issuer, registrationLimit, verification, requireEmailVerification } = this.deps;
    const gate = await registrationLimit.consume(ipKey(client.ip));
    if (!gate.allowed) throw new RateLimitedError(gate.retryAfterMs);
    const email = normalizeEmail(input.email);
    const name = normalizeName(input.name);
    const password = normalizePassword(input.password);
    const verdict = passwordPolicy.check(password, { email, name });
    if (!verdict.ok) throw new LatchError('weak_password', verdict.message);

    // Hashing or the database refusing (503) creates nothing, so the attempt does not count.
    const created = await uncountedIfUnavailable(
      async () =>
        users.create({
          id: random.uuid(),
          email,
          name,
          emailVerified: false,
          createdAt: clock.now(),
          passwordHash: await credentials.hash(password),
          credentialEpoch: NEW_ACCOUNT_EPOCH,
          role: 'user',
          twoFactor: false,
          disabled: null,
        }),
      () => registrationLimit.reward(ipKey(client.ip)),
    );
    if (!created.ok) {
      if (!requireEmailVerification) throw new LatchError('email_taken', 'An account with this email already exists');
      await verification.notifySignupAttempt(email, client);
      return { kind: 'verification_pending' };
    }
    await verification.sendVerification({ ...created.user, credentialEpoch: NEW_ACCOUNT_EPOCH }, client);
    if (requireEmailVerification) {
      await this.record('registered', created.user.id, client);
      return { kind: 'verification_pending' };
    }
    const issued = await issuer.issue(created.user, NEW_ACCOUNT_EPOCH, { rememberMe: false, methods: ['password'] }, client);
    // Only a change racing the sign-up itself (the account deleted at once) gets here.
    if (!issued) throw new LatchError('unauthorized', 'The account changed while it was being created; sign in');
    await this.record('registered', created.user.id, client, issued.session.id);
    const device = await this.deps.devices.signedIn(created.user, client.device, client, { sessionId: issued.session.id, quiet: true });
    return { kind: 'signed_in', issued, device: device.token };
  }

  async login(
    input: { email: string; password: string; rememberMe: boolean },
    client: ClientInfo,
  ): Promise<LoginOutcome> {
    const { users, credentials, issuer, loginThrottle } = this.deps;
    const email = normalizeEmail(input.email);
    // Before anything is counted or looked up: nothing to give back, the same for every address.
    credentials.shedWhileFull();
    // Counted before anything is checked, for known and unknown addresses alike.
    const gate = await loginThrottle.attempt(email, client.ip);
    if (!gate.allowed) {
      const known = await users.findByEmail(email);
      await this.record('login_throttled', known?.id ?? null, client);
      throw new RateLimitedError(gate.retryAfterMs);
    }
    // Up to the verdict, a dependency refusing (503) gives the counted attempt back
    // (LoginThrottle.unjudged), for known and unknown addresses alike.
    const { account, proven } = await uncountedIfUnavailable(
      async () => {
        const found = await users.findByEmail(email);
        // Same work, same answer as a wrong password: the response must not reveal whether
        // the email is registered (DESIGN.md, "Passwords and accounts").
        if (!found) {
          await credentials.burn(input.password);
          return { account: null, proven: false };
        }
        return { account: found, proven: await credentials.verify(found, input.password) };
      },
      () => loginThrottle.unjudged(gate),
    );
    if (!account || !proven) {
      await this.record('login_failed', account?.id ?? null, client);
      throw invalidCredentials();
    }
    await loginThrottle.succeeded(gate);
    // Only with the password proven: a wrong one answers 401 for a disabled account too.
    if (account.disabled) {
      await this.record('login_failed', account.id, client);
      throw accountDisabled();
    }
    if (this.deps.requireEmailVerification && !account.emailVerified) {
      throw new LatchError('email_unverified', 'Verify your email address first: follow the link we mailed you');
    }
    // Only now, with the password proven, is it asked whether the account has a second factor:
    // a wrong password answers the same for every account (API.md, "Two-step sign-in").
    // A browser the owner asked to remember skips the step, with an aal1 session (never aal2).
    // The factors themselves are asked, never the account's `twoFactor` flag: a factor added
    // while the last one is removed can leave the flag off beside a confirmed factor.
    const asked = await this.deps.twoStep.methodsFor(account.id);
    const remembered = asked.length > 0 && (await this.deps.devices.isRemembered(account.id, client.device, account.credentialEpoch));
    const secondStep = remembered ? [] : asked;
    // The epoch read with the hash: if a reset, password change or deletion landed while the
    // password was being checked, the store refuses this session (THREATS.md, item 2).
    const user = publicUser(account);
    const issued =
      secondStep.length > 0
        ? await issuer.issuePending(user, account.credentialEpoch, { rememberMe: input.rememberMe, timeoutMs: this.deps.mfaPendingTimeoutMs }, client)
        : await issuer.issue(user, account.credentialEpoch, { rememberMe: input.rememberMe, methods: ['password'] }, client);
    if (!issued) {
      await this.record('login_failed', account.id, client);
      throw invalidCredentials();
    }
    if (secondStep.length > 0) {
      await this.record('mfa_challenged', account.id, client, issued.session.id);
      return { kind: 'mfa_required', issued, methods: secondStep };
    }
    await this.record('login_succeeded', account.id, client, issued.session.id);
    const device = await this.deps.devices.signedIn(user, client.device, client, { sessionId: issued.session.id });
    return { kind: 'signed_in', issued, device: device.token };
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

  async logout(auth: Authenticated, client: ClientInfo): Promise<void> {
    await this.deps.sessions.delete(auth.session.id);
    await this.record('logout', auth.user.id, client, auth.session.id);
  }

  private record(type: AuthEventType, userId: string | null, client: ClientInfo, sessionId?: string): Promise<void> {
    const event = { type, userId, at: this.deps.clock.now(), ip: client.ip, userAgent: client.userAgent };
    return this.deps.events.record(sessionId === undefined ? event : { ...event, sessionId });
  }
}

export function invalidCredentials(): LatchError {
  return new LatchError('invalid_credentials', 'Invalid email or password');
}
