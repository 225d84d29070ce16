/**
 * One-time tokens mailed for email verification, password reset and email change: 256 random
 * bits, stored only as SHA-256, bound to a user, a purpose and (for email tokens) the address
 * they were sent to; short-lived; consumed atomically (one use wins a race); a newer token of a
 * purpose replaces the older one. A token of one purpose never works for another.
 */
import { createHash } from 'node:crypto';
import type { Mail } from './mails.js';
import type { Random } from './ports.js';

export type TokenPurpose = 'verify_email' | 'reset_password' | 'change_email';

export interface OneTimeToken {
  userId: string;
  purpose: TokenPurpose;
  /** The address the token was mailed to (and, for change_email, the new address). */
  email: string;
  expiresAt: number;
  /** The user's credential epoch at issue: a credential change since voids the token. */
  epoch: number;
}

export interface TokenStore {
  /**
   * Stores a token, replacing the user's earlier tokens of the same purpose, and puts the mail
   * that carries it (if any) in the outbox in the same transaction: a link is never mailed for
   * a token that was not stored, and a stored token's mail is not lost to a crash.
   */
  issue(tokenHash: Buffer, token: OneTimeToken, mail?: Mail): Promise<void>;
  /** The unexpired token of that purpose, of the user's current epoch, without using it up. */
  peek(tokenHash: Buffer, purpose: TokenPurpose, now: number): Promise<OneTimeToken | null>;
  /**
   * Uses the token up: of many concurrent calls, exactly one gets it. A token issued under an
   * older credential epoch than the user's is never returned.
   */
  consume(tokenHash: Buffer, purpose: TokenPurpose, now: number): Promise<OneTimeToken | null>;
  /** Voids every outstanding token of the user (of one purpose, when given). */
  revokeAll(userId: string, purpose?: TokenPurpose): Promise<void>;
}

const TOKEN_BYTES = 32;
const TOKEN_PATTERN = /^[A-Za-z0-9_-]{43}$/;

export function newOneTimeToken(random: Random): { token: string; hash: Buffer } {
  const token = random.bytes(TOKEN_BYTES).toString('base64url');
  return { token, hash: hashOneTimeToken(token) };
}

export function hashOneTimeToken(token: string): Buffer {
  return createHash('sha256').update(token).digest();
}

/** Anything else is refused before it reaches the store. */
export function isTokenShaped(token: string): boolean {
  return TOKEN_PATTERN.test(token);
}
