/**
 * Authenticator-app codes: RFC 6238 TOTP, HMAC-SHA-1, 6 digits, 30-second steps, accepting the
 * current step and one on either side (clock drift, RFC 6238 §5.2). The algorithm comes from
 * `otpauth` (maintained, dependency-light, RFC test vectors in its suite, and it builds the
 * `otpauth://` URI authenticator apps scan); what Latch adds is the replay rule: a time step
 * accepted once for an account is never accepted again (§5.2), enforced by the store, which
 * moves the account's last used step forward atomically.
 */
import { Secret, TOTP } from 'otpauth';
import type { Random } from './ports.js';

const PERIOD_S = 30;
const WINDOW = 1;
const SECRET_BYTES = 20; // 160 bits, RFC 4226 §4's recommendation

export interface TotpSetup {
  /** Base32, for manual entry. */
  secret: string;
  /** otpauth://totp/… for a QR code. */
  uri: string;
}

export function newTotpSecret(random: Random, issuer: string, accountName: string): TotpSetup {
  const secret = new Secret({ buffer: new Uint8Array(random.bytes(SECRET_BYTES)).buffer });
  return { secret: secret.base32, uri: totpOf(secret.base32, issuer, accountName).toString() };
}

/**
 * The time step `code` belongs to, within the window around `now`, or null when it matches
 * none. The caller still has to claim the step (replay).
 */
export function matchTotp(secretBase32: string, code: string, now: number): number | null {
  if (!/^\d{6}$/.test(code)) return null;
  const delta = totpOf(secretBase32).validate({ token: code, timestamp: now, window: WINDOW });
  return delta === null ? null : Math.floor(now / 1000 / PERIOD_S) + delta;
}

/** The current code (tests and pages never need it; kept for the test suites' authenticator). */
export function totpCode(secretBase32: string, at: number): string {
  return totpOf(secretBase32).generate({ timestamp: at });
}

function totpOf(secretBase32: string, issuer = 'Latch', label = 'Latch'): TOTP {
  return new TOTP({ issuer, label, algorithm: 'SHA1', digits: 6, period: PERIOD_S, secret: Secret.fromBase32(secretBase32) });
}
