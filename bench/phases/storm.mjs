// storm: a login storm (argon2id verifies) next to /me traffic, Latch on PostgreSQL + the shared
// Redis. See bench/run.mjs for what is measured and the targets.
import os from 'node:os';
import { BenchError, PASSWORD, count, require, state } from '../lib/common.mjs';
import { CLOCK_TICKS, benchCpuMs, childReport, cpuMsOf, machineBusyMs } from '../lib/process.mjs';
import { benchEmail, checkCookies, registerThrottling, registerUsers } from '../lib/register.mjs';
import { cannon, runAutocannon, table } from '../lib/load.mjs';
import { envText, latchBaseEnv, startLatch, stopLatch } from '../lib/latch.mjs';

const STORM_LOGIN_TARGET = 0.8; // x cores / one login's seconds
const STORM_ME_TARGET = 0.8; // /me during the storm / /me alone (the speed issue's goal)

/** `devices[i]`: account i's device cookie, sent with its logins (returning users), or none. */
function loginCannon(url, bodies, devices, connections, duration) {
  let next = 0;
  // One account after the other across all connections (a shared counter).
  return runAutocannon(url, connections, duration, [
    {
      method: 'POST',
      path: '/api/auth/login',
      headers: { 'content-type': 'application/json' },
      setupRequest: (req) => {
        const i = next++ % bodies.length;
        return { ...req, body: bodies[i], headers: devices[i] ? { ...req.headers, cookie: devices[i] } : req.headers };
      },
    },
  ]);
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
  const mainBefore = cpuMsOf(server.child.pid, server.child.pid);
  const benchBefore = benchCpuMs();
  const machineBefore = machineBusyMs();
  const t0 = performance.now();
  const results = await Promise.all(runs.map((run) => run.start(opts.duration)));
  const wallMs = performance.now() - t0;
  const cpuAfter = cpuMsOf(server.child.pid);
  const mainAfter = cpuMsOf(server.child.pid, server.child.pid);
  const benchAfter = benchCpuMs();
  const machineAfter = machineBusyMs();
  process.stdout.write(' done\n');
  const cpuMs = cpuBefore === undefined || cpuAfter === undefined ? undefined : cpuAfter - cpuBefore;
  // CPU figures cover the whole measured interval, and are the same on every row of it.
  const serverCores = cpuMs === undefined ? undefined : cpuMs / wallMs;
  const mainCores = mainBefore === undefined || mainAfter === undefined ? undefined : (mainAfter - mainBefore) / wallMs;
  const benchCores = (benchAfter - benchBefore) / wallMs;
  const otherCores =
    cpuMs === undefined || machineBefore === undefined || machineAfter === undefined
      ? undefined
      : Math.max(0, (machineAfter - machineBefore - cpuMs - (benchAfter - benchBefore)) / wallMs);
  return results.map((r, i) => ({ ...loadRow(runs[i].what, r, runs[i]), serverCores, mainCores, benchCores, otherCores }));
}

/** argon2id verify in this process (the binding Latch uses, at normal priority): the floor under one login. */
async function argon2Reference(params, rounds = 20) {
  try {
    const argon2 = require('@node-rs/argon2');
    const hash = argon2.hashSync(PASSWORD, { algorithm: 2, ...params });
    for (let i = 0; i < 3; i++) argon2.verifySync(hash, PASSWORD);
    const t0 = performance.now();
    for (let i = 0; i < rounds; i++) argon2.verifySync(hash, PASSWORD);
    return (performance.now() - t0) / rounds;
  } catch {
    return undefined;
  }
}

export async function stormPhase(opts, failures, throttle, configModule) {
  const cores = os.availableParallelism?.() ?? os.cpus().length;
  const stormUsers = count('BENCH_STORM_USERS', 200);
  const stormConnections = count('BENCH_STORM_CONNECTIONS', 8);
  // Returning users sign in from a browser they used before (no new-sign-in mail each time);
  // by default every login comes from a new browser and mails its owner.
  const returning = process.env.BENCH_STORM_DEVICES === '1';
  const env = { ...throttle.env };
  for (const pair of (process.env.BENCH_STORM_ENV ?? '').split(/\s+/).filter(Boolean)) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new BenchError(`BENCH_STORM_ENV: "${pair}" is not NAME=value`);
    env[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  if (!throttle.valid({ ...latchBaseEnv(state.redisUrl), ...env })) {
    throw new BenchError(`the storm's Latch env is refused by dist/config.js: ${envText(env)}`);
  }
  let argonParams;
  try {
    const c = configModule?.resolveConfig(configModule.configFromEnv({ ...process.env, ...latchBaseEnv(state.redisUrl), ...env }));
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
  console.log(`  logins: ${returning ? 'returning users, each with its browser\'s device cookie (BENCH_STORM_DEVICES=1)' : 'each from a new browser (no device cookie: a new-sign-in mail each; BENCH_STORM_DEVICES=1 for returning users)'}`);
  if (throttle.hashingNote) console.log(`  note: ${throttle.hashingNote}`);

  const { latch, baseUrl } = await startLatch('latch for the storm', state.redisUrl, env);
  const t0 = Date.now();
  const refusedBefore = registerThrottling.refused;
  const meCookies = await registerUsers(baseUrl, opts.users, 'wm');
  const stormCookies = await registerUsers(baseUrl, stormUsers, 'ws');
  const devices = returning ? stormCookies.devices : [];
  if (returning && devices.filter(Boolean).length !== stormUsers) throw new BenchError('BENCH_STORM_DEVICES=1: registration set no device cookie');
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

  const logins = (connections) => ({ what: `logins (${connections} conn)`, login: true, connections, start: (d) => loginCannon(baseUrl, bodies, devices, connections, d) });
  const me = { what: 'GET /me', login: false, connections: opts.connections, start: (d) => cannon(baseUrl, meCookies, opts.connections, d) };

  const [single] = await stormRun('one login at a time (1 connection)', latch, [logins(1)], opts);
  const [alone] = await stormRun(`logins alone (${stormConnections} connections)`, latch, [logins(stormConnections)], opts);
  // /me alone and during the storm are measured in rounds, in alternating order (the machine's
  // speed drifts between two runs a few seconds apart); the table shows the first round, the
  // verdict is the median of the rounds' ratios.
  const rounds = [];
  for (let round = 0; round < opts.stormRounds; round++) {
    const measureAlone = () => stormRun(`/me alone (${opts.connections} connections)`, latch, [me], opts);
    const measureStorm = () => stormRun('/me during the storm (both at once)', latch, [me, logins(stormConnections)], opts);
    if (opts.stormRounds > 1) console.log(`  round ${round + 1} of ${opts.stormRounds}`);
    let meAlone, meStorm, loginStorm;
    if (round % 2 === 0) {
      [meAlone] = await measureAlone();
      [meStorm, loginStorm] = await measureStorm();
    } else {
      [meStorm, loginStorm] = await measureStorm();
      [meAlone] = await measureAlone();
    }
    rounds.push({ meAlone, meStorm, loginStorm });
  }
  const [{ meAlone, meStorm, loginStorm }] = rounds;
  rounds.slice(1).forEach((r, i) => {
    r.meAlone.label = `/me alone (round ${i + 2})`;
    r.meStorm.label = `/me during storm (round ${i + 2})`;
    r.loginStorm.label = `logins during storm (round ${i + 2})`;
  });
  if (latch.exited) throw new BenchError(`the storm's Latch exited during the run${childReport(latch)}`);
  await stopLatch(latch, "the storm's Latch");
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
      // The thread that serves every request; hashing and V8's helpers run on the others.
      { title: 'its main thread', get: (r) => (r.mainCores === undefined ? 'n/a' : fmt(r.mainCores)) },
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
  const ratios = rounds.map((r) => r.meStorm.rps / r.meAlone.rps);
  rounds.forEach((r, i) =>
    console.log(
      `round ${i + 1}: /me alone ${fmt(r.meAlone.rps, 0)} req/s (p99 ${fmt(r.meAlone.p99)} ms); during the storm ${fmt(r.meStorm.rps, 0)} req/s ` +
        `(p99 ${fmt(r.meStorm.p99)} ms) = ${fmt(ratios[i])}x, with ${fmt(r.loginStorm.rps, 1)} logins/s (503: ${r.loginStorm.s503})`,
    ),
  );
  const ratio = [...ratios].sort((a, b) => a - b)[Math.floor(ratios.length / 2)];
  console.log(
    `/me during storm / alone = ${fmt(ratio)}x (median of ${ratios.length} rounds)   target >= ${STORM_ME_TARGET}x   ` +
      `${ratio >= STORM_ME_TARGET ? 'MET' : 'NOT MET'}`,
  );
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

  const failed = [...rows, ...rounds.slice(1).flatMap((r) => [r.meAlone, r.meStorm, r.loginStorm])].filter((r) => r.other > 0 || r.errors > 0 || r.timeouts > 0 || (!r.login && (r.s429 > 0 || r.s503 > 0)));
  if (failed.length > 0) {
    failures.push(`storm requests failed: ${failed.map((r) => `${r.label} (${breakdown(r)})`).join('; ')}`);
  }
  console.log('');
}
