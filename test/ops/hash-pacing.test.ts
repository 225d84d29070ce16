/**
 * Hashing steps aside while request handling is busy (the speed issue, "Storm isolation"): one
 * hash at a time, each followed by a rest of REST_PER_HASH times its length, and the admission
 * estimate counts the rest; once requests are quiet again every slot is used at once. The
 * pressure itself is the event loop's utilization over a window: a loop kept busy reads busy,
 * an idle one does not. Real argon2id on worker threads; the pressure is a switch where the
 * test needs to choose it.
 */
import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { Argon2Hasher, REST_PER_HASH } from '../../src/adapters/argon2-hasher.js';
import { eventLoopPressure, REQUESTS_BUSY, threadRunDelayNs, type RequestPressure } from '../../src/adapters/event-loop-pressure.js';
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

/** Until nothing runs or rests any more (a rest lasts three hashes, however slow they were). */
async function idle(h: Argon2Hasher): Promise<void> {
  const deadline = performance.now() + 20_000;
  while (h.running > 0 || h.queueDepth > 0) {
    if (performance.now() > deadline) throw new Error('the hasher never went idle');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

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
    await idle(h);
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
    const restsAt: number[] = [];
    const pressure = switchable(true);
    const observer = { measured: (_op: string, s: number) => seconds.push(s), rested: () => restsAt.push(performance.now()) };
    const h = new Argon2Hasher(params, { concurrency: 2, queueLimit: 1000, maxWaitMs: 60_000 }, observer, pressure);
    opened.push(h);
    const hash = await h.hash(PASSWORD);
    await h.verify(hash, PASSWORD);
    await idle(h);
    seconds.length = 0;
    restsAt.length = 0;

    await h.verify(hash, PASSWORD);
    const answered = performance.now();
    // The rest began as the answer went out; the caller did not wait for it to end.
    expect(restsAt).toHaveLength(1);
    expect(answered - restsAt[0]!).toBeLessThan((REST_PER_HASH * seconds[0]! * 1000) / 2);
    expect(h.running).toBe(1); // the slot is still resting
    await h.verify(hash, PASSWORD); // waits for that rest, then hashes
    expect(performance.now() - answered).toBeGreaterThanOrEqual(REST_PER_HASH * seconds[0]! * 1000 - TIMER_SLACK_MS);
  });

  it('counts the rest in the wait it expects, so admission judges a queue by what it will really take', async () => {
    const seconds: number[] = [];
    const pressure = switchable(false);
    const h = hasher(pressure, seconds);
    const hash = await h.hash(PASSWORD);
    await verifies(h, hash, 4); // the average hash time is measured
    await idle(h);
    // The running average lies between the fastest and the slowest hash seen.
    const fastest = Math.min(...seconds) * 1000;
    const slowest = Math.max(...seconds) * 1000;

    const quiet = verifies(h, hash, 3); // two run, one waits: one round of a bare hash
    await tick();
    const quietWait = h.expectedWaitMs();
    await quiet;
    const afterQuiet = Math.max(...seconds) * 1000;
    await idle(h);

    pressure.set(true);
    const busy = verifies(h, hash, 3); // one runs, two wait: three rounds of a hash and its rest
    await tick();
    const busyWait = h.expectedWaitMs();
    await busy;
    expect(quietWait).toBeGreaterThanOrEqual(fastest * 0.999);
    expect(quietWait).toBeLessThanOrEqual(slowest * 1.001);
    const slowestSoFar = Math.max(slowest, afterQuiet);
    expect(busyWait).toBeGreaterThanOrEqual(3 * (1 + REST_PER_HASH) * Math.min(...seconds) * 1000 * 0.999);
    expect(busyWait).toBeLessThanOrEqual(3 * (1 + REST_PER_HASH) * slowestSoFar * 1.001);
  });

  it('uses every slot again, without rests, once requests are quiet', async () => {
    const rests: number[] = [];
    const pressure = switchable(true);
    const h = hasher(pressure, [], rests);
    const hash = await h.hash(PASSWORD);
    await h.verify(hash, PASSWORD);
    await verifies(h, hash, 2); // one at a time
    pressure.set(false);
    await idle(h); // a slot that was resting when requests went quiet finishes its rest
    const restsWhileBusy = rests.length;
    const done = verifies(h, hash, 2);
    await tick();
    expect(h.queueDepth).toBe(0); // both run at once
    await done;
    expect(rests).toHaveLength(restsWhileBusy);
  });
});

describe('event loop pressure', () => {
  it('reads busy over a window the loop spent running, quiet over one it spent waiting (utilization alone)', async () => {
    const pressure = eventLoopPressure({ ...REQUESTS_BUSY, windowMs: 200, runDelayNs: () => undefined });
    pressure.busy(); // the first question opens the first window
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

  it("reads this thread's wait for a CPU where Linux tells it", () => {
    const delay = threadRunDelayNs();
    if (process.platform !== 'linux') return expect(delay).toBeUndefined();
    // A Linux kernel without scheduler statistics reads zeros: then unknown, never a false 0.
    const onCpu = Number(readFileSync('/proc/thread-self/schedstat', 'utf8').split(' ')[0]);
    if (onCpu > 0) expect(delay).toBeGreaterThanOrEqual(0);
    else expect(delay).toBeUndefined();
  });

  /** A fake clock, event-loop counters and run-queue delay, moved by the test. */
  function fakes() {
    const state = { clock: 0, active: 0, delayMs: 0 as number | undefined };
    const utilization = (since?: { active: number; idle: number; utilization: number }) => {
      const now = { idle: state.clock - state.active, active: state.active, utilization: state.clock === 0 ? 0 : state.active / state.clock };
      if (!since) return now;
      const span = state.clock - (since.active + since.idle);
      return { idle: now.idle - since.idle, active: state.active - since.active, utilization: span === 0 ? 0 : (state.active - since.active) / span };
    };
    const runDelayNs = () => (state.delayMs === undefined ? undefined : state.delayMs * 1e6);
    return { state, options: { utilization, runDelayNs, now: () => state.clock } };
  }

  it('needs both a busy loop and a thread waiting for CPU, over the window and thresholds given', () => {
    const { state, options } = fakes();
    const pressure = eventLoopPressure({ threshold: 0.8, windowMs: 100, cpuWaitShare: 0.05, ...options });
    expect(pressure.busy()).toBe(false); // opens the first window
    state.clock = 50;
    state.active = 50;
    state.delayMs = 50; // fully busy and waiting, but the window has not closed
    expect(pressure.busy()).toBe(false);
    state.clock = 100;
    state.active = 85; // 85 % busy, 50 % waiting
    expect(pressure.busy()).toBe(true);
    state.clock = 200;
    state.active += 95; // busy, but no wait for a CPU: cores to spare, hashing takes nothing
    expect(pressure.busy()).toBe(false);
    state.clock = 300;
    state.active += 79;
    state.delayMs += 20; // waiting, but the loop under its threshold: a storm of logins alone
    expect(pressure.busy()).toBe(false);
    state.clock = 400;
    state.active += 80;
    state.delayMs += 5; // exactly both thresholds count
    expect(pressure.busy()).toBe(true);
    state.clock = 500;
    state.active += 100;
    state.delayMs = undefined; // no run-queue figure (not Linux): utilization alone decides
    expect(pressure.busy()).toBe(true);
  });

  it('holds a busy answer while the loop stays busy, for holdMs after the last window short of CPU', () => {
    // Hashing that steps aside takes away the wait it caused: the next windows see none, and
    // judged alone they would send hashing back to full speed every other half second.
    const { state, options } = fakes();
    const pressure = eventLoopPressure({ threshold: 0.8, windowMs: 100, cpuWaitShare: 0.05, holdMs: 300, ...options });
    /** One 100 ms window: the loop busy `busyMs` of it, the thread waiting for a CPU `waitMs`. */
    const window = (busyMs: number, waitMs = 0) => {
      state.clock += 100;
      state.active += busyMs;
      state.delayMs! += waitMs;
      return pressure.busy();
    };
    pressure.busy(); // opens the first window
    expect(window(90, 20)).toBe(true); // busy and short of CPU, closing at 100 ms
    expect(window(90), 'at 200 ms').toBe(true); // still busy, no more wait: hashing stepped aside
    expect(window(90), 'at 300 ms').toBe(true);
    expect(window(90), 'at 400 ms').toBe(false); // 300 ms after the last window short of CPU: over
    expect(window(90)).toBe(false); // busy without wait, and not held: cores to spare

    expect(window(90, 10)).toBe(true); // short of CPU again, at 600 ms
    expect(window(10)).toBe(false); // the signed-in traffic is gone: the hold ends at once
    expect(window(90)).toBe(false); // busy again without wait, within 300 ms: no hold comes back on its own
  });

  it('opens its first window at the first question, so start-up work is not counted', () => {
    const { state, options } = fakes();
    const pressure = eventLoopPressure({ threshold: 0.8, windowMs: 100, cpuWaitShare: 0.05, ...options });
    state.clock = 1000;
    state.active = 1000; // a busy start-up after the pressure was made (migrations, dictionaries)
    state.delayMs = 500;
    expect(pressure.busy()).toBe(false); // the first question: nothing measured yet
    state.clock = 1100; // an idle window since
    expect(pressure.busy()).toBe(false);
  });
});
