/**
 * Real PostgreSQL and Redis for the tests. Locally a missing service skips its suites with a
 * clear message; in CI (`CI=true`) a missing service fails the run.
 */
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import pg from 'pg';
import { createClient } from 'redis';
import { dumpClusterKeys, renderKey } from './redis-cluster.js';
import { inject } from 'vitest';

const env = process.env;
/** Where the tests find the services: TEST_* first, then the server's own variables (as CI sets them). */
export const POSTGRES_URL =
  env.TEST_POSTGRES_URL ?? (env.DATABASE_URL?.startsWith('postgres') ? env.DATABASE_URL : 'postgres://postgres@127.0.0.1:5432/test');
export const REDIS_URL = env.TEST_REDIS_URL ?? (env.REDIS_URL?.startsWith('redis://') ? env.REDIS_URL : 'redis://127.0.0.1:6379');
const inCI = process.env.CI === 'true';

function reachable(url: string): Promise<boolean> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = net.connect({ host: hostname, port: Number(port) }, () => {
      socket.destroy();
      resolve(true);
    });
    socket.setTimeout(1000, () => {
      socket.destroy();
      resolve(false);
    });
    socket.on('error', () => resolve(false));
  });
}

async function probeService(name: string, url: string): Promise<boolean> {
  if (await reachable(url)) return true;
  const message = `${name} is not reachable at ${url}`;
  if (inCI) throw new Error(`${message}: CI requires it`);
  console.warn(`\n  SKIPPED: ${message}; its suites are skipped locally (CI=true makes this an error)\n`);
  return false;
}

export const hasPostgres = await probeService('PostgreSQL', POSTGRES_URL);
export const hasRedis = await probeService('Redis', REDIS_URL);

/**
 * The Redis Cluster for the cluster suites: the one the global setup started for this run
 * (test/support/global-setup.ts), or one given by TEST_REDIS_CLUSTER_URL; '' when there is none
 * (the global setup has already said SKIPPED, or failed the run in CI).
 */
export const REDIS_CLUSTER_URL = env.TEST_REDIS_CLUSTER_URL ?? inject('redisClusterUrl') ?? '';
async function probeCluster(url: string): Promise<boolean> {
  if (!url) return false;
  const [first = ''] = url.slice('redis+cluster://'.length).split(',');
  return probeService('Redis Cluster', `redis://${first.trim()}`);
}
export const hasRedisCluster = await probeCluster(REDIS_CLUSTER_URL);

/** A fresh, empty PostgreSQL database for one test file; `drop` removes it. */
export async function createPostgresDatabase(): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `latch_test_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: POSTGRES_URL });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(POSTGRES_URL);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      const client = new pg.Client({ connectionString: POSTGRES_URL });
      await client.connect();
      await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await client.end();
    },
  };
}

/** A key prefix no other test uses; `cleanup` deletes every key under it. */
export function redisPrefix(): { prefix: string; cleanup(url?: string): Promise<void> } {
  const prefix = `latch-test:${randomBytes(6).toString('hex')}:`;
  return {
    prefix,
    async cleanup(url = REDIS_URL) {
      const client = createClient({ url });
      await client.connect();
      for await (const keys of client.scanIterator({ MATCH: `${prefix}*`, COUNT: 500 })) {
        if (keys.length > 0) await client.del(keys);
      }
      client.destroy();
    },
  };
}

/** Every key currently stored under a prefix, with its raw content, for "what leaks" tests. */
export async function dumpRedis(prefix: string, url = REDIS_URL): Promise<string> {
  if (url.startsWith('redis+cluster://')) return dumpClusterKeys(url, prefix);
  const client = createClient({ url });
  await client.connect();
  let dump = '';
  for await (const keys of client.scanIterator({ MATCH: `${prefix}*`, COUNT: 500 })) {
    for (const key of keys) dump += await renderKey(client as never, key);
  }
  client.destroy();
  return dump;
}
