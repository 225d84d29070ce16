import { connectRedis } from '../../src/adapters/redis/connection.js';
import { RedisSessionStore } from '../../src/adapters/redis/session-store.js';
import { deleteClusterKeys } from '../support/redis-cluster.js';
import { hasRedisCluster, redisPrefix, REDIS_CLUSTER_URL } from '../support/services.js';
import { epochCounter, sessionStoreContract } from './session-store.contract.js';

/** The run's shared private Redis Cluster (3 masters, 3 replicas; see global-setup.ts). */
sessionStoreContract('Redis Cluster', hasRedisCluster, async () => {
  const { prefix } = redisPrefix();
  const redis = await connectRedis(REDIS_CLUSTER_URL, { timeoutMs: 2000 });
  return {
    store: new RedisSessionStore(redis, prefix),
    addUser: async () => {},
    bumpEpoch: epochCounter(),
    verifyUser: async () => {},
    async close() {
      await redis.close();
      await deleteClusterKeys(REDIS_CLUSTER_URL, prefix);
    },
  };
});
