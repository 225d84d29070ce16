/**
 * The Redis session store's own tests run against standalone Redis and the cluster alike: the
 * two targets, and a store under a fresh key prefix that is closed and cleaned up afterwards.
 */
import { connectRedis, type RedisConnection } from '../../src/adapters/redis/connection.js';
import { RedisSessionStore } from '../../src/adapters/redis/session-store.js';
import { deleteClusterKeys } from './redis-cluster.js';
import { hasRedis, hasRedisCluster, redisPrefix, REDIS_CLUSTER_URL, REDIS_URL } from './services.js';

/** [name, available here, url] of each Redis deployment the store supports. */
export const redisTargets = [
  ['Redis', hasRedis, REDIS_URL],
  ['Redis Cluster', hasRedisCluster, REDIS_CLUSTER_URL],
] as const;

export async function withRedisSessionStore(
  url: string,
  use: (context: { redis: RedisConnection; store: RedisSessionStore; prefix: string }) => Promise<void>,
): Promise<void> {
  const { prefix, cleanup } = redisPrefix();
  const redis = await connectRedis(url, { timeoutMs: 2000 });
  try {
    await use({ redis, store: new RedisSessionStore(redis, prefix), prefix });
  } finally {
    await redis.close();
    if (url === REDIS_CLUSTER_URL) await deleteClusterKeys(REDIS_CLUSTER_URL, prefix);
    else await cleanup();
  }
}
