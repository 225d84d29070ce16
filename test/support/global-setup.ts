/**
 * Runs once per `vitest run`, in the main process: starts ONE private Redis Cluster shared
 * by every test file (ports 7301–7306, or the next free block) and hands its URL to the
 * workers with `provide` (read back with `inject('redisClusterUrl')`, see services.ts); stops
 * it at teardown. Tests that break the cluster on purpose start their own.
 *
 * A cluster given from outside (TEST_REDIS_CLUSTER_URL, or REDIS_URL=redis+cluster://…) is
 * used as it is. Without the redis-server/redis-cli binaries the cluster suites are skipped
 * locally and fail the run in CI (`CI=true`).
 */
import type { TestProject } from 'vitest/node';
import { REDIS_SERVER_BIN } from './redis-server.js';
import { hasClusterBinaries, REDIS_CLI_BIN, startCluster, type RedisCluster } from './redis-cluster.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** The shared test cluster's `redis+cluster://` URL, or '' when there is none. */
    redisClusterUrl: string;
  }
}

export const SHARED_CLUSTER_BASE_PORT = 7301;

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const given = process.env.TEST_REDIS_CLUSTER_URL ?? (process.env.REDIS_URL?.startsWith('redis+cluster://') ? process.env.REDIS_URL : undefined);
  if (given) {
    project.provide('redisClusterUrl', given);
    return async () => {};
  }
  if (!hasClusterBinaries) {
    const message = `redis-server (${REDIS_SERVER_BIN}) or redis-cli (${REDIS_CLI_BIN}) is missing, so no Redis Cluster can be started`;
    if (process.env.CI === 'true') throw new Error(`${message}: CI requires it`);
    console.warn(`\n  SKIPPED: ${message}; the Redis Cluster suites are skipped locally (CI=true makes this an error)\n`);
    project.provide('redisClusterUrl', '');
    return async () => {};
  }
  let cluster: RedisCluster | undefined = await startCluster({ basePort: SHARED_CLUSTER_BASE_PORT });
  project.provide('redisClusterUrl', cluster.url);
  return async () => {
    await cluster?.stop();
    cluster = undefined;
  };
}
