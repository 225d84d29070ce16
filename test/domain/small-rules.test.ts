/**
 * The small rules other modules lean on: HTML escaping, the error types, account keys for
 * limiters, the shape of a TOTP code, and client keys for IPv6 and mapped IPv4 addresses.
 */
import { describe, expect, it } from 'vitest';
import { accountKey } from '../../src/domain/account-key.js';
import { ipKey } from '../../src/domain/client-key.js';
import { accountDisabled, LatchError, RateLimitedError, UnavailableError } from '../../src/domain/errors.js';
import { escapeHtml } from '../../src/domain/escape-html.js';
import { KNOWN_IP_MEMORY_MS, LoginThrottle } from '../../src/domain/login-throttle.js';
import { hashOneTimeToken, isTokenShaped, newOneTimeToken } from '../../src/domain/one-time-tokens.js';
import { SessionPolicy, type SessionRecord } from '../../src/domain/session.js';
import { matchTotp, newTotpSecret, totpCode } from '../../src/domain/totp.js';
import { cryptoRandom, InMemoryRateLimiter, ManualClock } from '../support/fakes.js';

describe('escapeHtml', () => {
  it('escapes the five characters that matter in text and attributes, and nothing else', () => {
    expect(escapeHtml(`<a href="x" title='y'>Tom & Jerry</a>`)).toBe('&lt;a href=&quot;x&quot; title=&#39;y&#39;&gt;Tom &amp; Jerry&lt;/a&gt;');
    expect(escapeHtml('plain text, ÅNGSTRÖM 😀')).toBe('plain text, ÅNGSTRÖM 😀');
    expect(escapeHtml('&amp;')).toBe('&amp;amp;');
  });
});

describe('errors', () => {
  it('name themselves and carry their code, message and retry time', () => {
    const error = new LatchError('invalid_input', 'Bad input', [{ path: 'email', message: 'Required' }]);
    expect(error).toBeInstanceOf(Error);
    expect(error.name).toBe('LatchError');
    expect(error.issues).toEqual([{ path: 'email', message: 'Required' }]);
    const limited = new RateLimitedError(1500);
    expect(limited).toBeInstanceOf(LatchError);
    expect(limited).toMatchObject({ code: 'rate_limited', retryAfterMs: 1500, name: 'LatchError' });
    expect(limited.message).toMatch(/\S$/);
    const disabled = accountDisabled();
    expect(disabled.code).toBe('account_disabled');
    expect(disabled.message).toMatch(/disabled/);
  });

  it('say which dependency is unavailable, keeping the cause', () => {
    const cause = new Error('ECONNREFUSED');
    const error = new UnavailableError('session store', { cause });
    expect(error).not.toBeInstanceOf(LatchError);
    expect(error.name).toBe('UnavailableError');
    expect(error.message).toBe('session store is unavailable');
    expect(error.dependency).toBe('session store');
    expect(error.cause).toBe(cause);
  });
});

describe('accountKey', () => {
  it('is a short digest: the same for the same value, never the value', () => {
    const key = accountKey('ada@example.test');
    expect(key).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(accountKey('ada@example.test')).toBe(key);
    expect(accountKey('bob@example.test')).not.toBe(key);
    expect(key).not.toContain('ada');
  });
});

describe('TOTP codes', () => {
  const { secret } = newTotpSecret(cryptoRandom, 'Latch', 'ada@example.test');
  const now = 1_700_000_000_000;

  it('are six digits exactly: nothing before or after them', () => {
    const code = totpCode(secret, now);
    expect(matchTotp(secret, code, now)).not.toBeNull();
    expect(matchTotp(secret, `${code}0`, now)).toBeNull();
    expect(matchTotp(secret, `0${code}`, now)).toBeNull();
    expect(matchTotp(secret, ` ${code}`, now)).toBeNull();
  });

  it('take their secret from the randomness they are given', () => {
    const zeros = { bytes: (n: number) => Buffer.alloc(n), uuid: () => 'u' };
    expect(newTotpSecret(zeros, 'Latch', 'ada').secret).toBe('A'.repeat(32));
  });

  it('come from a new 160-bit secret each time, named for the issuer and account', () => {
    const other = newTotpSecret(cryptoRandom, 'accounts.latch.test', 'ada@example.test');
    expect(other.secret).toMatch(/^[A-Z2-7]{32}$/);
    expect(other.secret).not.toBe(secret);
    expect(other.uri).toMatch(/^otpauth:\/\/totp\/accounts\.latch\.test:ada(%40|@)example\.test\?/);
    expect(other.uri).toContain('issuer=accounts.latch.test');
  });
});

describe('ipKey', () => {
  it('keeps IPv4 as it is and reads IPv4-mapped IPv6 as the IPv4 address', () => {
    expect(ipKey('203.0.113.9')).toBe('203.0.113.9');
    expect(ipKey('::ffff:203.0.113.9')).toBe('203.0.113.9');
    expect(ipKey('::ffff:cb00:7109')).toBe('203.0.113.9');
    expect(ipKey('0:0:0:0:0:ffff:203.0.113.9')).toBe('203.0.113.9');
  });

  it('does not read other addresses ending in ffff groups as mapped', () => {
    expect(ipKey('1::ffff:203.0.113.9')).toBe('1:0:0:0::/64');
    expect(ipKey('64:ff9b::203.0.113.9')).toBe('64:ff9b:0:0::/64');
  });

  it('drops a zone, and only the zone', () => {
    expect(ipKey('fe80::1%eth0')).toBe('fe80:0:0:0::/64');
    expect(ipKey('2001:db8:1:2::1%25')).toBe('2001:db8:1:2::/64');
    expect(ipKey('::ffff:203.0.113.9%eth0')).toBe('203.0.113.9');
  });

  it('reads a trailing dotted quad with multi-digit parts', () => {
    expect(ipKey('::ffff:10.20.30.40')).toBe('10.20.30.40');
    expect(ipKey('::ffff:1.2.3.45')).toBe('1.2.3.45');
  });

  it('returns anything that is not an address as it is', () => {
    expect(ipKey('not-an-ip')).toBe('not-an-ip');
    expect(ipKey('unknown%zone')).toBe('unknown%zone');
  });
});

describe('the per-IP login limit', () => {
  it('refuses unknown pairs past it, never a pair that signed in before', async () => {
    const clock = new ManualClock();
    const throttle = new LoginThrottle({
      pair: new InMemoryRateLimiter(5, 60_000, clock),
      ip: new InMemoryRateLimiter(2, 60_000, clock),
      account: new InMemoryRateLimiter(5, 60_000, clock),
      knownIp: new InMemoryRateLimiter(1, KNOWN_IP_MEMORY_MS, clock),
      consecutive: new InMemoryRateLimiter(5, 60_000, clock),
    });
    const first = await throttle.attempt('ada@example.test', '203.0.113.9');
    if (!first.allowed) throw new Error('the first attempt is let through');
    await throttle.succeeded(first);
    for (const email of ['b@example.test', 'c@example.test']) expect((await throttle.attempt(email, '203.0.113.9')).allowed).toBe(true);
    const refused = await throttle.attempt('d@example.test', '203.0.113.9');
    expect(refused).toEqual({ allowed: false, retryAfterMs: 60_000 });
    expect(await throttle.attempt('ada@example.test', '203.0.113.9')).toMatchObject({ allowed: true, knownIp: true });
  });
});

describe('session sliding', () => {
  const policy = new SessionPolicy({ idleTimeoutMs: 100_000, absoluteTimeoutMs: 1_000_000, rememberMeTimeoutMs: 2_000_000 });
  const record = (over: Partial<SessionRecord>): SessionRecord =>
    ({ id: 's', userId: 'u', secretHash: Buffer.alloc(32), createdAt: 0, lastSeenAt: 0, authenticatedAt: 0, expiresAt: 100_000, rememberMe: false, epoch: 0, methods: ['password'], pending: false, ip: '', userAgent: '', ...over });

  it('writes at most every tenth of a short idle timeout', () => {
    expect(policy.touchIntervalMs).toBe(10_000);
    expect(policy.check(record({}), 9_999)).toEqual({ state: 'valid' });
    expect(policy.check(record({}), 10_000)).toEqual({ state: 'renew', lastSeenAt: 10_000, expiresAt: 110_000 });
  });

  it('never slides a pending session', () => {
    expect(policy.check(record({ pending: true }), 50_000)).toEqual({ state: 'valid' });
    expect(policy.check(record({ pending: true }), 100_000)).toEqual({ state: 'expired' });
  });
});

describe('one-time tokens', () => {
  it('are 256 random bits in base64url, kept as their SHA-256', () => {
    const { token, hash } = newOneTimeToken(cryptoRandom);
    expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(hash).toEqual(hashOneTimeToken(token));
    expect(hash).toHaveLength(32);
    expect(newOneTimeToken(cryptoRandom).token).not.toBe(token);
  });

  it('are shaped so exactly, nothing before or after', () => {
    const { token } = newOneTimeToken(cryptoRandom);
    expect(isTokenShaped(token)).toBe(true);
    expect(isTokenShaped(`!${token}`)).toBe(false);
    expect(isTokenShaped(`${token}!`)).toBe(false);
    expect(isTokenShaped(token.slice(1))).toBe(false);
  });
});
