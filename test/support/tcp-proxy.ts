/**
 * A tiny TCP proxy for outage tests: put it between Latch and a real service, then `cut()` it
 * (every connection is destroyed and the port stops listening, as when the service dies or
 * its host goes away) and `restore()` it on the same port. `stall()` is the nastier case: the
 * port still accepts, but no byte moves either way until `unstall()` (a hung server or a
 * network partition); nothing is lost, the bytes are only held back.
 */
import net from 'node:net';

export interface TcpProxy {
  readonly host: string;
  readonly port: number;
  /** Live client connections through the proxy. */
  readonly connections: number;
  /** Destroys every connection and stops listening; new connects are refused. */
  cut(): Promise<void>;
  /** Listens again on the same port. */
  restore(): Promise<void>;
  /** Keeps accepting, but holds all traffic (existing and new connections). */
  stall(): void;
  unstall(): void;
  close(): Promise<void>;
}

interface Pair {
  client: net.Socket;
  upstream: net.Socket | undefined;
}

export async function startTcpProxy(target: { host: string; port: number }, listenPort = 0): Promise<TcpProxy> {
  const host = '127.0.0.1';
  const pairs = new Set<Pair>();
  let stalled = false;
  let closed = false;
  let server: net.Server | undefined;
  let port = listenPort;

  const destroy = (pair: Pair) => {
    pair.client.destroy();
    pair.upstream?.destroy();
    pairs.delete(pair);
  };

  const connectUpstream = (pair: Pair) => {
    const upstream = net.connect(target);
    pair.upstream = upstream;
    upstream.setNoDelay(true);
    pair.client.pipe(upstream);
    upstream.pipe(pair.client);
    upstream.on('error', () => destroy(pair));
    upstream.on('close', () => destroy(pair));
    if (stalled) upstream.pause();
  };

  const onConnection = (client: net.Socket) => {
    const pair: Pair = { client, upstream: undefined };
    pairs.add(pair);
    client.setNoDelay(true);
    client.on('error', () => destroy(pair));
    client.on('close', () => destroy(pair));
    if (stalled) client.pause();
    else connectUpstream(pair);
  };

  const listen = () =>
    new Promise<void>((resolve, reject) => {
      const s = net.createServer(onConnection);
      s.once('error', reject);
      s.listen(port, host, () => {
        s.off('error', reject);
        port = (s.address() as net.AddressInfo).port;
        server = s;
        resolve();
      });
    });

  const stopListening = async () => {
    const s = server;
    server = undefined;
    for (const pair of [...pairs]) destroy(pair);
    if (s) await new Promise<void>((resolve) => s.close(() => resolve()));
  };

  await listen();

  return {
    host,
    get port() {
      return port;
    },
    get connections() {
      return pairs.size;
    },
    cut: stopListening,
    async restore() {
      if (closed) throw new Error('proxy is closed');
      if (server) return;
      const deadline = Date.now() + 5_000;
      for (;;) {
        try {
          await listen();
          return;
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code !== 'EADDRINUSE' || Date.now() > deadline) throw error;
          await new Promise((r) => setTimeout(r, 100));
        }
      }
    },
    stall() {
      stalled = true;
      for (const pair of pairs) {
        pair.client.unpipe();
        pair.upstream?.unpipe();
        pair.client.pause();
        pair.upstream?.pause();
      }
    },
    unstall() {
      stalled = false;
      for (const pair of [...pairs]) {
        if (!pair.upstream) {
          connectUpstream(pair);
          pair.client.resume();
          continue;
        }
        pair.client.pipe(pair.upstream);
        pair.upstream.pipe(pair.client);
      }
    },
    async close() {
      closed = true;
      await stopListening();
    },
  };
}

/** The same URL with its host and port replaced by the proxy's. */
export function throughProxy(url: string, proxy: { host: string; port: number }): string {
  const parsed = new URL(url);
  parsed.hostname = proxy.host;
  parsed.port = String(proxy.port);
  return parsed.toString();
}
