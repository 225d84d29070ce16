// Load: autocannon runs against GET /api/auth/me, and the result tables.
import autocannon from 'autocannon';
import { BenchError } from './common.mjs';
import { cpuMsOf } from './process.mjs';

/** One autocannon run with the bench's common settings; resolves with its result. */
export function runAutocannon(url, connections, duration, requests) {
  return new Promise((resolve, reject) => {
    autocannon({ url, connections, duration, timeout: 10, requests }, (err, result) => (err ? reject(err) : resolve(result)));
  });
}

export function cannon(url, cookies, connections, duration) {
  // One prebuilt request per cookie; every connection cycles through them.
  return runAutocannon(url, connections, duration, cookies.map((cookie) => ({ method: 'GET', path: '/api/auth/me', headers: { cookie } })));
}

export async function measure(label, server, baseUrl, cookies, opts) {
  await warmUp(label, baseUrl, cookies, opts);
  return measured(label, server, baseUrl, cookies, opts);
}

export async function warmUp(label, baseUrl, cookies, opts) {
  process.stdout.write(`  ${label}: warm-up ${opts.warmup}s...`);
  const warm = await cannon(baseUrl, cookies, opts.connections, opts.warmup);
  process.stdout.write(' done\n');
  if (warm.errors > 0 || warm.non2xx > 0 || warm.timeouts > 0) {
    throw new BenchError(`${label} warm-up: ${warm.errors} errors, ${warm.timeouts} timeouts, ${warm.non2xx} non-2xx`);
  }
}

/** One measured run of `opts.duration` seconds, with the server's CPU time over it. */
export async function measured(label, server, baseUrl, cookies, opts) {
  process.stdout.write(`  ${label}: measuring ${opts.duration}s...`);
  const cpuBefore = cpuMsOf(server.child.pid);
  const r = await cannon(baseUrl, cookies, opts.connections, opts.duration);
  const cpuAfter = cpuMsOf(server.child.pid);
  process.stdout.write(` ${Math.round(r.requests.average)} req/s\n`);
  const cpuMs = cpuBefore === undefined || cpuAfter === undefined ? undefined : cpuAfter - cpuBefore;
  return {
    label,
    rps: r.requests.average,
    p50: r.latency.p50,
    p99: r.latency.p99,
    total: r.requests.total,
    seconds: r.duration,
    cpuMs,
    non2xx: r.non2xx,
    errors: r.errors,
    timeouts: r.timeouts,
    // Server-side cost, independent of how much CPU the load generator took from it.
    cpuUsPerReq: cpuMs === undefined || r.requests.total === 0 ? undefined : (cpuMs * 1000) / r.requests.total,
    cpuCores: cpuMs === undefined ? undefined : cpuMs / (r.duration * 1000),
  };
}

/** Several measured runs of one target as one row: totals over all, latencies their median. */
export function combined(label, runs) {
  const sum = (get) => runs.reduce((total, r) => total + get(r), 0);
  const median = (get) => runs.map(get).sort((a, b) => a - b)[Math.floor(runs.length / 2)];
  const total = sum((r) => r.total);
  const seconds = sum((r) => r.seconds);
  const cpuMs = runs.every((r) => r.cpuMs !== undefined) ? sum((r) => r.cpuMs) : undefined;
  return {
    label,
    rps: total / seconds,
    p50: median((r) => r.p50),
    p99: median((r) => r.p99),
    total,
    seconds,
    cpuMs,
    non2xx: sum((r) => r.non2xx),
    errors: sum((r) => r.errors),
    timeouts: sum((r) => r.timeouts),
    cpuUsPerReq: cpuMs === undefined || total === 0 ? undefined : (cpuMs * 1000) / total,
    cpuCores: cpuMs === undefined ? undefined : cpuMs / (seconds * 1000),
  };
}

export function table(rows, columns) {
  const cells = rows.map((row) => columns.map((c) => String(c.get(row))));
  const widths = columns.map((c, i) => Math.max(c.title.length, ...cells.map((r) => r[i].length)));
  const line = (values) => values.map((v, i) => (i === 0 ? v.padEnd(widths[i]) : v.padStart(widths[i]))).join('  ');
  return [line(columns.map((c) => c.title)), widths.map((w) => '-'.repeat(w)).join('  '), ...cells.map(line)].join('\n');
}
