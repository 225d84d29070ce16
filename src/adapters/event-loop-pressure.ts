/**
 * Whether request handling is short of CPU: the event loop busy (its utilization, the share of
 * time it spent running callbacks rather than waiting for I/O, `performance.eventLoopUtilization`)
 * AND, where Linux tells, the request thread waiting for a CPU for a noticeable share of the
 * window (`/proc/thread-self/schedstat`, its run-queue delay). Hashing asks before each hash, so
 * it can step aside while signed-in traffic needs the machine (argon2-hasher.ts).
 *
 * Why not rely on thread priority alone: measured on a 2-core Linux machine during a login
 * storm, the request thread waited for CPU a quarter of the time while the nice-19 hashing
 * threads ran on the other core. The kernel wakes the processes a request talks to (Redis,
 * PostgreSQL) on the request thread's core and does not move them to the core that only
 * low-priority work holds; SCHED_IDLE hashing threads did no better. Only running less
 * hashing while requests are busy gave the CPU back.
 *
 * Why both signals: a busy event loop alone does not mean the CPU is short (on a machine with
 * cores to spare, hashing takes nothing from requests, and a flood of cheap requests must not
 * slow logins for nothing); a request thread waiting for CPU alone is what a storm of logins
 * without signed-in traffic looks like too, and then hashing should have every core.
 *
 * Why a hold: once hashing steps aside, the wait for a CPU it caused goes away (that is what
 * stepping aside is for), so a window without that wait no longer says that hashing at full
 * speed would not bring it back. Judged window by window, the answer flipped every half second
 * during a storm next to signed-in traffic (measured on a 2-core machine: 7-11 hashes a second
 * with `/me` at 11-13k requests a second, then 20-28 hashes a second with `/me` down to 6.5-9.6k).
 * So a busy answer holds while the loop stays busy, for `holdMs` after the last window that also
 * saw the wait; a quiet loop (the signed-in traffic gone) ends it at once.
 */
import { readFileSync } from 'node:fs';
import { performance, type EventLoopUtilization } from 'node:perf_hooks';

export interface RequestPressure {
  /** True while, over the latest window, the event loop was busy and short of CPU. */
  busy(): boolean;
}

/**
 * Busy from 90 % over half a second: a storm of logins alone keeps the event loop well below
 * that (it mostly waits for hashes), signed-in traffic at full speed keeps it near 100 %. Short
 * of CPU from 5 % of the window spent waiting for a core: about 3 % with signed-in traffic alone
 * on 2 cores, 9-12 % while hashing already steps aside in a storm, 25 % when it does not.
 */
export const REQUESTS_BUSY = { threshold: 0.9, windowMs: 500, cpuWaitShare: 0.05, holdMs: 5_000 } as const;

export interface PressureOptions {
  /** Utilization (0 to 1) from which the event loop counts as busy. */
  threshold: number;
  /** The window both are measured over, in ms. */
  windowMs: number;
  /** Share of the window (0 to 1) the request thread waited for a CPU, from which it counts as short. */
  cpuWaitShare: number;
  /**
   * How long a busy answer lasts after the last window that saw the wait for a CPU, while the
   * loop stays busy (0: every window judged on its own).
   */
  holdMs?: number;
  /** Injected in tests; `performance.eventLoopUtilization` otherwise. */
  utilization?: (since?: EventLoopUtilization) => EventLoopUtilization;
  /** Nanoseconds this thread has waited for a CPU so far; undefined where the system does not tell. */
  runDelayNs?: () => number | undefined;
  now?: () => number;
}

/**
 * The calling thread's run-queue delay (Linux: the second field of its schedstat), in ns.
 * Undefined where the system does not keep it: no such file (not Linux), or a file of zeros
 * (scheduler statistics compiled out), told apart by the first field, this thread's time on a
 * CPU, which a running thread always has.
 */
export function threadRunDelayNs(): number | undefined {
  try {
    const [onCpu, delay] = readFileSync('/proc/thread-self/schedstat', 'utf8').split(' ').map(Number);
    return onCpu !== undefined && onCpu > 0 && delay !== undefined && Number.isFinite(delay) ? delay : undefined;
  } catch {
    return undefined; // utilization alone decides
  }
}

/**
 * Measured lazily: the first window opens at the first question (start-up work is not counted),
 * a window closes at the first question after `windowMs`, so an idle server keeps no timer, and
 * the answer stays the same until the next window closes.
 */
export function eventLoopPressure(options: PressureOptions): RequestPressure {
  const utilization = options.utilization ?? ((since) => performance.eventLoopUtilization(since));
  const runDelayNs = options.runDelayNs ?? threadRunDelayNs;
  const now = options.now ?? (() => performance.now());
  let window: { start: EventLoopUtilization; startedAt: number; delayNs: number | undefined } | undefined;
  const holdMs = options.holdMs ?? 0;
  let busy = false;
  /** When the latest window that was busy and short of CPU closed. */
  let shortAt = -Infinity;
  const open = (at: number) => (window = { start: utilization(), startedAt: at, delayNs: runDelayNs() });
  return {
    busy() {
      const at = now();
      if (!window) {
        open(at);
        return busy;
      }
      const elapsedMs = at - window.startedAt;
      if (elapsedMs >= options.windowMs) {
        const loopBusy = utilization(window.start).utilization >= options.threshold;
        const delayNs = runDelayNs();
        const waited = delayNs === undefined || window.delayNs === undefined ? undefined : (delayNs - window.delayNs) / 1e6 / elapsedMs;
        const short = loopBusy && (waited === undefined || waited >= options.cpuWaitShare);
        if (short) shortAt = at;
        busy = short || (busy && loopBusy && at - shortAt < holdMs);
        open(at);
      }
      return busy;
    },
  };
}
