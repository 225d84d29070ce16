/**
 * trackAbandonedRequests (abandoned-requests.ts): the stores may close only once handlers
 * whose connection is gone have answered. Here the connection goes at the very moment the
 * server closes, the order in which the server's close callback runs before the socket (and
 * its response) emit `close`.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { trackAbandonedRequests } from '../../src/http/abandoned-requests.js';

describe('trackAbandonedRequests', () => {
  it('waits for a handler whose connection closed together with the server', async () => {
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    let entered!: () => void;
    const handling = new Promise<void>((resolve) => (entered = resolve));
    let answered = false;
    const server = createServer(async (_req, res) => {
      entered();
      await released; // a login still hashing, say
      answered = true;
      res.end('late');
    });
    const abandoned = trackAbandonedRequests(server);
    server.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`).catch(() => undefined);
    await handling;

    // What main.ts does at the end of its grace period, and what a client leaving at SIGTERM
    // amounts to: the connection is destroyed while the server closes.
    const closed = new Promise((resolve) => server.close(resolve));
    server.closeAllConnections();
    await closed;
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
    const server = createServer(() => undefined);
    let entered!: () => void;
    const handling = new Promise<void>((resolve) => (entered = resolve));
    server.on('request', () => entered());
    const abandoned = trackAbandonedRequests(server);
    server.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`).catch(() => undefined);
    await handling;
    const closed = new Promise((resolve) => server.close(resolve));
    server.closeAllConnections();
    await closed;
    expect(await abandoned.drained(150)).toBe(false);
  });
});
