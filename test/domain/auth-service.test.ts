import { dictionary } from '@zxcvbn-ts/language-common';
import { beforeEach, describe, expect, it } from 'vitest';
import { AuthService, type ClientInfo, type IssuedSession, type LoginOutcome } from '../../src/domain/auth-service.js';
import { Credentials } from '../../src/domain/credentials.js';
import { LatchError, type RateLimitedError } from '../../src/domain/errors.js';
import { SessionIssuer } from '../../src/domain/session-issuer.js';
import { LoginThrottle } from '../../src/domain/login-throttle.js';
import { PasswordPolicy } from '../../src/domain/password-policy.js';
import { SessionPolicy } from '../../src/domain/session.js';
import { hashSecret, parseToken, userSlotTag } from '../../src/domain/session-token.js';
import {
  cryptoRandom,
  FakePasswordHasher,
  InMemoryRateLimiter,
  InMemorySessionStore,
  RecordingEventSink,
  InMemoryUserRepository,
  ManualClock,
} from '../support/fakes.js';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const TOUCH = MINUTE;
const PASSWORD = 'violet-harbor-lantern-42';
const client: ClientInfo = { ip: '203.0.113.9', userAgent: 'Mozilla/5.0 test' };

let clock: ManualClock;
let users: InMemoryUserRepository;
let sessions: InMemorySessionStore;
let hasher: FakePasswordHasher;
let auth: AuthService;
let events: RecordingEventSink;

beforeEach(() => {
  clock = new ManualClock();
  users = new InMemoryUserRepository();
  sessions = new InMemorySessionStore(users);
  hasher = new FakePasswordHasher();
  events = new RecordingEventSink();
  const sessionPolicy = new SessionPolicy({
    idleTimeoutMs: 24 * HOUR,
    absoluteTimeoutMs: 7 * DAY,
    rememberMeTimeoutMs: 30 * DAY,
  });
  auth = new AuthService({
    users,
    sessions,
    credentials: new Credentials(users, hasher),
    issuer: new SessionIssuer({ sessions, sessionPolicy, clock, random: cryptoRandom, maxSessionsPerUser: 50 }),
    passwordPolicy: new PasswordPolicy({ minLength: 15, maxLength: 256 }, dictionary['passwords-common']),
    sessionPolicy,
    clock,
    random: cryptoRandom,
    loginThrottle: new LoginThrottle({
      pair: new InMemoryRateLimiter(5, 15 * MINUTE, clock),
      ip: new InMemoryRateLimiter(100, DAY, clock),
      account: new InMemoryRateLimiter(30, 5 * MINUTE, clock),
      knownIp: new InMemoryRateLimiter(1, 30 * DAY, clock),
      consecutive: new InMemoryRateLimiter(100, DAY, clock),
    }),
    registrationLimit: new InMemoryRateLimiter(1000, HOUR, clock),
    events,
    verification: { sendVerification: async () => {}, notifySignupAttempt: async () => {} },
    requireEmailVerification: false,
    twoStep: { methodsFor: async () => [] }, // one-step accounts here; two-step has its own suite
    mfaPendingTimeoutMs: 5 * MINUTE,
    devices: { signedIn: async (_user, token) => ({ token: token ?? 'device', isNew: false }), isRemembered: async () => false },
  });
});

async function rejection(promise: Promise<unknown>): Promise<LatchError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(LatchError);
    return error as LatchError;
  }
  throw new Error('expected a LatchError, got success');
}

/** A login that signed in (these accounts have no second step). */
function signedIn(outcome: LoginOutcome): IssuedSession {
  if (outcome.kind !== 'signed_in') throw new Error('expected a signed-in login');
  return outcome.issued;
}

async function register(email = 'ada@example.com', password = PASSWORD, name = 'Ada Lovelace') {
  const outcome = await auth.register({ email, password, name }, client);
  if (outcome.kind !== 'signed_in') throw new Error('expected a session from registration');
  return outcome.issued;
}

describe('register', () => {
  it('creates the user, normalizes email and name, and returns a working session', async () => {
    const issued = await register('  Ada.L@Example.COM ', PASSWORD, '  Ada Lovelace  ');
    expect(issued.user).toMatchObject({ email: 'ada.l@example.com', name: 'Ada Lovelace', emailVerified: false, createdAt: clock.now() });
    expect(issued.user).not.toHaveProperty('passwordHash');
    expect(users.stored(issued.user.id)?.email).toBe('ada.l@example.com');

    expect(issued.session).toMatchObject({
      userId: issued.user.id,
      createdAt: clock.now(),
      lastSeenAt: clock.now(),
      authenticatedAt: clock.now(),
      expiresAt: clock.now() + 24 * HOUR,
      rememberMe: false,
      ip: client.ip,
      userAgent: client.userAgent,
    });
    const parsed = parseToken(issued.token);
    expect(parsed?.id).toBe(issued.session.id);
    expect(issued.session.id.startsWith(userSlotTag(issued.user.id))).toBe(true);
    expect(Buffer.compare(sessions.peek(issued.session.id)!.secretHash, hashSecret(parsed!.secret))).toBe(0);

    const authed = await auth.authenticate(issued.token);
    expect(authed?.user).toEqual(issued.user);
  });

  it('hashes the password, never stores it in clear', async () => {
    const issued = await register();
    const stored = users.stored(issued.user.id)!;
    expect(stored.passwordHash).not.toContain(PASSWORD);
    expect(hasher.calls).toEqual([{ method: 'hash', password: PASSWORD }]);
  });

  it('finds an existing email regardless of case and spaces: email_taken', async () => {
    await register('ada@example.com');
    const error = await rejection(register('  ADA@Example.com', 'another-strong-passphrase-9', 'Someone Else'));
    expect(error.code).toBe('email_taken');
    expect(users.size).toBe(1);
    expect(sessions.size).toBe(1);
  });

  it('refuses a weak password with weak_password and the rule in the message, before hashing', async () => {
    const short = await rejection(register('a@example.com', 'short-pw'));
    expect(short.code).toBe('weak_password');
    expect(short.message).toMatch(/at least 15/);

    const personal = await rejection(register('grace.hopper@example.com', 'grace.hopper-rocks-1906', 'Grace Hopper'));
    expect(personal.code).toBe('weak_password');
    expect(personal.message).toMatch(/email|name/i);

    const common = await rejection(register('b@example.com', 'passwordpassword'));
    expect(common.code).toBe('weak_password');
    expect(common.message).toMatch(/common/i);

    expect(hasher.count('hash')).toBe(0);
    expect(users.size).toBe(0);
    expect(sessions.size).toBe(0);
  });

  it('checks the personal rule against the email given at registration', async () => {
    const error = await rejection(register('  Lin.Yutang@Example.com ', 'LIN.YUTANG-my-secret-phrase', 'Someone'));
    expect(error.code).toBe('weak_password');
  });

  it('caps the stored user agent at 512 characters', async () => {
    const outcome = await auth.register({ email: 'ua@example.com', password: PASSWORD, name: 'Ua User' }, { ip: '::1', userAgent: 'x'.repeat(5000) });
    if (outcome.kind !== 'signed_in') throw new Error('expected a session');
    const { issued } = outcome;
    expect(issued.session.userAgent).toHaveLength(512);
    expect(sessions.peek(issued.session.id)!.userAgent).toHaveLength(512);
  });
});

describe('login', () => {
  it('issues a new session id and token on every login', async () => {
    const registered = await register();
    const tokens = new Set([registered.token]);
    const ids = new Set([registered.session.id]);
    for (let i = 0; i < 5; i++) {
      const issued = signedIn(await auth.login({ email: 'ada@example.com', password: PASSWORD, rememberMe: false }, client));
      expect(issued.user.id).toBe(registered.user.id);
      tokens.add(issued.token);
      ids.add(issued.session.id);
    }
    expect(tokens.size).toBe(6);
    expect(ids.size).toBe(6);
    expect(sessions.size).toBe(6);
  });

  it('normalizes the email and returns the public user', async () => {
    const registered = await register();
    const issued = signedIn(await auth.login({ email: ' ADA@EXAMPLE.COM ', password: PASSWORD, rememberMe: false }, client));
    expect(issued.user).toEqual(registered.user);
    expect(issued.user).not.toHaveProperty('passwordHash');
  });

  it('gives a remember-me session the remember-me timeout', async () => {
    await register();
    clock.advance(HOUR);
    const issued = signedIn(await auth.login({ email: 'ada@example.com', password: PASSWORD, rememberMe: true }, client));
    expect(issued.session.rememberMe).toBe(true);
    expect(issued.session.expiresAt).toBe(clock.now() + 30 * DAY);
    expect(issued.session.createdAt).toBe(clock.now());
  });

  it('answers an unknown email exactly like a wrong password, after the same hashing work', async () => {
    await register();
    hasher.calls.length = 0;

    const wrong = await rejection(auth.login({ email: 'ada@example.com', password: 'not-the-password-at-all', rememberMe: false }, client));
    expect(hasher.calls).toEqual([{ method: 'verify', password: 'not-the-password-at-all' }]);
    hasher.calls.length = 0;

    const unknown = await rejection(auth.login({ email: 'nobody@example.com', password: 'not-the-password-at-all', rememberMe: false }, client));
    expect(hasher.calls).toEqual([{ method: 'verifyDummy', password: 'not-the-password-at-all' }]);

    expect(unknown.code).toBe('invalid_credentials');
    expect(wrong.code).toBe('invalid_credentials');
    expect(unknown.message).toBe(wrong.message);
    expect(unknown.name).toBe(wrong.name);
    expect(unknown.issues).toEqual(wrong.issues);
    expect(sessions.size).toBe(1);
  });

  it('verifies the NFKC-normalized password for an unknown email too', async () => {
    await rejection(auth.login({ email: 'nobody@example.com', password: 'ﬁne-ｐａｓｓ', rememberMe: false }, client));
    expect(hasher.calls).toEqual([{ method: 'verifyDummy', password: 'fine-pass' }]);
  });

  it('upgrades a hash that needs rehashing after a successful login, and only then', async () => {
    const registered = await register();
    const oldHash = users.stored(registered.user.id)!.passwordHash;
    hasher.version = 2;

    await rejection(auth.login({ email: 'ada@example.com', password: 'wrong-password-entirely', rememberMe: false }, client));
    expect(users.stored(registered.user.id)!.passwordHash).toBe(oldHash);

    await auth.login({ email: 'ada@example.com', password: PASSWORD, rememberMe: false }, client);
    const newHash = users.stored(registered.user.id)!.passwordHash;
    expect(newHash).not.toBe(oldHash);
    expect(await hasher.verify(newHash, PASSWORD)).toEqual({ ok: true, needsRehash: false });

    hasher.calls.length = 0;
    await auth.login({ email: 'ada@example.com', password: PASSWORD, rememberMe: false }, client);
    expect(hasher.count('hash')).toBe(0);
    expect(users.stored(registered.user.id)!.passwordHash).toBe(newHash);
  });

  it('lets a password registered in full-width letters log in with its ASCII form, and back', async () => {
    const fullWidth = 'ｖｉｏｌｅｔ－ｈａｒｂｏｒ－ｌａｎｔｅｒｎ－４２';
    expect(fullWidth.normalize('NFKC')).toBe(PASSWORD);
    const registered = await register('wide@example.com', fullWidth, 'Wide Keys');
    expect(hasher.calls[0]).toEqual({ method: 'hash', password: PASSWORD });

    const ascii = signedIn(await auth.login({ email: 'wide@example.com', password: PASSWORD, rememberMe: false }, client));
    expect(ascii.user.id).toBe(registered.user.id);
    const wide = signedIn(await auth.login({ email: 'wide@example.com', password: fullWidth, rememberMe: false }, client));
    expect(wide.user.id).toBe(registered.user.id);
  });
});

describe('authenticate', () => {
  it('answers null for malformed tokens without touching the store', async () => {
    await register();
    for (const token of ['', 'garbage', '.', 'a.b', '__proto__', 'x'.repeat(10_000)]) {
      expect(await auth.authenticate(token)).toBeNull();
    }
    expect(sessions.calls.find).toBe(0);
  });

  it('answers null for an unknown id', async () => {
    const issued = await register();
    const parsed = parseToken(issued.token)!;
    const otherId = parsed.id.slice(0, 2) + (parsed.id[2] === 'A' ? 'B' : 'A') + parsed.id.slice(3);
    expect(await auth.authenticate(`${otherId}.${parsed.secret}`)).toBeNull();
  });

  it('answers null for the right id with a wrong secret, and leaves the session alone', async () => {
    const issued = await register();
    const other = await register('other@example.com', PASSWORD, 'Other Person');
    const { id } = parseToken(issued.token)!;
    const { secret: otherSecret } = parseToken(other.token)!;
    expect(await auth.authenticate(`${id}.${otherSecret}`)).toBeNull();
    expect(sessions.calls.touch).toBe(0);
    expect(sessions.calls.delete).toBe(0);
    expect(await auth.authenticate(issued.token)).not.toBeNull();
  });

  it('answers null at exactly expiresAt and deletes the record', async () => {
    const issued = await register();
    clock.set(issued.session.expiresAt - 1);
    // One millisecond before the idle timeout it still works (and slides).
    expect(await auth.authenticate(issued.token)).not.toBeNull();
    const slid = sessions.peek(issued.session.id)!;
    clock.set(slid.expiresAt);
    expect(await auth.authenticate(issued.token)).toBeNull();
    expect(sessions.peek(issued.session.id)).toBeUndefined();
    expect(await auth.authenticate(issued.token)).toBeNull();
  });

  it('does not delete a session when the secret is wrong, even if it has expired', async () => {
    const issued = await register();
    const other = await register('other@example.com', PASSWORD, 'Other Person');
    clock.advance(25 * HOUR);
    const { id } = parseToken(issued.token)!;
    expect(await auth.authenticate(`${id}.${parseToken(other.token)!.secret}`)).toBeNull();
    expect(sessions.calls.delete).toBe(0);
  });

  it('within the touch interval: valid, no store write, renewed=false', async () => {
    const issued = await register();
    for (const step of [0, 1_000, 30_000, TOUCH - 1]) {
      clock.set(issued.session.createdAt + step);
      const authed = await auth.authenticate(issued.token);
      expect(authed).not.toBeNull();
      expect(authed!.renewed).toBe(false);
      expect(authed!.session.expiresAt).toBe(issued.session.expiresAt);
      expect(authed!.session.lastSeenAt).toBe(issued.session.lastSeenAt);
    }
    expect(sessions.calls.touch).toBe(0);
    expect(sessions.calls.insert).toBe(1);
    expect(sessions.calls.delete).toBe(0);
  });

  it('after the touch interval: exactly one touch, renewed=true, new expiry stored and returned', async () => {
    const issued = await register();
    clock.set(issued.session.createdAt + 2 * HOUR);
    const authed = await auth.authenticate(issued.token);
    expect(authed!.renewed).toBe(true);
    expect(authed!.session.lastSeenAt).toBe(clock.now());
    expect(authed!.session.expiresAt).toBe(clock.now() + 24 * HOUR);
    expect(sessions.calls.touch).toBe(1);
    expect(sessions.peek(issued.session.id)).toMatchObject({ lastSeenAt: clock.now(), expiresAt: clock.now() + 24 * HOUR });

    // The next request inside the interval reads only.
    clock.advance(TOUCH - 1);
    const again = await auth.authenticate(issued.token);
    expect(again!.renewed).toBe(false);
    expect(sessions.calls.touch).toBe(1);

    clock.advance(1);
    expect((await auth.authenticate(issued.token))!.renewed).toBe(true);
    expect(sessions.calls.touch).toBe(2);
  });

  it('keeps a session alive by use past the idle timeout but never past the absolute one', async () => {
    const issued = await register();
    let t = issued.session.createdAt;
    while (t + 20 * HOUR < issued.session.createdAt + 7 * DAY) {
      t += 20 * HOUR;
      clock.set(t);
      expect(await auth.authenticate(issued.token)).not.toBeNull();
    }
    expect(sessions.peek(issued.session.id)!.expiresAt).toBe(issued.session.createdAt + 7 * DAY);
    clock.set(issued.session.createdAt + 7 * DAY);
    expect(await auth.authenticate(issued.token)).toBeNull();
  });
});

describe('logout', () => {
  it('deletes the record on the server: the token stops working', async () => {
    const issued = await register();
    const other = signedIn(await auth.login({ email: 'ada@example.com', password: PASSWORD, rememberMe: false }, client));
    await auth.logout({ ...issued, renewed: false }, client);
    expect(sessions.peek(issued.session.id)).toBeUndefined();
    expect(events.events.at(-1)).toMatchObject({ type: 'logout', userId: issued.user.id, sessionId: issued.session.id, ip: client.ip });
    expect(await auth.authenticate(issued.token)).toBeNull();
    // Other sessions of the same user are untouched.
    expect(await auth.authenticate(other.token)).not.toBeNull();
  });

  it('is harmless for a session that is already gone', async () => {
    const issued = await register();
    await auth.logout({ ...issued, renewed: false }, client);
    await expect(auth.logout({ ...issued, renewed: false }, client)).resolves.toBeUndefined();
  });
});

describe('login throttling', () => {
  it('counts attempts before checking: past 5 per (account, IP) even the right password is refused', async () => {
    await register();
    for (let i = 0; i < 5; i++) {
      expect((await rejection(auth.login({ email: 'ada@example.com', password: 'wrong-password-x', rememberMe: false }, client))).code).toBe('invalid_credentials');
    }
    const refused = await rejection(auth.login({ email: 'ada@example.com', password: PASSWORD, rememberMe: false }, client));
    expect(refused.code).toBe('rate_limited');
    expect((refused as RateLimitedError).retryAfterMs).toBeGreaterThan(0);
    expect(hasher.calls.filter((c) => c.method === 'verify')).toHaveLength(5); // the 6th was never evaluated
    expect(events.events.at(-1)).toMatchObject({ type: 'login_throttled' });
    // Another IP is not affected, and the window ends.
    await auth.login({ email: 'ada@example.com', password: PASSWORD, rememberMe: false }, { ...client, ip: '198.51.100.1' });
    clock.advance(15 * MINUTE);
    await auth.login({ email: 'ada@example.com', password: PASSWORD, rememberMe: false }, client);
  });

  it('treats unknown emails exactly like known ones', async () => {
    for (let i = 0; i < 5; i++) {
      expect((await rejection(auth.login({ email: 'nobody@example.com', password: 'wrong-password-x', rememberMe: false }, client))).code).toBe('invalid_credentials');
    }
    expect((await rejection(auth.login({ email: 'NOBODY@example.com', password: 'x', rememberMe: false }, client))).code).toBe('rate_limited');
  });

  it('a success forgives the pair', async () => {
    await register();
    for (let i = 0; i < 4; i++) await rejection(auth.login({ email: 'ada@example.com', password: 'wrong-password-x', rememberMe: false }, client));
    await auth.login({ email: 'ada@example.com', password: PASSWORD, rememberMe: false }, client);
    for (let i = 0; i < 5; i++) {
      expect((await rejection(auth.login({ email: 'ada@example.com', password: 'wrong-password-x', rememberMe: false }, client))).code).toBe('invalid_credentials');
    }
  });
});
