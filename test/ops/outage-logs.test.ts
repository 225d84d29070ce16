/**
 * An outage is logged as changes of state, not once per failed request: one line when a
 * dependency goes down (with its first error), at most one summary per interval while it stays
 * down, one line when it is back (how long, how many requests failed). The metric keeps the
 * exact count. End to end against a private redis-server that is killed and restarted (users
 * in SQLite, sessions in Redis), and in detail against DependencyLog with fake timers.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { UnavailableError } from '../../src/domain/errors.js';
import { DependencyLog, PROBE_INTERVAL_MS, SUMMARY_INTERVAL_MS } from '../../src/http/dependency-log.js';
import { hasRedisServer, startRedisServer, type PrivateRedis } from '../support/redis-server.js';
import { signedUp, startServer, type Reply, type TestServer } from '../support/server.js';
import { expectUnavailable, unhandledErrors, until } from './helpers.js';

/** A little over one summary interval, so the summary line is seen too. */
const OUTAGE_MS = SUMMARY_INTERVAL_MS + 1_500;

type Line = Record<string, any> & { msg: string; time: number; level: number };

function parsed(logs: string[]): Line[] {
  return logs.flatMap((chunk) => chunk.split('\n').filter(Boolean)).map((line) => JSON.parse(line) as Line);
}

/** Waits for the "dependency up" line among `logs` written after index `from`. */
function dependencyUp(logs: string[], from: number): Promise<unknown> {
  return until(
    'the "dependency up" line',
    async () => parsed(logs.slice(from)).filter((l) => l.msg === 'dependency up').length,
    (count) => count > 0,
    { timeoutMs: 10_000 },
  );
}

async function dependencyErrors(url: string, dependency: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`latch_dependency_errors_total{dependency="${dependency}"}`));
  return line ? Number(line.split(' ').at(-1)) : 0;
}

describe.skipIf(!hasRedisServer)('outage logs (private redis-server, SQLite users)', () => {
  let dir: string;
  let redis: PrivateRedis | undefined;
  let server: TestServer | undefined;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'latch-ops-outage-logs-'));
    redis = await startRedisServer();
    server = await startServer({ databaseUrl: `sqlite:${join(dir, 'latch.db')}`, redisUrl: redis.url });
  });

  afterAll(async () => {
    try {
      await server?.close();
    } finally {
      await redis?.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('logs the session store going down once, a summary per interval, and its return with the count of 503s', { timeout: 60_000 }, async () => {
    const { client } = await signedUp(server!.url);
    expect((await client.get('/api/auth/me')).status).toBe(200);
    const errorsBefore = await dependencyErrors(server!.url, 'session store');
    const from = server!.logs.length;

    await redis!.stop();
    const started = performance.now();
    const replies: Reply[] = [];
    while (performance.now() - started < OUTAGE_MS) {
      replies.push(...(await Promise.all(Array.from({ length: 25 }, () => client.get('/api/auth/me')))));
      await sleep(100);
    }
    const driveMs = performance.now() - started;
    for (const reply of replies) expectUnavailable(reply, 'GET /me while Redis is down');

    await redis!.restart();
    await dependencyUp(server!.logs, from);

    const lines = parsed(server!.logs.slice(from));
    const down = lines.filter((l) => l.msg === 'dependency down');
    const summaries = lines.filter((l) => l.msg === 'dependencies still down');
    const up = lines.filter((l) => l.msg === 'dependency up');
    const warnings = lines.filter((l) => l.level >= 40);
    console.info(
      `[outage logs] ${replies.length} x 503 in ${Math.round(driveMs)} ms; ${lines.length} lines logged ` +
        `(${warnings.length} warnings, ${summaries.length} summaries); down: ${JSON.stringify(down[0]?.error)}; up: ${JSON.stringify(up[0])}`,
    );

    expect(down).toHaveLength(1);
    expect(down[0]).toMatchObject({ dependency: 'session store', path: '/me', error: expect.stringMatching(/^session store is unavailable: .+/) });
    expect(down[0]).not.toHaveProperty('err');

    expect(up).toHaveLength(1);
    expect(up[0]).toMatchObject({ dependency: 'session store', failed: replies.length });
    expect(up[0]!.downForMs).toBeGreaterThanOrEqual(driveMs - 100);
    // The log's own timestamps agree (to the millisecond each line's clock read may differ by).
    expect(Math.abs(up[0]!.downForMs - (up[0]!.time - down[0]!.time))).toBeLessThanOrEqual(2);

    expect(summaries.length).toBeGreaterThanOrEqual(1);
    expect(summaries.length).toBeLessThanOrEqual(Math.ceil(up[0]!.downForMs / SUMMARY_INTERVAL_MS) + 1);
    for (const summary of summaries) {
      expect(summary.failed['session store']).toEqual(expect.any(Number));
      expect(summary.downForMs['session store']).toBeLessThanOrEqual(up[0]!.downForMs);
    }
    // The first failure is on the down line; the summaries count the ones since.
    const summarized = summaries.reduce((sum, s) => sum + s.failed['session store'], 0);
    expect(1 + summarized).toBeLessThanOrEqual(replies.length);

    // No stack anywhere, and warnings that do not grow with the traffic: besides these lines,
    // only the Redis client's reconnect errors (at most about one a second).
    expect(lines.filter((l) => /"stack":"[^"]|\\n\s+at /.test(JSON.stringify(l)))).toEqual([]);
    expect(warnings.filter((l) => !['dependency down', 'dependencies still down', 'redis connection error'].includes(l.msg))).toEqual([]);
    expect(warnings.length).toBeLessThanOrEqual(2 + summaries.length + Math.ceil(up[0]!.downForMs / 1000) + 5);

    expect((await dependencyErrors(server!.url, 'session store')) - errorsBefore).toBe(replies.length);
    expect(unhandledErrors(server!.logs)).toEqual([]);
  });

  it('logs a hung session store (SIGSTOP) once down and once up, though each probe waits out the deadline', async () => {
    const { client } = await signedUp(server!.url);
    expect((await client.get('/api/auth/me')).status).toBe(200);
    const from = server!.logs.length;

    redis!.pause();
    let replies: Reply[];
    try {
      // Requests keep failing while a probe is out: none of its answers may call the store back.
      const pending: Array<Promise<Reply>> = [];
      for (let wave = 0; wave < 12; wave++) {
        for (let i = 0; i < 20; i++) pending.push(client.get('/api/auth/me'));
        await sleep(250);
      }
      replies = await Promise.all(pending);
    } finally {
      redis!.resume();
    }
    for (const reply of replies) expectUnavailable(reply, 'GET /me while Redis hangs');

    await dependencyUp(server!.logs, from);
    const lines = parsed(server!.logs.slice(from));
    expect(lines.filter((l) => l.msg === 'dependency down')).toMatchObject([
      { dependency: 'session store', error: expect.stringMatching(/^session store is unavailable: no answer within \d+ ms/) },
    ]);
    expect(lines.filter((l) => l.msg === 'dependency up')).toMatchObject([{ dependency: 'session store', failed: replies.length }]);
    expect((await client.get('/api/auth/me')).status).toBe(200);
  });
});

describe('DependencyLog', () => {
  const lines: Array<{ level: 'warn' | 'info'; fields: Record<string, any>; msg: string }> = [];
  const logger = {
    warn: (fields: Record<string, any>, msg: string) => lines.push({ level: 'warn', fields, msg }),
    info: (fields: Record<string, any>, msg: string) => lines.push({ level: 'info', fields, msg }),
  } as unknown as Logger;
  const messages = () => lines.map((l) => l.msg);
  const refused = () => {
    const cause = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:6379'), { code: 'ECONNREFUSED' });
    return new UnavailableError('session store', { cause });
  };
  let log: DependencyLog | undefined;

  beforeEach(() => {
    lines.length = 0;
    vi.useFakeTimers();
  });
  afterEach(() => {
    log?.close();
    vi.useRealTimers();
  });

  it('writes one line per change of state and one summary per interval, whatever the traffic', async () => {
    let storeUp = false;
    log = new DependencyLog(logger, { 'session store': async () => (storeUp ? undefined : Promise.reject(new Error('down'))) });

    for (let i = 0; i < 1_000; i++) log.failed('session store', refused(), '/me');
    expect(lines).toEqual([
      {
        level: 'warn',
        msg: 'dependency down',
        fields: { dependency: 'session store', path: '/me', error: 'session store is unavailable: connect ECONNREFUSED 127.0.0.1:6379' },
      },
    ]);

    // 25 s down at 100 failures a second: two summaries, each with the failures since the last line.
    for (let s = 0; s < 25; s++) {
      for (let i = 0; i < 100; i++) log.failed('session store', refused());
      await vi.advanceTimersByTimeAsync(1_000);
    }
    expect(messages()).toEqual(['dependency down', 'dependencies still down', 'dependencies still down']);
    expect(lines[1]!.fields).toEqual({ failed: { 'session store': 999 + 1_000 }, downForMs: { 'session store': 10_000 } });
    expect(lines[2]!.fields).toEqual({ failed: { 'session store': 1_000 }, downForMs: { 'session store': 20_000 } });

    storeUp = true;
    await vi.advanceTimersByTimeAsync(PROBE_INTERVAL_MS);
    expect(lines.at(-1)).toEqual({
      level: 'info',
      msg: 'dependency up',
      fields: { dependency: 'session store', downForMs: 26_000, failed: 1_000 + 2_500 },
    });
    // Nothing is down: no timer left running.
    expect(vi.getTimerCount()).toBe(0);

    log.failed('session store', refused());
    expect(messages().at(-1)).toBe('dependency down');
  });

  it('does not call a dependency back while requests still fail during the probe', async () => {
    // The probe answers, but a request fails while it is out: the answer does not count.
    let failDuringProbe = true;
    log = new DependencyLog(logger, {
      database: async () => {
        if (failDuringProbe) log!.failed('database', new UnavailableError('database'));
      },
    });
    log.failed('database', new UnavailableError('database'));
    await vi.advanceTimersByTimeAsync(3 * PROBE_INTERVAL_MS);
    expect(messages()).toEqual(['dependency down']);

    failDuringProbe = false;
    await vi.advanceTimersByTimeAsync(PROBE_INTERVAL_MS);
    expect(lines.at(-1)).toMatchObject({ msg: 'dependency up', fields: { dependency: 'database', failed: 4 } });
  });

  it('does not stack probes of a hung dependency', async () => {
    let calls = 0;
    log = new DependencyLog(logger, { 'session store': () => (calls++, new Promise(() => {})) });
    log.failed('session store', refused());
    await vi.advanceTimersByTimeAsync(10 * PROBE_INTERVAL_MS);
    expect(calls).toBe(1);
  });

  it('calls a dependency without a probe back after an interval without failures', async () => {
    log = new DependencyLog(logger, {});
    log.failed('password hashing', new UnavailableError('password hashing'));
    log.failed('password hashing', new UnavailableError('password hashing'));
    await vi.advanceTimersByTimeAsync(PROBE_INTERVAL_MS + PROBE_INTERVAL_MS / 2);
    log.failed('password hashing', new UnavailableError('password hashing'));
    await vi.advanceTimersByTimeAsync(PROBE_INTERVAL_MS);
    expect(messages()).toEqual(['dependency down']);
    await vi.advanceTimersByTimeAsync(3 * PROBE_INTERVAL_MS);
    expect(lines.at(-1)).toMatchObject({ msg: 'dependency up', fields: { dependency: 'password hashing', failed: 3 } });
  });

  it('keeps the first error without a stack or a password, and close() stops the timer', () => {
    log = new DependencyLog(logger, {});
    const cause = new Error('connect to redis://latch:s3cret@cache.internal:6379 failed');
    log.failed('rate limiter', new UnavailableError('rate limiter', { cause }));
    expect(lines[0]!.fields.error).toBe('rate limiter is unavailable: connect to redis://***@cache.internal:6379 failed');
    expect(JSON.stringify(lines)).not.toMatch(/s3cret|stack|\n\s+at /);
    expect(vi.getTimerCount()).toBe(1);
    log.close();
    expect(vi.getTimerCount()).toBe(0);
  });
});
