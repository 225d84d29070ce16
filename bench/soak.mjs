// Latch soak test: memory, latency and error stability under a steady mixed load, then recovery
// from dependency faults with the load still running.
//
//   npm run soak             (builds, then runs this file)
//
// What it starts (all stopped at the end, on failure and on Ctrl-C):
//   - a fresh PostgreSQL database (dropped at the end), reached by Latch through a TCP proxy of
//     this process (so its connections can be cut);
//   - a private redis-server on a port of its own (paused, killed and restarted by the faults;
//     the shared Redis is never touched);
//   - an SMTP sink (production settings require SMTP_URL);
//   - the built Latch (node dist/main.js) with production settings (NODE_ENV=production,
//     secure cookies, https PUBLIC_URL, SECRETS_KEY, METRICS_TOKEN, LOG_LEVEL=info) and the
//     throttling limits raised as bench/run.mjs raises them.
//
// Phases:
//   1. capacity: the mix (below) at the maximum rate (closed loop) for SOAK_CAPACITY_SECONDS;
//   2. soak: the mix at half of that rate (open loop: requests go out on a schedule) for
//      SOAK_WARMUP_MINUTES of warm-up (printed, not judged: V8 sizes its heap to the load over
//      the first minutes; in a 30-minute run the pages it held grew 163 -> 184 MB over the first
//      ten, then stayed within 2 MB, while the used heap's floor stayed flat) and then
//      SOAK_MINUTES, sampled every SOAK_SAMPLE_SECONDS: RSS and V8 heap used (the lowest of
//      scrapes every second: the floor under the GC sawtooth), event-loop delay p99,
//      GC time, CPU (Latch's /metrics), Redis CPU, used_memory, keys and the largest per-user
//      session index, the CPU everything else on the machine used, and the window's /me p50/p99,
//      /sessions p99, requests and statuses. Then least-squares slopes over the last 8 minutes (the last 80 % of
//      a shorter run) and a verdict:
//        RSS slope < 1 MB/min; no 5xx and no request left unanswered (10 s); /me p99 drift: the median window p99 of the last half
//        <= 1.5 x that of the first half;
//   3. faults, the mix still running: Redis paused 5 s (SIGSTOP), Redis killed and restarted
//      empty on its port, PostgreSQL connections cut at the proxy for 5 s. For each: answers by
//      route and status during the fault, the time from its end to the first 200 on /me (and on
//      a login) sent after the end, and the users' row count before and after. A fault passes
//      with no 5xx but 503, every request answered, recovery within 10 s and no user row lost.
//
// The mix (SOAK_MIX, weights in %): me=93.5 (GET /api/auth/me), sessions=4 (GET
// /api/auth/sessions), login=1 (a new session for a bench user), logout=1 (ends the oldest
// session a login added: sessions per user stay bounded), failed=0.5 (a wrong password, or an
// unknown address). POSTs carry Origin = PUBLIC_URL's origin, as a browser's would. Each bench
// user keeps its device cookie (no new-device mail at every login) and at least one session; a
// session answered 401 is dropped and a user left without one signs in again.
//
// Env (all optional):
//   SOAK_MINUTES          steady soak length, judged             (default 10)
//   SOAK_WARMUP_MINUTES   the same load before it, not judged    (default 5)
//   SOAK_RATE             steady req/s                           (default half the measured capacity)
//   SOAK_MIX              e.g. "me=90,sessions=5,login=2,logout=2,failed=1"
//   SOAK_USERS            bench users                            (default 50)
//   SOAK_CAPACITY_SECONDS capacity run, after a 3 s warm-up      (default 10)
//   SOAK_CONNECTIONS      concurrent requests of the capacity run (default 32)
//   SOAK_SAMPLE_SECONDS   sampling interval                      (default 10)
//   SOAK_FAULTS           comma list of redis-pause,redis-restart,pg-cut, or "none" (default all)
//   SOAK_LOG_LEVEL        Latch's LOG_LEVEL                      (default info, as in production)
//   SOAK_LATCH_ENV        extra env for Latch, e.g. "MAX_SESSIONS_PER_USER=20"
//   SOAK_LATCH_OUTPUT     a file to copy Latch's stdout to (its log, --trace-gc lines)
//   BENCH_NODE_ARGS       node flags for Latch, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof --trace-gc"
//   BENCH_PG_URL          admin connection (default postgres://postgres@127.0.0.1:5432/test)
//   BENCH_REDIS_SERVER    redis-server binary                    (default /usr/bin/redis-server)
//
// Exit code: 0 when the verdict and every fault pass, 1 otherwise, 130 on Ctrl-C.
import { randomBytes } from 'node:crypto';
import { createWriteStream, rmSync } from 'node:fs';
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { BenchError, PASSWORD, children, count, dbName, runId, seconds, sleep, state, tempDirs } from './lib/common.mjs';
import { startFaultRedis } from './lib/fault-redis.mjs';
import { envText, loadConfigModule, startLatch, throttleLimitEnv } from './lib/latch.mjs';
import { table } from './lib/load.mjs';
import { ROUTES, createMix, median, parseMix, percentile, registerMixUsers, slope } from './lib/mix-load.mjs';
import { benchCpuMs, childReport, machineBusyMs, stopChild } from './lib/process.mjs';
import { cleanup, databaseUrlFor, ensureDatabase } from './lib/services.mjs';
import { startSmtpSink } from './lib/smtp-sink.mjs';
import { startTcpProxy } from './lib/tcp-proxy.mjs';

const PUBLIC_URL = 'https://latch.soak.example';
const ORIGIN = new URL(PUBLIC_URL).origin;
const METRICS_TOKEN = randomBytes(16).toString('hex');
const FAULTS = ['redis-pause', 'redis-restart', 'pg-cut'];
const FAULT_SECONDS = 5;
const RECOVERY_LIMIT_MS = 10_000;
const RSS_SLOPE_LIMIT = 1; // MB/min
const P99_DRIFT_LIMIT = 1.5;

let redis;
let proxy;
let smtp;
process.on('exit', () => {
  for (const c of children) c.child.kill('SIGKILL');
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
});
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    state.interrupted = true;
    process.stderr.write(`\nsoak: ${signal}, cleaning up...\n`);
    shutdown().finally(() => process.exit(130));
  });
}

async function shutdown() {
  try {
    redis?.resume(); // a paused server would not hear SIGTERM
  } catch {
    // already gone
  }
  await proxy?.cut();
  await smtp?.close();
  await cleanup();
}

const mb = (bytes) => bytes / 1024 / 1024;
const fmt = (n, d = 1) => (Number.isFinite(n) ? n.toFixed(d) : 'n/a');
const statusText = (statuses) =>
  Object.entries(statuses)
    .sort(([a], [b]) => String(a).localeCompare(String(b)))
    .map(([s, n]) => `${s}:${n}`)
    .join(' ') || '-';
const byRouteText = (routes) =>
  Object.entries(routes)
    .map(([route, w]) => `${route} ${statusText(w.statuses)}`)
    .join('; ') || '-';

function mergeStatuses(routes) {
  const all = {};
  for (const w of Object.values(routes)) for (const [s, n] of Object.entries(w.statuses)) all[s] = (all[s] ?? 0) + n;
  return all;
}

/** Latch's process figures from its Prometheus /metrics (prom-client default metrics, prefix latch_). */
async function scrape(baseUrl) {
  try {
    const res = await fetch(`${baseUrl}/metrics`, {
      headers: { authorization: `Bearer ${METRICS_TOKEN}` },
      signal: AbortSignal.timeout(5_000),
    });
    if (res.status !== 200) return {};
    const text = await res.text();
    const value = (name) => {
      let sum;
      for (const m of text.matchAll(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'gm'))) sum = (sum ?? 0) + Number(m[1]);
      return sum;
    };
    return {
      rss: value('latch_process_resident_memory_bytes'),
      heap: value('latch_nodejs_heap_size_used_bytes'),
      heapTotal: value('latch_nodejs_heap_size_total_bytes'),
      eldP99: value('latch_nodejs_eventloop_lag_p99_seconds'),
      gcSeconds: value('latch_nodejs_gc_duration_seconds_sum'),
      cpuSeconds: value('latch_process_cpu_seconds_total'),
    };
  } catch {
    return {};
  }
}

async function redisFigures() {
  try {
    return await redis.query(async (c) => {
      const info = await c.info();
      const field = (name) => Number(new RegExp(`^${name}:(\\S+)`, 'm').exec(info)?.[1]);
      // The largest per-user session index: it grows toward MAX_SESSIONS_PER_USER when logins outpace logouts.
      let maxIndex = 0;
      for await (const batch of c.scanIterator({ MATCH: 'latch:*:i:*', COUNT: 1000 })) {
        for (const key of Array.isArray(batch) ? batch : [batch]) maxIndex = Math.max(maxIndex, await c.zCard(key));
      }
      return { used: field('used_memory'), cpuSeconds: field('used_cpu_user') + field('used_cpu_sys'), keys: await c.dbSize(), maxIndex };
    });
  } catch {
    return {};
  }
}

/** Rows in the bench database's users table, read directly (not through the proxy). */
async function countUsers() {
  const client = new pg.Client({ connectionString: databaseUrlFor(dbName), connectionTimeoutMillis: 5_000 });
  await client.connect();
  try {
    return (await client.query('SELECT count(*)::int AS n FROM users')).rows[0].n;
  } finally {
    await client.end();
  }
}

/** A closed-loop run of the mix: the window of what was answered. */
async function capacityRun(mix, connections, ms) {
  mix.takeWindow();
  await mix.runClosed(connections, ms);
  return mix.takeWindow();
}

/** Latch's JSON log lines by level, as they come (the child's output buffer keeps a tail only). */
function countLogLines(stream, copyTo) {
  const copy = copyTo ? createWriteStream(copyTo) : undefined;
  const names = { 10: 'trace', 20: 'debug', 30: 'info', 40: 'warn', 50: 'error', 60: 'fatal' };
  const log = { levels: {}, lastProblem: undefined };
  let partial = '';
  stream.on('data', (chunk) => {
    copy?.write(chunk);
    const lines = (partial + chunk.toString()).split('\n');
    partial = lines.pop();
    for (const line of lines) {
      const level = names[/"level":(\d+)/.exec(line)?.[1]] ?? 'other';
      log.levels[level] = (log.levels[level] ?? 0) + 1;
      if (level === 'warn' || level === 'error' || level === 'fatal') log.lastProblem = line;
    }
  });
  return log;
}

function windowRequests(w) {
  return Object.values(w.routes).reduce((s, r) => s + r.n, 0);
}

async function main() {
  state.adminPgUrl = process.env.BENCH_PG_URL || 'postgres://postgres@127.0.0.1:5432/test';
  const minutes = seconds('SOAK_MINUTES', 10);
  const warmupMinutes = Number(process.env.SOAK_WARMUP_MINUTES ?? 5);
  if (!(warmupMinutes >= 0)) throw new BenchError('SOAK_WARMUP_MINUTES: a number of minutes, 0 or more');
  const sampleSeconds = seconds('SOAK_SAMPLE_SECONDS', 10);
  const capacitySeconds = seconds('SOAK_CAPACITY_SECONDS', 10);
  const connections = count('SOAK_CONNECTIONS', 32);
  const userCount = count('SOAK_USERS', 50);
  const mixWeights = parseMix(process.env.SOAK_MIX);
  const faultsRaw = (process.env.SOAK_FAULTS ?? '').trim();
  const faults = faultsRaw === '' ? FAULTS : faultsRaw === 'none' ? [] : faultsRaw.split(',').map((f) => f.trim());
  const unknownFault = faults.find((f) => !FAULTS.includes(f));
  if (unknownFault) throw new BenchError(`SOAK_FAULTS: unknown fault ${unknownFault}; choose from ${FAULTS.join(',')}`);
  const extraEnv = Object.fromEntries(
    (process.env.SOAK_LATCH_ENV ?? '').split(/\s+/).filter(Boolean).map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]),
  );

  console.log('Latch soak test');
  console.log(`  date        ${new Date().toISOString()}`);
  console.log(`  node        ${process.version}, ${os.availableParallelism()} cores (${os.cpus()[0]?.model?.trim() ?? '?'}); load generator on the same machine`);
  console.log(`  mix         ${ROUTES.map((r) => `${r}=${mixWeights[r]}`).join(' ')} (%), ${userCount} users`);
  console.log(`  soak        ${warmupMinutes} min warm-up + ${minutes} min judged, samples every ${sampleSeconds} s; faults: ${faults.join(', ') || 'none'}`);

  await ensureDatabase();
  redis = await startFaultRedis();
  const pgTarget = new URL(state.adminPgUrl);
  proxy = await startTcpProxy({ host: pgTarget.hostname, port: Number(pgTarget.port || 5432) });
  smtp = await startSmtpSink();
  const dbUrl = new URL(databaseUrlFor(dbName));
  dbUrl.hostname = proxy.host;
  dbUrl.port = String(proxy.port);
  const throttle = await throttleLimitEnv(await loadConfigModule());
  const latchEnv = {
    ...throttle.env,
    NODE_ENV: 'production',
    PUBLIC_URL,
    SMTP_URL: smtp.url,
    SECRETS_KEY: randomBytes(32).toString('base64'),
    METRICS_TOKEN,
    LOG_LEVEL: process.env.SOAK_LOG_LEVEL || 'info',
    DATABASE_URL: dbUrl.toString(),
    REDIS_KEY_PREFIX: 'latch:',
    ...extraEnv,
  };
  console.log(`  database    ${dbName} via TCP proxy :${proxy.port}; private redis-server :${redis.port}; SMTP sink ${smtp.url}`);
  console.log(`  latch env   NODE_ENV=production LOG_LEVEL=${latchEnv.LOG_LEVEL} ${envText(throttle.env)} ${envText(extraEnv)}`.trimEnd());
  if (process.env.BENCH_NODE_ARGS) console.log(`  node args   ${process.env.BENCH_NODE_ARGS}`);
  console.log('');

  const { latch, baseUrl } = await startLatch('latch', redis.url, latchEnv, { logToFile: false });
  const log = countLogLines(latch.child.stdout, process.env.SOAK_LATCH_OUTPUT);
  const t0 = Date.now();
  const users = await registerMixUsers(baseUrl, ORIGIN, userCount, (i) => `soak-${runId}-${i}@example.com`, PASSWORD);
  console.log(`  registered ${users.length} users in ${((Date.now() - t0) / 1000).toFixed(1)}s`);
  const mix = createMix({ baseUrl, origin: ORIGIN, users, mix: mixWeights });
  const alive = () => {
    if (latch.exited) throw new BenchError(`Latch exited (code ${latch.exitCode}, signal ${latch.signal})${childReport(latch)}`);
  };

  // ---- capacity -------------------------------------------------------------------------------
  console.log(`\n== capacity: the mix at the maximum rate, ${connections} concurrent requests, 3 s warm-up + ${capacitySeconds} s ==`);
  await capacityRun(mix, connections, 3_000);
  const cap = await capacityRun(mix, connections, capacitySeconds * 1000);
  alive();
  const capacity = windowRequests(cap) / (cap.ms / 1000);
  const capSorted = [...cap.meMs].sort((a, b) => a - b);
  console.log(`  ${fmt(capacity, 0)} req/s; /me p50 ${fmt(percentile(capSorted, 50), 2)} ms, p99 ${fmt(percentile(capSorted, 99), 2)} ms; ${byRouteText(cap.routes)}`);
  const rate = Number(process.env.SOAK_RATE) > 0 ? Number(process.env.SOAK_RATE) : Math.max(1, Math.round(capacity / 2));

  // ---- soak -----------------------------------------------------------------------------------
  console.log(`\n== soak: ${rate} req/s${process.env.SOAK_RATE ? ' (SOAK_RATE)' : ' (half the capacity)'} for ${warmupMinutes} min of warm-up (not judged) and ${minutes} min ==`);
  const columns = [
    { title: 't', get: (s) => `${Math.floor(s.t / 60)}:${String(Math.round(s.t % 60)).padStart(2, '0')}` },
    { title: 'req/s', get: (s) => fmt(s.rps, 0) },
    { title: '/me p50', get: (s) => fmt(s.p50, 2) },
    { title: '/me p99', get: (s) => fmt(s.p99, 2) },
    { title: '/sessions p99', get: (s) => fmt(s.sessionsP99, 2) },
    { title: 'statuses', get: (s) => statusText(s.statuses) },
    { title: 'RSS min MB', get: (s) => fmt(mb(s.rss)) },
    { title: 'heap min MB', get: (s) => fmt(mb(s.heap)) },
    // What V8 holds (pages of all spaces, used or not): RSS minus this is memory outside the JS heap.
    { title: 'V8 held MB', get: (s) => fmt(mb(s.heapTotal)) },
    { title: 'ELD p99 ms', get: (s) => fmt(s.eldP99 * 1000, 1) },
    { title: 'GC ms', get: (s) => fmt(s.gcMs, 0) },
    { title: 'CPU %', get: (s) => fmt(s.cpu, 0) },
    { title: 'redis CPU %', get: (s) => fmt(s.redisCpu, 0) },
    { title: 'others CPU %', get: (s) => fmt(s.others, 0) },
    { title: 'redis MB', get: (s) => fmt(mb(s.redisUsed), 2) },
    { title: 'keys', get: (s) => s.keys ?? 'n/a' },
    { title: 'max index', get: (s) => s.maxIndex ?? 'n/a' },
  ];
  const samples = [];
  let lastProc = await scrape(baseUrl);
  let lastRedis = await redisFigures();
  let lastMachine = machineBusyMs();
  let lastOwn = benchCpuMs();
  // RSS and heap follow the heap's sawtooth (a major GC every few seconds, old space growing by
  // tens of MB in between): a window's figure is the lowest of scrapes every second, its floor,
  // which is what a leak raises; the event-loop delay is the largest of their p99s (each scrape
  // restarts prom-client's histogram).
  let fine = [];
  const fineTimer = setInterval(() => scrape(baseUrl).then((p) => p.rss !== undefined && fine.push(p)), 1_000);
  mix.takeWindow();
  mix.start(rate);
  const soakStart = performance.now();
  const judgedFrom = warmupMinutes * 60;
  const soakEnd = soakStart + (warmupMinutes + minutes) * 60_000;
  let headerShown = false;
  for (let k = 1; soakStart + k * sampleSeconds * 1000 <= soakEnd + 1; k++) {
    await sleep(Math.max(0, soakStart + k * sampleSeconds * 1000 - performance.now()));
    const w = mix.takeWindow();
    const [proc, rd] = await Promise.all([scrape(baseUrl), redisFigures()]);
    alive();
    const points = [...fine, proc].filter((p) => p.rss !== undefined);
    fine = [];
    const floor = (get) => Math.min(...points.map(get));
    const sorted = w.meMs.sort((a, b) => a - b);
    const machine = machineBusyMs();
    const own = benchCpuMs();
    const seconds = w.ms / 1000;
    const latchCpu = ((proc.cpuSeconds - lastProc.cpuSeconds) / seconds) * 100;
    const redisCpu = ((rd.cpuSeconds - lastRedis.cpuSeconds) / seconds) * 100;
    const s = {
      t: (performance.now() - soakStart) / 1000,
      rps: windowRequests(w) / (w.ms / 1000),
      p50: percentile(sorted, 50),
      p99: percentile(sorted, 99),
      sessionsP99: percentile(w.sessionsMs.sort((a, b) => a - b), 99),
      statuses: mergeStatuses(w.routes),
      rss: floor((p) => p.rss),
      heap: floor((p) => p.heap),
      heapTotal: floor((p) => p.heapTotal),
      eldP99: Math.max(...points.map((p) => p.eldP99)),
      gcMs: (proc.gcSeconds - lastProc.gcSeconds) * 1000,
      cpu: latchCpu,
      redisCpu,
      // Everything else on the machine: other work competing with Latch skews latency.
      others: ((machine - lastMachine) / 10 / seconds) - latchCpu - redisCpu - ((own - lastOwn) / 10 / seconds),
      redisUsed: rd.used,
      keys: rd.keys,
      maxIndex: rd.maxIndex,
      missed: w.missed,
      skipped: w.skipped,
    };
    lastProc = proc;
    lastRedis = rd;
    lastMachine = machine;
    lastOwn = own;
    const firstJudged = warmupMinutes > 0 && s.t > judgedFrom + 1 && (samples.at(-1)?.t ?? 0) <= judgedFrom + 1;
    samples.push(s);
    const lines = table(samples.slice(-1), columns).split('\n');
    if (!headerShown) console.log(`${lines[0]}\n${lines[1]}`);
    headerShown = true;
    if (firstJudged) console.log(`---- warm-up over (${warmupMinutes} min): judged from here ----`);
    console.log(lines[2]);
  }

  clearInterval(fineTimer);

  // ---- verdict --------------------------------------------------------------------------------
  const judged = samples.filter((s) => s.t > judgedFrom + 1); // the sample ending the warm-up is a second late at most
  const end = judged.at(-1)?.t ?? 0;
  const span = Math.min(8 * 60, 0.8 * (end - judgedFrom));
  const tail = judged.filter((s) => s.t >= end - span - 1e-6);
  const slopeOf = (get) => slope(tail.filter((s) => Number.isFinite(get(s))).map((s) => ({ x: s.t / 60, y: get(s) })));
  const rssSlope = slopeOf((s) => mb(s.rss));
  const heapSlope = slopeOf((s) => mb(s.heap));
  const heldSlope = slopeOf((s) => mb(s.heapTotal));
  const redisSlope = slopeOf((s) => mb(s.redisUsed));
  const half = Math.floor(judged.length / 2);
  const p99First = median(judged.slice(0, half).map((s) => s.p99));
  const p99Last = median(judged.slice(judged.length - half).map((s) => s.p99));
  const soakStatuses = {};
  for (const s of samples) for (const [st, n] of Object.entries(s.statuses)) soakStatuses[st] = (soakStatuses[st] ?? 0) + n;
  const fiveXX = Object.entries(soakStatuses).filter(([st]) => Number(st) >= 500 || !(Number(st) > 0)).reduce((a, [, n]) => a + n, 0);
  const missed = samples.reduce((a, s) => a + s.missed, 0);
  const achieved = samples.reduce((a, s) => a + s.rps, 0) / Math.max(1, samples.length);
  const checks = [
    { name: `RSS slope < ${RSS_SLOPE_LIMIT} MB/min`, ok: rssSlope < RSS_SLOPE_LIMIT, figure: `${fmt(rssSlope, 2)} MB/min` },
    { name: 'no 5xx, no request unanswered', ok: fiveXX === 0, figure: `${fiveXX} (${statusText(soakStatuses)})` },
    {
      name: `/me p99 drift <= ${P99_DRIFT_LIMIT}x`,
      ok: p99Last <= P99_DRIFT_LIMIT * p99First,
      figure: `${fmt(p99Last / p99First, 2)}x (median window p99 ${fmt(p99First, 2)} ms first half, ${fmt(p99Last, 2)} ms last half)`,
    },
  ];
  console.log('');
  console.log(`slopes over the last ${fmt(span / 60, 1)} min (${tail.length} samples): RSS ${fmt(rssSlope, 2)} MB/min, heap ${fmt(heapSlope, 2)} MB/min, V8 held ${fmt(heldSlope, 2)} MB/min, Redis ${fmt(redisSlope, 3)} MB/min`);
  console.log(`throughput ${fmt(achieved, 0)} req/s of ${rate} asked${missed ? `; ${missed} requests not sent (2,000 in flight)` : ''}; sessions held by the load ${mix.sessions}`);
  for (const c of checks) console.log(`  ${c.ok ? 'PASS' : 'FAIL'}  ${c.name}: ${c.figure}`);
  const soakOk = checks.every((c) => c.ok);
  console.log(`verdict: ${soakOk ? 'PASS' : 'FAIL'}`);

  // ---- faults ---------------------------------------------------------------------------------
  const faultRows = [];
  const actions = {
    'redis-pause': {
      label: `Redis paused ${FAULT_SECONDS} s (SIGSTOP)`,
      begin: () => redis.pause(),
      end: () => redis.resume(),
    },
    'redis-restart': {
      label: 'Redis killed, restarted empty',
      begin: () => redis.kill(),
      end: () => redis.restart(),
    },
    'pg-cut': {
      label: `PostgreSQL cut ${FAULT_SECONDS} s (proxy)`,
      begin: () => proxy.cut(),
      end: () => proxy.restore(),
    },
  };
  for (const name of faults) {
    const fault = actions[name];
    console.log(`\n== fault: ${fault.label}, ${rate} req/s continuing ==`);
    // Settle after the previous phase: 5 s, and until what was sent has been answered.
    const settled = performance.now() + 30_000;
    await sleep(5_000);
    while (mix.inFlight > 100 && performance.now() < settled) await sleep(100);
    const inFlightBefore = mix.inFlight;
    const usersBefore = await countUsers();
    const during = {};
    const after = {};
    let faultStart = Infinity;
    let faultEnd = Infinity;
    let meBack;
    let loginBack;
    const waits = {}; // status -> answer times (ms) of requests sent during the fault
    const unlisten = mix.listen(({ route, status, sentAt, doneAt }) => {
      if (sentAt < faultStart) return;
      const into = sentAt < faultEnd ? during : after;
      if (into === during) (waits[status] ??= []).push(doneAt - sentAt);
      const r = (into[route] ??= { n: 0, statuses: {} });
      r.n++;
      r.statuses[status] = (r.statuses[status] ?? 0) + 1;
      if (sentAt >= faultEnd && status === 200) {
        if (route === 'me') meBack ??= sentAt - faultEnd;
        if (route === 'login' || route === 'relogin') loginBack ??= sentAt - faultEnd;
      }
    });
    const missedBefore = mix.missed;
    faultStart = performance.now();
    await fault.begin();
    await sleep(Math.max(0, faultStart + FAULT_SECONDS * 1000 - performance.now()));
    await fault.end();
    faultEnd = performance.now();
    const deadline = faultEnd + 30_000;
    while ((meBack === undefined || loginBack === undefined) && performance.now() < deadline) await sleep(50);
    await sleep(Math.max(0, faultEnd + 5_000 - performance.now()));
    unlisten();
    alive();
    const usersAfter = await countUsers();
    const bad = [during, after].flatMap((o) => Object.entries(mergeStatuses(o))).filter(([st]) => (Number(st) >= 500 && st !== '503') || !(Number(st) > 0));
    const ok = bad.length === 0 && meBack !== undefined && meBack <= RECOVERY_LIMIT_MS && usersAfter >= usersBefore;
    const notSent = mix.missed - missedBefore;
    console.log(
      `  during (${fmt((faultEnd - faultStart) / 1000, 1)} s): ${byRouteText(during)}` +
        `${notSent ? `; ${notSent} not sent (2,000 in flight)` : ''}; in flight before ${inFlightBefore}, at the end ${mix.inFlight}`,
    );
    const waitText = Object.entries(waits)
      .map(([st, ms]) => {
        ms.sort((a, b) => a - b);
        return `${st} median ${fmt(percentile(ms, 50), 0)} ms, max ${fmt(ms.at(-1), 0)} ms`;
      })
      .join('; ');
    console.log(`  answer times during: ${waitText || '-'}`);
    console.log(`  after (5 s): ${byRouteText(after)}`);
    console.log(
      `  first 200 sent after the end: /me ${meBack === undefined ? 'none within 30 s' : `${fmt(meBack, 0)} ms`}, ` +
        `login ${loginBack === undefined ? 'none within 30 s' : `${fmt(loginBack, 0)} ms`}; users ${usersBefore} -> ${usersAfter}`,
    );
    console.log(`  ${ok ? 'PASS' : 'FAIL'}`);
    faultRows.push({ label: fault.label, during, meBack, loginBack, usersBefore, usersAfter, ok });
  }
  mix.stop();
  await sleep(1_000);

  if (faultRows.length > 0) {
    console.log('');
    console.log(
      table(faultRows, [
        { title: 'fault', get: (r) => r.label },
        { title: 'answers during the fault', get: (r) => statusText(mergeStatuses(r.during)) },
        { title: '/me back ms', get: (r) => (r.meBack === undefined ? 'never' : fmt(r.meBack, 0)) },
        { title: 'login back ms', get: (r) => (r.loginBack === undefined ? 'never' : fmt(r.loginBack, 0)) },
        { title: 'users', get: (r) => `${r.usersBefore} -> ${r.usersAfter}` },
        { title: 'result', get: (r) => (r.ok ? 'PASS' : 'FAIL') },
      ]),
    );
  }
  alive();
  await stopChild(latch);
  console.log(
    `\nLatch log: ${Object.entries(log.levels).map(([l, n]) => `${l} ${n}`).join(', ') || 'nothing'}` +
      `${log.lastProblem ? `; the last warning or error: ${log.lastProblem.slice(0, 400)}` : ''}; SMTP sink received ${smtp.received} mails`,
  );
  const allOk = soakOk && faultRows.every((r) => r.ok);
  console.log(`\nsoak ${allOk ? 'PASS' : 'FAIL'}`);
  return allOk;
}

let exitCode = 0;
try {
  exitCode = (await main()) ? 0 : 1;
} catch (err) {
  exitCode = 1;
  if (!state.interrupted) process.stderr.write(`\nsoak failed: ${err instanceof BenchError ? err.message : err?.stack ?? String(err)}\n`);
} finally {
  await shutdown();
}
process.exit(state.interrupted ? 130 : exitCode);
