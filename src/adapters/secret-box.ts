/**
 * Encryption of small secrets at rest (TOTP secrets): AES-256-GCM, a random 96-bit IV per
 * message, a 128-bit tag. A box reads
 *
 *   v1.<key id>.<iv>.<ciphertext>.<tag>        (base64url parts)
 *
 * where the key id is the first 8 hex digits of SHA-256(key), so after a rotation each box
 * names the key it needs. The owner (the user id, as associated data) is authenticated but
 * not stored: a box copied into another user's row does not open. Give an owner a purpose,
 * e.g. `totp:<user id>`, if other secrets of the same user are ever sealed with this key. With random IVs NIST allows 2^32 messages per
 * key, far beyond one per account and rotation.
 */
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';

const VERSION = 'v1';
const ALGORITHM = 'aes-256-gcm';
const KEY_BYTES = 32;
const IV_BYTES = 12;
const TAG_BYTES = 16;

export function keyId(key: Buffer): string {
  return createHash('sha256').update(key).digest('hex').slice(0, 8);
}

export class SecretBox {
  private readonly current: { id: string; key: Buffer };
  private readonly keys: ReadonlyArray<{ id: string; key: Buffer }>;

  /** `current` encrypts; `previous` keys only decrypt, while boxes are re-encrypted. */
  constructor(current: Buffer, previous: readonly Buffer[] = []) {
    for (const key of [current, ...previous]) {
      if (key.length !== KEY_BYTES) throw new Error(`a secret box key must be ${KEY_BYTES} bytes, not ${key.length}`);
    }
    this.keys = [current, ...previous].map((key) => ({ id: keyId(key), key }));
    this.current = this.keys[0]!;
  }

  /** Encrypts under the current key, bound to `owner` (the associated data). */
  seal(plaintext: string, owner: string): string {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv(ALGORITHM, this.current.key, iv, { authTagLength: TAG_BYTES });
    cipher.setAAD(Buffer.from(owner, 'utf8'));
    const ciphertext = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    return [VERSION, this.current.id, iv, ciphertext, cipher.getAuthTag()]
      .map((part) => (typeof part === 'string' ? part : part.toString('base64url')))
      .join('.');
  }

  /**
   * The plaintext, or null when the box is malformed, tampered with, sealed for another
   * owner, or under a key this box does not hold. Never partial output: GCM checks the tag in
   * `final()`, before anything is returned.
   */
  open(box: string, owner: string): string | null {
    const parsed = parse(box);
    if (!parsed) return null;
    // Ids are 32 bits, so two keys could share one: try each that matches.
    for (const { id, key } of this.keys) {
      if (id !== parsed.keyId) continue;
      try {
        const decipher = createDecipheriv(ALGORITHM, key, parsed.iv, { authTagLength: TAG_BYTES });
        decipher.setAAD(Buffer.from(owner, 'utf8'));
        decipher.setAuthTag(parsed.tag);
        return Buffer.concat([decipher.update(parsed.ciphertext), decipher.final()]).toString('utf8');
      } catch {
        // Wrong key, tampered bytes or another owner: all look the same to GCM.
      }
    }
    return null;
  }

  /** True for a box under one of the previous keys: re-encrypt it with the current one. */
  needsReencryption(box: string): boolean {
    const id = parse(box)?.keyId;
    return id !== undefined && id !== this.current.id && this.keys.some((k) => k.id === id);
  }
}

function parse(box: string): { keyId: string; iv: Buffer; ciphertext: Buffer; tag: Buffer } | null {
  const parts = box.split('.');
  if (parts.length !== 5 || parts[0] !== VERSION || !/^[0-9a-f]{8}$/.test(parts[1]!)) return null;
  const [iv, ciphertext, tag] = parts.slice(2).map(base64url);
  if (!iv || !ciphertext || !tag || iv.length !== IV_BYTES || tag.length !== TAG_BYTES) return null;
  return { keyId: parts[1]!, iv, ciphertext, tag };
}

/** Strict: Buffer.from skips stray characters, so only the canonical encoding is accepted. */
function base64url(text: string): Buffer | null {
  const bytes = Buffer.from(text, 'base64url');
  return bytes.toString('base64url') === text ? bytes : null;
}
