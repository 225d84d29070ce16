/**
 * The administration API, for `/api/admin` (API.md, "Administration"): its own router with its
 * own guard (a signed-in admin, aal2 unless ADMIN_REQUIRE_MFA=false), the same prelude and error
 * mapping as the auth API. Parse, call AdminService (the same domain rules as the owner's own
 * flows), answer.
 */
import { Router, type Request, type RequestHandler } from 'express';
import { LatchError } from '../domain/errors.js';
import type { Logger } from 'pino';
import type { Config } from '../config.js';
import type { Acting, AdminService } from '../domain/admin-service.js';
import { clientIpResolver } from './client-ip.js';
import { errorHandler, sendError, type ErrorObserver } from './errors.js';
import type { SessionMiddleware } from './middleware/session.js';
import { prelude } from './api-router.js';
import { sendJson } from './respond.js';
import { clientInfo } from './routes/auth.js';
import { adminEventsQuery, adminUsersQuery, disableBody, parseBody, roleBody } from './schemas.js';
import { toAdminEvent, toAdminUser, toPublicSession } from './views.js';

export interface AdminRouterDeps {
  config: Config;
  admin: AdminService;
  guards: SessionMiddleware;
  logger: Logger;
  errorObserver: ErrorObserver;
}

/** A page of 50 unless asked otherwise. */
const DEFAULT_LIMIT = 50;

export function createAdminRouter({ config, admin, guards, logger, errorObserver }: AdminRouterDeps): Router {
  const router = Router();
  const clientIp = clientIpResolver(config.trustProxy);
  router.use(prelude(config));
  router.use(guards.requireAdmin({ requireMfa: config.adminRequireMfa }));
  const acting = (req: Request): Acting => ({ actor: { role: 'admin', id: req.latch!.user.id }, client: clientInfo(req, clientIp) });
  const id = (req: Request) => String(req.params.id);

  router.get('/users', async (req, res) => {
    const { query, cursor, limit = DEFAULT_LIMIT } = parseBody(adminUsersQuery, req.query);
    const page = await admin.list({ ...(query ? { query } : {}), ...(cursor ? { cursor } : {}), limit });
    const users = page.users.map(toAdminUser);
    sendJson(res, 200, page.next === undefined ? { users } : { users, next: page.next });
  });

  router.get('/users/:id', async (req, res) => {
    const { user, sessions, events } = await admin.show(id(req));
    sendJson(res, 200, {
      user: toAdminUser(user),
      sessions: sessions.map((s) => toPublicSession(s, undefined)),
      events: events.map(toAdminEvent),
    });
  });

  // An admin's own account is not the API's to disable, demote or delete: said first, before
  // the body is even read (API.md, "Administration").
  const notSelf: RequestHandler = (req, _res, next) => {
    next(req.params.id === req.latch!.user.id ? new LatchError('self_target', 'You cannot change your own account here') : undefined);
  };

  router.post('/users/:id/disable', notSelf, async (req, res) => {
    const { reason } = parseBody(disableBody, req.body);
    sendJson(res, 200, { user: toAdminUser(await admin.disable(id(req), reason, acting(req))) });
  });

  router.post('/users/:id/enable', async (req, res) => {
    sendJson(res, 200, { user: toAdminUser(await admin.enable(id(req), acting(req))) });
  });

  router.delete('/users/:id/sessions', async (req, res) => {
    sendJson(res, 200, { revoked: await admin.revokeSessions(id(req), acting(req)) });
  });

  router.post('/users/:id/password-reset', async (req, res) => {
    await admin.sendPasswordReset(id(req), acting(req));
    sendJson(res, 202, { message: 'A reset link was mailed to the user' });
  });

  router.delete('/users/:id/mfa', async (req, res) => {
    await admin.resetSecondFactors(id(req), acting(req));
    res.status(204).end();
  });

  router.post('/users/:id/role', notSelf, async (req, res) => {
    const { role } = parseBody(roleBody, req.body);
    sendJson(res, 200, { user: toAdminUser(await admin.setRole(id(req), role, acting(req))) });
  });

  router.delete('/users/:id', notSelf, async (req, res) => {
    await admin.remove(id(req), acting(req));
    res.status(204).end();
  });

  router.get('/events', async (req, res) => {
    const { userId, type, before, limit = DEFAULT_LIMIT } = parseBody(adminEventsQuery, req.query);
    const page = await admin.events({ ...(userId ? { userId } : {}), ...(type ? { type } : {}), ...(before ? { before } : {}), limit });
    const events = page.events.map(toAdminEvent);
    sendJson(res, 200, page.next === undefined ? { events } : { events, next: page.next });
  });

  router.use((_req, res) => sendError(res, 'not_found', 'No such endpoint'));
  router.use(errorHandler(logger, errorObserver));
  return router;
}
