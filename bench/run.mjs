// Latch benchmark, in phases (BENCH_PHASES picks them; default all):
//   me       GET /api/auth/me on the built Latch server (Redis session store on the shared
//            standalone Redis, PostgreSQL users) against a bare Express 5 app doing one Redis
//            GET per request. Target: Latch reaches at least 0.9x the bare app's req/s.
//   cluster  the same /me measurement with Latch on a private 6-node Redis Cluster
//            (scripts/redis-cluster.sh), printed as a third row next to the two above.
//   memory   Redis memory per session (all keys the store writes), RedisSessionStore used
//            directly on a private redis-server. Target: <= 320 bytes per session.
//   scale    listByUser / deleteByUser on a private redis-server loaded with
//            BENCH_SCALE_SESSIONS sessions, against the same operations on an empty store.
//   storm    a login storm (argon2id verifies) next to /me traffic, Latch on PostgreSQL + the
//            shared Redis. Measures: the time of one login (1 connection, sequential, correct
//            password: dominated by one argon2id verify); logins/s alone (BENCH_STORM_CONNECTIONS
//            connections cycling through BENCH_STORM_USERS accounts); /me alone; /me and logins
//            at the same time (two autocannon runs). Targets: logins/s >= 0.8 x cores / one
//            login's seconds; /me during the storm >= 0.6 x /me alone. Login 429/503 answers
//            are counted apart, not as failures. The hashing bound (HASH_CONCURRENCY,
//            HASH_QUEUE_LIMIT, if present) is left at Latch's default: it is part of what is measured.
//
// Every Latch started here (me, cluster, storm) gets the throttling limits that src/config.ts
// declares (LOGIN_*/REGISTER_* counts, read when the bench runs) raised to the largest value the
// built config accepts, so that registering the bench users and the storm are not refused.
//
//   npm run bench            (builds, then runs this file)
//
// Env (all optional):
//   BENCH_PHASES       comma list of me,cluster,memory,scale,storm   (default all)
//   BENCH_STORM_USERS  accounts the login storm cycles through  (default 200)
//   BENCH_STORM_CONNECTIONS  autocannon connections for logins (default 8)
//   BENCH_STORM_ENV    extra env for the storm's Latch, e.g. "HASH_CONCURRENCY=1 HASH_QUEUE_LIMIT=64"
//   BENCH_SCALE_SESSIONS  sessions loaded by the scale phase     (default 1000000, 10 per user)
//   BENCH_SCALE_RUNS   timed runs per scale operation (median)  (default 11)
//   BENCH_CLUSTER_PORT first port tried for the private cluster (default 7501; +100 if taken)
//   BENCH_REDIS_SERVER / BENCH_REDIS_CLI   binaries for the private servers
//                      (default /usr/bin/redis-server, /usr/bin/redis-cli)
//   BENCH_DURATION     seconds per measurement              (default 10)
//   BENCH_WARMUP       seconds of warm-up per target        (default 3)
//   BENCH_CONNECTIONS  autocannon connections               (default 50)
//   BENCH_USERS        users registered, one cookie each    (default 50)
//   BENCH_PG_URL       admin connection used to create/drop the bench database
//                      (default postgres://postgres@127.0.0.1:5432/test)
//   BENCH_REDIS_URL    (default redis://127.0.0.1:6379)
//   BENCH_NODE_ARGS    extra node flags for the Latch child, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof"
//
// The private Redis servers (cluster, standalone) are stopped at the end, on failure and on
// SIGINT/SIGTERM; the shared Redis only ever sees keys under a unique prefix, deleted at the end.
//
// Exit code: 0 when every phase ran and every request answered 2xx (whether or not a target
// is met — this is a report); 1 when a server fails to start, requests fail, or the store
// answers wrongly.
import { execFile, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { createRequire } from 'node:module';
import autocannon from 'autocannon';
import pg from 'pg';
import { createClient } from 'redis';
import { memoryPhase, scalePhase } from './store-phases.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);

const seconds = (name, fallback) => {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(String(raw).replace(/s$/, ''));
  if (!Number.isFinite(value) || value <= 0) throw new BenchError(`${name}: "${raw}" is not a number of seconds`);
  return value;
};
const count = (name, fallback) => {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value <= 0) throw new BenchError(`${name}: "${raw}" is not a positive integer`);
  return value;
};

class BenchError extends Error {}

const TARGET_RATIO = 0.9;
const STARTUP_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 5_000;
const PASSWORD = 'violet-harbor-lantern-42';

const runId = randomBytes(4).toString('hex');
const dbName = `latch_bench_${runId}`;
const redisPrefix = `latch-bench:${runId}:`;
const bareKey = `${redisPrefix}bare:user`;

const PHASES = ['me', 'cluster', 'memory', 'scale', 'storm'];
const STORM_LOGIN_TARGET = 0.8; // x cores / one login's seconds
const STORM_ME_TARGET = 0.6; // /me during the storm / /me alone
const REDIS_SERVER_BIN = process.env.BENCH_REDIS_SERVER || '/usr/bin/redis-server';
const REDIS_CLI_BIN = process.env.BENCH_REDIS_CLI || '/usr/bin/redis-cli';
const CLUSTER_SCRIPT = path.join(root, 'scripts/redis-cluster.sh');

/** Everything to undo, in reverse order, whatever happens. */
const children = new Set();
/** Directories of private clusters started by scripts/redis-cluster.sh, still running. */
const clusterDirs = new Set();
/** Data directories of private standalone redis-servers. */
const tempDirs = new Set();
let adminPgUrl;
let redisUrl;
let dbCreated = false;
let redisTouched = false;
let cleaning;
let interrupted = false;

// ---------------------------------------------------------------------------------------------
// Child processes

function startChild(name, args, env, command = process.execPath) {
  const child = spawn(command, args, {
    cwd: root,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const state = { name, child, output: '', exited: false, exitCode: null, signal: null };
  const keep = (chunk) => {
    state.output = (state.output + chunk.toString()).slice(-16_384);
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  state.exitPromise = new Promise((resolve) => {
    child.on('exit', (code, signal) => {
      state.exited = true;
      state.exitCode = code;
      state.signal = signal;
      children.delete(state);
      resolve();
    });
  });
  child.on('error', (err) => {
    state.output += `\nspawn error: ${err.message}`;
  });
  children.add(state);
  return state;
}

async function stopChild(state) {
  if (state.exited) return;
  state.child.kill('SIGTERM');
  const timer = setTimeout(() => state.child.kill('SIGKILL'), STOP_TIMEOUT_MS);
  await state.exitPromise;
  clearTimeout(timer);
}

function childReport(state) {
  const out = state.output.trim();
  return out ? `\n--- ${state.name} output (tail) ---\n${out}\n---` : `\n(${state.name} printed nothing)`;
}

async function waitReady(state, url) {
  const deadline = Date.now() + STARTUP_TIMEOUT_MS;
  let last = 'no answer yet';
  while (Date.now() < deadline) {
    if (state.exited) {
      throw new BenchError(
        `${state.name} exited during startup (code ${state.exitCode}, signal ${state.signal})${childReport(state)}`,
      );
    }
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(2_000) });
      await res.arrayBuffer();
      if (res.status === 200) return;
      last = `HTTP ${res.status}`;
    } catch (err) {
      last = err.cause?.code ?? err.message;
    }
    await sleep(100);
  }
  throw new BenchError(`${state.name} not ready within ${STARTUP_TIMEOUT_MS} ms (${url}: ${last})${childReport(state)}`);
}

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/** CPU time (ms) a process has used so far, from /proc (Linux); undefined elsewhere. */
function cpuMsOf(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS;
  } catch {
    return undefined;
  }
}
const CLOCK_TICKS = 100; // USER_HZ on Linux

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------------------------------------
// Services: a fresh database and a unique Redis key prefix

async function withPg(fn) {
  const client = new pg.Client({ connectionString: adminPgUrl, connectionTimeoutMillis: 5_000 });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

async function withRedis(fn) {
  const client = createClient({ url: redisUrl, socket: { connectTimeout: 5_000, reconnectStrategy: false } });
  client.on('error', () => {}); // surfaced by the awaited command instead
  await client.connect();
  try {
    return await fn(client);
  } finally {
    client.destroy();
  }
}

function databaseUrlFor(name) {
  const url = new URL(adminPgUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

async function cleanup() {
  cleaning ??= (async () => {
    const problems = [];
    await Promise.all([...children].map((c) => stopChild(c).catch(() => {})));
    for (const dir of [...clusterDirs]) {
      try {
        await stopCluster(dir);
      } catch (err) {
        problems.push(`could not stop the private cluster in ${dir}: ${err.message}`);
      }
    }
    for (const dir of [...tempDirs]) {
      rmSync(dir, { recursive: true, force: true });
      tempDirs.delete(dir);
    }
    if (dbCreated) {
      try {
        await withPg((c) => c.query(`DROP DATABASE IF EXISTS "${dbName}" WITH (FORCE)`));
        dbCreated = false;
      } catch (err) {
        problems.push(`could not drop database ${dbName}: ${err.message}`);
      }
    }
    if (redisTouched) {
      try {
        await withRedis(async (client) => {
          for await (const batch of client.scanIterator({ MATCH: `${redisPrefix}*`, COUNT: 1000 })) {
            const keys = Array.isArray(batch) ? batch : [batch];
            if (keys.length > 0) await client.del(keys);
          }
        });
      } catch (err) {
        problems.push(`could not delete Redis keys ${redisPrefix}*: ${err.message}`);
      }
    }
    for (const p of problems) process.stderr.write(`bench cleanup: ${p}\n`);
  })();
  return cleaning;
}

// Last resort if the process goes down without cleanup having finished.
process.on('exit', () => {
  for (const c of children) c.child.kill('SIGKILL');
  for (const dir of clusterDirs) {
    try {
      execFileSync('bash', [CLUSTER_SCRIPT, 'stop', dir], { stdio: 'ignore', timeout: 15_000 });
    } catch {
      // nothing more to do on the way out
    }
  }
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
});
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    interrupted = true;
    process.stderr.write(`\nbench: ${signal}, cleaning up...\n`);
    cleanup().finally(() => process.exit(130));
  });
}

// ---------------------------------------------------------------------------------------------
// Private Redis servers (never the shared one)

function runClusterScript(args) {
  return new Promise((resolve, reject) => {
    execFile(
      'bash',
      [CLUSTER_SCRIPT, ...args],
      { env: { ...process.env, REDIS_SERVER: REDIS_SERVER_BIN, REDIS_CLI: REDIS_CLI_BIN }, timeout: 90_000 },
      (error, stdout, stderr) => {
        if (error) reject(new Error(`redis-cluster.sh ${args[0]} failed: ${stderr.trim() || error.message}`));
        else resolve(stdout);
      },
    );
  });
}

async function stopCluster(dir) {
  await runClusterScript(['stop', dir]);
  clusterDirs.delete(dir);
}

/** A 6-node cluster (3 masters, 3 replicas) on a block of free ports from BENCH_CLUSTER_PORT. */
async function startPrivateCluster() {
  for (const bin of [REDIS_SERVER_BIN, REDIS_CLI_BIN]) {
    if (!existsSync(bin)) throw new BenchError(`${bin} not found (set BENCH_REDIS_SERVER / BENCH_REDIS_CLI)`);
  }
  const first = count('BENCH_CLUSTER_PORT', 7501);
  const attempts = 4;
  for (let attempt = 0; ; attempt++) {
    const base = first + attempt * 100;
    const dir = mkdtempSync(path.join(os.tmpdir(), 'latch-bench-cluster-'));
    clusterDirs.add(dir);
    try {
      await runClusterScript(['start', String(base), dir]);
      const ports = Array.from({ length: 6 }, (_, i) => base + i);
      return { dir, ports, url: `redis+cluster://${ports.map((p) => `127.0.0.1:${p}`).join(',')}` };
    } catch (err) {
      await stopCluster(dir).catch(() => rmSync(dir, { recursive: true, force: true }));
      clusterDirs.delete(dir);
      if (!/already in use/.test(err.message) || attempt + 1 >= attempts) throw new BenchError(err.message);
    }
  }
}

/** A standalone redis-server on a free port, nothing persisted; with an admin client to it. */
async function startPrivateRedis() {
  if (!existsSync(REDIS_SERVER_BIN)) throw new BenchError(`${REDIS_SERVER_BIN} not found (set BENCH_REDIS_SERVER)`);
  const port = await freePort();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'latch-bench-redis-'));
  tempDirs.add(dir);
  const state = startChild(
    `private redis-server :${port}`,
    ['--port', String(port), '--bind', '127.0.0.1', '--protected-mode', 'yes', '--save', '', '--appendonly', 'no', '--dir', dir],
    {},
    REDIS_SERVER_BIN,
  );
  const url = `redis://127.0.0.1:${port}`;
  const deadline = Date.now() + STARTUP_TIMEOUT_MS;
  for (;;) {
    if (state.exited) throw new BenchError(`${state.name} exited during startup (code ${state.exitCode})${childReport(state)}`);
    const admin = createClient({ url, socket: { connectTimeout: 1_000, reconnectStrategy: false } });
    admin.on('error', () => {});
    try {
      await admin.connect();
      await admin.ping();
      return {
        url,
        port,
        admin,
        async stop() {
          admin.destroy();
          await stopChild(state);
          rmSync(dir, { recursive: true, force: true });
          tempDirs.delete(dir);
        },
      };
    } catch (err) {
      admin.destroy();
      if (Date.now() > deadline) throw new BenchError(`${state.name} did not answer PING: ${err.message}${childReport(state)}`);
      await sleep(100);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Load

const benchEmail = (tag, i) => `bench-${runId}-${tag}${i}@example.com`;

/** Registration answers 429 (per-IP registration limits), over every registerUsers call. */
const registerThrottling = { refused: 0, waitedMs: 0 };
const REGISTER_THROTTLE_BUDGET_MS = 180_000;

async function registerUsers(baseUrl, n, tag) {
  const cookies = [];
  const register = async (i) => {
    let res;
    let body;
    for (;;) {
      res = await fetch(`${baseUrl}/api/auth/register`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ email: benchEmail(tag, i), password: PASSWORD, name: `Bench User ${i}` }),
        signal: AbortSignal.timeout(15_000),
      });
      body = await res.text();
      if (res.status !== 429) break;
      // A per-IP registration limit: wait as told (or a second), within an overall budget.
      registerThrottling.refused++;
      const retryAfter = Number(res.headers.get('retry-after'));
      const waitMs = Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter * 1000 : 1_000;
      if (registerThrottling.waitedMs + waitMs > REGISTER_THROTTLE_BUDGET_MS) {
        throw new BenchError(
          `register user ${i}: HTTP 429 (registration limit; Retry-After ${res.headers.get('retry-after') ?? 'absent'}) after ` +
            `${registerThrottling.refused} refusals and ${(registerThrottling.waitedMs / 1000).toFixed(0)}s of waiting ` +
            `(budget ${REGISTER_THROTTLE_BUDGET_MS / 1000}s): ${body.slice(0, 300)}`,
        );
      }
      registerThrottling.waitedMs += waitMs;
      await sleep(waitMs);
    }
    if (res.status !== 201) throw new BenchError(`register user ${i}: HTTP ${res.status} ${body.slice(0, 300)}`);
    const sid = res.headers
      .getSetCookie()
      .map((line) => /^sid=([^;]+)/.exec(line)?.[1])
      .find(Boolean);
    if (!sid) throw new BenchError(`register user ${i}: no sid cookie in ${JSON.stringify(res.headers.getSetCookie())}`);
    return `sid=${sid}`;
  };
  // Argon2 hashing is CPU-bound: a small pool keeps both cores busy without piling up.
  let next = 0;
  const worker = async () => {
    while (next < n) {
      const i = next++;
      cookies[i] = await register(i);
    }
  };
  await Promise.all(Array.from({ length: 2 }, worker));
  return cookies;
}

async function checkCookies(baseUrl, cookies) {
  for (const cookie of cookies) {
    const res = await fetch(`${baseUrl}/api/auth/me`, { headers: { cookie }, signal: AbortSignal.timeout(5_000) });
    const body = await res.text();
    if (res.status !== 200) throw new BenchError(`GET /api/auth/me with a fresh cookie: HTTP ${res.status} ${body.slice(0, 300)}`);
  }
}

function cannon(url, cookies, connections, duration) {
  return new Promise((resolve, reject) => {
    autocannon(
      {
        url,
        connections,
        duration,
        timeout: 10,
        // One prebuilt request per cookie; every connection cycles through them.
        requests: cookies.map((cookie) => ({ method: 'GET', path: '/api/auth/me', headers: { cookie } })),
      },
      (err, result) => (err ? reject(err) : resolve(result)),
    );
  });
}

async function measure(label, server, baseUrl, cookies, opts) {
  process.stdout.write(`  ${label}: warm-up ${opts.warmup}s...`);
  const warm = await cannon(baseUrl, cookies, opts.connections, opts.warmup);
  if (warm.errors > 0 || warm.non2xx > 0 || warm.timeouts > 0) {
    process.stdout.write('\n');
    throw new BenchError(`${label} warm-up: ${warm.errors} errors, ${warm.timeouts} timeouts, ${warm.non2xx} non-2xx`);
  }
  process.stdout.write(` measuring ${opts.duration}s...`);
  const cpuBefore = cpuMsOf(server.child.pid);
  const r = await cannon(baseUrl, cookies, opts.connections, opts.duration);
  const cpuAfter = cpuMsOf(server.child.pid);
  process.stdout.write(` done\n`);
  const cpuMs = cpuBefore === undefined || cpuAfter === undefined ? undefined : cpuAfter - cpuBefore;
  return {
    label,
    rps: r.requests.average,
    p50: r.latency.p50,
    p99: r.latency.p99,
    total: r.requests.total,
    non2xx: r.non2xx,
    errors: r.errors,
    timeouts: r.timeouts,
    // Server-side cost, independent of how much CPU the load generator took from it.
    cpuUsPerReq: cpuMs === undefined || r.requests.total === 0 ? undefined : (cpuMs * 1000) / r.requests.total,
    cpuCores: cpuMs === undefined ? undefined : cpuMs / (r.duration * 1000),
  };
}

// ---------------------------------------------------------------------------------------------

function table(rows, columns) {
  const cells = rows.map((row) => columns.map((c) => String(c.get(row))));
  const widths = columns.map((c, i) => Math.max(c.title.length, ...cells.map((r) => r[i].length)));
  const line = (values) => values.map((v, i) => (i === 0 ? v.padEnd(widths[i]) : v.padStart(widths[i]))).join('  ');
  return [line(columns.map((c) => c.title)), widths.map((w) => '-'.repeat(w)).join('  '), ...cells.map(line)].join('\n');
}

function selectedPhases() {
  const raw = process.env.BENCH_PHASES;
  if (raw === undefined || raw.trim() === '') return new Set(PHASES);
  const picked = raw.split(',').map((p) => p.trim().toLowerCase()).filter(Boolean);
  const unknown = picked.filter((p) => !PHASES.includes(p));
  if (unknown.length > 0 || picked.length === 0) {
    throw new BenchError(`BENCH_PHASES: unknown phase(s) ${unknown.join(', ')}; choose from ${PHASES.join(',')}`);
  }
  return new Set(picked);
}

/** Latch (`node dist/main.js`) on the bench database and `latchRedisUrl`, ready. */
async function startLatch(label, latchRedisUrl, extraEnv = {}) {
  const port = await freePort();
  const baseUrl = `http://127.0.0.1:${port}`;
  const nodeArgs = (process.env.BENCH_NODE_ARGS ?? '').split(/\s+/).filter(Boolean);
  const latch = startChild(`${label} (node dist/main.js)`, [...nodeArgs, 'dist/main.js'], {
    ...latchBaseEnv(latchRedisUrl),
    PORT: String(port),
    ...extraEnv,
  });
  console.log(`Starting ${label} on ${baseUrl} ...`);
  await waitReady(latch, `${baseUrl}/readyz`);
  return { latch, baseUrl };
}

function latchBaseEnv(latchRedisUrl) {
  return {
    DATABASE_URL: databaseUrlFor(dbName),
    REDIS_URL: latchRedisUrl,
    REDIS_KEY_PREFIX: redisPrefix,
    HOST: '127.0.0.1',
    LOG_LEVEL: 'warn',
    NODE_ENV: 'development',
  };
}

/** Starts Latch on `latchRedisUrl`, registers users, measures /me, stops it. */
async function measureLatch(label, latchRedisUrl, tag, opts, extraEnv) {
  const { latch, baseUrl } = await startLatch(label, latchRedisUrl, extraEnv);
  const t0 = Date.now();
  const cookies = await registerUsers(baseUrl, opts.users, tag);
  await checkCookies(baseUrl, cookies);
  console.log(`  registered ${cookies.length} users in ${((Date.now() - t0) / 1000).toFixed(1)}s; each cookie answers 200 on /me`);
  const result = await measure(label, latch, baseUrl, cookies, opts);
  if (latch.exited) throw new BenchError(`${label} exited during the run${childReport(latch)}`);
  await stopChild(latch);
  if (latch.output.trim()) console.log(`  note: ${label} printed output (LOG_LEVEL=warn):${childReport(latch)}`);
  return { result, cookies };
}

// ---------------------------------------------------------------------------------------------
// storm: logins (argon2id verifies) next to /me

/** Throttle limits the storm must not measure (LOGIN_* / REGISTER_* counts), and the rest. */
const THROTTLE_ENV = /^(LOGIN|REGISTER|REGISTRATION|SIGNUP|SIGN_UP)_[A-Z0-9_]*(MAX|LIMIT|FAILURES|ATTEMPTS|BURST|POINTS|REQUESTS)[A-Z0-9_]*$/;
const HASH_ENV = /^(HASH|HASHING|HASHER|ARGON2)_[A-Z0-9_]*(CONCURRENCY|QUEUE)[A-Z0-9_]*$/;
const OTHER_LIMIT_ENV = /^(LOGIN|REGISTER|REGISTRATION|SIGNUP|SIGN_UP)_|THROTTL|RATE_LIMIT|LOCKOUT/;

async function loadConfigModule() {
  try {
    return await import(pathToFileURL(path.join(root, 'dist/config.js')).href);
  } catch {
    return undefined;
  }
}

/**
 * Env raising each throttling limit that src/config.ts declares (as read when the bench runs),
 * to the largest value the built config accepts: every Latch the bench starts gets it, so that
 * registering the bench users and the login storm are not refused. Hashing bounds stay as they are.
 */
async function throttleLimitEnv(configModule) {
  const source = readFileSync(path.join(root, 'src/config.ts'), 'utf8');
  const block = /const ENV_NAMES[^=]*=\s*\{([\s\S]*?)\};/.exec(source)?.[1] ?? source;
  const names = new Map(); // env name -> config key
  for (const m of block.matchAll(/\b(\w+)\s*:\s*['"]([A-Z][A-Z0-9_]*)['"]/g)) names.set(m[2], m[1]);
  const base = latchBaseEnv(redisUrl);
  const valid = (env) => {
    if (!configModule) return true;
    try {
      configModule.resolveConfig(configModule.configFromEnv(env));
      return true;
    } catch {
      return false;
    }
  };
  const env = {};
  const notes = [];
  const hashing = [];
  const unchanged = [];
  for (const [name, key] of names) {
    if (HASH_ENV.test(name)) {
      hashing.push(key);
      continue;
    }
    if (!THROTTLE_ENV.test(name)) {
      if (OTHER_LIMIT_ENV.test(name)) unchanged.push(name);
      continue;
    }
    const bounds = new RegExp(`\\b${key}\\s*:\\s*integer\\(\\s*([\\d_]+)\\s*,\\s*([\\d_]+)\\s*\\)`).exec(source);
    const declaredMax = bounds ? Number(bounds[2].replaceAll('_', '')) : undefined;
    const candidates = [declaredMax, 1_000_000_000, 1_000_000, 100_000, 10_000, 1_000].filter((v) => v !== undefined);
    const value = candidates.find((v) => valid({ ...base, ...env, [name]: String(v) }));
    if (value === undefined) notes.push(`${name}: no large value accepted by the config, left at its default`);
    else env[name] = String(value);
  }
  if (unchanged.length > 0) notes.push(`left at their defaults: ${unchanged.join(', ')}`);
  let hashingNote;
  if (hashing.length > 0) {
    let resolved = {};
    try {
      resolved = configModule?.resolveConfig(configModule.configFromEnv({ ...base, ...env })) ?? {};
    } catch {
      // shown without values
    }
    const shown = hashing.map((key) => {
      const name = [...names].find(([, k]) => k === key)[0];
      return resolved[key] === undefined ? name : `${name}=${resolved[key]}`;
    });
    hashingNote = `hashing bound left at Latch's defaults (part of what is measured): ${shown.join(' ')}`;
  }
  if (!valid({ ...base, ...env })) throw new BenchError(`the throttling env is refused by dist/config.js: ${JSON.stringify(env)}`);
  return { env, notes, hashingNote, valid, checked: configModule !== undefined };
}

const envText = (env) => Object.entries(env).map(([k, v]) => `${k}=${v}`).join(' ');

function loginCannon(url, bodies, connections, duration) {
  let next = 0;
  return new Promise((resolve, reject) => {
    autocannon(
      {
        url,
        connections,
        duration,
        timeout: 10,
        // One account after the other across all connections (a shared counter).
        requests: [
          {
            method: 'POST',
            path: '/api/auth/login',
            headers: { 'content-type': 'application/json' },
            setupRequest: (req) => ({ ...req, body: bodies[next++ % bodies.length] }),
          },
        ],
      },
      (err, result) => (err ? reject(err) : resolve(result)),
    );
  });
}

/** A finished autocannon run as one table row; `ok` counts 200s only for logins. */
function loadRow(label, r, { connections, login }) {
  const codes = Object.fromEntries(Object.entries(r.statusCodeStats ?? {}).map(([code, v]) => [code, v.count]));
  const ok = login ? (codes['200'] ?? 0) : r['2xx'];
  const s429 = codes['429'] ?? 0;
  const s503 = codes['503'] ?? 0;
  const other = Object.entries(codes)
    .filter(([code]) => (login ? code !== '200' : !code.startsWith('2')) && code !== '429' && code !== '503')
    .reduce((sum, [, n]) => sum + n, 0);
  return {
    label,
    connections,
    login,
    rps: ok / r.duration,
    p50: r.latency.p50,
    p99: r.latency.p99,
    total: r.requests.total,
    duration: r.duration,
    ok,
    s429,
    s503,
    other,
    codes,
    errors: r.errors,
    timeouts: r.timeouts,
  };
}

/** CPU time (ms) the whole machine has been busy, from /proc/stat (Linux); undefined elsewhere. */
function machineBusyMs() {
  try {
    const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1, 8).map(Number);
    const [user, nice, system, , , irq, softirq] = fields;
    return ((user + nice + system + irq + softirq) * 1000) / CLOCK_TICKS;
  } catch {
    return undefined;
  }
}
const benchCpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

/**
 * warm-up, then the measured runs (all at once), with CPU over the measured part: the server's,
 * this process's (the load generator), and everything else on the machine (other work competing).
 */
async function stormRun(label, server, runs, opts) {
  process.stdout.write(`  ${label}: warm-up ${opts.warmup}s...`);
  const warm = await Promise.all(runs.map((run) => run.start(opts.warmup)));
  warm.forEach((w, i) => {
    const bad = w.errors + w.timeouts + (runs[i].login ? 0 : w.non2xx);
    if (bad > 0) {
      process.stdout.write('\n');
      throw new BenchError(`${label} warm-up (${runs[i].what}): ${w.errors} errors, ${w.timeouts} timeouts, ${w.non2xx} non-2xx`);
    }
  });
  process.stdout.write(` measuring ${opts.duration}s...`);
  const cpuBefore = cpuMsOf(server.child.pid);
  const benchBefore = benchCpuMs();
  const machineBefore = machineBusyMs();
  const t0 = performance.now();
  const results = await Promise.all(runs.map((run) => run.start(opts.duration)));
  const wallMs = performance.now() - t0;
  const cpuAfter = cpuMsOf(server.child.pid);
  const benchAfter = benchCpuMs();
  const machineAfter = machineBusyMs();
  process.stdout.write(' done\n');
  const cpuMs = cpuBefore === undefined || cpuAfter === undefined ? undefined : cpuAfter - cpuBefore;
  // CPU figures cover the whole measured interval, and are the same on every row of it.
  const serverCores = cpuMs === undefined ? undefined : cpuMs / wallMs;
  const benchCores = (benchAfter - benchBefore) / wallMs;
  const otherCores =
    cpuMs === undefined || machineBefore === undefined || machineAfter === undefined
      ? undefined
      : Math.max(0, (machineAfter - machineBefore - cpuMs - (benchAfter - benchBefore)) / wallMs);
  return results.map((r, i) => ({ ...loadRow(runs[i].what, r, runs[i]), serverCores, benchCores, otherCores }));
}

/** argon2id verify in this process with Latch's parameters: the floor under one login. */
async function argon2Reference(params, rounds = 20) {
  try {
    const argon2 = require('argon2');
    const hash = await argon2.hash(PASSWORD, { type: argon2.argon2id, ...params });
    for (let i = 0; i < 3; i++) await argon2.verify(hash, PASSWORD);
    const t0 = performance.now();
    for (let i = 0; i < rounds; i++) await argon2.verify(hash, PASSWORD);
    return (performance.now() - t0) / rounds;
  } catch {
    return undefined;
  }
}

async function stormPhase(opts, failures, throttle, configModule) {
  const cores = os.availableParallelism?.() ?? os.cpus().length;
  const stormUsers = count('BENCH_STORM_USERS', 200);
  const stormConnections = count('BENCH_STORM_CONNECTIONS', 8);
  const env = { ...throttle.env };
  for (const pair of (process.env.BENCH_STORM_ENV ?? '').split(/\s+/).filter(Boolean)) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new BenchError(`BENCH_STORM_ENV: "${pair}" is not NAME=value`);
    env[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  if (!throttle.valid({ ...latchBaseEnv(redisUrl), ...env })) {
    throw new BenchError(`the storm's Latch env is refused by dist/config.js: ${envText(env)}`);
  }
  let argonParams;
  try {
    const c = configModule?.resolveConfig(configModule.configFromEnv({ ...process.env, ...latchBaseEnv(redisUrl), ...env }));
    if (c) argonParams = { memoryCost: c.argon2MemoryCost, timeCost: c.argon2TimeCost, parallelism: c.argon2Parallelism };
  } catch {
    // no reference measurement then
  }

  console.log(
    `Storm: logins (correct passwords, ${stormUsers} accounts in turn) next to GET /api/auth/me ` +
      `(${opts.connections} connections, ${opts.users} cookies); PostgreSQL + shared Redis; ${cores} cores; ` +
      `load average ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`,
  );
  console.log(`  env for this Latch: ${envText(env) || '(none)'}`);
  if (throttle.hashingNote) console.log(`  note: ${throttle.hashingNote}`);

  const { latch, baseUrl } = await startLatch('latch for the storm', redisUrl, env);
  const t0 = Date.now();
  const refusedBefore = registerThrottling.refused;
  const meCookies = await registerUsers(baseUrl, opts.users, 'wm');
  await registerUsers(baseUrl, stormUsers, 'ws');
  await checkCookies(baseUrl, meCookies);
  const refused = registerThrottling.refused - refusedBefore;
  console.log(
    `  registered ${opts.users} + ${stormUsers} users in ${((Date.now() - t0) / 1000).toFixed(1)}s` +
      (refused > 0 ? `; registration answered 429 ${refused} times (waited ${(registerThrottling.waitedMs / 1000).toFixed(0)}s in all)` : '; no registration refused'),
  );
  const bodies = Array.from({ length: stormUsers }, (_, i) => JSON.stringify({ email: benchEmail('ws', i), password: PASSWORD }));
  const probe = await fetch(`${baseUrl}/api/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: bodies[0],
    signal: AbortSignal.timeout(15_000),
  });
  const probeBody = await probe.text();
  if (probe.status !== 200) throw new BenchError(`POST /api/auth/login with a correct password: HTTP ${probe.status} ${probeBody.slice(0, 300)}`);

  const logins = (connections) => ({ what: `logins (${connections} conn)`, login: true, connections, start: (d) => loginCannon(baseUrl, bodies, connections, d) });
  const me = { what: 'GET /me', login: false, connections: opts.connections, start: (d) => cannon(baseUrl, meCookies, opts.connections, d) };

  const [single] = await stormRun('one login at a time (1 connection)', latch, [logins(1)], opts);
  const [alone] = await stormRun(`logins alone (${stormConnections} connections)`, latch, [logins(stormConnections)], opts);
  const [meAlone] = await stormRun(`/me alone (${opts.connections} connections)`, latch, [me], opts);
  const [meStorm, loginStorm] = await stormRun('/me during the storm (both at once)', latch, [me, logins(stormConnections)], opts);
  if (latch.exited) throw new BenchError(`the storm's Latch exited during the run${childReport(latch)}`);
  await stopChild(latch);
  if (latch.output.trim()) console.log(`  note: the storm's Latch printed output (LOG_LEVEL=warn):${childReport(latch)}`);
  const argonMs = argonParams ? await argon2Reference(argonParams) : undefined;

  single.label = 'one login at a time';
  alone.label = 'logins alone';
  meAlone.label = '/me alone';
  meStorm.label = '/me during storm';
  loginStorm.label = 'logins during storm';
  const fmt = (n, d = 2) => Number(n).toFixed(d);
  const rows = [single, alone, meAlone, meStorm, loginStorm];
  console.log('');
  console.log(
    table(rows, [
      { title: 'measurement', get: (r) => r.label },
      { title: 'conns', get: (r) => r.connections },
      { title: 'ok/s', get: (r) => fmt(r.rps, r.login ? 1 : 0) },
      { title: 'p50 ms', get: (r) => fmt(r.p50) },
      { title: 'p99 ms', get: (r) => fmt(r.p99) },
      { title: 'ok (200/2xx)', get: (r) => r.ok },
      { title: '429', get: (r) => r.s429 },
      { title: '503', get: (r) => r.s503 },
      { title: 'other', get: (r) => r.other },
      { title: 'errors', get: (r) => r.errors },
      { title: 'timeouts', get: (r) => r.timeouts },
      { title: 'cores: latch', get: (r) => (r.serverCores === undefined ? 'n/a' : fmt(r.serverCores)) },
      { title: 'bench', get: (r) => fmt(r.benchCores) },
      { title: 'rest of machine', get: (r) => (r.otherCores === undefined ? 'n/a' : fmt(r.otherCores)) },
    ]),
  );
  console.log('');

  // One login, sequential: all requests over the measured time (200s only if all were 200).
  const singleMs = (single.duration * 1000) / single.total;
  const target = (STORM_LOGIN_TARGET * cores) / (singleMs / 1000);
  const argonText = argonMs === undefined ? '' :
    `   (argon2id verify alone, in-process: ${fmt(argonMs)} ms at m=${argonParams.memoryCost} t=${argonParams.timeCost} p=${argonParams.parallelism})`;
  console.log(`single-hash time (one login, 1 connection, sequential) = ${fmt(singleMs)} ms${argonText}`);
  if (single.ok !== single.total) console.log(`  note: ${single.total - single.ok} of those ${single.total} logins did not answer 200`);
  console.log(`cores = ${cores}`);
  console.log(
    `logins/s alone = ${fmt(alone.rps, 1)}   target >= ${STORM_LOGIN_TARGET} x ${cores} / ${fmt(singleMs / 1000, 4)} s = ${fmt(target, 1)}   ` +
      `${alone.rps >= target ? 'MET' : 'NOT MET'}`,
  );
  const ratio = meStorm.rps / meAlone.rps;
  console.log(
    `/me alone ${fmt(meAlone.rps, 0)} req/s (p99 ${fmt(meAlone.p99)} ms); during the storm ${fmt(meStorm.rps, 0)} req/s ` +
      `(p99 ${fmt(meStorm.p99)} ms) with ${fmt(loginStorm.rps, 1)} logins/s`,
  );
  console.log(`/me during storm / alone = ${fmt(ratio)}x   target >= ${STORM_ME_TARGET}x   ${ratio >= STORM_ME_TARGET ? 'MET' : 'NOT MET'}`);
  const breakdown = (r) => `200=${r.ok} 429=${r.s429} 503=${r.s503} other=${r.other}` +
    (r.other > 0 ? ` (${Object.entries(r.codes).filter(([c]) => !['200', '429', '503'].includes(c)).map(([c, n]) => `${c}:${n}`).join(' ')})` : '') +
    ` errors=${r.errors} timeouts=${r.timeouts}`;
  const busiest = Math.max(...rows.map((r) => r.otherCores ?? 0));
  if (busiest >= 0.25) {
    console.log(
      `note: the rest of the machine (other processes, kernel network work) used up to ${fmt(busiest)} of the ${cores} cores during these measurements ` +
        `(load average now ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}): the figures above are held down by that contention`,
    );
  }
  console.log(`login status codes: one at a time ${breakdown(single)}; alone ${breakdown(alone)}; during storm ${breakdown(loginStorm)}`);

  const failed = rows.filter((r) => r.other > 0 || r.errors > 0 || r.timeouts > 0 || (!r.login && (r.s429 > 0 || r.s503 > 0)));
  if (failed.length > 0) {
    failures.push(`storm requests failed: ${failed.map((r) => `${r.label} (${breakdown(r)})`).join('; ')}`);
  }
  console.log('');
}

async function ensureDatabase() {
  if (dbCreated) return;
  try {
    await withPg((c) => c.query(`CREATE DATABASE "${dbName}"`));
  } catch (err) {
    throw new BenchError(`cannot create database ${dbName} via ${adminPgUrl}: ${err.message}`);
  }
  dbCreated = true;
}

async function main() {
  const phases = selectedPhases();
  const opts = {
    duration: seconds('BENCH_DURATION', 10),
    warmup: seconds('BENCH_WARMUP', 3),
    connections: count('BENCH_CONNECTIONS', 50),
    users: count('BENCH_USERS', 50),
  };
  const scaleSessions = count('BENCH_SCALE_SESSIONS', 1_000_000);
  const scaleRuns = count('BENCH_SCALE_RUNS', 11);
  adminPgUrl = process.env.BENCH_PG_URL || 'postgres://postgres@127.0.0.1:5432/test';
  redisUrl = process.env.BENCH_REDIS_URL || 'redis://127.0.0.1:6379';
  const httpPhases = phases.has('me') || phases.has('cluster');
  const loadPhases = httpPhases || phases.has('storm');
  const failures = [];

  const cpus = os.cpus();
  console.log(`Latch benchmark — phases: ${PHASES.filter((p) => phases.has(p)).join(', ')}`);
  console.log(`  date        ${new Date().toISOString()}`);
  console.log(`  node        ${process.version} (${process.platform}/${process.arch})`);
  console.log(`  cores       ${os.availableParallelism?.() ?? cpus.length} (${cpus[0]?.model?.trim() ?? 'unknown'})`);
  if (loadPhases) {
    console.log(`  autocannon  ${require('autocannon/package.json').version}, ${opts.connections} connections, ` +
      `${opts.warmup}s warm-up + ${opts.duration}s per target, ${opts.users} session cookies (load generator on the same machine)`);
    console.log(`  database    ${dbName}   redis prefix ${redisPrefix}`);
  }
  // Throttling limits Latch declares, raised for every Latch started here (login/registration).
  const configModule = loadPhases ? await loadConfigModule() : undefined;
  const throttle = loadPhases ? await throttleLimitEnv(configModule) : { env: {}, notes: [] };
  if (loadPhases) {
    console.log(`  throttling  ${envText(throttle.env) || '(src/config.ts declares no login/registration limit)'}` +
      `${throttle.checked ? '' : ' (not validated: dist/config.js not importable)'}`);
    for (const note of throttle.notes) console.log(`              ${note}`);
  }
  console.log('');

  // ---- GET /api/auth/me: standalone, cluster, bare -------------------------------------------
  if (httpPhases) {
    console.log('== GET /api/auth/me ==');
    await ensureDatabase();

    const rows = {};
    let cookies;
    if (phases.has('me')) {
      redisTouched = true;
      try {
        const record = {
          id: '0190c3a5-7b1e-7cc2-9a4e-1f2d3c4b5a69',
          email: 'bare-user@example.com',
          name: 'Bare User',
          emailVerified: false,
          createdAt: Date.now(),
          padding: 'x'.repeat(150),
        };
        await withRedis((c) => c.set(bareKey, JSON.stringify(record)));
      } catch (err) {
        throw new BenchError(`cannot write to Redis at ${redisUrl}: ${err.message}`);
      }
      const run = await measureLatch('latch on standalone redis', redisUrl, 's', opts, throttle.env);
      rows.standalone = run.result;
      cookies = run.cookies;
    }

    if (phases.has('cluster')) {
      console.log('Starting a private 6-node Redis Cluster (scripts/redis-cluster.sh) ...');
      const t0 = Date.now();
      const cluster = await startPrivateCluster();
      console.log(`  cluster up in ${((Date.now() - t0) / 1000).toFixed(1)}s on ports ${cluster.ports[0]}-${cluster.ports.at(-1)}`);
      try {
        const run = await measureLatch('latch on redis cluster', cluster.url, 'c', opts, throttle.env);
        rows.cluster = run.result;
        cookies ??= run.cookies;
      } finally {
        await stopCluster(cluster.dir);
      }
    }

    if (phases.has('me')) {
      // Bare app, same cookies (ignored) so the requests are byte-for-byte the same.
      const barePort = await freePort();
      const bareUrl = `http://127.0.0.1:${barePort}`;
      const bare = startChild('bare app (bench/bare-app.mjs)', ['bench/bare-app.mjs'], {
        PORT: String(barePort),
        REDIS_URL: redisUrl,
        BARE_KEY: bareKey,
        NODE_ENV: 'development',
      });
      console.log(`Starting bare Express app on ${bareUrl} ...`);
      await waitReady(bare, `${bareUrl}/readyz`);
      rows.bare = await measure('bare express+redis', bare, bareUrl, cookies, opts);
      if (bare.exited) throw new BenchError(`bare app exited during the run${childReport(bare)}`);
      await stopChild(bare);
    }

    const results = [rows.standalone, rows.cluster, rows.bare].filter(Boolean);
    const fmt = (n, d = 2) => Number(n).toFixed(d);
    console.log('');
    console.log(
      table(results, [
        { title: 'target', get: (r) => r.label },
        { title: 'req/s (avg)', get: (r) => fmt(r.rps, 0) },
        { title: 'p50 ms', get: (r) => fmt(r.p50) },
        { title: 'p99 ms', get: (r) => fmt(r.p99) },
        { title: 'requests', get: (r) => r.total },
        { title: 'non-2xx', get: (r) => r.non2xx },
        { title: 'errors', get: (r) => r.errors },
        { title: 'timeouts', get: (r) => r.timeouts },
        { title: 'server CPU us/req', get: (r) => (r.cpuUsPerReq === undefined ? 'n/a' : fmt(r.cpuUsPerReq, 0)) },
        { title: 'server cores busy', get: (r) => (r.cpuCores === undefined ? 'n/a' : fmt(r.cpuCores)) },
      ]),
    );
    console.log('');
    if (rows.standalone && rows.bare) {
      const ratio = rows.standalone.rps / rows.bare.rps;
      console.log(`latch (standalone) / bare = ${fmt(ratio)}x req/s   target >= ${TARGET_RATIO}x   ${ratio >= TARGET_RATIO ? 'MET' : 'NOT MET'}`);
    }
    if (rows.cluster && rows.bare) {
      const vsStandalone = rows.standalone ? `; cluster / standalone = ${fmt(rows.cluster.rps / rows.standalone.rps)}x` : '';
      console.log(`latch (cluster) / bare = ${fmt(rows.cluster.rps / rows.bare.rps)}x req/s${vsStandalone} (6 redis-server nodes share the machine)`);
    }
    const withCpu = results.filter((r) => r.cpuUsPerReq !== undefined);
    if (withCpu.length > 1) {
      console.log(
        `server CPU per request: ${withCpu.map((r) => `${r.label} ${fmt(r.cpuUsPerReq, 0)} us`).join(', ')} ` +
          `(the load generator shares the ${os.availableParallelism?.() ?? os.cpus().length} cores)`,
      );
    }
    const failed = results.filter((r) => r.non2xx > 0 || r.errors > 0 || r.timeouts > 0);
    if (failed.length > 0) {
      failures.push(`requests failed: ${failed.map((r) => `${r.label} (${r.non2xx} non-2xx, ${r.errors} errors, ${r.timeouts} timeouts)`).join('; ')}`);
    }
    console.log('');
  }

  // ---- login storm next to /me ------------------------------------------------------------------
  if (phases.has('storm')) {
    console.log('== login storm ==');
    await ensureDatabase();
    redisTouched = true;
    await stormPhase(opts, failures, throttle, configModule);
  }

  // ---- RedisSessionStore on a private redis-server -------------------------------------------
  if (phases.has('memory') || phases.has('scale')) {
    const server = await startPrivateRedis();
    const fail = (message) => {
      throw new BenchError(message);
    };
    try {
      console.log(`(private redis-server ${(await server.admin.info('server')).match(/redis_version:(\S+)/)?.[1] ?? '?'} on port ${server.port}, no persistence)`);
      if (phases.has('memory')) {
        console.log('== memory per session ==');
        await server.admin.flushAll();
        await memoryPhase({ url: server.url, admin: server.admin, table, fail });
        console.log('');
      }
      if (phases.has('scale')) {
        console.log('== scale ==');
        await server.admin.flushAll();
        await scalePhase({ url: server.url, admin: server.admin, table, fail, sessions: scaleSessions, runs: scaleRuns });
        console.log('');
      }
    } finally {
      await server.stop();
    }
  }

  if (failures.length > 0) throw new BenchError(failures.join('\n'));
}

let exitCode = 0;
try {
  await main();
} catch (err) {
  exitCode = 1;
  // After SIGINT/SIGTERM, what fails next is the interruption itself: not worth a report.
  if (!interrupted) process.stderr.write(`\nbench failed: ${err instanceof BenchError ? err.message : err?.stack ?? String(err)}\n`);
} finally {
  await cleanup();
}
process.exit(interrupted ? 130 : exitCode);
