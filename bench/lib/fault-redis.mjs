// A private redis-server that a bench may break on purpose: pause it (SIGSTOP: the port still
// accepts, nothing answers), kill it, start it again empty on the same port. Never the shared
// Redis. Its process is one of `children` and its directory one of `tempDirs`, so cleanup()
// (bench/lib/services.mjs) removes both whatever happens.
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createClient } from 'redis';
import { BenchError, REDIS_SERVER_BIN, STARTUP_TIMEOUT_MS, sleep, tempDirs } from './common.mjs';
import { childReport, freePort, startChild, stopChild } from './process.mjs';

export async function startFaultRedis() {
  const port = await freePort();
  const url = `redis://127.0.0.1:${port}`;
  const dir = mkdtempSync(path.join(os.tmpdir(), 'latch-soak-redis-'));
  tempDirs.add(dir);
  let proc;

  /** Runs `fn(client)` on a new connection; rejects after `timeoutMs` (a paused server never answers). */
  const query = async (fn, timeoutMs = 1_000) => {
    const client = createClient({ url, socket: { connectTimeout: timeoutMs, reconnectStrategy: false } });
    client.on('error', () => {});
    let timer;
    try {
      return await Promise.race([
        client.connect().then(() => fn(client)),
        new Promise((_, reject) => {
          timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
        }),
      ]);
    } finally {
      clearTimeout(timer);
      client.destroy();
    }
  };

  const launch = async () => {
    proc = startChild(
      `private redis-server :${port}`,
      ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir],
      {},
      REDIS_SERVER_BIN,
    );
    const deadline = Date.now() + STARTUP_TIMEOUT_MS;
    for (;;) {
      if (proc.exited) return /Address already in use/i.test(proc.output) ? false : fail(`${proc.name} exited at start`);
      if (await query((c) => c.ping()).then(() => true, () => false)) return true;
      if (Date.now() > deadline) fail(`${proc.name} did not answer PING`);
      await sleep(50);
    }
  };
  const fail = (message) => {
    throw new BenchError(`${message}${childReport(proc)}`);
  };

  await launch();
  const handle = {
    port,
    url,
    query,
    get pid() {
      return proc.child.pid;
    },
    pause: () => proc.child.kill('SIGSTOP'),
    resume: () => proc.child.kill('SIGCONT'),
    /** SIGKILL: connections drop at once, the data is gone. */
    async kill() {
      proc.child.kill('SIGKILL');
      await proc.exitPromise;
    },
    /** A new, empty server on the same port, answering PING. */
    async restart() {
      if (!proc.exited) await handle.kill();
      const deadline = Date.now() + STARTUP_TIMEOUT_MS;
      while (!(await launch())) {
        if (Date.now() > deadline) fail(`port ${port} stayed busy`);
        await sleep(100);
      }
    },
    async stop() {
      proc.child.kill('SIGCONT');
      await stopChild(proc);
      rmSync(dir, { recursive: true, force: true });
      tempDirs.delete(dir);
    },
  };
  return handle;
}
