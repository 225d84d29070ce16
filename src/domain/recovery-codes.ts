/**
 * Recovery codes (API.md, "Two-step sign-in"): 10 per set, each 16 characters of Crockford's
 * base32 (80 bits: far past the 60 required, so a fast hash is enough to store them, like
 * session secrets), shown once in four readable groups (`7KQM-2F9X-HT4R-B8CW`), stored only as
 * SHA-256, and used up by their first use. Typing is forgiving: case, spaces and dashes do not
 * matter, and the letters people confuse with digits (O, I, L) read as 0, 1, 1.
 */
import { createHash } from 'node:crypto';
import type { Random } from './ports.js';

export const RECOVERY_CODES_PER_SET = 10;
const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ'; // Crockford: no I, L, O, U
const CODE_LENGTH = 16;
const GROUP = 4;

export function newRecoveryCodes(random: Random): string[] {
  return Array.from({ length: RECOVERY_CODES_PER_SET }, () => {
    // 10 bytes = 80 bits = exactly 16 base32 characters: no bias.
    const bits = [...random.bytes(10)].map((b) => b.toString(2).padStart(8, '0')).join('');
    const chars = Array.from({ length: CODE_LENGTH }, (_, i) => ALPHABET[parseInt(bits.slice(i * 5, i * 5 + 5), 2)]!);
    return chars.join('').match(new RegExp(`.{${GROUP}}`, 'g'))!.join('-');
  });
}

/** The canonical form of what someone typed, or null when it cannot be a recovery code. */
export function normalizeRecoveryCode(typed: string): string | null {
  const canonical = typed
    .toUpperCase()
    .replace(/[\s-]/g, '')
    .replace(/O/g, '0')
    .replace(/[IL]/g, '1');
  return canonical.length === CODE_LENGTH && [...canonical].every((c) => ALPHABET.includes(c)) ? canonical : null;
}

export function hashRecoveryCode(canonical: string): Buffer {
  return createHash('sha256').update(canonical).digest();
}
