/**
 * A private, throw-away redis-server for tests that break Redis on purpose (kill it, hang it,
 * bring it back). It listens on a loopback port of its own, never touches the shared Redis,
 * keeps nothing on disk, and is SIGKILLed when the test process exits, whatever happens.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { killOnExit } from './children.js';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const REDIS_SERVER_BIN = process.env.TEST_REDIS_SERVER_BIN ?? '/usr/bin/redis-server';
export const hasRedisServer = existsSync(REDIS_SERVER_BIN);

const START_DEADLINE_MS = 10_000;

export interface PrivateRedis {
  readonly port: number;
  readonly url: string;
  /** The pid of the current redis-server process (changes on restart). */
  readonly pid: number | undefined;
  /** SIGKILL: connections drop at once and the data is gone. */
  stop(): Promise<void>;
  /** SIGSTOP: the port still accepts TCP, but nothing is answered (a hung server). */
  pause(): void;
  /** SIGCONT after `pause`. */
  resume(): void;
  /** A new, empty server on the same port; waits until it answers PING. */
  restart(): Promise<void>;
  /** Kills the server and removes its directory; safe to call more than once. */
  close(): Promise<void>;
}


export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** Sends PING over a raw socket; true when +PONG comes back within `timeoutMs`. */
export function pingRedis(port: number, timeoutMs = 500): Promise<boolean> {
  return new Promise((resolve) => {
    let reply = '';
    const socket = net.connect({ host: '127.0.0.1', port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.on('connect', () => socket.write('PING\r\n'));
    socket.on('data', (chunk) => {
      reply += chunk.toString('latin1');
      if (reply.includes('\r\n')) done(reply.startsWith('+PONG'));
    });
    socket.on('error', () => done(false));
  });
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export async function startRedisServer(): Promise<PrivateRedis> {
  if (!hasRedisServer) throw new Error(`redis-server not found at ${REDIS_SERVER_BIN}`);
  const dir = mkdtempSync(join(tmpdir(), 'latch-redis-'));
  let child: ChildProcess | undefined;
  let port = 0;
  let closed = false;

  const launch = async (onPort: number): Promise<boolean> => {
    const output: string[] = [];
    const proc = spawn(
      REDIS_SERVER_BIN,
      ['--port', String(onPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, '--daemonize', 'no', '--protected-mode', 'yes'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    killOnExit(proc);
    let exited = false;
    proc.once('exit', () => {
      exited = true;
    });
    proc.stdout?.on('data', (c) => output.push(String(c)));
    proc.stderr?.on('data', (c) => output.push(String(c)));
    const deadline = Date.now() + START_DEADLINE_MS;
    while (Date.now() < deadline) {
      if (exited) {
        // Most likely the port was taken between picking it and binding it.
        if (output.join('').match(/Address already in use|bind/i)) return false;
        throw new Error(`redis-server exited at start:\n${output.join('').slice(-2000)}`);
      }
      if (await pingRedis(onPort, 300)) {
        child = proc;
        return true;
      }
      await sleep(50);
    }
    await kill(proc);
    throw new Error(`redis-server on port ${onPort} did not answer PING within ${START_DEADLINE_MS} ms:\n${output.join('').slice(-2000)}`);
  };

  const kill = async (proc: ChildProcess | undefined) => {
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
    proc.kill('SIGKILL');
    await exited;
  };

  try {
    for (let attempt = 0; ; attempt++) {
      port = await freePort();
      if (await launch(port)) break;
      if (attempt >= 5) throw new Error('could not find a free port for redis-server');
    }
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }

  const handle: PrivateRedis = {
    get port() {
      return port;
    },
    get url() {
      return `redis://127.0.0.1:${port}`;
    },
    get pid() {
      return child?.pid;
    },
    async stop() {
      const proc = child;
      child = undefined;
      await kill(proc);
    },
    pause() {
      if (!child?.pid) throw new Error('redis-server is not running');
      child.kill('SIGSTOP');
    },
    resume() {
      child?.kill('SIGCONT');
    },
    async restart() {
      if (closed) throw new Error('redis-server handle is closed');
      await handle.stop();
      // The same port: the old listener is gone with its process; retry briefly should the
      // kernel still hold it.
      const deadline = Date.now() + START_DEADLINE_MS;
      while (!(await launch(port))) {
        if (Date.now() > deadline) throw new Error(`port ${port} stayed busy; cannot restart redis-server`);
        await sleep(100);
      }
    },
    async close() {
      if (closed) return;
      closed = true;
      await handle.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return handle;
}
