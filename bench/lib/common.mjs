// Shared by every part of the benchmark: env parsing, constants, the run's identity (database
// name, Redis key prefix) and the mutable state that bench/run.mjs cleans up at the end.
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';

export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const require = createRequire(import.meta.url);

export const seconds = (name, fallback) => {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(String(raw).replace(/s$/, ''));
  if (!Number.isFinite(value) || value <= 0) throw new BenchError(`${name}: "${raw}" is not a number of seconds`);
  return value;
};
export const count = (name, fallback) => {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value <= 0) throw new BenchError(`${name}: "${raw}" is not a positive integer`);
  return value;
};

export class BenchError extends Error {}

export const TARGET_RATIO = 0.9;
export const STARTUP_TIMEOUT_MS = 30_000;
export const STOP_TIMEOUT_MS = 5_000;
export const PASSWORD = 'violet-harbor-lantern-42';

export const runId = randomBytes(4).toString('hex');
export const dbName = `latch_bench_${runId}`;
export const redisPrefix = `latch-bench:${runId}:`;
export const bareKey = `${redisPrefix}bare:user`;

export const PHASES = ['me', 'cluster', 'memory', 'scale', 'storm'];
export const REDIS_SERVER_BIN = process.env.BENCH_REDIS_SERVER || '/usr/bin/redis-server';
export const REDIS_CLI_BIN = process.env.BENCH_REDIS_CLI || '/usr/bin/redis-cli';
export const CLUSTER_SCRIPT = path.join(root, 'scripts/redis-cluster.sh');

/** Everything to undo, in reverse order, whatever happens. */
export const children = new Set();
/** Directories of private clusters started by scripts/redis-cluster.sh, still running. */
export const clusterDirs = new Set();
/** Data directories of private standalone redis-servers. */
export const tempDirs = new Set();
/** Set by bench/run.mjs (URLs, interruption) and by the phases (what to undo). */
export const state = {
  adminPgUrl: undefined,
  redisUrl: undefined,
  dbCreated: false,
  redisTouched: false,
  cleaning: undefined,
  interrupted: false,
};

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
