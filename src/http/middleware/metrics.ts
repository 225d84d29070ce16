import { timingSafeEqual, createHash } from 'node:crypto';
import type { RequestHandler } from 'express';
import type { LatchMetrics } from '../../adapters/metrics.js';
import { sendError } from '../errors.js';

/** `GET /metrics`, behind `Authorization: Bearer <METRICS_TOKEN>` when a token is configured. */
export function metricsEndpoint(metrics: LatchMetrics, token: string | undefined): RequestHandler {
  const expected = token === undefined ? undefined : digest(token);
  return async (req, res) => {
    res.setHeader('Cache-Control', 'no-store');
    if (expected) {
      const given = /^Bearer (.+)$/.exec(req.get('authorization') ?? '')?.[1];
      // Compare digests in constant time: the token's length and content stay secret.
      if (given === undefined || !timingSafeEqual(digest(given), expected)) {
        res.setHeader('WWW-Authenticate', 'Bearer');
        return sendError(res, 'unauthorized', 'Metrics require the bearer token');
      }
    }
    res.setHeader('Content-Type', metrics.registry.contentType);
    res.end(await metrics.registry.metrics());
  };
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}
