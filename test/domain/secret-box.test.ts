/**
 * The at-rest encryption of TOTP secrets (API.md, "Two-step sign-in": AES-256-GCM, key from
 * SECRETS_KEY): what it returns for its own boxes, and that anything else opens to null.
 */
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { keyId, SecretBox } from '../../src/adapters/secret-box.js';

const SECRET = 'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP';
const USER = 'totp:5b0c7a9e-1d2f-4c3b-8a6e-0f1e2d3c4b5a';
const OTHER_USER = 'totp:9e1f2a3b-4c5d-4e6f-8a7b-1c2d3e4f5a6b';

const open = (box: SecretBox, sealed: string, owner = USER) => box.open(sealed, owner);

/** Flips one bit of part `index` (2 iv, 3 ciphertext, 4 tag) and re-encodes it. */
function flipBit(sealed: string, index: number): string {
  const parts = sealed.split('.');
  const bytes = Buffer.from(parts[index]!, 'base64url');
  bytes[0]! ^= 0x01;
  parts[index] = bytes.toString('base64url');
  return parts.join('.');
}

describe('SecretBox', () => {
  const key = randomBytes(32);
  const box = new SecretBox(key);

  it('opens what it sealed, for the same owner, with another box holding the same key too', () => {
    const sealed = box.seal(SECRET, USER);
    expect(open(box, sealed)).toBe(SECRET);
    expect(open(new SecretBox(Buffer.from(key)), sealed)).toBe(SECRET);
    expect(open(box, box.seal('', USER))).toBe('');
    expect(open(box, box.seal('ünïcødé 🔑', USER))).toBe('ünïcødé 🔑');
  });

  it('writes v1.<key id>.<iv>.<ciphertext>.<tag>, the key id from SHA-256 of the key, no plaintext', () => {
    const sealed = box.seal(SECRET, USER);
    const [version, id, iv, ciphertext, tag] = sealed.split('.');
    expect(version).toBe('v1');
    expect(id).toMatch(/^[0-9a-f]{8}$/);
    expect(id).toBe(keyId(key));
    expect(Buffer.from(iv!, 'base64url')).toHaveLength(12);
    expect(Buffer.from(ciphertext!, 'base64url')).toHaveLength(SECRET.length);
    expect(Buffer.from(tag!, 'base64url')).toHaveLength(16);
    expect(sealed).toMatch(/^[A-Za-z0-9._-]+$/);
    expect(sealed).not.toContain(SECRET);
    expect(sealed).not.toContain(Buffer.from(SECRET).toString('base64url'));
  });

  it('uses a fresh IV on every call, so the same secret never seals the same way', () => {
    const sealed = Array.from({ length: 200 }, () => box.seal(SECRET, USER));
    const ivs = new Set(sealed.map((s) => s.split('.')[2]));
    expect(ivs.size).toBe(sealed.length);
    expect(new Set(sealed).size).toBe(sealed.length);
  });

  it.each([
    ['iv', 2],
    ['ciphertext', 3],
    ['tag', 4],
  ])('returns null for a tampered %s', (_, index) => {
    const sealed = box.seal(SECRET, USER);
    expect(open(box, flipBit(sealed, index))).toBeNull();
  });

  it('returns null when the box is copied to another user (other associated data)', () => {
    const sealed = box.seal(SECRET, USER);
    expect(open(box, sealed, OTHER_USER)).toBeNull();
    expect(open(box, sealed, '')).toBeNull();
    expect(open(box, sealed, USER.slice(5))).toBeNull();
    expect(open(box, box.seal(SECRET, ''), USER)).toBeNull();
  });

  it('returns null for a truncated ciphertext or tag, or parts swapped around', () => {
    const sealed = box.seal(SECRET, USER);
    const parts = sealed.split('.');
    const withPart = (index: number, value: string) => parts.map((p, i) => (i === index ? value : p)).join('.');
    expect(open(box, withPart(3, parts[3]!.slice(0, -2)))).toBeNull();
    expect(open(box, withPart(4, parts[4]!.slice(0, -2)))).toBeNull();
    expect(open(box, [parts[0], parts[1], parts[2], parts[4], parts[3]].join('.'))).toBeNull();
  });

  it.each([
    ['empty', ''],
    ['not a box', 'JBSWY3DPEHPK3PXP'],
    ['another version', 'v2' + '.x'.repeat(4)],
    ['too few parts', 'v1.00000000.aaaa.bbbb'],
    ['too many parts', 'v1.00000000.a.b.c.d'],
    ['a bad key id', 'v1.ZZZZZZZZ.a.b.c'],
  ])('returns null for %s input, and never throws', (_, text) => {
    expect(box.open(text, USER)).toBeNull();
    expect(box.needsReencryption(text)).toBe(false);
  });

  it('refuses characters outside base64url rather than skipping them', () => {
    const sealed = box.seal(SECRET, USER);
    const parts = sealed.split('.');
    parts[3] = `${parts[3]}!`;
    expect(open(box, parts.join('.'))).toBeNull();
    parts[3] = `${parts[3]!.slice(0, -1)}=`;
    expect(open(box, parts.join('.'))).toBeNull();
  });

  it('returns null for a box under a key it does not hold (unknown key id)', () => {
    const stranger = new SecretBox(randomBytes(32));
    const sealed = stranger.seal(SECRET, USER);
    expect(open(box, sealed)).toBeNull();
    expect(box.needsReencryption(sealed)).toBe(false);
  });

  it('returns null when the key id is changed to the current key', () => {
    const stranger = new SecretBox(randomBytes(32));
    const parts = stranger.seal(SECRET, USER).split('.');
    parts[1] = keyId(key);
    expect(open(box, parts.join('.'))).toBeNull();
  });

  it('refuses keys that are not 32 bytes', () => {
    expect(() => new SecretBox(randomBytes(16))).toThrow(/32 bytes/);
    expect(() => new SecretBox(randomBytes(32), [randomBytes(31)])).toThrow(/32 bytes/);
  });
});

describe('SecretBox key rotation', () => {
  const oldKey = randomBytes(32);
  const newKey = randomBytes(32);
  const before = new SecretBox(oldKey);
  const after = new SecretBox(newKey, [oldKey]);

  it('opens boxes sealed under a previous key and says they need re-encryption', () => {
    const sealed = before.seal(SECRET, USER);
    expect(open(after, sealed)).toBe(SECRET);
    expect(after.needsReencryption(sealed)).toBe(true);
    expect(open(after, sealed, OTHER_USER)).toBeNull();
  });

  it('always seals under the current key, which needs no re-encryption', () => {
    const resealed = after.seal(SECRET, USER);
    expect(resealed.split('.')[1]).toBe(keyId(newKey));
    expect(after.needsReencryption(resealed)).toBe(false);
    expect(open(after, resealed)).toBe(SECRET);
    // The old key alone cannot open it: once every box is re-encrypted, the old key can go.
    expect(open(before, resealed)).toBeNull();
  });

  it('no longer opens old boxes once the previous key is removed', () => {
    const sealed = before.seal(SECRET, USER);
    expect(open(new SecretBox(newKey), sealed)).toBeNull();
  });

  it('tells keys apart by id', () => {
    expect(keyId(oldKey)).not.toBe(keyId(newKey));
    expect(keyId(Buffer.from(oldKey))).toBe(keyId(oldKey));
  });
});
