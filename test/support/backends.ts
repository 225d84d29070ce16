/**
 * The deployments every HTTP suite runs against: the embedded default (SQLite, sessions in
 * SQL), PostgreSQL with sessions in SQL, PostgreSQL + Redis, and PostgreSQL + Redis Cluster (the
 * run's shared private cluster, see global-setup.ts).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe } from 'vitest';
import type { ConfigInput } from '../../src/config.js';
import type { LatchOptions } from '../../src/latch.js';
import { startServer, type TestServer } from './server.js';
import { deleteClusterKeys } from './redis-cluster.js';
import {
  createPostgresDatabase,
  hasPostgres,
  hasRedis,
  hasRedisCluster,
  redisPrefix,
  REDIS_CLUSTER_URL,
  REDIS_URL,
} from './services.js';

export interface Backend {
  name: string;
  available: boolean;
  /** Provisions isolated storage and returns the config for it, plus a cleanup. */
  provision(): Promise<{ config: ConfigInput; cleanup(): Promise<void> }>;
}

export const sqlite: Backend = {
  name: 'sqlite',
  available: true,
  async provision() {
    const dir = mkdtempSync(join(tmpdir(), 'latch-test-'));
    return {
      config: { databaseUrl: `sqlite:${join(dir, 'latch.db')}` },
      cleanup: async () => rmSync(dir, { recursive: true, force: true }),
    };
  },
};

export const postgres: Backend = {
  name: 'postgres',
  available: hasPostgres,
  async provision() {
    const database = await createPostgresDatabase();
    return { config: { databaseUrl: database.url }, cleanup: () => database.drop() };
  },
};

export const postgresRedis: Backend = {
  name: 'postgres+redis',
  available: hasPostgres && hasRedis,
  async provision() {
    const database = await createPostgresDatabase();
    const keys = redisPrefix();
    return {
      config: { databaseUrl: database.url, redisUrl: REDIS_URL, redisKeyPrefix: keys.prefix },
      cleanup: async () => {
        await keys.cleanup();
        await database.drop();
      },
    };
  },
};

export const postgresRedisCluster: Backend = {
  name: 'postgres+redis-cluster',
  available: hasPostgres && hasRedisCluster,
  async provision() {
    const database = await createPostgresDatabase();
    const { prefix } = redisPrefix();
    return {
      config: { databaseUrl: database.url, redisUrl: REDIS_CLUSTER_URL, redisKeyPrefix: prefix },
      cleanup: async () => {
        // Keys spread over all masters: each one is scanned (see deleteClusterKeys).
        await deleteClusterKeys(REDIS_CLUSTER_URL, prefix);
        await database.drop();
      },
    };
  },
};

export const allBackends = [sqlite, postgres, postgresRedis, postgresRedisCluster];

/**
 * Runs a suite once per backend against a freshly provisioned, really started server.
 * `options` may carry extra Latch options (a manual clock, short timeouts, …).
 */
export function describeOnBackends(
  title: string,
  suite: (env: { server(): TestServer }) => void,
  options: { latch?: () => LatchOptions; backends?: Backend[] } = {},
): void {
  for (const backend of options.backends ?? allBackends) {
    describe.skipIf(!backend.available)(`${title} [${backend.name}]`, () => {
      let server: TestServer;
      let cleanup: (() => Promise<void>) | undefined;
      beforeAll(async () => {
        const provisioned = await backend.provision();
        cleanup = provisioned.cleanup;
        server = await startServer({ ...provisioned.config, ...options.latch?.() });
      });
      afterAll(async () => {
        await server?.close();
        await cleanup?.();
      });
      suite({ server: () => server });
    });
  }
}
