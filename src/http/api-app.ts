/**
 * The mountable auth API: an Express sub-application for `/api/auth`. A sub-app (rather than
 * a Router) carries its own `trust proxy` setting, so client IPs follow Latch's TRUST_PROXY
 * whatever the host app sets.
 */
import cors from 'cors';
import express, { type Express } from 'express';
import type { Logger } from 'pino';
import type { Config } from '../config.js';
import type { AccountService } from '../domain/account-service.js';
import type { AuthService } from '../domain/auth-service.js';
import type { Clock } from '../domain/ports.js';
import type { SessionCookie } from './cookies.js';
import { errorHandler, sendError } from './errors.js';
import { crossSiteProtection } from './middleware/cross-site.js';
import { jsonBody } from './middleware/json-body.js';
import type { SessionMiddleware } from './middleware/session.js';
import { accountRoutes } from './routes/account.js';
import { authRoutes } from './routes/auth.js';

export interface ApiAppDeps {
  config: Config;
  auth: AuthService;
  account: AccountService;
  cookie: SessionCookie;
  guards: SessionMiddleware;
  clock: Clock;
  logger: Logger;
}

export function createApiApp(deps: ApiAppDeps): Express {
  const { config } = deps;
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', config.trustProxy);
  app.set('etag', false); // auth answers are never cached, so never revalidated

  app.use((_req, res, next) => {
    res.setHeader('Cache-Control', 'no-store');
    next();
  });
  // CORS answers trusted origins only, never a reflection of whatever Origin arrives.
  const trusted = new Set(config.trustedOrigins);
  app.use(cors({ origin: (origin, done) => done(null, origin !== undefined && trusted.has(origin)), credentials: true }));
  app.use(crossSiteProtection({ publicOrigin: config.publicUrl, trustedOrigins: config.trustedOrigins }));
  app.use(jsonBody());
  app.use(authRoutes(deps));
  app.use(accountRoutes(deps));
  app.use((_req, res) => sendError(res, 'not_found', 'No such endpoint'));
  app.use(errorHandler(deps.logger));
  return app;
}
