/**
 * The domain services wired together for fast rule tests, with no server and no service: the
 * SQL stores over an in-memory SQLite database (migrated), fake hashing, a manual clock, in-memory
 * rate limiters, and a mailer that only keeps what it was given. Each test builds its own world.
 */
import { randomBytes } from 'node:crypto';
import { dictionary } from '@zxcvbn-ts/language-common';
import { expect } from 'vitest';
import { SecretBox } from '../../src/adapters/secret-box.js';
import { SqlAdminDirectory } from '../../src/adapters/sql/admin-directory.js';
import { SqlAuditLog } from '../../src/adapters/sql/audit-log.js';
import { SqlChallengeStore } from '../../src/adapters/sql/challenge-store.js';
import { openDatabase, type SqlDatabase } from '../../src/adapters/sql/database.js';
import { SqlDeviceStore } from '../../src/adapters/sql/device-store.js';
import { migrateToLatest } from '../../src/adapters/sql/migrations.js';
import { SqlPasskeyStore } from '../../src/adapters/sql/passkey-store.js';
import { SqlSecondFactorStore } from '../../src/adapters/sql/second-factor-store.js';
import { SqlSessionStore } from '../../src/adapters/sql/session-store.js';
import { SqlUserRepository } from '../../src/adapters/sql/user-repository.js';
import { SimpleWebAuthnCeremonies } from '../../src/adapters/webauthn.js';
import { AccountService } from '../../src/domain/account-service.js';
import { AdminService } from '../../src/domain/admin-service.js';
import type { AuthEvent, AuthEventSink } from '../../src/domain/auth-events.js';
import { AuthService, type Authenticated, type ClientInfo } from '../../src/domain/auth-service.js';
import { CredentialChanges } from '../../src/domain/credential-change.js';
import { Credentials } from '../../src/domain/credentials.js';
import { Devices } from '../../src/domain/devices.js';
import { LatchError } from '../../src/domain/errors.js';
import { FactorLifecycle } from '../../src/domain/factor-lifecycle.js';
import { LoginThrottle } from '../../src/domain/login-throttle.js';
import { MailComposer, type Mail } from '../../src/domain/mails.js';
import { PasskeyService } from '../../src/domain/passkey-service.js';
import { PasswordPolicy } from '../../src/domain/password-policy.js';
import { PasswordProofs } from '../../src/domain/password-proof.js';
import type { SessionStore } from '../../src/domain/ports.js';
import type { SecretSealer } from '../../src/domain/second-factors.js';
import { SessionIssuer, type IssuedSession } from '../../src/domain/session-issuer.js';
import { SessionPolicy } from '../../src/domain/session.js';
import { totpCode } from '../../src/domain/totp.js';
import { PENDING_MAX_FAILURES, TwoStepService } from '../../src/domain/two-step-service.js';
import type { Role } from '../../src/domain/user.js';
import { cryptoRandom, FakePasswordHasher, InMemoryRateLimiter, ManualClock } from './fakes.js';
import { SoftAuthenticator } from './soft-authenticator.js';

export const MINUTE = 60_000;
export const HOUR = 60 * MINUTE;
export const DAY = 24 * HOUR;
export const PASSWORD = 'violet-harbor-lantern-42';
export const REAUTH_WINDOW = 5 * MINUTE;
export const REMEMBER_DEVICE = 30 * DAY;
export const TOTP_STEP = 30_000;
export const RP = { id: 'latch.test', origin: 'https://latch.test' } as const;
/** The browser the tests sign in from: one device cookie, so it is new to an account only once. */
export const client: ClientInfo = { ip: '203.0.113.9', userAgent: 'Mozilla/5.0 test', device: 'd'.repeat(43) };

/** Keeps every mail it is handed. */
export class KeptMail {
  readonly sent: Mail[] = [];
  async send(mail: Mail): Promise<void> {
    this.sent.push(mail);
  }
  subjects(): string[] {
    return this.sent.map((m) => m.subject);
  }
}

/** Records events in the audit log and keeps them for assertions. */
class KeptEvents implements AuthEventSink {
  readonly events: AuthEvent[] = [];
  constructor(private readonly audit: SqlAuditLog) {}
  async record(event: AuthEvent): Promise<void> {
    this.events.push(event);
    await this.audit.record(event);
  }
  types(userId?: string | null): string[] {
    return this.events.filter((e) => userId === undefined || e.userId === userId).map((e) => e.type);
  }
}

/** The refusal `promise` ends with (fails the test when it succeeds or throws something else). */
export async function refusal(promise: Promise<unknown>): Promise<LatchError> {
  const outcome = await promise.then(
    () => new Error('expected a refusal, got success'),
    (error: unknown) => error,
  );
  if (!(outcome instanceof LatchError)) throw outcome;
  // People read it: a whole sentence, never empty or cut short.
  expect(outcome.message).toMatch(/\S$/);
  return outcome;
}

export interface WorldOptions {
  /** Encrypts TOTP secrets (a SecretBox under a random key by default). */
  sealer?: SecretSealer;
  rememberForMs?: number;
  alerts?: boolean;
  requireEmailVerification?: boolean;
}

export type World = Awaited<ReturnType<typeof world>>;

/** The migrated schema, as SQL: migrated once per process, then laid down in one go per world. */
let schema: Promise<string> | undefined;
function migratedSchema(): Promise<string> {
  schema ??= (async () => {
    const template = openDatabase('sqlite::memory:', { timeoutMs: 2000 });
    await migrateToLatest(template.db, template.dialect);
    if (template.driver.dialect !== 'sqlite') throw new Error('expected SQLite');
    const rows = template.driver.database.prepare("SELECT sql FROM sqlite_master WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite_%' ORDER BY rowid").all() as Array<{ sql: string }>;
    await template.close();
    return rows.map((row) => `${row.sql};`).join('\n');
  })();
  return schema;
}

/** Immutable, and slow to build (a set of the common passwords): one per process. */
let commonPolicy: PasswordPolicy | undefined;

export async function world(options: WorldOptions = {}) {
  const database: SqlDatabase = openDatabase('sqlite::memory:', { timeoutMs: 2000 });
  if (database.driver.dialect !== 'sqlite') throw new Error('expected SQLite');
  database.driver.database.exec(await migratedSchema());
  const { db, dialect } = database;
  const clock = new ManualClock();
  const random = cryptoRandom;
  const requireEmailVerification = options.requireEmailVerification ?? false;
  const limiter = (points: number, ms: number) => new InMemoryRateLimiter(points, ms, clock);

  const users = new SqlUserRepository(db, dialect);
  const sessions: SessionStore = new SqlSessionStore(db, dialect);
  const audit = new SqlAuditLog(db);
  const events = new KeptEvents(audit);
  const hasher = new FakePasswordHasher();
  const credentials = new Credentials(users, hasher);
  const passwordPolicy = (commonPolicy ??= new PasswordPolicy({ minLength: 15, maxLength: 256 }, dictionary['passwords-common']));
  const sessionPolicy = new SessionPolicy({ idleTimeoutMs: DAY, absoluteTimeoutMs: 7 * DAY, rememberMeTimeoutMs: 30 * DAY });
  const issuer = new SessionIssuer({ sessions, sessionPolicy, clock, random, maxSessionsPerUser: 50 });
  const mailer = new KeptMail();
  const mails = new MailComposer('https://accounts.latch.test');
  const revokedTokens: string[] = [];
  const retried: Array<() => Promise<void>> = [];
  const changes = new CredentialChanges({
    users,
    sessions,
    tokens: { revokeAll: async (userId: string) => void revokedTokens.push(userId) },
    issuer,
    retry: (task) => void retried.push(task),
  });
  const reauthAttempts = limiter(5, 15 * MINUTE);
  const proofs = new PasswordProofs({
    users,
    credentials,
    attempts: reauthAttempts,
    events,
    clock,
    reauthWindowMs: REAUTH_WINDOW,
    secondFactorOn: (userId) => lifecycle.isOn(userId),
  });
  const deviceStore = new SqlDeviceStore(db);
  const devices = new Devices({
    store: deviceStore,
    events,
    mailer,
    mails,
    clock,
    random,
    rememberForMs: options.rememberForMs ?? REMEMBER_DEVICE,
    alerts: options.alerts ?? true,
  });
  const factors = new SqlSecondFactorStore(db, dialect);
  const passkeyStore = new SqlPasskeyStore(db, dialect);
  const lifecycle = new FactorLifecycle({ factors, passkeys: passkeyStore, changes, sessions, issuer, devices, mailer, mails, clock, random });
  const passkeyOptions = limiter(20, MINUTE);
  const passkeys = new PasskeyService({
    passkeys: passkeyStore,
    challenges: new SqlChallengeStore(db, clock),
    ceremonies: new SimpleWebAuthnCeremonies({ name: 'Latch', id: RP.id, origins: [RP.origin] }),
    lifecycle,
    proofs,
    users,
    issuer,
    devices,
    events,
    clock,
    random,
    optionsCount: passkeyOptions,
    requireEmailVerification,
  });
  const sealer = options.sealer ?? new SecretBox(randomBytes(32));
  const limits = { accountFailures: limiter(10, 15 * MINUTE), pendingFailures: limiter(PENDING_MAX_FAILURES, 5 * MINUTE), oneAtATime: limiter(1, 10_000) };
  const twoStep = new TwoStepService({
    sessions,
    factors,
    sealer,
    issuer,
    lifecycle,
    passkeys,
    proofs,
    events,
    mailer,
    mails,
    clock,
    random,
    ...limits,
    issuerName: 'accounts.latch.test',
    devices,
  });
  const registrationLimit = limiter(1000, HOUR);
  const loginLimits = {
    pair: limiter(5, 15 * MINUTE),
    ip: limiter(100, DAY),
    account: limiter(30, 5 * MINUTE),
    knownIp: limiter(1, 30 * DAY),
    consecutive: limiter(100, DAY),
  };
  const verificationsSent: string[] = [];
  const auth = new AuthService({
    users,
    sessions,
    credentials,
    issuer,
    passwordPolicy,
    sessionPolicy,
    clock,
    random,
    loginThrottle: new LoginThrottle(loginLimits),
    registrationLimit,
    events,
    verification: { sendVerification: async (user) => void verificationsSent.push(user.id), notifySignupAttempt: async () => {} },
    requireEmailVerification,
    twoStep,
    mfaPendingTimeoutMs: 5 * MINUTE,
    devices,
  });
  const passwordNotices: string[] = [];
  const account = new AccountService({
    users,
    sessions,
    credentials,
    changes,
    proofs,
    passwordPolicy,
    clock,
    audit,
    events,
    notifyPasswordChanged: async (user) => void passwordNotices.push(user.id),
  });
  const resetLinks: string[] = [];
  const admin = new AdminService({
    directory: new SqlAdminDirectory(db, dialect),
    users,
    sessions,
    changes,
    recovery: { sendResetLink: async (userId) => (await users.findById(userId)) !== null && resetLinks.push(userId) > 0 },
    accounts: account,
    factors,
    passkeys: passkeyStore,
    devices,
    audit,
    events,
    mailer,
    mails,
    clock,
  });

  /** A registered account, signed in (aal1, password just proven). */
  async function member(email = `m-${random.uuid()}@example.test`, role: Role = 'user'): Promise<Authenticated> {
    const outcome = await auth.register({ email, password: PASSWORD, name: 'Ada Lovelace' }, client);
    if (outcome.kind !== 'signed_in') throw new Error('registration did not sign in');
    if (role === 'admin') {
      await users.changeCredentials(outcome.issued.user.id, { role });
      return signIn(email);
    }
    return authOf(outcome.issued);
  }

  /** Resolves an issued session as a request carrying its cookie would. */
  async function authOf(issued: IssuedSession): Promise<Authenticated> {
    const found = await auth.authenticate(issued.token);
    if (!found) throw new Error('the issued session does not authenticate');
    return found;
  }

  async function signIn(email: string, at: ClientInfo = client): Promise<Authenticated> {
    const outcome = await auth.login({ email, password: PASSWORD, rememberMe: false }, at);
    return authOf(outcome.issued);
  }

  /** A session of `who` with an authenticator app turned on (aal2); returns its app too. */
  async function withApp(who: Authenticated) {
    const setup = await twoStep.startTotp(who);
    const confirmed = await twoStep.confirmTotp(who, nextCode(setup.secret), client);
    return { secret: setup.secret, recoveryCodes: confirmed.recoveryCodes!, auth: await authOf(confirmed.issued) };
  }

  /** The app's code of the next time step (the clock moves on to it: each step works once). */
  function nextCode(secret: string): string {
    clock.advance(TOTP_STEP);
    return totpCode(secret, clock.now());
  }

  /** A passkey added by `who` from `device`; returns the session that goes on (aal2). */
  async function withPasskey(who: Authenticated, device = new SoftAuthenticator({ rpId: RP.id, origin: RP.origin })) {
    const options = await passkeys.registrationOptions(who);
    const registered = await passkeys.register(who, { response: device.register(options) }, client);
    return { device, ...registered, auth: await authOf(registered.issued) };
  }

  return {
    database,
    clock,
    users,
    sessions,
    audit,
    events,
    hasher,
    mailer,
    mails,
    issuer,
    changes,
    proofs,
    reauthAttempts,
    devices,
    deviceStore,
    factors,
    passkeyStore,
    passkeyOptions,
    lifecycle,
    passkeys,
    sealer,
    limits,
    twoStep,
    auth,
    registrationLimit,
    loginLimits,
    account,
    admin,
    revokedTokens,
    retried,
    verificationsSent,
    passwordNotices,
    resetLinks,
    member,
    authOf,
    signIn,
    withApp,
    nextCode,
    withPasskey,
    close: () => database.close(),
  };
}
