// me (and cluster): GET /api/auth/me on Latch (shared standalone Redis, and/or a private Redis
// Cluster) against a bare Express app doing one Redis GET per request, as one table.
import os from 'node:os';
import { BenchError, TARGET_RATIO, bareKey, state } from '../lib/common.mjs';
import { childReport, freePort, startChild, stopChild, waitReady } from '../lib/process.mjs';
import { measure, table } from '../lib/load.mjs';
import { measureLatch } from '../lib/latch.mjs';
import { ensureDatabase, withRedis } from '../lib/services.mjs';
import { clusterPhase } from './cluster.mjs';

/** The `== GET /api/auth/me ==` section: the rows of the selected phases (me, cluster). */
export async function mePhase(phases, opts, throttle, failures) {
  console.log('== GET /api/auth/me ==');
  await ensureDatabase();

  const rows = {};
  let cookies;
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
    const run = await measureLatch('latch on standalone redis', state.redisUrl, 's', opts, throttle.env);
    rows.standalone = run.result;
    cookies = run.cookies;
  }

  if (phases.has('cluster')) {
    const run = await clusterPhase(opts, throttle);
    rows.cluster = run.result;
    cookies ??= run.cookies;
  }

  if (phases.has('me')) {
    // Bare app, same cookies (ignored) so the requests are byte-for-byte the same.
    const barePort = await freePort();
    const bareUrl = `http://127.0.0.1:${barePort}`;
    const bare = startChild('bare app (bench/bare-app.mjs)', ['bench/bare-app.mjs'], {
      PORT: String(barePort),
      REDIS_URL: state.redisUrl,
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
