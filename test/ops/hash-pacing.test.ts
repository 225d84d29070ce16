/**
 * Hashing steps aside while request handling is busy (the speed issue, "Storm isolation"): one
 * hash at a time, each followed by a rest of REST_PER_HASH times its length, and the admission
 * estimate counts the rest; once requests are quiet again every slot is used at once. The
 * pressure itself is the event loop's utilization over a window: a loop kept busy reads busy,
 * an idle one does not. Real argon2id on worker threads; the pressure is a switch where the
 * test needs to choose it.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Argon2Hasher, REST_PER_HASH } from '../../src/adapters/argon2-hasher.js';
import { eventLoopPressure, type RequestPressure } from '../../src/adapters/event-loop-pressure.js';
import { resolveConfig } from '../../src/config.js';

const config = resolveConfig({});
const params = { memoryCost: config.argon2MemoryCost, timeCost: config.argon2TimeCost, parallelism: config.argon2Parallelism };
const PASSWORD = 'correct horse battery staple';

const opened: Argon2Hasher[] = [];
/**
 * A hasher with two slots; `seconds` collects each operation's hash time, in order of completion,
 * and `rests` each rest the observer hears of.
 */
function hasher(pressure: RequestPressure, seconds: number[] = [], rests: number[] = []): Argon2Hasher {
  const observer = { measured: (_op: string, s: number) => seconds.push(s), rested: (s: number) => rests.push(s) };
  const h = new Argon2Hasher(params, { concurrency: 2, queueLimit: 1000, maxWaitMs: 60_000 }, observer, pressure);
  opened.push(h);
  return h;
}
afterEach(async () => {
  await Promise.all(opened.splice(0).map((h) => h.close()));
});

/** A pressure the test switches. */
function switchable(initially: boolean): RequestPressure & { set(busy: boolean): void } {
  let busy = initially;
  return { busy: () => busy, set: (b) => (busy = b) };
}

/** Starts `n` verifies at once; resolves with the ms at which each caller got its answer, in order. */
function verifies(h: Argon2Hasher, hash: string, n: number): Promise<number[]> {
  return Promise.all(
    Array.from({ length: n }, async () => {
      expect((await h.verify(hash, PASSWORD)).ok).toBe(true);
      return performance.now();
    }),
  ).then((ends) => ends.sort((a, b) => a - b));
}

const tick = () => new Promise((resolve) => setImmediate(resolve));
const restOver = () => new Promise((resolve) => setTimeout(resolve, 1500));

/** A timer may fire up to a millisecond before `performance.now()` says its time is up. */
const TIMER_SLACK_MS = 2;

describe('hashing while requests are busy', { timeout: 60_000 }, () => {
  it('runs one hash at a time and rests REST_PER_HASH times its length before the next (told to the observer)', async () => {
    const seconds: number[] = [];
    const rests: number[] = [];
    const pressure = switchable(true);
    const h = hasher(pressure, seconds, rests);
    const hash = await h.hash(PASSWORD);
    await h.verify(hash, PASSWORD); // the dummy hash is made; the next verifies are alike
    await restOver();
    seconds.length = 0;
    rests.length = 0;

    const done = verifies(h, hash, 3);
    await tick();
    expect(h.queueDepth).toBe(2); // one slot while busy, though two exist
    const ends = await done;
    for (let i = 1; i < ends.length; i++) {
      expect(ends[i]! - ends[i - 1]!).toBeGreaterThanOrEqual(REST_PER_HASH * seconds[i - 1]! * 1000 - TIMER_SLACK_MS);
    }
    expect(rests).toEqual(seconds.map((s) => s * REST_PER_HASH));
  });

  it('answers the caller when its hash is done; the slot rests after that', async () => {
    const seconds: number[] = [];
    const h = hasher(switchable(true), seconds);
    const hash = await h.hash(PASSWORD);
    await h.verify(hash, PASSWORD);
    await restOver();
    seconds.length = 0;

    const start = performance.now();
    await h.verify(hash, PASSWORD);
    const first = performance.now();
    await h.verify(hash, PASSWORD); // waits for the first one's rest, then hashes
    const second = performance.now();
    // The first caller waited one hash, not one hash and its rest.
    expect(first - start).toBeLessThan((1 + REST_PER_HASH) * seconds[0]! * 1000);
    expect(second - first).toBeGreaterThanOrEqual(REST_PER_HASH * seconds[0]! * 1000 - TIMER_SLACK_MS);
  });

  it('counts the rest in the wait it expects, so admission judges a queue by what it will really take', async () => {
    const pressure = switchable(false);
    const h = hasher(pressure);
    const hash = await h.hash(PASSWORD);
    await verifies(h, hash, 4); // the average is a bare hash's time
    const quiet = verifies(h, hash, 3); // two run, one waits
    await tick();
    const quietWait = h.expectedWaitMs();
    await quiet;

    pressure.set(true);
    await verifies(h, hash, 6); // the average now holds hash + rest
    await restOver();
    const busy = verifies(h, hash, 3); // one runs, two wait
    await tick();
    const busyWait = h.expectedWaitMs();
    await busy;
    // Quiet: one round of a bare hash. Busy: three rounds of hash + rest, at one slot.
    expect(quietWait).toBeGreaterThan(0);
    expect(busyWait).toBeGreaterThan(quietWait * 6);
  });

  it('uses every slot again, without rests, once requests are quiet', async () => {
    const rests: number[] = [];
    const pressure = switchable(true);
    const h = hasher(pressure, [], rests);
    const hash = await h.hash(PASSWORD);
    await h.verify(hash, PASSWORD);
    await verifies(h, hash, 2); // one at a time
    pressure.set(false);
    await restOver(); // a slot that was resting when requests went quiet finishes its rest
    const restsWhileBusy = rests.length;
    const done = verifies(h, hash, 2);
    await tick();
    expect(h.queueDepth).toBe(0); // both run at once
    await done;
    expect(rests).toHaveLength(restsWhileBusy);
  });
});

describe('event loop pressure', () => {
  it('reads busy over a window the loop spent running, quiet over one it spent waiting', async () => {
    const pressure = eventLoopPressure({ threshold: 0.9, windowMs: 200 });
    await new Promise((resolve) => setTimeout(resolve, 250)); // an idle window
    expect(pressure.busy()).toBe(false);
    const until = performance.now() + 250;
    while (performance.now() < until) {
      // the event loop is held, as by a stream of requests
    }
    expect(pressure.busy()).toBe(true);
    // Within the window the answer stays; the next window, spent idle, reads quiet again.
    expect(pressure.busy()).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, 250));
    expect(pressure.busy()).toBe(false);
  });

  it('measures over the window given, with the threshold given', () => {
    let clock = 0;
    let active = 0;
    const utilization = (since?: { active: number; idle: number; utilization: number }) => {
      const now = { idle: clock - active, active, utilization: clock === 0 ? 0 : active / clock };
      if (!since) return now;
      const span = clock - (since.active + since.idle);
      return { idle: now.idle - since.idle, active: active - since.active, utilization: span === 0 ? 0 : (active - since.active) / span };
    };
    const pressure = eventLoopPressure({ threshold: 0.8, windowMs: 100, utilization, now: () => clock });
    clock = 50;
    active = 50; // fully busy, but the window has not closed
    expect(pressure.busy()).toBe(false);
    clock = 100;
    active = 85; // 85 % over the window
    expect(pressure.busy()).toBe(true);
    clock = 200;
    active = 85 + 79; // 79 %: just under
    expect(pressure.busy()).toBe(false);
    clock = 300;
    active = 164 + 80; // exactly the threshold counts as busy
    expect(pressure.busy()).toBe(true);
  });
});
