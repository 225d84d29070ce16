/**
 * Configuration, read once, validated, frozen. Every value has a safe default; a bad value
 * stops the start with a message naming the variable. Security switches are named for what
 * they turn on, and no value can weaken hashing or checks below the documented floors.
 */
import { availableParallelism } from 'node:os';
import { z } from 'zod';

const DURATION = /^(\d+)(ms|s|m|h|d)$/;
const UNIT_MS = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

export function parseDuration(value: string): number | null {
  const match = DURATION.exec(value.trim());
  if (!match) return null;
  return Number(match[1]) * UNIT_MS[match[2] as keyof typeof UNIT_MS];
}

// Unions drop a member's custom issues in zod 4, so each accepts both shapes first and
// explains a bad string in one transform after.
const duration = z.union([z.number(), z.string()]).transform((value, ctx) => {
  const ms = typeof value === 'number' ? value : parseDuration(value);
  if (ms === null || !Number.isInteger(ms) || ms <= 0) {
    ctx.addIssue({ code: 'custom', message: `"${value}" is not a duration like 30s, 15m, 24h or 7d` });
    return z.NEVER;
  }
  return ms;
});
/** Whole numbers only: no "0x10", "1e3" or " 5 " slipping through Number(). */
const integer = (min: number, max: number) =>
  z
    .union([z.number(), z.string().regex(/^\d+$/, 'must be a whole number').transform(Number)])
    .pipe(z.number().int().min(min).max(max));
const flag = z.union([z.boolean(), z.enum(['true', 'false', '1', '0']).transform((v) => v === 'true' || v === '1')]);
function toOrigin(value: string): string | null {
  try {
    const url = new URL(value);
    const isHttp = url.protocol === 'http:' || url.protocol === 'https:';
    return isHttp && url.origin === value.replace(/\/$/, '') ? url.origin : null;
  } catch {
    return null;
  }
}
const notAnOrigin = (value: string) => `"${value}" is not an origin like https://app.example.com`;
const origin = z.string().transform((value, ctx) => {
  const parsed = toOrigin(value);
  if (parsed === null) {
    ctx.addIssue({ code: 'custom', message: notAnOrigin(value) });
    return z.NEVER;
  }
  return parsed;
});
const origins = z.union([z.array(z.string()), z.string()]).transform((value, ctx) => {
  const list = Array.isArray(value) ? value : value.split(',').map((s) => s.trim()).filter(Boolean);
  const parsed = list.map((item) => [item, toOrigin(item)] as const);
  for (const [item, result] of parsed) if (result === null) ctx.addIssue({ code: 'custom', message: notAnOrigin(item) });
  return parsed.map(([, result]) => result ?? '');
});
/** A 256-bit key in base64, standard or URL-safe, padded or not; null for anything else. */
export function decodeSecretsKey(text: string): Buffer | null {
  const value = text.trim();
  // Buffer.from skips characters outside the alphabet; refuse them rather than guess.
  if (!/^[A-Za-z0-9+/_-]+={0,2}$/.test(value)) return null;
  const bytes = Buffer.from(value, 'base64');
  return bytes.length === 32 ? bytes : null;
}
// Never repeats the value: it is a secret, and start-up errors end up in logs.
const KEY_FORMAT = 'must be 32 bytes in base64, e.g. the output of "openssl rand -base64 32"';
const secretsKey = z.string().transform((value, ctx) => {
  const key = decodeSecretsKey(value);
  if (key === null) {
    ctx.addIssue({ code: 'custom', message: KEY_FORMAT });
    return z.NEVER;
  }
  return key;
});
/** Earlier keys, still accepted for decryption while a rotation is under way. */
const secretsKeys = z.union([z.array(z.string()), z.string()]).transform((value, ctx) => {
  const list = Array.isArray(value) ? value : value.split(',').map((s) => s.trim()).filter(Boolean);
  const keys = list.map(decodeSecretsKey);
  keys.forEach((key, i) => {
    if (key === null) ctx.addIssue({ code: 'custom', message: `key ${i + 1} of ${keys.length} ${KEY_FORMAT}` });
  });
  return keys.filter((key): key is Buffer => key !== null);
});
/** Express's `trust proxy`: false, a hop count, or a comma-separated list of addresses/subnets. */
const trustProxy = z.union([
  z.boolean(),
  z.number().int().min(0),
  z.string().transform((v): boolean | number | string => {
    if (v === 'false' || v === '') return false;
    if (v === 'true') return true;
    return /^\d+$/.test(v) ? Number(v) : v;
  }),
]);

/** As many hashes at once as there are cores. */
function defaultHashConcurrency(): number {
  return Math.max(1, availableParallelism());
}

const schema = z.object({
  port: integer(0, 65535).default(3000),
  host: z.string().min(1).default('127.0.0.1'),
  databaseUrl: z.string().regex(/^(sqlite:|postgres(ql)?:\/\/)/, 'must start with sqlite: or postgres://').default('sqlite:./data/latch.db'),
  redisUrl: z.string().regex(/^(rediss?:\/\/|redis\+cluster:\/\/)/, 'must start with redis://, rediss:// or redis+cluster://').optional(),
  nodeEnv: z.enum(['development', 'production', 'test']).default('development'),
  cookieSecure: flag.optional(),
  trustedOrigins: origins.default([]),
  trustProxy: trustProxy.default(false),
  sessionIdleTimeout: duration.prefault('24h'),
  sessionAbsoluteTimeout: duration.prefault('7d'),
  rememberMeTimeout: duration.prefault('30d'),
  reauthWindow: duration.prefault('10m'),
  passwordMinLength: integer(8, 64).default(15),
  passwordMaxLength: integer(64, 1024).default(256),
  loginMaxFailures: integer(1, 1000).default(5),
  loginFailureWindow: duration.prefault('15m'),
  loginIpMaxFailures: integer(1, 1_000_000).default(100),
  loginIpWindow: duration.prefault('1d'),
  loginAccountMaxFailures: integer(1, 1_000_000).default(30),
  loginAccountWindow: duration.prefault('5m'),
  registerIpMax: integer(1, 1_000_000).default(10),
  registerIpWindow: duration.prefault('1h'),
  /**
   * Password hashes computed at once; more wait while their expected wait stays under
   * `hashMaxWait` (measured hash time × queue ÷ concurrency), at most `hashQueueLimit` of them.
   */
  hashConcurrency: integer(1, 64).default(defaultHashConcurrency()),
  hashQueueLimit: integer(0, 100_000).default(1000),
  hashMaxWait: duration.prefault('2s'),
  eventRetention: duration.prefault('90d'),
  mailFrom: z.string().regex(/^[^\r\n]+$/, 'must be one line').optional(),
  outboxDir: z.string().min(1).default('./data/outbox'),
  verifyTokenTtl: duration.prefault('24h'),
  resetTokenTtl: duration.prefault('1h'),
  mailAccountMax: integer(3, 1000).default(3),
  mailAccountWindow: duration.prefault('15m'),
  mailIpMax: integer(1, 1_000_000).default(10),
  mailIpWindow: duration.prefault('1h'),
  /** Waits between attempts to deliver one mail, e.g. "1s,5s,30s,2m,10m". */
  mailRetryDelays: z
    .union([z.array(z.number().int().nonnegative()), z.string()])
    .transform((value, ctx) => {
      if (Array.isArray(value)) return value;
      const delays = value.split(',').map((part) => parseDuration(part.trim()));
      if (delays.some((d) => d === null)) {
        ctx.addIssue({ code: 'custom', message: `"${value}" is not a list of durations like 1s,5s,30s` });
        return z.NEVER;
      }
      return delays as number[];
    })
    .prefault('1s,5s,30s,2m,10m'),
  metricsToken: z.string().min(16, 'must be at least 16 characters').optional(),
  maxSessionsPerUser: integer(1, 10_000).default(50),
  requireEmailVerification: flag.default(false),
  smtpUrl: z.string().regex(/^smtps?:\/\//, 'must start with smtp:// or smtps://').optional(),
  publicUrl: origin.prefault('http://localhost:3000'),
  // OWASP's argon2id floor is m=19456 KiB, t=2, p=1: values may go up, never below.
  argon2MemoryCost: integer(19_456, 4_194_304).default(19_456),
  argon2TimeCost: integer(2, 100).default(2),
  argon2Parallelism: integer(1, 16).default(1),
  /** How long Latch waits for the database or Redis before answering 503. */
  dependencyTimeout: duration.prefault('2s'),
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  redisKeyPrefix: z.string().regex(/^[A-Za-z0-9:_-]*$/).default('latch:'),
  migrateOnStart: flag.default(true),
  /** Encrypts TOTP secrets at rest. Unset outside production: read from (or generated into) `secretsKeyFile`. */
  secretsKey: secretsKey.optional(),
  secretsKeyFile: z.string().min(1).default('./data/secrets.key'),
  secretsKeyPrevious: secretsKeys.default([]),
  /** How long a pending (second step) session lives. */
  mfaPendingTimeout: duration.prefault('5m'),
  /** How long "remember this device" skips the second step; 0 turns the option off. */
  mfaRememberDevice: z
    .union([z.literal(0), z.literal('0'), duration])
    .transform((value) => (value === '0' ? 0 : value))
    .prefault('30d'),
  /** Mail the owner when an account is signed in to from a browser it has not seen. */
  newDeviceAlerts: flag.default(true),
  /** Admin routes need an aal2 session (two factors, or a passkey). */
  adminRequireMfa: flag.default(true),
  /** Passkey challenges a client IP may ask for per minute (each is a stored record). */
  passkeyOptionsIpMax: integer(1, 1_000_000).default(60),
  /** Passkeys' relying party id (a registrable domain); unset: PUBLIC_URL's host. */
  webauthnRpId: z
    .string()
    .regex(/^(localhost|([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63})$/, 'must be a domain name like example.com (no scheme, port or path)')
    .optional(),
  /** The origins passkey responses may come from; unset: PUBLIC_URL's origin. */
  webauthnOrigins: origins.optional(),
});

export type ConfigInput = z.input<typeof schema>;
type Resolved = 'cookieSecure' | 'webauthnRpId' | 'webauthnOrigins';
export type Config = Readonly<
  Omit<z.output<typeof schema>, Resolved> & { cookieSecure: boolean; webauthnRpId: string; webauthnOrigins: readonly string[] }
>;

/** The environment variable behind each option, for error messages and `configFromEnv`. */
const ENV_NAMES: Record<keyof ConfigInput, string> = {
  port: 'PORT', host: 'HOST', databaseUrl: 'DATABASE_URL', redisUrl: 'REDIS_URL', nodeEnv: 'NODE_ENV',
  cookieSecure: 'COOKIE_SECURE', trustedOrigins: 'TRUSTED_ORIGINS', trustProxy: 'TRUST_PROXY',
  sessionIdleTimeout: 'SESSION_IDLE_TIMEOUT', sessionAbsoluteTimeout: 'SESSION_ABSOLUTE_TIMEOUT',
  rememberMeTimeout: 'REMEMBER_ME_TIMEOUT', reauthWindow: 'REAUTH_WINDOW',
  passwordMinLength: 'PASSWORD_MIN_LENGTH', passwordMaxLength: 'PASSWORD_MAX_LENGTH',
  loginMaxFailures: 'LOGIN_MAX_FAILURES', loginFailureWindow: 'LOGIN_FAILURE_WINDOW',
  loginIpMaxFailures: 'LOGIN_IP_MAX_FAILURES', loginIpWindow: 'LOGIN_IP_WINDOW',
  loginAccountMaxFailures: 'LOGIN_ACCOUNT_MAX_FAILURES', loginAccountWindow: 'LOGIN_ACCOUNT_WINDOW',
  registerIpMax: 'REGISTER_IP_MAX', registerIpWindow: 'REGISTER_IP_WINDOW',
  hashConcurrency: 'HASH_CONCURRENCY', hashQueueLimit: 'HASH_QUEUE_LIMIT', hashMaxWait: 'HASH_MAX_WAIT', eventRetention: 'EVENT_RETENTION',
  mailFrom: 'MAIL_FROM', outboxDir: 'OUTBOX_DIR', verifyTokenTtl: 'VERIFY_TOKEN_TTL', resetTokenTtl: 'RESET_TOKEN_TTL',
  mailAccountMax: 'MAIL_ACCOUNT_MAX', mailAccountWindow: 'MAIL_ACCOUNT_WINDOW', mailIpMax: 'MAIL_IP_MAX',
  mailIpWindow: 'MAIL_IP_WINDOW', mailRetryDelays: 'MAIL_RETRY_DELAYS',
  metricsToken: 'METRICS_TOKEN', maxSessionsPerUser: 'MAX_SESSIONS_PER_USER',
  requireEmailVerification: 'REQUIRE_EMAIL_VERIFICATION', smtpUrl: 'SMTP_URL', publicUrl: 'PUBLIC_URL',
  argon2MemoryCost: 'ARGON2_MEMORY_COST', argon2TimeCost: 'ARGON2_TIME_COST', argon2Parallelism: 'ARGON2_PARALLELISM',
  dependencyTimeout: 'DEPENDENCY_TIMEOUT', logLevel: 'LOG_LEVEL', redisKeyPrefix: 'REDIS_KEY_PREFIX',
  migrateOnStart: 'MIGRATE_ON_START', secretsKey: 'SECRETS_KEY', secretsKeyFile: 'SECRETS_KEY_FILE',
  secretsKeyPrevious: 'SECRETS_KEY_PREVIOUS', mfaPendingTimeout: 'MFA_PENDING_TIMEOUT',
  mfaRememberDevice: 'MFA_REMEMBER_DEVICE', newDeviceAlerts: 'NEW_DEVICE_ALERTS',
  adminRequireMfa: 'ADMIN_REQUIRE_MFA', passkeyOptionsIpMax: 'PASSKEY_OPTIONS_IP_MAX', webauthnRpId: 'WEBAUTHN_RP_ID', webauthnOrigins: 'WEBAUTHN_ORIGINS',
};

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/** Picks Latch's variables out of an environment. Empty strings count as unset. */
export function configFromEnv(env: NodeJS.ProcessEnv): ConfigInput {
  const input: Record<string, string> = {};
  for (const [key, name] of Object.entries(ENV_NAMES)) {
    const value = env[name];
    if (value !== undefined && value !== '') input[key] = value;
  }
  return input as ConfigInput;
}

export function resolveConfig(input: ConfigInput): Config {
  const parsed = schema.safeParse(input);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((issue) => {
      const key = String(issue.path[0]) as keyof ConfigInput;
      return `${ENV_NAMES[key] ?? key}: ${issue.message}`;
    });
    throw new ConfigError(`Invalid configuration:\n  ${lines.join('\n  ')}`);
  }
  const values = parsed.data;
  const production = values.nodeEnv === 'production';
  const publicUrl = new URL(values.publicUrl);
  const config = {
    ...values,
    cookieSecure: values.cookieSecure ?? production,
    webauthnRpId: values.webauthnRpId ?? publicUrl.hostname,
    webauthnOrigins: values.webauthnOrigins ?? [publicUrl.origin],
  };
  const problems = [...consistencyProblems(config), ...(production ? productionProblems(config) : [])];
  if (problems.length > 0) throw new ConfigError(`Invalid configuration:\n  ${problems.join('\n  ')}`);
  return Object.freeze({
    ...config,
    trustedOrigins: Object.freeze([...config.trustedOrigins]) as string[],
    webauthnOrigins: Object.freeze([...config.webauthnOrigins]),
    secretsKeyPrevious: Object.freeze([...config.secretsKeyPrevious]) as Buffer[],
  });
}

function consistencyProblems(c: Omit<Config, never>): string[] {
  const problems: string[] = [];
  // A browser only lets an origin use an rp id that is its host or a parent domain of it.
  const outside = c.webauthnOrigins.filter((o) => {
    const host = new URL(o).hostname;
    return host !== c.webauthnRpId && !host.endsWith(`.${c.webauthnRpId}`);
  });
  if (outside.length > 0) {
    problems.push(`WEBAUTHN_ORIGINS: ${outside.join(', ')} cannot use the passkey rp id "${c.webauthnRpId}" (set WEBAUTHN_RP_ID to their domain)`);
  }
  if (c.sessionIdleTimeout > c.sessionAbsoluteTimeout) {
    problems.push('SESSION_IDLE_TIMEOUT: must not exceed SESSION_ABSOLUTE_TIMEOUT');
  }
  return problems;
}

/** Settings that are fine on a laptop and dangerous on the internet. */
function productionProblems(c: Omit<Config, never>): string[] {
  const problems: string[] = [];
  if (!c.cookieSecure) problems.push('COOKIE_SECURE: must be true in production (session cookies over plain HTTP can be stolen)');
  if (!c.publicUrl.startsWith('https://')) problems.push('PUBLIC_URL: must be https:// in production (links in mails carry tokens)');
  if (!c.smtpUrl) {
    problems.push('SMTP_URL: must be set in production (without it mails, which carry live reset and verification links, are written to a disk outbox)');
  }
  if (!c.secretsKey) {
    problems.push(
      'SECRETS_KEY: must be set in production (TOTP secrets are encrypted with it; a key generated into a file on one machine ' +
        'cannot decrypt what other instances wrote, nor a backup restored elsewhere)',
    );
  }
  const plain = c.trustedOrigins.filter((o) => !o.startsWith('https://'));
  if (plain.length > 0) problems.push(`TRUSTED_ORIGINS: must all be https:// in production (${plain.join(', ')})`);
  const trustsEveryone =
    c.trustProxy === true ||
    (typeof c.trustProxy === 'string' && c.trustProxy.split(',').some((part) => ['0.0.0.0/0', '::/0'].includes(part.trim())));
  if (trustsEveryone) {
    problems.push('TRUST_PROXY: trusting every address lets any client pick its own IP via X-Forwarded-For; give a hop count or the proxies\' subnets');
  }
  return problems;
}
