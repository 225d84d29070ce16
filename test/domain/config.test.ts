import { describe, expect, it } from 'vitest';
import { ConfigError, configFromEnv, parseDuration, resolveConfig, type Config } from '../../src/config.js';

const SECOND = 1_000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

function fromEnv(env: Record<string, string>): Config {
  return resolveConfig(configFromEnv(env));
}

/** The ConfigError a bad environment produces. */
function failure(env: Record<string, string>): ConfigError {
  try {
    fromEnv(env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return error as ConfigError;
  }
  throw new Error(`expected ${JSON.stringify(env)} to be refused`);
}

const KEY = Buffer.alloc(32, 1).toString('base64');
const PRODUCTION = {
  NODE_ENV: 'production',
  PUBLIC_URL: 'https://auth.example.com',
  SMTP_URL: 'smtps://mail.example.com:465',
  SECRETS_KEY: KEY,
};

describe('defaults (API.md, "Configuration")', () => {
  it('match the documented table', () => {
    const config = fromEnv({});
    expect(config).toMatchObject({
      port: 3000,
      host: '127.0.0.1',
      databaseUrl: 'sqlite:./data/latch.db',
      nodeEnv: 'development',
      cookieSecure: false,
      trustedOrigins: [],
      trustProxy: false,
      sessionIdleTimeout: 24 * HOUR,
      sessionAbsoluteTimeout: 7 * DAY,
      rememberMeTimeout: 30 * DAY,
      reauthWindow: 10 * MINUTE,
      passwordMinLength: 15,
      passwordMaxLength: 256,
      loginMaxFailures: 5,
      maxSessionsPerUser: 50,
      requireEmailVerification: false,
      publicUrl: 'http://localhost:3000',
      argon2MemoryCost: 19_456,
      argon2TimeCost: 2,
      argon2Parallelism: 1,
    });
    expect(config.redisUrl).toBeUndefined();
    expect(config.smtpUrl).toBeUndefined();
    expect(config.metricsToken).toBeUndefined();
  });

  it('are the same from resolveConfig({}) as from an empty environment', () => {
    expect(resolveConfig({})).toEqual(fromEnv({}));
  });
});

describe('configFromEnv', () => {
  it('maps the documented variables to options', () => {
    const input = configFromEnv({
      PORT: '8080',
      HOST: '0.0.0.0',
      DATABASE_URL: 'postgres://db/latch',
      REDIS_URL: 'redis://cache:6379/0',
      SESSION_IDLE_TIMEOUT: '2h',
      PASSWORD_MIN_LENGTH: '12',
      TRUSTED_ORIGINS: 'https://a.example.com',
    });
    expect(input).toEqual({
      port: '8080',
      host: '0.0.0.0',
      databaseUrl: 'postgres://db/latch',
      redisUrl: 'redis://cache:6379/0',
      sessionIdleTimeout: '2h',
      passwordMinLength: '12',
      trustedOrigins: 'https://a.example.com',
    });
  });

  it('treats empty strings as unset and ignores unrelated variables', () => {
    expect(configFromEnv({ PORT: '', PATH: '/usr/bin', HOME: '/root', port: '1' })).toEqual({});
    expect(fromEnv({ PORT: '', SESSION_IDLE_TIMEOUT: '' }).port).toBe(3000);
  });

  it('reads values through to the resolved config', () => {
    const config = fromEnv({
      PORT: '8080',
      HOST: '0.0.0.0',
      DATABASE_URL: 'postgresql://user@db:5432/latch',
      REDIS_URL: 'redis+cluster://r1:7000,r2:7001',
      TRUSTED_ORIGINS: 'https://a.example.com, https://b.example.com/',
      TRUST_PROXY: '2',
      PASSWORD_MIN_LENGTH: '12',
      PASSWORD_MAX_LENGTH: '128',
      LOGIN_MAX_FAILURES: '10',
      MAX_SESSIONS_PER_USER: '5',
      REQUIRE_EMAIL_VERIFICATION: 'true',
      COOKIE_SECURE: '1',
      ARGON2_MEMORY_COST: '65536',
      ARGON2_TIME_COST: '3',
      ARGON2_PARALLELISM: '4',
    });
    expect(config).toMatchObject({
      port: 8080,
      host: '0.0.0.0',
      databaseUrl: 'postgresql://user@db:5432/latch',
      redisUrl: 'redis+cluster://r1:7000,r2:7001',
      trustedOrigins: ['https://a.example.com', 'https://b.example.com'],
      trustProxy: 2,
      passwordMinLength: 12,
      passwordMaxLength: 128,
      loginMaxFailures: 10,
      maxSessionsPerUser: 5,
      requireEmailVerification: true,
      cookieSecure: true,
      argon2MemoryCost: 65_536,
      argon2TimeCost: 3,
      argon2Parallelism: 4,
    });
  });
});

describe('durations', () => {
  it.each([
    ['250ms', 250],
    ['30s', 30 * SECOND],
    ['15m', 15 * MINUTE],
    ['24h', 24 * HOUR],
    ['7d', 7 * DAY],
    [' 2h ', 2 * HOUR],
  ])('parseDuration(%j) = %i ms', (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });

  it.each(['', 'abc', '10', '1.5h', '-5m', '5 m', '5M', '5w', 'h', '5mss', '1e3s'])('parseDuration(%j) is null', (text) => {
    expect(parseDuration(text)).toBeNull();
  });

  it('reads every unit from the environment', () => {
    const config = fromEnv({
      REAUTH_WINDOW: '90s',
      SESSION_IDLE_TIMEOUT: '45m',
      SESSION_ABSOLUTE_TIMEOUT: '12h',
      REMEMBER_ME_TIMEOUT: '14d',
      DEPENDENCY_TIMEOUT: '750ms',
    });
    expect(config).toMatchObject({
      reauthWindow: 90 * SECOND,
      sessionIdleTimeout: 45 * MINUTE,
      sessionAbsoluteTimeout: 12 * HOUR,
      rememberMeTimeout: 14 * DAY,
      dependencyTimeout: 750,
    });
  });

  it('accepts milliseconds as a number from code', () => {
    expect(resolveConfig({ reauthWindow: 5_000 }).reauthWindow).toBe(5_000);
  });
});

describe('bad values stop the start with a message naming the variable', () => {
  it.each([
    ['SESSION_IDLE_TIMEOUT', 'abc'],
    ['SESSION_IDLE_TIMEOUT', '0s'],
    ['SESSION_ABSOLUTE_TIMEOUT', '7 days'],
    ['REMEMBER_ME_TIMEOUT', '-1d'],
    ['REAUTH_WINDOW', '10'],
    ['PORT', '70000'],
    ['PORT', '-1'],
    ['PORT', 'http'],
    ['PORT', '80.5'],
    ['PASSWORD_MIN_LENGTH', '4'],
    ['PASSWORD_MIN_LENGTH', '65'],
    ['PASSWORD_MAX_LENGTH', '20'],
    ['LOGIN_MAX_FAILURES', '0'],
    ['MAX_SESSIONS_PER_USER', '0'],
    ['DATABASE_URL', 'mysql://x'],
    ['DATABASE_URL', 'file:./latch.db'],
    ['REDIS_URL', 'http://cache:6379'],
    ['SMTP_URL', 'mail.example.com'],
    ['TRUSTED_ORIGINS', 'not-a-url'],
    ['TRUSTED_ORIGINS', 'https://ok.example.com,not-a-url'],
    ['TRUSTED_ORIGINS', 'https://app.example.com/path'],
    ['TRUSTED_ORIGINS', 'ftp://files.example.com'],
    ['PUBLIC_URL', 'localhost:3000'],
    ['PUBLIC_URL', 'https://example.com/auth'],
    ['NODE_ENV', 'staging'],
    ['COOKIE_SECURE', 'yes'],
    ['REQUIRE_EMAIL_VERIFICATION', 'on'],
    ['METRICS_TOKEN', 'short'],
    ['LOG_LEVEL', 'verbose'],
    ['REDIS_KEY_PREFIX', 'has space'],
  ])('%s=%j', (name, value) => {
    const error = failure({ [name]: value });
    expect(error.message).toContain(`${name}:`);
    expect(error.name).toBe('ConfigError');
  });

  it('names every bad variable at once', () => {
    const error = failure({ PORT: '70000', SESSION_IDLE_TIMEOUT: 'abc', DATABASE_URL: 'mysql://x' });
    for (const name of ['PORT', 'SESSION_IDLE_TIMEOUT', 'DATABASE_URL']) expect(error.message).toContain(`${name}:`);
  });

  it('says what is wrong with a bad duration or origin, not only where', () => {
    // config.ts writes these explanations; they must reach the operator.
    expect(failure({ SESSION_IDLE_TIMEOUT: 'abc' }).message).toMatch(/SESSION_IDLE_TIMEOUT: .*"abc".*duration/);
    expect(failure({ TRUSTED_ORIGINS: 'not-a-url' }).message).toMatch(/TRUSTED_ORIGINS: .*"not-a-url".*origin/);
  });

  it('refuses an idle timeout longer than the absolute one', () => {
    expect(failure({ SESSION_IDLE_TIMEOUT: '8d' }).message).toContain('SESSION_IDLE_TIMEOUT:');
    expect(failure({ SESSION_IDLE_TIMEOUT: '2h', SESSION_ABSOLUTE_TIMEOUT: '1h' }).message).toContain('SESSION_IDLE_TIMEOUT:');
    expect(fromEnv({ SESSION_IDLE_TIMEOUT: '7d' }).sessionIdleTimeout).toBe(7 * DAY);
  });

  it('accepts equal password limits at the top of the minimum range', () => {
    expect(fromEnv({ PASSWORD_MIN_LENGTH: '64', PASSWORD_MAX_LENGTH: '64' })).toMatchObject({ passwordMinLength: 64, passwordMaxLength: 64 });
  });
});

describe('argon2 parameters', () => {
  it('cannot go below the OWASP floor m=19456 t=2 p=1', () => {
    expect(failure({ ARGON2_MEMORY_COST: '19455' }).message).toContain('ARGON2_MEMORY_COST:');
    expect(failure({ ARGON2_MEMORY_COST: '4096' }).message).toContain('ARGON2_MEMORY_COST:');
    expect(failure({ ARGON2_TIME_COST: '1' }).message).toContain('ARGON2_TIME_COST:');
    expect(failure({ ARGON2_PARALLELISM: '0' }).message).toContain('ARGON2_PARALLELISM:');
  });

  it('accepts exactly the floor and anything above', () => {
    expect(fromEnv({ ARGON2_MEMORY_COST: '19456', ARGON2_TIME_COST: '2', ARGON2_PARALLELISM: '1' })).toMatchObject({
      argon2MemoryCost: 19_456,
      argon2TimeCost: 2,
      argon2Parallelism: 1,
    });
    expect(fromEnv({ ARGON2_MEMORY_COST: '19457' }).argon2MemoryCost).toBe(19_457);
  });

  it('cannot be lowered from code either', () => {
    expect(() => resolveConfig({ argon2MemoryCost: 1024, argon2TimeCost: 1 })).toThrow(ConfigError);
  });
});

describe('production', () => {
  it('turns secure cookies on by default', () => {
    const config = fromEnv(PRODUCTION);
    expect(config.nodeEnv).toBe('production');
    expect(config.cookieSecure).toBe(true);
  });

  it('keeps secure cookies off by default outside production, and lets them be turned on', () => {
    expect(fromEnv({ NODE_ENV: 'development' }).cookieSecure).toBe(false);
    expect(fromEnv({ NODE_ENV: 'test' }).cookieSecure).toBe(false);
    expect(fromEnv({ COOKIE_SECURE: 'true' }).cookieSecure).toBe(true);
  });

  it('refuses COOKIE_SECURE=false', () => {
    expect(failure({ ...PRODUCTION, COOKIE_SECURE: 'false' }).message).toContain('COOKIE_SECURE:');
    expect(failure({ ...PRODUCTION, COOKIE_SECURE: '0' }).message).toContain('COOKIE_SECURE:');
  });

  it('refuses an http PUBLIC_URL, including the default', () => {
    expect(failure({ NODE_ENV: 'production', PUBLIC_URL: 'http://auth.example.com' }).message).toContain('PUBLIC_URL:');
    expect(failure({ NODE_ENV: 'production' }).message).toContain('PUBLIC_URL:');
  });

  it('refuses http trusted origins, naming them', () => {
    const error = failure({ ...PRODUCTION, TRUSTED_ORIGINS: 'https://ok.example.com,http://plain.example.com' });
    expect(error.message).toContain('TRUSTED_ORIGINS:');
    expect(error.message).toContain('http://plain.example.com');
    expect(error.message).not.toContain('https://ok.example.com');
  });

  it('refuses to start without SMTP_URL (the outbox would keep live reset and verification links on disk)', () => {
    const { SMTP_URL: _, ...withoutSmtp } = PRODUCTION;
    const error = failure(withoutSmtp);
    expect(error.message).toContain('SMTP_URL:');
    expect(error.message).not.toContain('PUBLIC_URL:');
    expect(fromEnv(PRODUCTION).smtpUrl).toBe('smtps://mail.example.com:465');
  });

  it('starts without METRICS_TOKEN (then /metrics answers 404, see test/http/production-mode.test.ts)', () => {
    expect(fromEnv(PRODUCTION).metricsToken).toBeUndefined();
  });

  it('refuses TRUST_PROXY=true', () => {
    expect(failure({ ...PRODUCTION, TRUST_PROXY: 'true' }).message).toContain('TRUST_PROXY:');
  });

  it('refuses a TRUST_PROXY subnet that matches every address, which trusts every hop like "true"', () => {
    for (const value of ['0.0.0.0/0', '::/0', '10.0.0.0/8, 0.0.0.0/0']) {
      expect(failure({ ...PRODUCTION, TRUST_PROXY: value }).message).toContain('TRUST_PROXY:');
    }
  });

  it('accepts hop counts and named subnets behind a proxy', () => {
    expect(fromEnv({ ...PRODUCTION, TRUST_PROXY: '1' }).trustProxy).toBe(1);
    expect(fromEnv({ ...PRODUCTION, TRUST_PROXY: 'loopback, 10.0.0.0/8' }).trustProxy).toBe('loopback, 10.0.0.0/8');
  });

  it('accepts a safe production configuration', () => {
    const config = fromEnv({ ...PRODUCTION, COOKIE_SECURE: 'true', TRUSTED_ORIGINS: 'https://app.example.com', TRUST_PROXY: '1' });
    expect(config).toMatchObject({ cookieSecure: true, publicUrl: 'https://auth.example.com', trustedOrigins: ['https://app.example.com'] });
  });

  it('lists every production problem at once', () => {
    const error = failure({ NODE_ENV: 'production', COOKIE_SECURE: 'false', TRUSTED_ORIGINS: 'http://x.example.com', TRUST_PROXY: 'true' });
    for (const name of ['COOKIE_SECURE:', 'PUBLIC_URL:', 'TRUSTED_ORIGINS:', 'TRUST_PROXY:', 'SMTP_URL:']) expect(error.message).toContain(name);
  });

  it('allows development settings outside production', () => {
    expect(() => fromEnv({ COOKIE_SECURE: 'false', TRUST_PROXY: 'true', TRUSTED_ORIGINS: 'http://localhost:5173' })).not.toThrow();
    expect(fromEnv({ NODE_ENV: 'test' }).smtpUrl).toBeUndefined();
  });
});

describe('SECRETS_KEY (API.md, "Configuration")', () => {
  const key = Buffer.alloc(32, 0xfb);

  it('is unset by default, with the key file under ./data and no previous keys', () => {
    const config = fromEnv({});
    expect(config.secretsKey).toBeUndefined();
    expect(config.secretsKeyFile).toBe('./data/secrets.key');
    expect(config.secretsKeyPrevious).toEqual([]);
    expect(fromEnv({ SECRETS_KEY_FILE: '/var/lib/latch/key' }).secretsKeyFile).toBe('/var/lib/latch/key');
  });

  it('accepts 32 bytes in standard or URL-safe base64, padded or not', () => {
    // 0xfb bytes encode to "+" and "/" in one alphabet, "-" and "_" in the other.
    for (const text of [key.toString('base64'), key.toString('base64url'), key.toString('base64').replace(/=+$/, ''), ` ${key.toString('base64')}\n`]) {
      expect(fromEnv({ SECRETS_KEY: text }).secretsKey).toEqual(key);
    }
  });

  it.each([
    ['too short', Buffer.alloc(16, 1).toString('base64')],
    ['too long', Buffer.alloc(33, 1).toString('base64')],
    ['hex, not base64', key.toString('hex')],
    ['stray characters', `${key.toString('base64').slice(0, 20)}!${key.toString('base64').slice(20)}`],
    ['a passphrase', 'correct horse battery staple'],
  ])('refuses a key that is %s, naming the variable and not echoing the value', (_, value) => {
    const error = failure({ SECRETS_KEY: value });
    expect(error.message).toMatch(/SECRETS_KEY: must be 32 bytes in base64/);
    expect(error.message).not.toContain(value);
  });

  it('is required in production, saying why', () => {
    const { SECRETS_KEY: _, ...withoutKey } = PRODUCTION;
    const error = failure(withoutKey);
    expect(error.message).toMatch(/SECRETS_KEY: must be set in production \(TOTP secrets/);
    expect(error.message).not.toContain('SMTP_URL:');
    expect(fromEnv(PRODUCTION).secretsKey).toEqual(Buffer.from(KEY, 'base64'));
  });

  it('SECRETS_KEY_PREVIOUS takes a comma-separated list of keys', () => {
    const other = Buffer.alloc(32, 2);
    const config = fromEnv({ SECRETS_KEY_PREVIOUS: `${key.toString('base64url')}, ${other.toString('base64')}` });
    expect(config.secretsKeyPrevious).toEqual([key, other]);
    expect(Object.isFrozen(config.secretsKeyPrevious)).toBe(true);
    expect(resolveConfig({ secretsKeyPrevious: [other.toString('base64')] }).secretsKeyPrevious).toEqual([other]);
  });

  it('SECRETS_KEY_PREVIOUS refuses a bad entry, saying which, without echoing it', () => {
    const error = failure({ SECRETS_KEY_PREVIOUS: `${key.toString('base64')},not-a-key` });
    expect(error.message).toContain('SECRETS_KEY_PREVIOUS: key 2 of 2 must be 32 bytes in base64');
    expect(error.message).not.toContain('not-a-key');
    expect(error.message).not.toContain(key.toString('base64'));
  });
});

describe('the result', () => {
  it('is frozen, trusted origins included', () => {
    const config = fromEnv({ TRUSTED_ORIGINS: 'https://a.example.com' });
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.trustedOrigins)).toBe(true);
    expect(() => {
      (config as { port: number }).port = 1;
    }).toThrow(TypeError);
    expect(() => {
      (config.trustedOrigins as string[]).push('https://evil.example.com');
    }).toThrow(TypeError);
    expect(config.port).toBe(3000);
    expect(config.trustedOrigins).toEqual(['https://a.example.com']);
  });

  it('does not share state with the input', () => {
    const input = { trustedOrigins: ['https://a.example.com'] };
    const config = resolveConfig(input);
    input.trustedOrigins.push('https://evil.example.com');
    expect(config.trustedOrigins).toEqual(['https://a.example.com']);
  });
});

describe('two-step settings', () => {
  it('MFA_PENDING_TIMEOUT defaults to 5m, MFA_REMEMBER_DEVICE to 30d (0 turns it off), NEW_DEVICE_ALERTS to true', () => {
    const defaults = resolveConfig({});
    expect(defaults.mfaPendingTimeout).toBe(5 * 60_000);
    expect(defaults.mfaRememberDevice).toBe(30 * 86_400_000);
    expect(defaults.newDeviceAlerts).toBe(true);
    const env = resolveConfig(configFromEnv({ MFA_PENDING_TIMEOUT: '2m', MFA_REMEMBER_DEVICE: '0', NEW_DEVICE_ALERTS: 'false' }));
    expect([env.mfaPendingTimeout, env.mfaRememberDevice, env.newDeviceAlerts]).toEqual([2 * 60_000, 0, false]);
    expect(() => resolveConfig(configFromEnv({ MFA_REMEMBER_DEVICE: 'soon' }))).toThrow(/MFA_REMEMBER_DEVICE/);
    expect(() => resolveConfig(configFromEnv({ MFA_PENDING_TIMEOUT: '0' }))).toThrow(/MFA_PENDING_TIMEOUT/);
  });
});
