/** Small helpers shared by the operational suites: timing, polling with a deadline. */
import { expect } from 'vitest';
import type { Reply } from '../support/server.js';

/** Runs `fn` and returns its result with the elapsed wall time in milliseconds. */
export async function timed<T>(fn: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const start = performance.now();
  const value = await fn();
  return { value, ms: Math.round(performance.now() - start) };
}

/**
 * Calls `probe` until `accept` holds or the deadline passes; returns the accepted value and
 * how long it took. Fails with the last value seen, never sleeps past the deadline.
 */
export async function until<T>(
  what: string,
  probe: () => Promise<T>,
  accept: (value: T) => boolean,
  { timeoutMs = 10_000, intervalMs = 100 } = {},
): Promise<{ value: T; ms: number }> {
  const start = performance.now();
  const deadline = start + timeoutMs;
  let last: T | undefined;
  let lastError: unknown;
  for (;;) {
    try {
      last = await probe();
      lastError = undefined;
      if (accept(last)) return { value: last, ms: Math.round(performance.now() - start) };
    } catch (error) {
      lastError = error;
    }
    if (performance.now() >= deadline) {
      const seen = lastError !== undefined ? String(lastError) : JSON.stringify(summary(last));
      throw new Error(`${what}: not reached within ${timeoutMs} ms; last: ${seen}`);
    }
    await new Promise((resolve) => setTimeout(resolve, Math.min(intervalMs, Math.max(0, deadline - performance.now()))));
  }
}

function summary(value: unknown): unknown {
  if (value && typeof value === 'object' && 'status' in value && 'text' in value) {
    const reply = value as Reply;
    return { status: reply.status, text: reply.text.slice(0, 300) };
  }
  return value;
}

/** The documented 503: exactly `{error, code: 'unavailable'}`, with nothing internal in it. */
export function expectUnavailable(reply: Reply, label: string): void {
  expect(reply.status, `${label}: ${reply.status} ${reply.text}`).toBe(503);
  expect(reply.body, label).toEqual({ error: expect.any(String), code: 'unavailable' });
  expect(reply.text, label).not.toMatch(/stack|ECONN|at \w+ \(|\/src\/|\/node_modules\/|redis:\/\/|postgres:\/\//i);
}

/** Log lines at error level or reporting an unhandled error (which would have been a 500). */
export function unhandledErrors(logs: string[]): string[] {
  return logs.filter((line) => /"level":(50|60)|unhandled error/.test(line));
}
