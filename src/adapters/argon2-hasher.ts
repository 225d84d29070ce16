/**
 * argon2id in PHC string format (node-argon2). Hashing runs on libuv's thread pool, never on
 * the event loop, and at most `concurrency` at once. The rest wait, admitted by the wait they
 * can expect (measured hash time × place in the queue ÷ concurrency) rather than by a fixed
 * count: a burst (50 logins after an outage) is served a little later instead of refused, and
 * only a sustained storm, whose queue would take longer than `maxWaitMs` to drain, is answered
 * 503. `queueLimit` stays as a hard ceiling on memory. `needsRehash` compares a stored hash's
 * parameters with the configured ones, so raising the cost upgrades every account at its next
 * successful login.
 */
import argon2 from 'argon2';
import { randomBytes } from 'node:crypto';
import pLimit, { type LimitFunction } from 'p-limit';
import { UnavailableError } from '../domain/errors.js';
import type { PasswordHasher, VerifyResult } from '../domain/ports.js';

export interface Argon2Params {
  memoryCost: number;
  timeCost: number;
  parallelism: number;
}

export interface HashingLimits {
  concurrency: number;
  /** Waiting operations at most, whatever their expected wait (a memory bound). */
  queueLimit: number;
  /** A newcomer is refused when its expected wait passes this (HASH_MAX_WAIT). */
  maxWaitMs: number;
}

/** Weight of the newest measurement in the running hash-time average. */
const SMOOTHING = 0.2;

export interface HashingObserver {
  /** Seconds of argon2 work for one operation. */
  measured(operation: 'hash' | 'verify', seconds: number): void;
}

export class Argon2Hasher implements PasswordHasher {
  private dummyHash: Promise<string> | undefined;
  private readonly limit: LimitFunction;
  /** Running average of one operation's seconds; unknown until the first one finishes. */
  private averageSeconds: number | undefined;

  constructor(
    private readonly params: Argon2Params,
    private readonly limits: HashingLimits,
    private readonly observer?: HashingObserver,
  ) {
    this.limit = pLimit(limits.concurrency);
  }

  /** Operations waiting for a hashing slot. */
  get queueDepth(): number {
    return this.limit.pendingCount;
  }

  hash(password: string): Promise<string> {
    return this.run('hash', () => argon2.hash(password, { type: argon2.argon2id, ...this.params }));
  }

  async verify(hash: string, password: string): Promise<VerifyResult> {
    let ok: boolean;
    try {
      ok = await this.run('verify', () => argon2.verify(hash, password));
    } catch (error) {
      if (error instanceof UnavailableError) throw error;
      // A corrupt or foreign hash in the database must not turn into a 500 or a login.
      return { ok: false };
    }
    if (!ok) return { ok: false };
    return { ok: true, needsRehash: argon2.needsRehash(hash, this.params) };
  }

  async verifyDummy(password: string): Promise<void> {
    // A real hash made with the live parameters, so the work matches a true verify.
    this.dummyHash ??= argon2.hash(randomBytes(32).toString('base64url'), { type: argon2.argon2id, ...this.params });
    const dummy = await this.dummyHash;
    await this.run('verify', () => argon2.verify(dummy, password));
  }

  /** The wait a newcomer can expect before its turn, in ms (0 while a slot is free). */
  expectedWaitMs(): number {
    const { concurrency } = this.limits;
    if (this.limit.activeCount < concurrency || this.averageSeconds === undefined) return 0;
    return Math.ceil((this.limit.pendingCount + 1) / concurrency) * this.averageSeconds * 1000;
  }

  private run<T>(operation: 'hash' | 'verify', work: () => Promise<T>): Promise<T> {
    const full = this.limit.activeCount >= this.limits.concurrency && this.limit.pendingCount >= this.limits.queueLimit;
    if (full || this.expectedWaitMs() > this.limits.maxWaitMs) {
      return Promise.reject(new UnavailableError('password hashing'));
    }
    return this.limit(async () => {
      const started = process.hrtime.bigint();
      try {
        return await work();
      } finally {
        const seconds = Number(process.hrtime.bigint() - started) / 1e9;
        this.averageSeconds = this.averageSeconds === undefined ? seconds : this.averageSeconds * (1 - SMOOTHING) + seconds * SMOOTHING;
        this.observer?.measured(operation, seconds);
      }
    });
  }
}
