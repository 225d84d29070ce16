/**
 * The mountable auth API, for `/api/auth`. One prelude middleware does what every request
 * needs (no-store, CORS only when an Origin is present, the cross-site check, the JSON body),
 * so the hot path walks few layers.
 */
import cors from 'cors';
import { Router, type RequestHandler } from 'express';
import type { Logger } from 'pino';
import type { Config } from '../config.js';
import type { AccountService } from '../domain/account-service.js';
import type { AuthService } from '../domain/auth-service.js';
import type { RecoveryService } from '../domain/recovery-service.js';
import type { Clock } from '../domain/ports.js';
import { clientIpResolver } from './client-ip.js';
import type { DeviceCookie, SessionCookie } from './cookies.js';
import { errorHandler, sendError, type ErrorObserver } from './errors.js';
import { crossSiteRefusal } from './middleware/cross-site.js';
import { jsonBody } from './middleware/json-body.js';
import type { SessionMiddleware } from './middleware/session.js';
import { accountRoutes } from './routes/account.js';
import { authRoutes } from './routes/auth.js';
import { recoveryRoutes } from './routes/recovery.js';
import { mfaRoutes } from './routes/mfa.js';
import { deviceRoutes } from './routes/devices.js';
import { passkeyRoutes } from './routes/passkeys.js';
import type { PasskeyService } from '../domain/passkey-service.js';
import type { TwoStepService } from '../domain/two-step-service.js';
import type { Devices } from '../domain/devices.js';

export interface ApiRouterDeps {
  config: Config;
  auth: AuthService;
  account: AccountService;
  recovery: RecoveryService;
  twoStep: TwoStepService;
  passkeys: PasskeyService;
  deviceList: Devices;
  cookie: SessionCookie;
  devices: DeviceCookie;
  guards: SessionMiddleware;
  clock: Clock;
  logger: Logger;
  /** Told of each dependency failure the router answers (503), e.g. to count it. */
  errorObserver: ErrorObserver;
}

export function createApiRouter(deps: ApiRouterDeps): Router {
  const { config } = deps;
  const router = Router();
  router.use(prelude(config));
  // Routes are added to this one router (no nested routers): fewer layers per request.
  const routeDeps = { ...deps, clientIp: clientIpResolver(config.trustProxy) };
  authRoutes(router, routeDeps);
  accountRoutes(router, routeDeps);
  recoveryRoutes(router, routeDeps);
  mfaRoutes(router, routeDeps);
  deviceRoutes(router, routeDeps);
  passkeyRoutes(router, routeDeps);
  router.use((_req, res) => sendError(res, 'not_found', 'No such endpoint'));
  router.use(errorHandler(deps.logger, deps.errorObserver));
  return router;
}

/** What every request of Latch's routers needs: no-store, CORS, the cross-site check, the JSON body. */
export function prelude(config: Config): RequestHandler {
  const trusted = new Set(config.trustedOrigins);
  // CORS answers trusted origins only, never a reflection of whatever Origin arrives.
  const corsHeaders = cors({ origin: (origin, done) => done(null, origin !== undefined && trusted.has(origin)), credentials: true });
  const crossSite = crossSiteRefusal({ publicOrigin: config.publicUrl, trustedOrigins: config.trustedOrigins });
  const body = jsonBody();

  const afterCors: RequestHandler = (req, res, next) => {
    const refused = crossSite(req);
    if (refused) return next(refused);
    body(req, res, next);
  };

  return (req, res, next) => {
    res.setHeader('Cache-Control', 'no-store');
    if (req.headers.origin === undefined) return afterCors(req, res, next);
    corsHeaders(req, res, (error?: unknown) => (error ? next(error) : afterCors(req, res, next)));
  };
}
