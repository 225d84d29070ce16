/**
 * trackAbandonedRequests (abandoned-requests.ts): the stores may close only once handlers
 * whose connection is gone have answered. Here the connection goes at the very moment the
 * server closes, the order in which the server's close callback runs before the socket (and
 * its response) emit `close`.
 */
import { createServer, type RequestListener } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { trackAbandonedRequests, type AbandonedRequests } from '../../src/http/abandoned-requests.js';

/**
 * A server whose handler is at work on one request when the server closes and, in the same
 * turn, its connection is destroyed: what main.ts does at the end of its grace period, and what
 * a client leaving at SIGTERM amounts to.
 */
async function closedUnderAHandler(handler: RequestListener): Promise<AbandonedRequests> {
  let entered!: () => void;
  const handling = new Promise<void>((resolve) => (entered = resolve));
  const server = createServer((req, res) => {
    entered();
    handler(req, res);
  });
  const abandoned = trackAbandonedRequests(server);
  server.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`).catch(() => undefined);
  await handling;
  const closed = new Promise((resolve) => server.close(resolve));
  server.closeAllConnections();
  await closed;
  return abandoned;
}

describe('trackAbandonedRequests', () => {
  it('waits for a handler whose connection closed together with the server', async () => {
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    let answered = false;
    const abandoned = await closedUnderAHandler(async (_req, res) => {
      await released; // a login still hashing, say
      answered = true;
      res.end('late');
    });
    let settled: boolean | undefined;
    const drained = abandoned.drained(5_000).then((result) => (settled = result));
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(settled).toBeUndefined(); // still waiting for the handler
    expect(answered).toBe(false);

    release();
    expect(await drained).toBe(true);
    expect(answered).toBe(true);
  });

  it('gives up at the deadline when the handler never answers', async () => {
    const abandoned = await closedUnderAHandler(() => undefined);
    expect(await abandoned.drained(150)).toBe(false);
  });
});
