/**
 * The standalone server's Express app: security headers, request logs, health endpoints and
 * the auth API at `/api/auth`.
 */
import express, { type Express } from 'express';
import type { HelmetOptions } from 'helmet';
import type { Latch } from '../latch.js';
import { errorHandler, sendError } from './errors.js';
import { metricsEndpoint } from './middleware/metrics.js';
import { observeRequests } from './middleware/observe-requests.js';
import { securityHeaders } from './middleware/security-headers.js';
import { docsHandler, docsStylesheetHandler, openApiHandler } from './openapi/document.js';
import { createWebRouter } from '../web/router.js';

/** helmet's defaults; HSTS and upgrade-insecure-requests only once the site is served over HTTPS. */
export function helmetOptions(https: boolean): HelmetOptions {
  return { strictTransportSecurity: https, contentSecurityPolicy: { directives: { upgradeInsecureRequests: https ? [] : null } } };
}

export function createServerApp(latch: Latch): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', latch.config.trustProxy);
  const https = latch.config.cookieSecure;
  app.use(securityHeaders(helmetOptions(https)));
  app.use(observeRequests({ logger: latch.logger, metrics: latch.metrics, quiet: (path) => path === '/healthz' }));
  app.use('/api/auth', latch.router);
  app.use('/api/admin', latch.adminRouter);
  // In production /metrics exists only behind METRICS_TOKEN; without one it is not mounted
  // (404 like any unknown path), so login and session counts are never public by omission.
  if (latch.config.metricsToken || latch.config.nodeEnv !== 'production') {
    app.get('/metrics', metricsEndpoint(latch.metrics, latch.config.metricsToken));
  }

  app.get('/healthz', (_req, res) => {
    res.setHeader('Cache-Control', 'no-store');
    res.json({ status: 'ok' });
  });
  app.get('/readyz', async (_req, res) => {
    const readiness = await latch.readiness();
    res.setHeader('Cache-Control', 'no-store');
    res.status(readiness.ready ? 200 : 503).json({ status: readiness.ready ? 'ready' : 'unavailable', ...readiness.checks });
  });

  // The pages (src/web) carry their own strict CSP, without 'unsafe-inline'.
  app.use(createWebRouter(latch));

  app.get('/api/openapi.json', openApiHandler);
  app.get('/api/docs', docsHandler);
  app.get('/api/docs/docs.css', docsStylesheetHandler);

  app.use((req, res) => {
    if (req.path.startsWith('/api')) res.setHeader('Cache-Control', 'no-store');
    sendError(res, 'not_found', 'Not found');
  });
  app.use(errorHandler(latch.logger));
  return app;
}
