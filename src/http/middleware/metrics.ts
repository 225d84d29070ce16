/**
 * Request count and latency per route for Prometheus, labelled by the route *pattern*
 * (`/api/auth/sessions/:id`), never the raw path, so label cardinality stays bounded.
 */
import { timingSafeEqual, createHash } from 'node:crypto';
import type { RequestHandler } from 'express';
import type { LatchMetrics } from '../../adapters/metrics.js';
import { sendError } from '../errors.js';

export function requestMetrics(metrics: LatchMetrics): RequestHandler {
  // Labelled children are looked up once per label set, not per request: prom-client's own
  // label hashing measured at a visible share of the authenticated hot path.
  const durations = new Map<string, ReturnType<typeof metrics.httpDuration.labels>>();
  const counts = new Map<string, ReturnType<typeof metrics.httpRequests.labels>>();
  return (req, res, next) => {
    const started = process.hrtime.bigint();
    res.once('finish', () => {
      const route = req.route ? `${req.baseUrl}${String(req.route.path)}` : 'unmatched';
      const timing = `${route} ${req.method}`;
      let duration = durations.get(timing);
      if (!duration) durations.set(timing, (duration = metrics.httpDuration.labels(route, req.method)));
      duration.observe(Number(process.hrtime.bigint() - started) / 1e9);
      const outcome = `${timing} ${res.statusCode}`;
      let count = counts.get(outcome);
      if (!count) counts.set(outcome, (count = metrics.httpRequests.labels(route, req.method, String(res.statusCode))));
      count.inc();
    });
    next();
  };
}

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
