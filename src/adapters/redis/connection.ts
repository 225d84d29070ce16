/**
 * A small command runner over node-redis, for a standalone server or a Redis Cluster. Latch
 * needs little: raw commands routed by their first key, and Lua scripts. Every command has a
 * deadline and the offline queue is off, so a lost Redis fails requests within the deadline
 * (503) instead of queueing them, and the client reconnects by itself in the background.
 */
import { createClient, createCluster, ErrorReply } from 'redis';
import { createHash } from 'node:crypto';
import { UnavailableError } from '../../domain/errors.js';

export interface RedisConnection {
  /** Sends one command; `key` routes it to the right cluster node. */
  command<T>(key: string, args: string[]): Promise<T>;
  /** Runs a Lua script (EVALSHA, loading it on first use); every key shares `keys[0]`'s slot. */
  script<T>(script: LuaScript, keys: string[], args: string[]): Promise<T>;
  ping(): Promise<void>;
  close(): Promise<void>;
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

export async function connectRedis(url: string, options: RedisOptions): Promise<RedisConnection> {
  const socket = {
    connectTimeout: options.timeoutMs,
    reconnectStrategy: (retries: number) => Math.min(50 * 2 ** retries, 1000),
  };
  const common = { disableOfflineQueue: true, socket };
  let send: Send;
  let close: () => Promise<void>;
  let connect: () => Promise<unknown>;

  if (url.startsWith('redis+cluster://')) {
    const rootNodes = url
      .slice('redis+cluster://'.length)
      .split(',')
      .map((hostPort) => ({ url: `redis://${hostPort.trim()}` }));
    const cluster = createCluster({ rootNodes, defaults: common });
    cluster.on('error', (error: Error) => options.onError?.(error));
    send = (key, args) => cluster.sendCommand(key, false, args);
    close = async () => void cluster.destroy();
    connect = () => cluster.connect();
  } else {
    const client = createClient({ url, ...common });
    client.on('error', (error: Error) => options.onError?.(error));
    send = (_key, args) => client.sendCommand(args);
    close = async () => void client.destroy();
    connect = () => client.connect();
  }

  await withDeadline(connect(), options.timeoutMs * 2).catch(async (error) => {
    await close();
    throw new Error(`Cannot connect to Redis at ${redactUrl(url)}: ${(error as Error).message}`);
  });

  const run = async <T>(key: string | undefined, args: string[]): Promise<T> => {
    try {
      return (await withDeadline(send(key, args), options.timeoutMs)) as T;
    } catch (error) {
      if (error instanceof ErrorReply && !TRANSIENT_REPLY.test(error.message)) throw error;
      throw new UnavailableError('session store', { cause: error });
    }
  };

  return {
    command: (key, args) => run(key, args),
    async script<T>(script: LuaScript, keys: string[], args: string[]): Promise<T> {
      const call = (verb: string, body: string) => run<T>(keys[0], [verb, body, String(keys.length), ...keys, ...args]);
      try {
        return await call('EVALSHA', script.sha1);
      } catch (error) {
        if (!(error instanceof ErrorReply) || !error.message.startsWith('NOSCRIPT')) throw error;
        return call('EVAL', script.source);
      }
    },
    async ping() {
      await run(undefined, ['PING']);
    },
    close,
  };
}

function withDeadline<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}

function redactUrl(url: string): string {
  return url.replace(/\/\/[^@/]*@/, '//***@');
}
