/**
 * A small command runner over node-redis, for a standalone server or a Redis Cluster. Latch
 * needs little: raw commands routed by their first key, and Lua scripts. Every command has a
 * deadline and the offline queue is off, so a lost Redis fails requests within the deadline
 * (503) instead of queueing them, and the client reconnects by itself in the background.
 */
import {
  ClientClosedError,
  ClientOfflineError,
  createClient,
  createCluster,
  ErrorReply,
  SocketClosedUnexpectedlyError,
} from 'redis';
import { createHash } from 'node:crypto';
import { UnavailableError } from '../../domain/errors.js';

export interface RedisConnection {
  /** Sends one command; `key` routes it to the right cluster node. */
  command<T>(key: string, args: string[]): Promise<T>;
  /** Runs a Lua script (EVALSHA, loading it on first use); every key shares `keys[0]`'s slot. */
  script<T>(script: LuaScript, keys: string[], args: string[]): Promise<T>;
  ping(): Promise<void>;
  /**
   * Sends one command to every node that holds keys: the server, or each master of a cluster.
   * For settings, which are per node.
   */
  onEveryMaster<T>(args: string[]): Promise<Array<{ node: string; reply: T }>>;
  close(): Promise<void>;
  /** The node-redis client or cluster itself, for libraries that take one (rate limiting). */
  readonly client: unknown;
}

export interface LuaScript {
  source: string;
  sha1: string;
}

export function lua(source: string): LuaScript {
  return { source, sha1: createHash('sha1').update(source).digest('hex') };
}

export interface RedisOptions {
  timeoutMs: number;
  onError?: (error: Error) => void;
}

type Send = (key: string | undefined, args: string[]) => Promise<unknown>;

/** Errors that mean "Redis is not answering right now" rather than "Latch sent nonsense". */
const TRANSIENT_REPLY = /^(CLUSTERDOWN|TRYAGAIN|LOADING|MASTERDOWN|READONLY|BUSY)/;

/**
 * Cluster failover. node-redis follows MOVED/ASK replies by itself, but when a master dies it
 * keeps routing that master's slots to the dead node (reconnecting to it forever) and never
 * asks the cluster again: no node answers MOVED, because no command reaches a live one. After
 * the replica is promoted, Latch would answer 503 for those sessions until a restart. So the
 * cluster connection refreshes its slot map (CLUSTER SLOTS, through node-redis' own
 * rediscovery) when a node's connection fails and when a command fails for a reason that
 * says "the topology may have changed"; then it retries that command once, within the same
 * deadline. Refreshes are single-flight and at most one per REFRESH_INTERVAL_MS.
 */
const REFRESH_INTERVAL_MS = 250;
/** Replies sent instead of running the command (so retrying cannot run it twice). */
const TOPOLOGY_REPLY = /^(CLUSTERDOWN|TRYAGAIN|MASTERDOWN|READONLY)/;

/**
 * The command never ran (node offline, refused, or a reply that replaces running it), or the
 * node vanished with it, in which case a write it made was most likely lost with the node too:
 * Latch's scripts are safe to run again in either case. A deadline is never retried.
 */
function retryableInCluster(error: unknown): boolean {
  if (error instanceof ErrorReply) return TOPOLOGY_REPLY.test(error.message);
  return (
    error instanceof ClientOfflineError ||
    error instanceof ClientClosedError ||
    error instanceof SocketClosedUnexpectedlyError ||
    (error as NodeJS.ErrnoException | undefined)?.code === 'ECONNREFUSED'
  );
}

export async function connectRedis(url: string, options: RedisOptions): Promise<RedisConnection> {
  const socket = {
    connectTimeout: options.timeoutMs,
    reconnectStrategy: (retries: number) => Math.min(50 * 2 ** retries, 1000),
  };
  const common = { disableOfflineQueue: true, socket };
  let send: Send;
  let rawClient: unknown;
  let close: () => Promise<void>;
  let connect: () => Promise<unknown>;
  let onEveryMaster: (args: string[]) => Promise<Array<{ node: string; reply: unknown }>>;
  /** Cluster only: refreshes the slot map (see REFRESH_INTERVAL_MS); never rejects. */
  let refreshTopology: (() => Promise<void>) | undefined;

  if (url.startsWith('redis+cluster://')) {
    const rootNodes = url
      .slice('redis+cluster://'.length)
      .split(',')
      .map((hostPort) => ({ url: `redis://${hostPort.trim()}` }));
    const cluster = createCluster({ rootNodes, defaults: common });
    rawClient = cluster;
    cluster.on('error', (error: Error) => options.onError?.(error));
    // A node's own connection failed (e.g. its master was killed): learn the new topology
    // without waiting for a request to fail first.
    cluster.on('node-error', (error: Error) => {
      options.onError?.(error);
      void refreshTopology?.();
    });
    send = (key, args) => cluster.sendCommand(key, false, args);
    close = async () => void cluster.destroy();
    connect = () => cluster.connect();
    onEveryMaster = (args) =>
      Promise.all(
        cluster.masters.map(async (master) => {
          const client = await withDeadline(cluster.nodeClient(master), options.timeoutMs);
          return { node: master.address, reply: await withDeadline(client.sendCommand(args), options.timeoutMs) };
        }),
      );

    // `_slots.rediscover` is node-redis' own slot-map refresh (what it runs on MOVED); it is
    // public in its typings but not documented, hence the guard. It starts from the given
    // node's options, and falls back to every root node if that one does not answer.
    const slots = cluster._slots as unknown as { rediscover?: (startWith: { options: { url: string } }) => Promise<void> };
    const rediscover = typeof slots.rediscover === 'function' ? slots.rediscover.bind(slots) : undefined;
    let refreshing: Promise<void> | undefined;
    let lastRefresh = 0;
    let nextRoot = 0;
    refreshTopology = () => {
      if (refreshing) return refreshing;
      if (!rediscover || !cluster.isOpen || Date.now() - lastRefresh < REFRESH_INTERVAL_MS) {
        return Promise.resolve();
      }
      lastRefresh = Date.now();
      const root = rootNodes[nextRoot++ % rootNodes.length]!;
      refreshing = rediscover({ options: root })
        .catch((error: Error) => options.onError?.(error))
        .finally(() => {
          refreshing = undefined;
        });
      return refreshing;
    };
  } else {
    const client = createClient({ url, ...common });
    rawClient = client;
    client.on('error', (error: Error) => options.onError?.(error));
    send = (_key, args) => client.sendCommand(args);
    close = async () => void client.destroy();
    connect = () => client.connect();
    const node = new URL(url).host;
    onEveryMaster = async (args) => [{ node, reply: await withDeadline(client.sendCommand(args), options.timeoutMs) }];
  }

  await withDeadline(connect(), options.timeoutMs * 2).catch(async (error) => {
    await close();
    throw new Error(`Cannot connect to Redis at ${redactUrl(url)}: ${(error as Error).message}`);
  });

  const run = async <T>(key: string | undefined, args: string[]): Promise<T> => {
    const deadline = Date.now() + options.timeoutMs;
    try {
      return (await withDeadline(send(key, args), options.timeoutMs)) as T;
    } catch (error) {
      if (error instanceof ErrorReply && !TRANSIENT_REPLY.test(error.message)) throw error;
      if (refreshTopology && retryableInCluster(error)) {
        // Cluster: the slot may have moved to a promoted replica; learn that, then try once more.
        try {
          await withDeadline(refreshTopology(), deadline - Date.now());
          return (await withDeadline(send(key, args), deadline - Date.now())) as T;
        } catch (retryError) {
          if (retryError instanceof ErrorReply && !TRANSIENT_REPLY.test(retryError.message)) throw retryError;
          throw new UnavailableError('session store', { cause: retryError });
        }
      }
      throw new UnavailableError('session store', { cause: error });
    }
  };

  return {
    client: rawClient,
    command: (key, args) => run(key, args),
    script<T>(script: LuaScript, keys: string[], args: string[]): Promise<T> {
      const call = (verb: string, body: string) => run<T>(keys[0], [verb, body, String(keys.length), ...keys, ...args]);
      return call('EVALSHA', script.sha1).catch((error: unknown) => {
        if (!(error instanceof ErrorReply) || !error.message.startsWith('NOSCRIPT')) throw error;
        return call('EVAL', script.source);
      });
    },
    async ping() {
      await run(undefined, ['PING']);
    },
    onEveryMaster: onEveryMaster as RedisConnection['onEveryMaster'],
    close,
  };
}

/**
 * `maxmemory-policy` of every node that holds keys. Only `noeviction` is safe for Latch: any
 * other policy lets Redis drop keys under memory pressure (a session, the per-user credential
 * epoch that ends revoked sessions, a rate-limit counter), and `volatile-*` drops keys with a
 * TTL, which is every session. Undefined when the server refuses CONFIG (hosted Redis often
 * disables or renames it), so the caller can say it could not check.
 */
export async function evictionPolicy(redis: RedisConnection): Promise<Array<{ node: string; policy: string }> | undefined> {
  try {
    const replies = await redis.onEveryMaster<unknown>(['CONFIG', 'GET', 'maxmemory-policy']);
    // RESP2 answers CONFIG GET with a flat [name, value] list.
    return replies.map(({ node, reply }) => ({ node, policy: String((reply as unknown[])[1]) }));
  } catch (error) {
    if (error instanceof ErrorReply) return undefined;
    throw error;
  }
}

/**
 * Refuses a Redis that may evict Latch's keys (`refuse`, in production), or warns about it.
 * A server that refuses CONFIG is only warned about: the setting may well be right, and
 * refusing would lock out every provider that disables the command.
 */
export async function requireNoEviction(
  redis: RedisConnection,
  { refuse, warn }: { refuse: boolean; warn: (message: string) => void },
): Promise<void> {
  const found = await evictionPolicy(redis);
  if (found === undefined) {
    return warn('Redis maxmemory-policy could not be checked (CONFIG is disabled or renamed): make sure it is noeviction');
  }
  const evicting = found.filter(({ policy }) => policy !== 'noeviction');
  if (evicting.length === 0) return;
  const where = evicting.map(({ node, policy }) => `${policy} on ${node}`).join(', ');
  const message = `Redis maxmemory-policy must be noeviction (found ${where}): any other policy can evict sessions, credential epochs and rate-limit counters under memory pressure`;
  if (refuse) throw new Error(message);
  warn(message);
}

/** One promise and one timer per call (every request's session read passes here). */
function withDeadline<T>(promise: Promise<T>, ms: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}

function redactUrl(url: string): string {
  return url.replace(/\/\/[^@/]*@/, '//***@');
}
