import { connectRedis } from '../../src/adapters/redis/connection.js';
import { RedisSessionStore } from '../../src/adapters/redis/session-store.js';
import { hasRedis, redisPrefix, REDIS_URL } from '../support/services.js';
import { epochCounter, sessionStoreContract } from './session-store.contract.js';

sessionStoreContract('Redis', hasRedis, async () => {
  const keys = redisPrefix();
  const redis = await connectRedis(REDIS_URL, { timeoutMs: 2000 });
  return {
    store: new RedisSessionStore(redis, keys.prefix),
    addUser: async () => {},
    bumpEpoch: epochCounter(),
    verifyUser: async () => {},
    async close() {
      await redis.close();
      await keys.cleanup();
    },
  };
});
