/**
 * Whether request handling is busy: the event loop's utilization (the share of time it spent
 * running callbacks rather than waiting for I/O, `performance.eventLoopUtilization`) over the
 * latest window. Hashing asks before each hash, so it can step aside while signed-in traffic
 * needs the machine (argon2-hasher.ts).
 *
 * Why not rely on thread priority alone: measured on a 2-core Linux machine during a login
 * storm, the request thread waited for CPU a quarter of the time while the nice-19 hashing
 * threads ran on the other core. The kernel wakes the processes a request talks to (Redis,
 * PostgreSQL) on the request thread's core and does not move them to the core that only
 * low-priority work holds; SCHED_IDLE hashing threads did no better. Only running less
 * hashing while requests are busy gave the CPU back.
 */
import { performance, type EventLoopUtilization } from 'node:perf_hooks';

export interface RequestPressure {
  /** True while the event loop has been busier than the threshold over the latest window. */
  busy(): boolean;
}

/**
 * Busy from 90 % over half a second: a storm of logins alone keeps the event loop well below
 * that (it mostly waits for hashes), signed-in traffic at full speed keeps it near 100 %.
 */
export const REQUESTS_BUSY = { threshold: 0.9, windowMs: 500 } as const;

export interface PressureOptions {
  /** Utilization (0 to 1) from which request handling counts as busy. */
  threshold: number;
  /** The window utilization is measured over, in ms. */
  windowMs: number;
  /** Injected in tests; `performance.eventLoopUtilization` otherwise. */
  utilization?: (since?: EventLoopUtilization) => EventLoopUtilization;
  now?: () => number;
}

/**
 * Measured lazily: a window closes at the first question after `windowMs`, so an idle
 * server keeps no timer, and the answer stays the same until the next window closes.
 */
export function eventLoopPressure(options: PressureOptions): RequestPressure {
  const utilization = options.utilization ?? ((since) => performance.eventLoopUtilization(since));
  const now = options.now ?? (() => performance.now());
  let start = utilization();
  let startedAt = now();
  let busy = false;
  return {
    busy() {
      const at = now();
      if (at - startedAt >= options.windowMs) {
        busy = utilization(start).utilization >= options.threshold;
        start = utilization();
        startedAt = at;
      }
      return busy;
    },
  };
}
