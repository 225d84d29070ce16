/**
 * The composition root: builds every adapter from the configuration, wires the domain and the
 * HTTP layer, and owns their lifecycle. Both the server (`main.ts`) and library users
 * (`createLatch`) come through here; nothing else constructs an adapter.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { dictionary } from '@zxcvbn-ts/language-common';
import type { RequestHandler, Router } from 'express';
import type { Logger } from 'pino';
import { Argon2Hasher } from './adapters/argon2-hasher.js';
import { eventLoopPressure, REQUESTS_BUSY } from './adapters/event-loop-pressure.js';
import { LatchMetrics } from './adapters/metrics.js';
import { createRateLimiter, type LimiterBackend } from './adapters/rate-limit/rlf-limiter.js';
import { SqlAuditLog } from './adapters/sql/audit-log.js';
import { MailRelay, POLL_INTERVAL_MS } from './adapters/mail/mail-relay.js';
import { SqlMailOutbox } from './adapters/sql/mail-outbox.js';
import { outboxTransport, smtpTransport } from './adapters/mail/transports.js';
import { SqlTokenStore } from './adapters/sql/token-store.js';
import { MailComposer } from './domain/mails.js';
import { RecoveryService } from './domain/recovery-service.js';
import { CONSECUTIVE_FAILURE_MEMORY_MS, KNOWN_IP_MEMORY_MS, LOGIN_MAX_CONSECUTIVE_FAILURES, LoginThrottle } from './domain/login-throttle.js';
import { AccountService } from './domain/account-service.js';
import { Credentials } from './domain/credentials.js';
import { SessionIssuer } from './domain/session-issuer.js';
import { CredentialChanges } from './domain/credential-change.js';
import { PasswordProofs } from './domain/password-proof.js';
import { ipKey } from './domain/client-key.js';
import { BackgroundTasks } from './background-tasks.js';
import { PENDING_MAX_FAILURES, TwoStepService } from './domain/two-step-service.js';
import { SqlSecondFactorStore } from './adapters/sql/second-factor-store.js';
import { SecretBox } from './adapters/secret-box.js';
import { Devices } from './domain/devices.js';
import { SqlDeviceStore } from './adapters/sql/device-store.js';
import { FactorLifecycle } from './domain/factor-lifecycle.js';
import { PasskeyService } from './domain/passkey-service.js';
import { SqlPasskeyStore } from './adapters/sql/passkey-store.js';
import { SqlChallengeStore } from './adapters/sql/challenge-store.js';
import { RedisChallengeStore } from './adapters/redis/challenge-store.js';
import { SimpleWebAuthnCeremonies } from './adapters/webauthn.js';
import { loadSecretsKey } from './adapters/secrets-key.js';
import { connectRedis, requireNoEviction, type RedisConnection } from './adapters/redis/connection.js';
import { RedisSessionStore } from './adapters/redis/session-store.js';
import { openDatabase } from './adapters/sql/database.js';
import { migrateToLatest } from './adapters/sql/migrations.js';
import { SqlSessionStore } from './adapters/sql/session-store.js';
import { SqlUserRepository } from './adapters/sql/user-repository.js';
import { resolveConfig, type Config, type ConfigInput } from './config.js';
import { AuthService } from './domain/auth-service.js';
import { PasswordPolicy } from './domain/password-policy.js';
import type { Clock, Random, SessionStore } from './domain/ports.js';
import { SessionPolicy } from './domain/session.js';
import { createApiRouter } from './http/api-router.js';
import { createAdminRouter } from './http/admin-router.js';
import { AdminService } from './domain/admin-service.js';
import { SqlAdminDirectory } from './adapters/sql/admin-directory.js';
import { DependencyLog } from './http/dependency-log.js';
import type { ErrorObserver } from './http/errors.js';
import { deviceCookie, sessionCookie } from './http/cookies.js';
import { sessionMiddleware } from './http/middleware/session.js';
import { createLogger } from './logger.js';

export interface LatchOptions extends ConfigInput {
  logger?: Logger;
  /** Replaceable for tests of expiry; defaults to the system clock. */
  clock?: Clock;
}

export interface Readiness {
  ready: boolean;
  checks: { database: boolean; sessionStore: boolean };
}

export interface Latch {
  config: Config;
  /** The auth API; mount it at `/api/auth`. */
  router: Router;
  /** The administration API; mount it at `/api/admin`. */
  adminRouter: Router;
  /** What administrators do, for the command line (the admin API goes through it too). */
  admin: AdminService;
  /** Answers 401 `unauthorized` unless the request carries a valid session; sets `req.latch`. */
  requireAuth: RequestHandler;
  /** Answers 400 `already_authenticated` when the request carries a valid session. */
  requireGuest: RequestHandler;
  /** Sets `req.latch` when the request carries a valid session; never refuses. */
  loadSession: RequestHandler;
  logger: Logger;
  metrics: LatchMetrics;
  readiness(): Promise<Readiness>;
  /**
   * Resolves once the work started after answers so far has finished (a forgot-password
   * lookup and its queued mail): for tests that wait for a mail a request caused after its
   * answer.
   */
  settled(): Promise<void>;
  close(): Promise<void>;
}

const systemClock: Clock = { now: () => Date.now() };
const cryptoRandom: Random = { bytes: (n) => randomBytes(n), uuid: () => randomUUID() };
const SWEEP_INTERVAL_MS = 10 * 60_000;

/**
 * How long a relay holds a mail it is sending: far longer than one SMTP exchange may take under
 * the transport's timeouts (connection, greeting, each command), so a slow send is not taken
 * over and sent twice; short enough that a mail held by a process that died goes out soon.
 */
function mailLeaseMs(dependencyTimeoutMs: number): number {
  return Math.max(60_000, 20 * dependencyTimeoutMs);
}

export async function createLatch(options: LatchOptions = {}): Promise<Latch> {
  const { logger: givenLogger, clock = systemClock, ...input } = options;
  const config = resolveConfig(input);
  const logger = givenLogger ?? createLogger(config.logLevel);
  const timeoutMs = config.dependencyTimeout;

  const database = openDatabase(config.databaseUrl, {
    timeoutMs,
    // The message only, like the dependency log: a stack adds nothing to "the connection dropped".
    onPoolError: (err) => logger.warn({ err: { message: err.message } }, 'database connection lost'),
  });
  let redis: RedisConnection | undefined;
  try {
    if (config.migrateOnStart) {
      const applied = await migrateToLatest(database.db, database.dialect);
      if (applied.length > 0) logger.info({ applied }, 'database migrated');
    }
    if (config.redisUrl) {
      redis = await connectRedis(config.redisUrl, {
        timeoutMs,
        onError: (err) => logger.warn({ err: { message: err.message } }, 'redis connection error'),
      });
      await requireNoEviction(redis, { refuse: config.nodeEnv === 'production', warn: (message) => logger.warn(message) });
    }
  } catch (error) {
    await redis?.close();
    await database.close();
    throw error;
  }

  const metrics = new LatchMetrics();
  const users = new SqlUserRepository(database.db, database.dialect);
  const sqlSessions = redis ? undefined : new SqlSessionStore(database.db, database.dialect);
  const sessions: SessionStore = redis ? new RedisSessionStore(redis, config.redisKeyPrefix) : sqlSessions!;
  const audit = new SqlAuditLog(database.db);
  const events = metrics.observe(audit);
  const hasher = new Argon2Hasher(
    { memoryCost: config.argon2MemoryCost, timeCost: config.argon2TimeCost, parallelism: config.argon2Parallelism },
    { concurrency: config.hashConcurrency, queueLimit: config.hashQueueLimit, maxWaitMs: config.hashMaxWait },
    {
      measured: (operation, seconds) => metrics.hashDuration.observe({ operation }, seconds),
      rested: (seconds) => metrics.hashRest.inc(seconds),
      started: (isolated) =>
        isolated
          ? logger.info('password hashing runs on worker threads below request handling')
          : logger.warn('password hashing could not lower its priority (Linux only): a login storm can slow signed-in requests'),
    },
    eventLoopPressure(REQUESTS_BUSY),
  );
  metrics.watchHashQueue(() => hasher.queueDepth);
  const credentials = new Credentials(users, hasher);
  const passwordPolicy = new PasswordPolicy(
    { minLength: config.passwordMinLength, maxLength: config.passwordMaxLength },
    dictionary['passwords-common'],
  );
  const sessionPolicy = new SessionPolicy({
    idleTimeoutMs: config.sessionIdleTimeout,
    absoluteTimeoutMs: config.sessionAbsoluteTimeout,
    rememberMeTimeoutMs: config.rememberMeTimeout,
  });
  const issuer = new SessionIssuer({
    sessions,
    sessionPolicy,
    clock,
    random: cryptoRandom,
    maxSessionsPerUser: config.maxSessionsPerUser,
  });

  // Counters live where the sessions live, so every instance shares them.
  const backend: LimiterBackend = redis ? { kind: 'redis', client: redis.client } : { kind: 'sql', driver: database.driver };
  const limiter = (name: string, points: number, durationMs: number) =>
    createRateLimiter(backend, { keyPrefix: `${config.redisKeyPrefix}rl:${name}`, points, durationMs, timeoutMs });
  const loginThrottle = new LoginThrottle({
    pair: limiter('login-pair', config.loginMaxFailures, config.loginFailureWindow),
    ip: limiter('login-ip', config.loginIpMaxFailures, config.loginIpWindow),
    account: limiter('login-account', config.loginAccountMaxFailures, config.loginAccountWindow),
    knownIp: limiter('known-ip', 1, KNOWN_IP_MEMORY_MS),
    consecutive: limiter('login-consecutive', LOGIN_MAX_CONSECUTIVE_FAILURES, CONSECUTIVE_FAILURE_MEMORY_MS),
  });
  const registrationLimit = limiter('register-ip', config.registerIpMax, config.registerIpWindow);

  const mailFrom = config.mailFrom ?? `Latch <no-reply@${new URL(config.publicUrl).hostname}>`;
  // Every mail is a row first (durable), then the relay delivers it; see mail-relay.ts. Its
  // schedule is in real time (retry waits are waits), whatever clock the rules are given.
  const mailer = new SqlMailOutbox(database.db, database.dialect, systemClock);
  const mails = new MailComposer(config.publicUrl);
  const tokens = new SqlTokenStore(database.db, mailer);
  const background = new BackgroundTasks(logger);
  const changes = new CredentialChanges({
    users,
    sessions,
    tokens,
    issuer,
    retry: (task) => background.retry(task, 'ending the sessions of a changed credential'),
  });
  const proofs = new PasswordProofs({
    users,
    credentials,
    // A stolen cookie buys no more password guesses than a login would (LOGIN_MAX_FAILURES).
    attempts: limiter('reauth-account', config.loginMaxFailures, config.loginFailureWindow),
    events,
    clock,
    reauthWindowMs: config.reauthWindow,
    // twoStep is built below; this runs only at request time.
    secondFactorOn: (userId: string): Promise<boolean> => lifecycle.isOn(userId),
  });
  const recovery = new RecoveryService({
    users,
    sessions,
    tokens,
    changes,
    proofs,
    mailer,
    mails,
    credentials,
    passwordPolicy,
    events,
    clock,
    random: cryptoRandom,
    mailLimits: {
      perAccount: limiter('mail-account', config.mailAccountMax, config.mailAccountWindow),
      perIp: limiter('mail-ip', config.mailIpMax, config.mailIpWindow),
      ipKey,
    },
    later: (task) => background.run(task),
    afterReset: (email, clientIp) => loginThrottle.clearAccount(email, clientIp),
    verifyTokenTtlMs: config.verifyTokenTtl,
    resetTokenTtlMs: config.resetTokenTtl,
    requireEmailVerification: config.requireEmailVerification,
  });

  const devices = new Devices({
    store: new SqlDeviceStore(database.db),
    events,
    mailer,
    mails,
    clock,
    random: cryptoRandom,
    rememberForMs: config.mfaRememberDevice,
    alerts: config.newDeviceAlerts,
  });
  const secondFactors = new SqlSecondFactorStore(database.db, database.dialect);
  const passkeyStore = new SqlPasskeyStore(database.db, database.dialect);
  const lifecycle = new FactorLifecycle({
    factors: secondFactors,
    passkeys: passkeyStore,
    changes,
    sessions,
    issuer,
    devices,
    mailer,
    mails,
    clock,
    random: cryptoRandom,
  });
  // WebAuthn challenges live where the sessions live (Redis, or the SQL database).
  const sqlChallenges = redis ? undefined : new SqlChallengeStore(database.db, clock);
  const passkeys = new PasskeyService({
    passkeys: passkeyStore,
    challenges: redis ? new RedisChallengeStore(redis, config.redisKeyPrefix) : sqlChallenges!,
    ceremonies: new SimpleWebAuthnCeremonies({ name: 'Latch', id: config.webauthnRpId, origins: config.webauthnOrigins }),
    lifecycle,
    proofs,
    users,
    issuer,
    devices,
    events,
    clock,
    random: cryptoRandom,
    optionsCount: limiter('passkey-options', config.passkeyOptionsIpMax, 60_000),
    requireEmailVerification: config.requireEmailVerification,
  });
  const twoStep = new TwoStepService({
    sessions,
    factors: secondFactors,
    sealer: new SecretBox(loadSecretsKey(config), config.secretsKeyPrevious),
    issuer,
    lifecycle,
    passkeys,
    proofs,
    events,
    mailer,
    mails,
    clock,
    random: cryptoRandom,
    // Wrong second factors per account, across pending sessions and instances (API.md).
    accountFailures: limiter('mfa-account', 10, 15 * 60_000),
    pendingFailures: limiter('mfa-pending', PENDING_MAX_FAILURES, config.mfaPendingTimeout),
    oneAtATime: limiter('mfa-turn', 1, 10_000),
    issuerName: new URL(config.publicUrl).hostname,
    devices,
  });

  const auth = new AuthService({
    users,
    sessions,
    credentials,
    issuer,
    passwordPolicy,
    sessionPolicy,
    clock,
    random: cryptoRandom,
    loginThrottle,
    registrationLimit,
    events,
    verification: recovery,
    requireEmailVerification: config.requireEmailVerification,
    twoStep,
    mfaPendingTimeoutMs: config.mfaPendingTimeout,
    devices,
  });
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
    notifyPasswordChanged: (user) => recovery.notifyPasswordChanged(user),
  });


  const cookie = sessionCookie(config.cookieSecure, clock);
  // The metric counts every failed request; the log gets the changes of state. Rate-limit
  // counters live where the sessions live; hashing has no probe (it is back after a quiet second).
  const dependencyLog = new DependencyLog(logger, {
    database: () => users.ping(),
    'session store': () => sessions.ping(),
    'rate limiter': () => sessions.ping(),
  });
  const errorObserver: ErrorObserver = {
    dependencyFailed: (dependency, error, path) => {
      metrics.dependencyErrors.inc({ dependency });
      dependencyLog.failed(dependency, error, path);
    },
  };
  const relay = new MailRelay(
    mailer,
    config.smtpUrl ? smtpTransport(config.smtpUrl, mailFrom, timeoutMs) : outboxTransport(config.outboxDir, mailFrom, logger, config.nodeEnv !== 'production'),
    {
      retryDelaysMs: config.mailRetryDelays,
      leaseMs: mailLeaseMs(timeoutMs),
      pollIntervalMs: POLL_INTERVAL_MS,
      now: () => systemClock.now(),
      delivered: (result) => metrics.mailDeliveries.inc({ result }),
      unavailable: (error) => dependencyLog.failed('database', error, 'mail relay'),
    },
    logger,
  );
  mailer.onQueued(() => relay.kick());
  metrics.watchMailOutbox(() => mailer.counts());
  relay.start();

  const guards = sessionMiddleware(auth, cookie, { logger, errorObserver });
  const router = createApiRouter({
    config,
    auth,
    account,
    recovery,
    twoStep,
    passkeys,
    deviceList: devices,
    cookie,
    devices: deviceCookie(config.cookieSecure),
    guards,
    clock,
    logger,
    errorObserver,
  });

  const admin = new AdminService({
    directory: new SqlAdminDirectory(database.db, database.dialect),
    users,
    sessions,
    changes,
    recovery,
    accounts: account,
    factors: secondFactors,
    passkeys: passkeyStore,
    devices,
    audit,
    events,
    mailer,
    mails,
    clock,
  });
  const adminRouter = createAdminRouter({ config, admin, guards, logger, errorObserver });

  // Old audit events go after EVENT_RETENTION; SQL sessions need a sweep of expired rows
  // (Redis expires its keys itself).
  const sweep = setInterval(() => {
    const now = clock.now();
    audit.prune(now - config.eventRetention).catch((err) => logger.warn({ err }, 'audit retention sweep failed'));
    sqlSessions?.purgeExpired(now).catch((err) => logger.warn({ err }, 'session sweep failed'));
    sqlChallenges?.purgeExpired(now).catch((err) => logger.warn({ err }, 'passkey challenge sweep failed'));
    mailer.pruneFailed(now - config.eventRetention).catch((err) => logger.warn({ err }, 'failed-mail sweep failed'));
  }, SWEEP_INTERVAL_MS).unref();

  const probe = (check: () => Promise<void>) =>
    check().then(
      () => true,
      () => false,
    );

  return {
    config,
    router,
    adminRouter,
    admin,
    ...guards,
    logger,
    async readiness() {
      const [db, store] = await Promise.all([probe(() => users.ping()), probe(() => sessions.ping())]);
      return { ready: db && store, checks: { database: db, sessionStore: store } };
    },
    metrics,
    settled: () => background.settled(),
    async close() {
      clearInterval(sweep);
      dependencyLog.close();
      await background.close();
      await relay.close();
      await hasher.close();
      await redis?.close();
      await database.close();
    },
  };
}
