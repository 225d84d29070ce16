/**
 * argon2id in PHC string format. Hashing runs on low-priority worker threads (hash-workers.ts),
 * never on the event loop, and at most `concurrency` at once. The rest wait, admitted by the wait they
 * can expect (measured hash time × place in the queue ÷ concurrency) rather than by a fixed
 * count: a burst (50 logins after an outage) is served a little later instead of refused, and
 * only a sustained storm, whose queue would take longer than `maxWaitMs` to drain, is answered
 * 503. `queueLimit` stays as a hard ceiling on memory.
 *
 * While request handling is busy and short of CPU (event-loop-pressure.ts) hashing steps aside: one hash
 * at a time, each followed by a rest of REST_PER_HASH times its length before the next starts,
 * so a login storm next to signed-in traffic takes about a quarter of one core for hashing and
 * leaves the rest to requests. Logins keep going, slower; a burst or a storm alone (the event
 * loop mostly waiting for hashes) gets every hashing thread. `needsRehash` compares a stored hash's
 * parameters with the configured ones, so raising the cost upgrades every account at its next
 * successful login.
 */
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import pLimit, { type LimitFunction } from 'p-limit';
import { UnavailableError } from '../domain/errors.js';
import type { PasswordHasher, VerifyResult } from '../domain/ports.js';
import type { RequestPressure } from './event-loop-pressure.js';
import { HashWorkers, type Done } from './hash-workers.js';

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

/** Weight of the newest measurement in the running averages. */
const SMOOTHING = 0.2;

/** While request handling is busy: a hashing slot rests this many times the length of its last hash. */
export const REST_PER_HASH = 3;

export interface HashingObserver {
  /** Seconds of argon2 work for one operation. */
  measured(operation: 'hash' | 'verify', seconds: number): void;
  /** A hashing slot rests this long after its hash because request handling is busy. */
  rested?(seconds: number): void;
  /** Once, when hashing starts: whether its threads run below request handling's priority. */
  started?(isolated: boolean): void;
}

export class Argon2Hasher implements PasswordHasher {
  private dummyHash: Promise<string> | undefined;
  private readonly limit: LimitFunction;
  private readonly workers: HashWorkers;
  /** Running average of one operation's seconds (hand-over to answer); unknown until the first one finishes. */
  private averageSeconds: number | undefined;
  /** Whether hashing stepped aside at the latest look at request handling (`pace`). */
  private paced = false;

  /** `pressure`: when request handling is busy; without it hashing never steps aside. */
  constructor(
    private readonly params: Argon2Params,
    private readonly limits: HashingLimits,
    private readonly observer?: HashingObserver,
    private readonly pressure?: RequestPressure,
  ) {
    this.limit = pLimit(limits.concurrency);
    this.workers = new HashWorkers(limits.concurrency, (lowered) => observer?.started?.(lowered));
  }

  close(): Promise<void> {
    return this.workers.close();
  }

  /** Operations waiting for a hashing slot. */
  get queueDepth(): number {
    return this.limit.pendingCount;
  }

  hash(password: string): Promise<string> {
    return this.run('hash', () => this.workers.hash(password, this.params));
  }

  async verify(hash: string, password: string): Promise<VerifyResult> {
    await this.dummy(); // the same work as the unknown address's first check (verifyDummy)
    let ok: boolean;
    try {
      ok = await this.run('verify', () => this.workers.verify(hash, password));
    } catch (error) {
      if (error instanceof UnavailableError) throw error;
      // A corrupt or foreign hash in the database must not turn into a 500 or a login.
      return { ok: false };
    }
    if (!ok) return { ok: false };
    return { ok: true, needsRehash: needsRehash(hash, this.params) };
  }

  async verifyDummy(password: string): Promise<void> {
    const dummy = await this.dummy();
    await this.run('verify', () => this.workers.verify(dummy, password));
  }

  /**
   * A real hash made with the live parameters, so checking an unknown address costs what a
   * true check costs. Made by whichever check comes first, known address or not: the first
   * login after a start must not tell the two apart by an extra hash.
   */
  private dummy(): Promise<string> {
    if (!this.dummyHash) {
      const made = this.run('hash', () => this.workers.hash(randomBytes(32).toString('base64url'), this.params));
      this.dummyHash = made;
      made.catch(() => {
        if (this.dummyHash === made) this.dummyHash = undefined; // refused (a storm): made next time
      });
    }
    return this.dummyHash;
  }

  /** The wait a newcomer can expect before its turn, in ms (0 while a slot is free). */
  expectedWaitMs(): number {
    const { concurrency } = this.limit;
    if (this.limit.activeCount < concurrency || this.averageSeconds === undefined) return 0;
    // A slot is held for its hash and, while hashing steps aside, for the rest after it.
    const slotSeconds = this.averageSeconds * (this.paced ? 1 + REST_PER_HASH : 1);
    return Math.ceil((this.limit.pendingCount + 1) / concurrency) * slotSeconds * 1000;
  }

  /** Operations running now (hashing, or resting after a hash). */
  get running(): number {
    return this.limit.activeCount;
  }

  /**
   * Whether an operation asked for now would be taken: the queue has room and its wait is short
   * enough. Like `run`, it first looks at request handling (`pace`), which may change how many
   * hashes run at once.
   */
  admitsNow(): boolean {
    const concurrency = this.pace();
    const full = this.limit.activeCount >= concurrency && this.limit.pendingCount >= this.limits.queueLimit;
    return !full && this.expectedWaitMs() <= this.limits.maxWaitMs;
  }

  private run<T>(operation: 'hash' | 'verify', work: () => Promise<Done<T>>): Promise<T> {
    if (!this.admitsNow()) return Promise.reject(new UnavailableError('password hashing'));
    return new Promise<T>((resolve, reject) => {
      this.limit(async () => {
        let seconds: number;
        try {
          // From hand-over to answer: the wait for CPU at nice 19 counts, a worker's start-up does not.
          const done = await work();
          seconds = done.seconds;
          resolve(done.result);
        } catch (error) {
          reject(error);
          return;
        }
        this.averageSeconds = this.averageSeconds === undefined ? seconds : this.averageSeconds * (1 - SMOOTHING) + seconds * SMOOTHING;
        this.observer?.measured(operation, seconds);
        // The answer has gone; while requests are busy the slot rests before the next hash.
        this.pace();
        if (this.paced) {
          const restSeconds = seconds * REST_PER_HASH;
          this.observer?.rested?.(restSeconds);
          await sleep(restSeconds * 1000, undefined, { ref: false });
        }
      })
        .catch(() => undefined) // an observer's failure is not the caller's: it was answered already
        .finally(() => this.pace());
    });
  }

  /** How many hashes may run at once now: one while requests are busy. Running ones finish. */
  private pace(): number {
    this.paced = this.pressure?.busy() ?? false;
    const concurrency = this.paced ? 1 : this.limits.concurrency;
    if (this.limit.concurrency !== concurrency) this.limit.concurrency = concurrency;
    return concurrency;
  }
}

/**
 * Whether a stored hash was made with other parameters than the configured ones (or another
 * algorithm or version), so that the next successful login upgrades it. Parameters are read by
 * name: libraries write them in different orders.
 */
export function needsRehash(hash: string, params: Argon2Params): boolean {
  const match = /^\$argon2id\$v=19\$([a-z]=\d+(?:,[a-z]=\d+)*)\$/.exec(hash);
  if (!match) return true;
  const stored = new Map(match[1]!.split(',').map((kv) => [kv[0], Number(kv.slice(2))]));
  return stored.get('m') !== params.memoryCost || stored.get('t') !== params.timeCost || stored.get('p') !== params.parallelism;
}
