import { createHash, randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  hashSecret,
  newSessionCredentials,
  parseToken,
  secretMatches,
  SESSION_ID_PATTERN,
  slotTagOfSessionId,
  userSlotTag,
} from '../../src/domain/session-token.js';
import { cryptoRandom } from '../support/fakes.js';

const BASE64URL = /^[A-Za-z0-9_-]+$/;

describe('newSessionCredentials', () => {
  it('makes a token "<id>.<secret>" of base64url parts', () => {
    const c = newSessionCredentials(cryptoRandom, randomUUID());
    expect(c.token).toBe(`${c.id}.${c.secret}`);
    expect(c.id).toMatch(BASE64URL);
    expect(c.secret).toMatch(BASE64URL);
    expect(c.id).toHaveLength(18);
    expect(c.token.split('.')).toHaveLength(2);
  });

  it('carries at least 128 bits of secret: 43 base64url characters = 256 bits', () => {
    const c = newSessionCredentials(cryptoRandom, randomUUID());
    expect(c.secret).toHaveLength(43);
    const decoded = Buffer.from(c.secret, 'base64url');
    expect(decoded.length * 8).toBe(256);
    expect(decoded.toString('base64url')).toBe(c.secret);
  });

  it('takes its 32 secret bytes from the Random port', () => {
    const drawn: number[] = [];
    const fixed = {
      bytes: (n: number) => {
        drawn.push(n);
        return Buffer.alloc(n, 0xa7);
      },
      uuid: () => 'unused',
    };
    const c = newSessionCredentials(fixed, 'user-1');
    expect(drawn).toContain(32);
    expect(c.secret).toBe(Buffer.alloc(32, 0xa7).toString('base64url'));
  });

  it('stores only a 128-bit SHA-256 digest of the secret', () => {
    const c = newSessionCredentials(cryptoRandom, randomUUID());
    expect(c.secretHash).toHaveLength(16);
    expect(Buffer.compare(c.secretHash, createHash('sha256').update(c.secret).digest().subarray(0, 16))).toBe(0);
    expect(c.secretHash.toString('utf8')).not.toContain(c.secret);
    expect(c.secretHash.toString('base64url')).not.toBe(c.secret);
  });

  it("starts every id with the user's slot tag", () => {
    for (let i = 0; i < 50; i++) {
      const userId = randomUUID();
      const tag = userSlotTag(userId);
      expect(tag).toMatch(/^[A-Za-z0-9_-]{2}$/);
      const a = newSessionCredentials(cryptoRandom, userId);
      const b = newSessionCredentials(cryptoRandom, userId);
      expect(a.id.startsWith(tag)).toBe(true);
      expect(slotTagOfSessionId(a.id)).toBe(tag);
      expect(slotTagOfSessionId(b.id)).toBe(slotTagOfSessionId(a.id));
    }
  });

  it('derives the slot tag from the user id only (same user, same tag; tags spread over users)', () => {
    expect(userSlotTag('alice')).toBe(userSlotTag('alice'));
    const tags = new Set(Array.from({ length: 200 }, () => userSlotTag(randomUUID())));
    expect(tags.size).toBeGreaterThan(150);
  });

  it('never repeats an id, a secret or a token over many draws', () => {
    const userId = randomUUID();
    const n = 5_000;
    const ids = new Set<string>();
    const secrets = new Set<string>();
    const tokens = new Set<string>();
    for (let i = 0; i < n; i++) {
      const c = newSessionCredentials(cryptoRandom, userId);
      ids.add(c.id);
      secrets.add(c.secret);
      tokens.add(c.token);
    }
    expect(ids.size).toBe(n);
    expect(secrets.size).toBe(n);
    expect(tokens.size).toBe(n);
  });
});

describe('parseToken', () => {
  const good = newSessionCredentials(cryptoRandom, randomUUID());

  it('splits a well-formed token into id and secret', () => {
    expect(parseToken(good.token)).toEqual({ id: good.id, secret: good.secret });
  });

  const hostile: Array<[string, string]> = [
    ['empty', ''],
    ['a dot only', '.'],
    ['id only', good.id],
    ['id and dot', `${good.id}.`],
    ['secret only', `.${good.secret}`],
    ['too long', `${good.token}A`],
    ['far too long', 'A'.repeat(100_000)],
    ['too long id', `A${good.token}`],
    ['too short secret', good.token.slice(0, -1)],
    ['extra dots', `${good.id}.${good.secret}.x`],
    ['dot inside', `${good.id}.${good.secret.slice(0, 20)}.${good.secret.slice(21)}`],
    ['NUL byte', `${good.token.slice(0, -1)}\0`],
    ['trailing NUL', `${good.token}\0`],
    ['unicode lookalike', `${good.id}.${good.secret.slice(0, -1)}а`],
    ['astral character', `${good.id}.${good.secret.slice(0, -2)}😀`],
    ['leading whitespace', ` ${good.token}`],
    ['trailing whitespace', `${good.token} `],
    ['trailing newline', `${good.token}\n`],
    ['inner tab', `${good.id}.\t${good.secret.slice(1)}`],
    ['standard base64', `${good.id}.${good.secret.slice(0, -1)}+`],
    ['padding', `${good.id}.${good.secret.slice(0, -1)}=`],
    ['url-encoded', encodeURIComponent(`${good.id}.${good.secret}`).replace('.', '%2E')],
    ['__proto__', '__proto__'],
    ['constructor', 'constructor'],
    ['__proto__ as id', `__proto__.${good.secret}`],
    ['__proto__ as secret', `${good.id}.__proto__`],
  ];

  it.each(hostile)('rejects %s', (_label, value) => {
    expect(parseToken(value)).toBeNull();
  });

  it('treats a token-shaped "__proto__…" id as opaque text', () => {
    // "__proto__" is itself base64url, so an 18-character id starting with it has a valid shape.
    const id = `__proto__${good.id.slice(9)}`;
    const parsed = parseToken(`${id}.${good.secret}`);
    expect(parsed).toEqual({ id, secret: good.secret });
    expect(Object.getPrototypeOf(parsed)).toBe(Object.prototype);
    expect(Object.keys(parsed!).sort()).toEqual(['id', 'secret']);
  });
});

describe('secretMatches', () => {
  const c = newSessionCredentials(cryptoRandom, randomUUID());

  it('is true for the right secret', () => {
    expect(secretMatches(c.secretHash, c.secret)).toBe(true);
  });

  it('is false for a different secret, including one that differs in one character', () => {
    const other = newSessionCredentials(cryptoRandom, randomUUID());
    expect(secretMatches(c.secretHash, other.secret)).toBe(false);
    const flipped = c.secret.slice(0, -1) + (c.secret.endsWith('A') ? 'B' : 'A');
    expect(secretMatches(c.secretHash, flipped)).toBe(false);
    expect(secretMatches(c.secretHash, '')).toBe(false);
  });

  it('is false, without throwing, for a stored hash of another length', () => {
    expect(() => secretMatches(c.secretHash.subarray(0, 8), c.secret)).not.toThrow();
    expect(secretMatches(c.secretHash.subarray(0, 8), c.secret)).toBe(false);
    expect(secretMatches(createHash('sha256').update(c.secret).digest(), c.secret)).toBe(false);
    expect(secretMatches(Buffer.concat([c.secretHash, Buffer.from([0])]), c.secret)).toBe(false);
    expect(secretMatches(Buffer.alloc(0), c.secret)).toBe(false);
  });

  it('compares against the hash, not the secret itself', () => {
    expect(secretMatches(Buffer.from(c.secret), c.secret)).toBe(false);
    expect(secretMatches(hashSecret(c.secret), c.secret)).toBe(true);
  });

  it('accepts the Uint8Array a driver may hand back', () => {
    expect(secretMatches(new Uint8Array(c.secretHash), c.secret)).toBe(true);
  });
});

describe('SESSION_ID_PATTERN', () => {
  it('accepts the 18-character ids made now and the 22-character ones of before, nothing else', () => {
    for (const n of [18, 22]) expect(SESSION_ID_PATTERN.test('aZ0_-'.repeat(5).slice(0, n))).toBe(true);
    for (const n of [0, 17, 19, 20, 21, 23]) expect(SESSION_ID_PATTERN.test('a'.repeat(n)), String(n)).toBe(false);
    for (const bad of [`${'a'.repeat(17)}.`, `${'a'.repeat(17)}/`, `${'a'.repeat(18)}\n`, ` ${'a'.repeat(18)}`]) {
      expect(SESSION_ID_PATTERN.test(bad), JSON.stringify(bad)).toBe(false);
    }
  });
});
