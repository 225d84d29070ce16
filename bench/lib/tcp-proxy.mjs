// A TCP proxy between Latch and a real service, so a bench can cut the connections (every one
// destroyed, the port stops listening, as when the service's host goes away) and restore them
// on the same port. The .mjs counterpart of test/support/tcp-proxy.ts, without its stall mode.
import net from 'node:net';

export async function startTcpProxy(target) {
  const host = '127.0.0.1';
  const sockets = new Set();
  let server;
  let port = 0;

  const onConnection = (client) => {
    const upstream = net.connect(target);
    const pair = [client, upstream];
    const close = () => {
      for (const s of pair) {
        s.destroy();
        sockets.delete(s);
      }
    };
    for (const s of pair) {
      sockets.add(s);
      s.setNoDelay(true);
      s.on('error', close);
      s.on('close', close);
    }
    client.pipe(upstream);
    upstream.pipe(client);
  };

  const listen = () =>
    new Promise((resolve, reject) => {
      const s = net.createServer(onConnection);
      s.once('error', reject);
      s.listen(port, host, () => {
        s.off('error', reject);
        port = s.address().port;
        server = s;
        resolve();
      });
    });

  await listen();
  return {
    host,
    get port() {
      return port;
    },
    /** Destroys every connection and stops listening: new connects are refused. */
    async cut() {
      const s = server;
      server = undefined;
      for (const socket of [...sockets]) socket.destroy();
      sockets.clear();
      if (s) await new Promise((resolve) => s.close(() => resolve()));
    },
    /** Listens again on the same port (retrying briefly while the kernel still holds it). */
    async restore() {
      const deadline = Date.now() + 5_000;
      while (!server) {
        try {
          await listen();
        } catch (err) {
          if (err.code !== 'EADDRINUSE' || Date.now() > deadline) throw err;
          await new Promise((r) => setTimeout(r, 100));
        }
      }
    },
  };
}
