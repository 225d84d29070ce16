/** RFC 6238 TOTP as Latch uses it: the RFC's test vector, and the ±1 step window at its edges. */
import { describe, expect, it } from 'vitest';
import { matchTotp, newTotpSecret, totpCode } from '../../src/domain/totp.js';
import { cryptoRandom } from '../support/fakes.js';

// RFC 6238 Appendix B: the ASCII secret "12345678901234567890" (SHA-1), in base32.
const RFC_SECRET = 'GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ';
const STEP = 30_000;

describe('TOTP', () => {
  it('matches the RFC 6238 test vectors (6-digit truncations)', () => {
    expect(totpCode(RFC_SECRET, 59_000)).toBe('287082'); // 94287082
    expect(totpCode(RFC_SECRET, 1_111_111_109_000)).toBe('081804'); // 07081804
    expect(totpCode(RFC_SECRET, 1_234_567_890_000)).toBe('005924'); // 89005924
  });

  it('accepts the step before, the current one and the one after, and says which; nothing further', () => {
    const now = 1_700_000_000_000 + 12_345; // inside a step, not at its start
    const step = Math.floor(now / STEP);
    for (const offset of [-1, 0, 1]) expect(matchTotp(RFC_SECRET, totpCode(RFC_SECRET, now + offset * STEP), now)).toBe(step + offset);
    for (const offset of [-3, -2, 2, 3]) expect(matchTotp(RFC_SECRET, totpCode(RFC_SECRET, now + offset * STEP), now)).toBeNull();
  });

  it('at the very edge of a step, the window moves with it', () => {
    const start = 1_700_000_010_000 - (1_700_000_010_000 % STEP); // the first millisecond of a step
    const code = totpCode(RFC_SECRET, start - 2 * STEP);
    expect(matchTotp(RFC_SECRET, code, start - 1)).not.toBeNull(); // still "the step before"
    expect(matchTotp(RFC_SECRET, code, start)).toBeNull(); // now two steps back
  });

  it('refuses anything that is not six digits before any computation', () => {
    for (const code of ['', '12345', '1234567', '12345a', ' 123456', '１２３４５６']) expect(matchTotp(RFC_SECRET, code, 59_000)).toBeNull();
  });

  it('new secrets are 160 bits, base32, with an otpauth URI naming issuer and account', () => {
    const setup = newTotpSecret(cryptoRandom, 'accounts.latch.example', 'ada@example.com');
    expect(setup.secret).toMatch(/^[A-Z2-7]{32}$/);
    const uri = new URL(setup.uri);
    expect(uri.protocol).toBe('otpauth:');
    expect(uri.searchParams.get('secret')).toBe(setup.secret);
    expect(uri.searchParams.get('issuer')).toBe('accounts.latch.example');
    expect(decodeURIComponent(uri.pathname)).toContain('ada@example.com');
    expect(newTotpSecret(cryptoRandom, 'x', 'y').secret).not.toBe(setup.secret);
  });
});
