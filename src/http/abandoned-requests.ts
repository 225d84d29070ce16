/**
 * Requests whose client went away before the answer. Node closes such a connection at once, so
 * `server.close()` no longer waits for it, yet its handler is still at work: a login hashing its
 * password, writing its session, queueing its new-sign-in mail. Shutting the stores down under
 * it would turn finished work into errors (a session written but its audit event lost), so the
 * server waits for these handlers to answer too (into the void) before it closes them.
 *
 * Node emits no `finish` for a response whose connection is gone, even once `end()` is called,
 * so their state is read from `writableEnded`.
 */
import type { Server, ServerResponse } from 'node:http';

/** Past this many, answered ones are dropped as a new one comes, so the set stays small. */
const SWEEP_AT = 64;
const POLL_MS = 20;

export interface AbandonedRequests {
  /** Resolves when every abandoned request has been answered, or with false at the deadline. */
  drained(timeoutMs: number): Promise<boolean>;
}

export function trackAbandonedRequests(server: Server): AbandonedRequests {
  const abandoned = new Set<ServerResponse>();
  const sweep = () => {
    for (const res of abandoned) if (res.writableEnded) abandoned.delete(res);
  };
  server.on('request', (_req, res: ServerResponse) => {
    res.once('close', () => {
      if (res.writableEnded) return;
      if (abandoned.size >= SWEEP_AT) sweep();
      abandoned.add(res);
    });
  });
  return {
    async drained(timeoutMs) {
      const deadline = Date.now() + timeoutMs;
      for (sweep(); abandoned.size > 0; sweep()) {
        if (Date.now() >= deadline) return false;
        await new Promise((resolve) => setTimeout(resolve, POLL_MS));
      }
      return true;
    },
  };
}
