/**
 * Redis may evict keys under memory pressure unless `maxmemory-policy` is `noeviction`: an
 * evicted session ends early, an evicted credential epoch would let a revoked session live
 * again, an evicted rate-limit counter forgives an attacker's failures. `volatile-*` policies
 * evict keys with a TTL, which is every session. So Latch checks the policy at start: in
 * production it refuses anything but `noeviction`, elsewhere it warns. A provider that
 * disables CONFIG cannot be checked: Latch says so and starts.
 *
 * Against a private redis-server whose policy each test sets; users in SQLite.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import { createClient } from 'redis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { connectRedis, evictionPolicy } from '../../src/adapters/redis/connection.js';
import { createLatch, type Latch, type LatchOptions } from '../../src/latch.js';
import { clusterTopology, clusterUrlNodes } from '../support/redis-cluster.js';
import { hasRedisServer, startRedisServer, type PrivateRedis } from '../support/redis-server.js';
import { hasRedisCluster, REDIS_CLUSTER_URL } from '../support/services.js';
import { until } from './helpers.js';

interface LogLine {
  level: number;
  msg: string;
}
const WARN = 40;

describe.skipIf(!hasRedisServer)('Redis maxmemory-policy at start (private redis-server, SQLite users)', () => {
  let dir: string;
  let redis: PrivateRedis;
  let admin: ReturnType<typeof createClient>;
  let latch: Latch | undefined;
  let logs: LogLine[] = [];
  let databases = 0;

  const start = (options: LatchOptions) => {
    logs = [];
    const sink = new Writable({
      write(chunk, _enc, done) {
        logs.push(JSON.parse(String(chunk)) as LogLine);
        done();
      },
    });
    return createLatch({
      logger: pino({ level: 'debug' }, sink),
      databaseUrl: `sqlite:${join(dir, `latch-${databases++}.db`)}`,
      redisUrl: redis.url,
      ...options,
    });
  };
  const production: LatchOptions = {
    nodeEnv: 'production',
    publicUrl: 'https://auth.example.test',
    smtpUrl: 'smtp://127.0.0.1:1',
    secretsKey: Buffer.alloc(32, 1).toString('base64'),
  };
  const development: LatchOptions = { nodeEnv: 'development' };
  const policyWarnings = () => logs.filter((line) => line.level === WARN && line.msg.includes('maxmemory-policy'));
  /** Clients connected to the private server other than `admin`. */
  const otherClients = async () => String(await admin.sendCommand(['CLIENT', 'LIST'])).trim().split('\n').length - 1;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'latch-ops-eviction-'));
    redis = await startRedisServer();
    admin = createClient({ url: redis.url });
    await admin.connect();
  });

  afterEach(async () => {
    await latch?.close();
    latch = undefined;
  });

  afterAll(async () => {
    try {
      await admin?.quit();
    } finally {
      await redis?.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it.each(['allkeys-lru', 'volatile-lru', 'volatile-ttl', 'allkeys-random'])(
    'refuses to start in production with maxmemory-policy %s, naming the setting, and leaves no connection open',
    async (policy) => {
      await admin.configSet('maxmemory-policy', policy);
      await expect(start(production)).rejects.toThrow(/maxmemory-policy.*noeviction/);
      await expect(start(production)).rejects.toThrow(policy);
      await until("Latch's Redis connection closed after the refusal", otherClients, (n) => n === 0, { timeoutMs: 2_000 });
    },
  );

  it('starts outside production with an evicting policy, and logs a warning naming the setting', async () => {
    await admin.configSet('maxmemory-policy', 'allkeys-lru');
    latch = await start(development);
    const warnings = policyWarnings();
    expect(warnings).toHaveLength(1);
    expect(warnings[0]!.msg).toContain('noeviction');
    expect(JSON.stringify(warnings[0])).toContain('allkeys-lru');
    expect((await latch.readiness()).ready).toBe(true);
  });

  it('starts without a warning when the policy is noeviction, in production too', async () => {
    await admin.configSet('maxmemory-policy', 'noeviction');
    latch = await start(development);
    expect(policyWarnings()).toEqual([]);
    await latch.close();
    latch = await start(production);
    expect(policyWarnings()).toEqual([]);
    expect(latch.config.nodeEnv).toBe('production');
  });

  it('warns and starts, in production too, when CONFIG is disabled and the policy cannot be read', async () => {
    // Hosted Redis often disables or renames CONFIG; this user may not run it.
    await admin.configSet('maxmemory-policy', 'allkeys-lru');
    await admin.sendCommand(['ACL', 'SETUSER', 'latch', 'on', 'nopass', '~*', '&*', '+@all', '-config']);
    try {
      latch = await start({ ...production, redisUrl: redis.url.replace('redis://', 'redis://latch@') });
      const warnings = policyWarnings();
      expect(warnings).toHaveLength(1);
      expect(warnings[0]!.msg).toMatch(/could not be checked/);
      expect((await latch.readiness()).ready).toBe(true);
    } finally {
      await admin.sendCommand(['ACL', 'DELUSER', 'latch']);
    }
  });

  it('reads the policy of the one server', async () => {
    await admin.configSet('maxmemory-policy', 'volatile-lfu');
    const connection = await connectRedis(redis.url, { timeoutMs: 2_000 });
    try {
      expect(await evictionPolicy(connection)).toEqual([{ node: `127.0.0.1:${redis.port}`, policy: 'volatile-lfu' }]);
    } finally {
      await connection.close();
    }
  });
});

describe.skipIf(!hasRedisCluster)('Redis maxmemory-policy on a cluster', () => {
  it('reads the policy of every master', async () => {
    const masters = (await clusterTopology(clusterUrlNodes(REDIS_CLUSTER_URL))).filter((n) => n.role === 'master' && !n.failing && n.slots.length > 0);
    const connection = await connectRedis(REDIS_CLUSTER_URL, { timeoutMs: 2_000 });
    try {
      const found = await evictionPolicy(connection);
      expect(found?.map((f) => Number(f.node.split(':').pop())).sort()).toEqual(masters.map((m) => m.port).sort());
      for (const { policy } of found!) expect(policy).toBe('noeviction');
    } finally {
      await connection.close();
    }
  });
});
