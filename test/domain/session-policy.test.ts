import { describe, expect, it } from 'vitest';
import { SessionPolicy, type SessionRecord } from '../../src/domain/session.js';

const SECOND = 1_000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

const timeouts = {
  idleTimeoutMs: 24 * HOUR,
  absoluteTimeoutMs: 7 * DAY,
  rememberMeTimeoutMs: 30 * DAY,
};
const policy = new SessionPolicy(timeouts);
const LOGIN = Date.UTC(2025, 0, 1, 12, 0, 0);

/** A session as issued at `createdAt`, optionally last used later. */
function session(overrides: Partial<SessionRecord> & { rememberMe?: boolean } = {}): SessionRecord {
  const createdAt = overrides.createdAt ?? LOGIN;
  const rememberMe = overrides.rememberMe ?? false;
  const lastSeenAt = overrides.lastSeenAt ?? createdAt;
  return {
    id: 'id',
    userId: 'user',
    secretHash: Buffer.alloc(32),
    createdAt,
    lastSeenAt,
    rememberMe,
    expiresAt: overrides.expiresAt ?? policy.expiresAt({ createdAt, rememberMe }, lastSeenAt),
    authenticatedAt: createdAt,
    ip: '203.0.113.1',
    userAgent: 'test',
    epoch: 0,
    methods: ['password'],
    pending: false,
  };
}

describe('SessionPolicy.expiresAt', () => {
  it('is last use + idle timeout while the absolute timeout is far away', () => {
    expect(policy.expiresAt({ createdAt: LOGIN, rememberMe: false }, LOGIN)).toBe(LOGIN + 24 * HOUR);
    expect(policy.expiresAt({ createdAt: LOGIN, rememberMe: false }, LOGIN + 2 * DAY)).toBe(LOGIN + 3 * DAY);
  });

  it('is capped by login + absolute timeout however recently the session was used', () => {
    expect(policy.expiresAt({ createdAt: LOGIN, rememberMe: false }, LOGIN + 6 * DAY + HOUR)).toBe(LOGIN + 7 * DAY);
    expect(policy.expiresAt({ createdAt: LOGIN, rememberMe: false }, LOGIN + 7 * DAY - 1)).toBe(LOGIN + 7 * DAY);
  });

  it('switches from idle to absolute exactly when the idle expiry would pass the cap', () => {
    const turn = LOGIN + 7 * DAY - 24 * HOUR;
    expect(policy.expiresAt({ createdAt: LOGIN, rememberMe: false }, turn - 1)).toBe(turn - 1 + 24 * HOUR);
    expect(policy.expiresAt({ createdAt: LOGIN, rememberMe: false }, turn)).toBe(LOGIN + 7 * DAY);
    expect(policy.expiresAt({ createdAt: LOGIN, rememberMe: false }, turn + 1)).toBe(LOGIN + 7 * DAY);
  });

  it('uses the remember-me timeout as both idle and absolute timeout', () => {
    const remembered = { createdAt: LOGIN, rememberMe: true };
    // Idle part: 30 days from last use, not 24 hours.
    expect(policy.expiresAt(remembered, LOGIN)).toBe(LOGIN + 30 * DAY);
    expect(policy.expiresAt(remembered, LOGIN + 2 * DAY)).toBe(LOGIN + 30 * DAY);
    // Absolute part: 30 days from login, not 7 days, and not sliding past it.
    expect(policy.expiresAt(remembered, LOGIN + 10 * DAY)).toBe(LOGIN + 30 * DAY);
  });

  it('gives a remember-me session idle expiry from last use when the remember-me timeout is the idle one', () => {
    // With remember-me shorter than the absolute cap, the idle part is visibly remember-me's.
    const custom = new SessionPolicy({ ...timeouts, rememberMeTimeoutMs: 3 * DAY, absoluteTimeoutMs: 7 * DAY });
    expect(custom.expiresAt({ createdAt: LOGIN, rememberMe: true }, LOGIN + DAY)).toBe(LOGIN + 3 * DAY);
    expect(custom.expiresAt({ createdAt: LOGIN, rememberMe: false }, LOGIN + DAY)).toBe(LOGIN + 2 * DAY);
  });
});

describe('SessionPolicy.check', () => {
  it('answers expired at exactly expiresAt and valid one millisecond before', () => {
    const s = session();
    expect(s.expiresAt).toBe(LOGIN + 24 * HOUR);
    expect(policy.check(s, s.expiresAt).state).toBe('expired');
    expect(policy.check(s, s.expiresAt + 1).state).toBe('expired');
    expect(policy.check(s, s.expiresAt - 1).state).not.toBe('expired');
  });

  it('trusts the stored expiresAt (a revoked or shortened record ends when it says)', () => {
    const s = session({ expiresAt: LOGIN + 10 * SECOND });
    expect(policy.check(s, LOGIN + 10 * SECOND)).toEqual({ state: 'expired' });
  });

  it('answers valid without renewal inside the touch interval', () => {
    const s = session();
    expect(policy.check(s, LOGIN)).toEqual({ state: 'valid' });
    expect(policy.check(s, LOGIN + MINUTE - 1)).toEqual({ state: 'valid' });
  });

  it('renews at the touch interval with lastSeenAt = now and the slid expiry', () => {
    const s = session();
    expect(policy.check(s, LOGIN + MINUTE)).toEqual({ state: 'renew', lastSeenAt: LOGIN + MINUTE, expiresAt: LOGIN + MINUTE + 24 * HOUR });
    const later = LOGIN + 5 * HOUR + 17 * SECOND;
    expect(policy.check(s, later)).toEqual({ state: 'renew', lastSeenAt: later, expiresAt: later + 24 * HOUR });
  });

  it('measures the touch interval from the last use, not from login', () => {
    const lastSeenAt = LOGIN + 3 * HOUR;
    const s = session({ lastSeenAt });
    expect(policy.check(s, lastSeenAt + MINUTE - 1)).toEqual({ state: 'valid' });
    expect(policy.check(s, lastSeenAt + MINUTE)).toEqual({
      state: 'renew',
      lastSeenAt: lastSeenAt + MINUTE,
      expiresAt: lastSeenAt + MINUTE + 24 * HOUR,
    });
  });

  it('never renews past the absolute timeout, and expires at it', () => {
    const lastSeenAt = LOGIN + 6 * DAY + 20 * HOUR;
    const s = session({ lastSeenAt });
    expect(s.expiresAt).toBe(LOGIN + 7 * DAY);
    const now = LOGIN + 6 * DAY + 23 * HOUR;
    expect(policy.check(s, now)).toEqual({ state: 'renew', lastSeenAt: now, expiresAt: LOGIN + 7 * DAY });
    expect(policy.check({ ...s, lastSeenAt: now }, LOGIN + 7 * DAY)).toEqual({ state: 'expired' });
  });

  it('renews a remember-me session with its own timeout, capped 30 days after login', () => {
    const s = session({ rememberMe: true });
    expect(s.expiresAt).toBe(LOGIN + 30 * DAY);
    // 25 hours idle would end a normal session; a remember-me one is still valid.
    const now = LOGIN + 25 * HOUR;
    expect(policy.check(s, now)).toEqual({ state: 'renew', lastSeenAt: now, expiresAt: LOGIN + 30 * DAY });
    expect(policy.check(s, LOGIN + 30 * DAY)).toEqual({ state: 'expired' });
  });

  it('expires a session idle for exactly the idle timeout', () => {
    const lastSeenAt = LOGIN + 2 * DAY;
    const s = session({ lastSeenAt });
    expect(policy.check(s, lastSeenAt + 24 * HOUR - 1).state).toBe('renew');
    expect(policy.check(s, lastSeenAt + 24 * HOUR)).toEqual({ state: 'expired' });
  });
});
