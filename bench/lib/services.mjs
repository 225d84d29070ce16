// Services: a fresh database and a unique Redis key prefix on the shared servers, private Redis
// servers (cluster, standalone; never the shared one), and cleanup of all of it.
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { createClient } from 'redis';
import {
  BenchError,
  CLUSTER_SCRIPT,
  REDIS_CLI_BIN,
  REDIS_SERVER_BIN,
  STARTUP_TIMEOUT_MS,
  children,
  clusterDirs,
  count,
  dbName,
  redisPrefix,
  sleep,
  state,
  tempDirs,
} from './common.mjs';
import { childReport, freePort, startChild, stopChild } from './process.mjs';

export async function withPg(fn) {
  const client = new pg.Client({ connectionString: state.adminPgUrl, connectionTimeoutMillis: 5_000 });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

export async function withRedis(fn) {
  const client = createClient({ url: state.redisUrl, socket: { connectTimeout: 5_000, reconnectStrategy: false } });
  client.on('error', () => {}); // surfaced by the awaited command instead
  await client.connect();
  try {
    return await fn(client);
  } finally {
    client.destroy();
  }
}

export function databaseUrlFor(name) {
  const url = new URL(state.adminPgUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

export async function cleanup() {
  state.cleaning ??= (async () => {
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
    if (state.dbCreated) {
      try {
        await withPg((c) => c.query(`DROP DATABASE IF EXISTS "${dbName}" WITH (FORCE)`));
        state.dbCreated = false;
      } catch (err) {
        problems.push(`could not drop database ${dbName}: ${err.message}`);
      }
    }
    if (state.redisTouched) {
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
  return state.cleaning;
}

export async function ensureDatabase() {
  if (state.dbCreated) return;
  try {
    await withPg((c) => c.query(`CREATE DATABASE "${dbName}"`));
  } catch (err) {
    throw new BenchError(`cannot create database ${dbName} via ${state.adminPgUrl}: ${err.message}`);
  }
  state.dbCreated = true;
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

export async function stopCluster(dir) {
  await runClusterScript(['stop', dir]);
  clusterDirs.delete(dir);
}

/** A 6-node cluster (3 masters, 3 replicas) on a block of free ports from BENCH_CLUSTER_PORT. */
export async function startPrivateCluster() {
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
export async function startPrivateRedis() {
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
