/**
 * A private Redis Cluster for tests (6 nodes: 3 masters, 3 replicas) started from the
 * `redis-server` binary by scripts/redis-cluster.sh on loopback ports of its own. It never
 * touches the shared Redis. Each cluster lives in a temp directory that records its owner
 * process; a cluster whose owner died without stopping it is swept at the next start.
 */
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createClient, RESP_TYPES, type RedisClientType } from 'redis';
import { REDIS_SERVER_BIN } from './redis-server.js';

export const REDIS_CLI_BIN = process.env.TEST_REDIS_CLI_BIN ?? '/usr/bin/redis-cli';
export const hasClusterBinaries = existsSync(REDIS_SERVER_BIN) && existsSync(REDIS_CLI_BIN);

const SCRIPT = fileURLToPath(new URL('../../scripts/redis-cluster.sh', import.meta.url));
const DIR_PREFIX = 'latch-redis-cluster-';
const NODE_COUNT = 6;
/** Port blocks tried in turn when one is taken (e.g. by a concurrent test run). */
const PORT_BLOCK_STEP = 100;
const START_ATTEMPTS = 4;

export interface ClusterNodeInfo {
  id: string;
  port: number;
  role: 'master' | 'replica';
  /** The node is flagged failing (fail or fail?) by the node that was asked. */
  failing: boolean;
  masterId: string | null;
  /** Inclusive slot ranges this node serves (masters only). */
  slots: Array<[number, number]>;
}

export interface RedisCluster {
  /** `redis+cluster://127.0.0.1:p1,...,127.0.0.1:p6`, for REDIS_URL. */
  readonly url: string;
  /** The ports of the six nodes, in start order. */
  readonly nodes: readonly number[];
  /** The port of the master that currently serves `key`'s slot. */
  masterForKey(key: string): Promise<number>;
  /** The cluster's current view of its nodes, asked of a live node. */
  topology(): Promise<ClusterNodeInfo[]>;
  /** SIGKILLs one node; the rest of the cluster sees it fail after the node timeout. */
  killNode(port: number): Promise<void>;
  /**
   * Resolves once every live node reports cluster_state:ok with all slots served by live
   * masters (after a failover: once the replica is promoted everywhere).
   */
  waitUntilHealthy(timeoutMs?: number): Promise<void>;
  /** Kills every node and removes the directory; safe to call more than once. */
  stop(): Promise<void>;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function runScript(args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      'bash',
      [SCRIPT, ...args],
      { env: { ...process.env, REDIS_SERVER: REDIS_SERVER_BIN, REDIS_CLI: REDIS_CLI_BIN }, timeout: 90_000 },
      (error, stdout, stderr) => {
        if (error) reject(new Error(`redis-cluster.sh ${args[0]} failed: ${stderr.trim() || error.message}`));
        else resolve(stdout);
      },
    );
  });
}

function stopSync(dir: string): void {
  try {
    execFileSync('bash', [SCRIPT, 'stop', dir], { stdio: 'ignore', timeout: 15_000 });
  } catch {
    rmSync(dir, { recursive: true, force: true });
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Stops clusters left behind by test processes that died without stopping them. */
function sweepOrphans(): void {
  for (const name of readdirSync(tmpdir())) {
    if (!name.startsWith(DIR_PREFIX)) continue;
    const dir = join(tmpdir(), name);
    let owner = NaN;
    try {
      owner = Number(readFileSync(join(dir, 'owner.pid'), 'utf8'));
    } catch {
      continue; // being created right now, or not ours
    }
    if (Number.isInteger(owner) && owner > 0 && !alive(owner)) stopSync(dir);
  }
}

const owned = new Set<string>();
process.once('exit', () => {
  for (const dir of owned) stopSync(dir);
});

/** One command to one node, over a short-lived plain connection. */
export async function nodeCommand<T = unknown>(port: number, args: string[], host = '127.0.0.1'): Promise<T> {
  const client = createClient({ socket: { host, port, connectTimeout: 1000, reconnectStrategy: false } });
  client.on('error', () => {});
  await client.connect();
  try {
    return (await client.sendCommand(args)) as T;
  } finally {
    client.destroy();
  }
}

/** `host:port` pairs of a `redis+cluster://` URL. */
export function clusterUrlNodes(url: string): Array<{ host: string; port: number }> {
  if (!url.startsWith('redis+cluster://')) throw new Error(`not a redis+cluster:// URL: ${url}`);
  return url
    .slice('redis+cluster://'.length)
    .split(',')
    .map((hostPort) => {
      const [host = '127.0.0.1', port = '6379'] = hostPort.trim().split(':');
      return { host, port: Number(port) };
    });
}

function parseClusterNodes(text: string): ClusterNodeInfo[] {
  return text
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const [id = '', address = '', flags = '', master = '-', , , , , ...slotFields] = line.trim().split(' ');
      const flagSet = new Set(flags.split(','));
      const port = Number(address.split('@')[0]!.split(':').pop());
      const slots: Array<[number, number]> = [];
      for (const field of slotFields) {
        if (field.startsWith('[')) continue; // a slot being migrated or imported
        const [from, to = from] = field.split('-');
        slots.push([Number(from), Number(to)]);
      }
      return {
        id,
        port,
        role: flagSet.has('master') ? 'master' : 'replica',
        failing: flagSet.has('fail') || flagSet.has('fail?'),
        masterId: master === '-' ? null : master,
        slots,
      } satisfies ClusterNodeInfo;
    });
}

/** The topology as seen by the first node in `nodes` that answers. */
export async function clusterTopology(nodes: Array<{ host: string; port: number }>): Promise<ClusterNodeInfo[]> {
  let lastError: unknown;
  for (const { host, port } of nodes) {
    try {
      return parseClusterNodes(await nodeCommand<string>(port, ['CLUSTER', 'NODES'], host));
    } catch (error) {
      lastError = error;
    }
  }
  throw new Error(`no cluster node answered CLUSTER NODES: ${String(lastError)}`);
}

type NodeClient = ReturnType<typeof createClient>;

/** Runs `fn` with a plain connection to each live master of the cluster at `url`, in turn. */
async function forEachMaster(url: string, fn: (client: NodeClient) => Promise<void>): Promise<void> {
  const nodes = clusterUrlNodes(url);
  const topology = await clusterTopology(nodes);
  const host = nodes[0]?.host ?? '127.0.0.1';
  for (const master of topology.filter((n) => n.role === 'master' && !n.failing && n.slots.length > 0)) {
    const client = createClient({ socket: { host, port: master.port, connectTimeout: 1000, reconnectStrategy: false } });
    client.on('error', () => {});
    await client.connect();
    try {
      await fn(client);
    } finally {
      client.destroy();
    }
  }
}

/**
 * Deletes every key under `prefix` on every master of the cluster at `url`. SCAN only sees
 * the node it is sent to, and a multi-key DEL must stay in one slot, so each master is
 * scanned on its own and keys are unlinked one by one.
 */
export async function deleteClusterKeys(url: string, prefix: string): Promise<void> {
  await forEachMaster(url, async (client) => {
    for await (const keys of client.scanIterator({ MATCH: `${prefix}*`, COUNT: 500 })) {
      await Promise.all(keys.map((key) => client.unlink(key)));
    }
  });
}

/** Like services.ts' `dumpRedis`, for a cluster: every key under a prefix with its content. */
/**
 * One key as a dump line. Strings may be binary (packed sessions): they are shown both as hex
 * and as text, so a test can look for a secret in either form.
 */
export async function renderKey(client: RedisClientType<any, any, any, any, any>, key: string): Promise<string> {
  const type = await client.type(key);
  let value: unknown;
  if (type === 'hash') value = await client.hGetAll(key);
  else if (type === 'zset') value = await client.zRange(key, 0, -1);
  else {
    const raw = (await client.withTypeMapping({ [RESP_TYPES.BLOB_STRING]: Buffer }).get(key)) as Buffer | null;
    value = raw ? { hex: raw.toString('hex'), text: raw.toString('latin1') } : null;
  }
  return `${key} ${JSON.stringify(value)}\n`;
}

export async function dumpClusterKeys(url: string, prefix: string): Promise<string> {
  let dump = '';
  await forEachMaster(url, async (client) => {
    for await (const keys of client.scanIterator({ MATCH: `${prefix}*`, COUNT: 500 })) {
      for (const key of keys) dump += await renderKey(client, key);
    }
  });
  return dump;
}

export async function startCluster({ basePort }: { basePort: number }): Promise<RedisCluster> {
  if (!hasClusterBinaries) throw new Error(`redis-server (${REDIS_SERVER_BIN}) and redis-cli (${REDIS_CLI_BIN}) are required`);
  sweepOrphans();

  let dir = '';
  let ports: number[] = [];
  for (let attempt = 0; ; attempt++) {
    const base = basePort + attempt * PORT_BLOCK_STEP;
    dir = mkdtempSync(join(tmpdir(), DIR_PREFIX));
    writeFileSync(join(dir, 'owner.pid'), String(process.pid));
    owned.add(dir);
    try {
      await runScript(['start', String(base), dir]);
      ports = Array.from({ length: NODE_COUNT }, (_, i) => base + i);
      break;
    } catch (error) {
      owned.delete(dir);
      stopSync(dir);
      const portTaken = /already in use/.test((error as Error).message);
      if (!portTaken || attempt + 1 >= START_ATTEMPTS) throw error;
    }
  }

  const url = `redis+cluster://${ports.map((p) => `127.0.0.1:${p}`).join(',')}`;
  const killed = new Set<number>();
  const liveNodes = () => ports.filter((p) => !killed.has(p)).map((port) => ({ host: '127.0.0.1', port }));
  let stopped = false;

  const handle: RedisCluster = {
    url,
    nodes: ports,
    topology: () => clusterTopology(liveNodes()),
    async masterForKey(key) {
      const [first] = liveNodes();
      if (!first) throw new Error('no live node');
      const slot = await nodeCommand<number>(first.port, ['CLUSTER', 'KEYSLOT', key]);
      const owner = (await handle.topology()).find(
        (n) => n.role === 'master' && !n.failing && n.slots.some(([from, to]) => slot >= from && slot <= to),
      );
      if (!owner) throw new Error(`no live master serves slot ${slot} (key ${key})`);
      return owner.port;
    },
    async killNode(port) {
      if (!ports.includes(port)) throw new Error(`port ${port} is not a node of this cluster`);
      const pid = Number(readFileSync(join(dir, String(port), 'redis.pid'), 'utf8'));
      killed.add(port);
      process.kill(pid, 'SIGKILL');
      const deadline = Date.now() + 5_000;
      while (alive(pid) && Date.now() < deadline) await sleep(20);
    },
    async waitUntilHealthy(timeoutMs = 20_000) {
      const deadline = Date.now() + timeoutMs;
      let last = '';
      for (;;) {
        try {
          const states = await Promise.all(
            liveNodes().map(async ({ port }) => {
              const info = await nodeCommand<string>(port, ['CLUSTER', 'INFO']);
              return /cluster_state:ok/.test(info) && /cluster_slots_ok:16384/.test(info);
            }),
          );
          const topology = await handle.topology();
          const served = topology
            .filter((n) => n.role === 'master' && !n.failing && !killed.has(n.port))
            .reduce((sum, n) => sum + n.slots.reduce((s, [from, to]) => s + to - from + 1, 0), 0);
          if (states.every(Boolean) && served === 16384) return;
          last = `states=${JSON.stringify(states)} slots served by live masters=${served}`;
        } catch (error) {
          last = String(error);
        }
        if (Date.now() > deadline) throw new Error(`cluster not healthy within ${timeoutMs} ms: ${last}`);
        await sleep(100);
      }
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      await runScript(['stop', dir]).catch(() => stopSync(dir));
      owned.delete(dir);
    },
  };
  return handle;
}
