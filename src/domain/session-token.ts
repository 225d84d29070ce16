/**
 * Session tokens are treated like passwords. The cookie carries `<id>.<secret>`: the id is a
 * public handle used to find the record, the secret is 256 bits from a CSPRNG, and the store
 * keeps only a digest of it: the first 128 bits of SHA-256(secret). Finding a secret for a
 * stored digest takes ~2^128 hash evaluations, so a leaked database or Redis dump holds no usable
 * session, and the comparison runs in constant time so response timing leaks nothing about
 * the stored hash. A fast hash is right here (unlike passwords): the secret is uniformly
 * random, so there is nothing to brute-force.
 */
import { createHash, hash, timingSafeEqual } from 'node:crypto';
import type { Random } from './ports.js';

const SECRET_BYTES = 32;
/**
 * 96 random bits after the slot tag: ids stay unique for any number of sessions (a collision
 * is expected after ~2^48), and an id of 18 characters keeps a Redis session key within
 * jemalloc's 32-byte size class (16 bytes a session less than the 22-character ids of before).
 */
const ID_RANDOM_BYTES = 12;
const ID = '[A-Za-z0-9_-]{18}(?:[A-Za-z0-9_-]{4})?';
/** A session id: 18 characters, or 22 for a session made before ids were shortened (still valid until it ends). */
export const SESSION_ID_PATTERN = new RegExp(`^${ID}$`);
const TOKEN_PATTERN = new RegExp(`^(${ID})\\.([A-Za-z0-9_-]{43})$`);

export interface SessionCredentials {
  id: string;
  secret: string;
  /** The cookie value. */
  token: string;
  secretHash: Buffer;
}

/**
 * Two base64url characters (12 bits) derived from the user id. Every session id of a user
 * starts with them, so a Redis Cluster can keep all of a user's keys in one hash slot
 * (`{tag}`) while the cookie alone still locates the record in one read. They say nothing
 * usable about the user: 4,096 values shared by all users alike.
 */
export function userSlotTag(userId: string): string {
  return createHash('sha256').update(userId).digest('base64url').slice(0, 2);
}

export function slotTagOfSessionId(sessionId: string): string {
  return sessionId.slice(0, 2);
}

export function newSessionCredentials(random: Random, userId: string): SessionCredentials {
  const id = userSlotTag(userId) + random.bytes(ID_RANDOM_BYTES).toString('base64url');
  const secret = random.bytes(SECRET_BYTES).toString('base64url');
  return { id, secret, token: `${id}.${secret}`, secretHash: hashSecret(secret) };
}

/** Splits a cookie value; anything not shaped exactly like a token is rejected before I/O. */
export function parseToken(token: string): { id: string; secret: string } | null {
  const match = TOKEN_PATTERN.exec(token);
  if (!match) return null;
  return { id: match[1]!, secret: match[2]! };
}

/** 128 bits are as strong as needed and keep a Redis session near 300 bytes. */
const DIGEST_BYTES = 16;

/** One-shot `crypto.hash` (Node 20.12+): no Hash object per call, ~0.5 us less on every authenticated request. */
export function hashSecret(secret: string): Buffer {
  return hash('sha256', secret, 'buffer').subarray(0, DIGEST_BYTES);
}

export function secretMatches(storedHash: Uint8Array, secret: string): boolean {
  const candidate = hashSecret(secret);
  return storedHash.length === candidate.length && timingSafeEqual(storedHash, candidate);
}
