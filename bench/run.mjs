// Latch benchmark, in phases (BENCH_PHASES picks them; default all):
//   me       GET /api/auth/me on the built Latch server (Redis session store on the shared
//            standalone Redis, PostgreSQL users) against a bare Express 5 app with helmet and
//            cors doing one Redis GET per request (the speed issue's baseline). Target: Latch reaches at least 0.9x the bare app's req/s.
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
//            login's seconds; /me during the storm >= 0.8 x /me alone. Login 429/503 answers
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
//   BENCH_STORM_ROUNDS rounds of /me alone and during the storm, in alternating order; the ratio is their median (default 5)
//   BENCH_STORM_ENV    extra env for the storm's Latch, e.g. "HASH_CONCURRENCY=1 HASH_QUEUE_LIMIT=64"
//   BENCH_SCALE_SESSIONS  sessions loaded by the scale phase     (default 1000000, 10 per user)
//   BENCH_SCALE_PAIRS  timed pairs (loaded, empty) per 10-session scale operation (default 201)
//   BENCH_CLUSTER_PORT first port tried for the private cluster (default 7501; +100 if taken)
//   BENCH_REDIS_SERVER / BENCH_REDIS_CLI   binaries for the private servers
//                      (default /usr/bin/redis-server, /usr/bin/redis-cli)
//   BENCH_DURATION     seconds per measurement              (default 10)
//   BENCH_ROUNDS       /me: rounds of Latch and the bare app, both started afresh each round, measured in
//                      alternating order; the ratio is the rounds' median (default 5)
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
//
// Layout: bench/lib/ (shared helpers: common state and env, child processes, services and
// private Redis servers, registration, autocannon and tables, the Latch under test) and
// bench/phases/ (me, cluster, storm); memory and scale live in bench/store-phases.mjs.
import { execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import os from 'node:os';
import { memoryPhase, scalePhase } from './store-phases.mjs';
import {
  BenchError,
  CLUSTER_SCRIPT,
  PHASES,
  children,
  clusterDirs,
  count,
  dbName,
  redisPrefix,
  require,
  seconds,
  state,
  tempDirs,
} from './lib/common.mjs';
import { table } from './lib/load.mjs';
import { envText, loadConfigModule, throttleLimitEnv } from './lib/latch.mjs';
import { cleanup, ensureDatabase, startPrivateRedis } from './lib/services.mjs';
import { mePhase } from './phases/me.mjs';
import { stormPhase } from './phases/storm.mjs';

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
    state.interrupted = true;
    process.stderr.write(`\nbench: ${signal}, cleaning up...\n`);
    cleanup().finally(() => process.exit(130));
  });
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

async function main() {
  const phases = selectedPhases();
  const opts = {
    duration: seconds('BENCH_DURATION', 10),
    rounds: count('BENCH_ROUNDS', 5),
    stormRounds: count('BENCH_STORM_ROUNDS', 5),
    warmup: seconds('BENCH_WARMUP', 3),
    connections: count('BENCH_CONNECTIONS', 50),
    users: count('BENCH_USERS', 50),
  };
  const scaleSessions = count('BENCH_SCALE_SESSIONS', 1_000_000);
  const scalePairs = count('BENCH_SCALE_PAIRS', 201);
  state.adminPgUrl = process.env.BENCH_PG_URL || 'postgres://postgres@127.0.0.1:5432/test';
  state.redisUrl = process.env.BENCH_REDIS_URL || 'redis://127.0.0.1:6379';
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
      `${opts.warmup}s warm-up + ${opts.duration}s per target (/me: ${opts.rounds} rounds, fresh processes, alternating), ${opts.users} session cookies (load generator on the same machine)`);
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
  if (httpPhases) await mePhase(phases, opts, throttle, failures);

  // ---- login storm next to /me ------------------------------------------------------------------
  if (phases.has('storm')) {
    console.log('== login storm ==');
    await ensureDatabase();
    state.redisTouched = true;
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
        const empty = await startPrivateRedis();
        try {
          await scalePhase({ url: server.url, admin: server.admin, emptyUrl: empty.url, emptyAdmin: empty.admin, table, fail, sessions: scaleSessions, pairs: scalePairs });
        } finally {
          await empty.stop();
        }
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
  if (!state.interrupted) process.stderr.write(`\nbench failed: ${err instanceof BenchError ? err.message : err?.stack ?? String(err)}\n`);
} finally {
  await cleanup();
}
process.exit(state.interrupted ? 130 : exitCode);
