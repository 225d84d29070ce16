// me (and cluster): GET /api/auth/me on Latch (shared standalone Redis, and/or a private Redis
// Cluster) against a bare Express app doing one Redis GET per request, as one table.
import os from 'node:os';
import { BenchError, TARGET_RATIO, bareKey, state } from '../lib/common.mjs';
import { childReport, freePort, startChild, stopChild, waitReady } from '../lib/process.mjs';
import { combined, measured, table, warmUp } from '../lib/load.mjs';
import { startLatch, stopLatch } from '../lib/latch.mjs';
import { checkCookies, registerUsers } from '../lib/register.mjs';
import { ensureDatabase, withRedis } from '../lib/services.mjs';
import { clusterPhase } from './cluster.mjs';

/** The `== GET /api/auth/me ==` section: the rows of the selected phases (me, cluster). */
export async function mePhase(phases, opts, throttle, failures) {
  console.log('== GET /api/auth/me ==');
  await ensureDatabase();

  let rows = {};
  let ratios = [];
  if (phases.has('me')) {
    state.redisTouched = true;
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
      throw new BenchError(`cannot write to Redis at ${state.redisUrl}: ${err.message}`);
    }
    ({ rows, ratios } = await latchAgainstBare(opts, throttle));
  }

  if (phases.has('cluster')) {
    const run = await clusterPhase(opts, throttle);
    rows.cluster = run.result;
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
    const ratio = [...ratios].sort((a, b) => a - b)[Math.floor(ratios.length / 2)];
    console.log(
      `latch (standalone) / bare = ${fmt(ratio)}x req/s (median of ${ratios.length} rounds: ${ratios.map((r) => `${fmt(r)}x`).join(', ')})` +
        `   target >= ${TARGET_RATIO}x   ${ratio >= TARGET_RATIO ? 'MET' : 'NOT MET'}`,
    );
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

/**
 * Latch and the bare app measured in rounds. On a shared virtual machine the speed of the whole
 * machine drifts by tens of percent within a minute, and one process of a server can run a
 * third slower than the next one of the same code for its whole life (memory placement, JIT
 * decisions). So each round starts both afresh, warms both up, then measures them one after the
 * other (Latch first in odd rounds, the bare app first in even ones); each round's ratio compares
 * two runs side by side in time, and the verdict is their median. The users are registered
 * once: their sessions live in Redis, so the cookies outlast the Latch process that issued them.
 */
async function latchAgainstBare(opts, throttle) {
  const label = 'latch on standalone redis';
  const bareLabel = 'bare express+redis';
  const ours = [];
  const theirs = [];
  let cookies;
  for (let round = 0; round < opts.rounds; round++) {
    console.log(`  round ${round + 1} of ${opts.rounds}: both servers started afresh`);
    const { latch, baseUrl } = await startLatch(label, state.redisUrl, throttle.env);
    if (!cookies) {
      const t0 = Date.now();
      cookies = await registerUsers(baseUrl, opts.users, 's');
      console.log(`  registered ${cookies.length} users in ${((Date.now() - t0) / 1000).toFixed(1)}s`);
    }
    await checkCookies(baseUrl, cookies);
    const bare = await startBare();
    const targets = [
      { label, server: latch, url: baseUrl, runs: ours },
      { label: bareLabel, server: bare.child, url: bare.url, runs: theirs },
    ];
    for (const t of targets) await warmUp(t.label, t.url, cookies, opts);
    for (const t of round % 2 === 0 ? targets : [...targets].reverse()) {
      t.runs.push(await measured(t.label, t.server, t.url, cookies, opts));
      if (t.server.exited) throw new BenchError(`${t.label} exited during the run${childReport(t.server)}`);
    }
    await stopLatch(latch, label);
    await stopChild(bare.child);
  }
  return {
    rows: { standalone: combined(label, ours), bare: combined(bareLabel, theirs) },
    ratios: ours.map((run, i) => run.rps / theirs[i].rps),
  };
}

/** The bare app; it is sent Latch's cookies too (ignored), so the requests are byte-for-byte the same. */
async function startBare() {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const child = startChild('bare app (bench/bare-app.mjs)', ['bench/bare-app.mjs'], {
    PORT: String(port),
    REDIS_URL: state.redisUrl,
    BARE_KEY: bareKey,
    NODE_ENV: 'development',
  });
  console.log(`Starting bare Express app on ${url} ...`);
  await waitReady(child, `${url}/readyz`);
  return { child, url };
}
