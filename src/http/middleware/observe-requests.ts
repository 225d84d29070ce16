/**
 * Every request is observed once, after its response: one timer, one `finish` listener, feeding
 * both the request log and the Prometheus metrics.
 *
 * The log line holds method, path, status and milliseconds — no headers, query string or body,
 * so no cookie, token or password can reach a log. Hand-written rather than pino-http, which
 * builds a child logger and serializes every request up front (measured at roughly half the
 * throughput of the authenticated hot path). Metrics are labelled by route *pattern*
 * (`/api/auth/sessions/:id`), never the raw path, so label cardinality stays bounded; their
 * labelled children are looked up once per label set, since prom-client's label hashing showed
 * on the hot path too.
 */
import type { RequestHandler } from 'express';
import type { Logger } from 'pino';
import type { LatchMetrics } from '../../adapters/metrics.js';

export interface ObserveOptions {
  logger: Logger;
  metrics: LatchMetrics;
  /** Paths not worth a log line (health checks); they are still counted. */
  quiet?: (path: string) => boolean;
}

export function observeRequests({ logger, metrics, quiet }: ObserveOptions): RequestHandler {
  // The request line's four fields are known and never secret, so it skips the redaction every
  // other log line goes through (a wildcard walk per line, measurable on the hot path).
  const requestLog = logger.child({}, { redact: [] });
  const durations = new Map<string, ReturnType<typeof metrics.httpDuration.labels>>();
  const counts = new Map<string, ReturnType<typeof metrics.httpRequests.labels>>();
  return (req, res, next) => {
    const started = process.hrtime.bigint();
    const path = req.path;
    res.once('finish', () => {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      const route = req.route ? `${req.baseUrl}${String(req.route.path)}` : 'unmatched';
      const timing = `${route} ${req.method}`;
      let duration = durations.get(timing);
      if (!duration) durations.set(timing, (duration = metrics.httpDuration.labels(route, req.method)));
      duration.observe(seconds);
      const outcome = `${timing} ${res.statusCode}`;
      let count = counts.get(outcome);
      if (!count) counts.set(outcome, (count = metrics.httpRequests.labels(route, req.method, String(res.statusCode))));
      count.inc();
      if (requestLog.isLevelEnabled('info') && !quiet?.(path)) {
        requestLog.info({ method: req.method, path, status: res.statusCode, ms: Math.round(seconds * 10_000) / 10 }, 'request');
      }
    });
    next();
  };
}
