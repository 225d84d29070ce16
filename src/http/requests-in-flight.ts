/**
 * Requests still being handled. Node closes the connection of a client that went away before
 * its answer at once, so `server.close()` no longer waits for it (nor for a pipelined request
 * queued behind it), yet its handler is still at work: a login hashing its password, writing
 * its session, queueing its new-sign-in mail. Shutting the stores down under it would turn
 * finished work into errors (a session written but its audit event lost), so the server waits
 * for every handler to answer (into the void, if need be) before it closes them.
 *
 * Node emits no `finish` for a response whose connection is gone, even once `end()` is called,
 * so whether those were answered is read from `writableEnded`.
 */
import type { Server, ServerResponse } from 'node:http';

const POLL_MS = 20;

export interface RequestsInFlight {
  /** Resolves true when every request has been answered, or false at the deadline. */
  drained(timeoutMs: number): Promise<boolean>;
}

export function trackRequestsInFlight(server: Server): RequestsInFlight {
  const open = new Set<ServerResponse>();
  // Answered responses whose `finish` never came are dropped when the set has doubled since
  // the last sweep: amortised constant work per request, however many are in flight.
  let sweepAt = 64;
  const sweep = () => {
    for (const res of open) if (res.writableEnded) open.delete(res);
    sweepAt = Math.max(64, open.size * 2);
  };
  server.on('request', (_req, res: ServerResponse) => {
    if (open.size >= sweepAt) sweep();
    open.add(res);
    res.once('finish', () => open.delete(res));
  });
  return {
    async drained(timeoutMs) {
      const deadline = Date.now() + timeoutMs;
      for (sweep(); open.size > 0; sweep()) {
        if (Date.now() >= deadline) return false;
        await new Promise((resolve) => setTimeout(resolve, POLL_MS));
      }
      return true;
    },
  };
}
