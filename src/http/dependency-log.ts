/**
 * Logs a dependency's outage as changes of state, not as one warning per failed request: at
 * 1,200 requests a second that is thousands of lines (megabytes of stacks) in seconds, and it
 * buries the lines that matter — when it went down, why, and when it came back.
 *
 * - down: the first failure, with its error (messages only: no stack, no credentials);
 * - still down: at most one line per SUMMARY_INTERVAL_MS, with the requests failed since the
 *   previous line about each dependency;
 * - up: how long it was down and how many requests failed in all.
 *
 * "Up" is decided by a probe (the checks of /readyz) every PROBE_INTERVAL_MS while something is
 * down, not by the next successful request: a request does not say which dependencies it
 * used, so its success proves nothing about the one that failed, and with no traffic nothing
 * would ever say it is back. A probe only counts if no request failed while it was out, so the
 * requests still in flight at the edge of an outage do not log down, up, down again. Without a
 * probe (password hashing: an overload, not an outage) a dependency is back after one probe
 * interval without a failure.
 *
 * The exact counts are in `latch_dependency_errors_total`; these lines are for people.
 */
import type { Logger } from 'pino';
import type { Dependency } from '../domain/errors.js';

/** Resolves when the dependency answers; rejects while it does not. */
export type Probe = () => Promise<unknown>;

export const PROBE_INTERVAL_MS = 1_000;
export const SUMMARY_INTERVAL_MS = 10_000;

interface Outage {
  since: number;
  /** Requests failed during the whole outage. */
  failed: number;
  /** Requests failed since the last line about this dependency. */
  unreported: number;
}

export class DependencyLog {
  private readonly down = new Map<Dependency, Outage>();
  private timer: NodeJS.Timeout | undefined;
  private probing = false;
  private lastSummaryAt = 0;
  private closed = false;

  constructor(
    private readonly logger: Logger,
    private readonly probes: Partial<Record<Dependency, Probe>>,
    private readonly intervals = { probeMs: PROBE_INTERVAL_MS, summaryMs: SUMMARY_INTERVAL_MS },
  ) {}

  /** One request failed because `dependency` did not answer. */
  failed(dependency: Dependency, error: unknown, path?: string): void {
    const outage = this.down.get(dependency);
    if (outage) {
      outage.failed += 1;
      outage.unreported += 1;
      return;
    }
    const now = Date.now();
    this.down.set(dependency, { since: now, failed: 1, unreported: 0 });
    this.logger.warn({ dependency, error: describeError(error), path }, 'dependency down');
    if (!this.timer && !this.closed) {
      this.lastSummaryAt = now;
      this.timer = setInterval(() => this.tick(), this.intervals.probeMs).unref();
    }
  }

  /** Stops the timer; an outage still open is not reported further. */
  close(): void {
    this.closed = true;
    clearInterval(this.timer);
    this.timer = undefined;
  }

  private tick(): void {
    if (Date.now() - this.lastSummaryAt >= this.intervals.summaryMs) this.summarize();
    // A hung dependency holds a probe for the whole dependency timeout: never stack them up.
    if (!this.probing) void this.probeAll();
  }

  private summarize(): void {
    const now = Date.now();
    this.lastSummaryAt = now;
    const failed: Partial<Record<Dependency, number>> = {};
    const downForMs: Partial<Record<Dependency, number>> = {};
    for (const [dependency, outage] of this.down) {
      failed[dependency] = outage.unreported;
      downForMs[dependency] = now - outage.since;
      outage.unreported = 0;
    }
    this.logger.warn({ failed, downForMs }, 'dependencies still down');
  }

  private async probeAll(): Promise<void> {
    this.probing = true;
    try {
      await Promise.all([...this.down].map(([dependency, outage]) => this.probe(dependency, outage)));
    } finally {
      this.probing = false;
    }
    if (this.down.size === 0) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  }

  private async probe(dependency: Dependency, outage: Outage): Promise<void> {
    const failedBefore = outage.failed;
    const probe = this.probes[dependency] ?? (() => new Promise((resolve) => setTimeout(resolve, this.intervals.probeMs).unref()));
    const answered = await Promise.resolve()
      .then(probe)
      .then(
        () => true,
        () => false,
      );
    if (!answered || outage.failed !== failedBefore || this.closed) return;
    this.down.delete(dependency);
    this.logger.info({ dependency, downForMs: Date.now() - outage.since, failed: outage.failed }, 'dependency up');
  }
}

/**
 * The messages down the cause chain ("session store is unavailable: connect ECONNREFUSED
 * 127.0.0.1:6379"), without stacks, and with any user:password of a URL masked.
 */
export function describeError(error: unknown): string {
  const parts: string[] = [];
  let current = error;
  for (let depth = 0; current !== undefined && current !== null && depth < 5; depth++) {
    const { message, code, errors, cause } = current as { message?: unknown; code?: unknown; errors?: unknown; cause?: unknown };
    let text = typeof message === 'string' ? message : typeof current === 'object' ? '' : String(current);
    if (typeof code === 'string' && !text.includes(code)) text = text ? `${text} (${code})` : code;
    if (text) parts.push(text);
    // Node reports a refused dual-stack connect as an AggregateError with an empty message.
    current = cause ?? (Array.isArray(errors) ? errors[0] : undefined);
  }
  return parts.join(': ').replace(/\/\/[^@/\s]*@/g, '//***@') || 'unknown error';
}
