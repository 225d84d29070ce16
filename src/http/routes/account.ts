/**
 * Sessions and account of the signed-in user (API.md, "Endpoints"): list and end sessions,
 * re-authenticate, change the password, delete the account.
 */
import type { Router } from 'express';
import type { AccountService } from '../../domain/account-service.js';
import { LatchError } from '../../domain/errors.js';
import { SESSION_ID_PATTERN } from '../../domain/session-token.js';
import type { SessionCookie } from '../cookies.js';
import type { SessionMiddleware } from '../middleware/session.js';
import { changePasswordBody, eventsQuery, parseBody, passwordProofBody } from '../schemas.js';
import { toPublicEvent, toPublicSession, toPublicUser } from '../views.js';
import type { ClientIp } from '../client-ip.js';
import { sendJson } from '../respond.js';
import { clientInfo } from './auth.js';

export interface AccountRoutesDeps {
  account: AccountService;
  cookie: SessionCookie;
  guards: SessionMiddleware;
  clientIp: ClientIp;
}

/** Adds the routes to `router`; every one of them needs a signed-in user. */
export function accountRoutes(router: Router, { account, cookie, guards, clientIp }: AccountRoutesDeps): void {
  const { requireAuth } = guards;

  router.get('/sessions', requireAuth, async (req, res) => {
    const { user, session } = req.latch!;
    const sessions = await account.listSessions(user.id);
    sendJson(res, 200, { sessions: sessions.map((s) => toPublicSession(s, session.id)) });
  });

  router.delete('/sessions/:id', requireAuth, async (req, res) => {
    const { session } = req.latch!;
    const id = String(req.params.id);
    if (!SESSION_ID_PATTERN.test(id)) throw new LatchError('not_found', 'No such session');
    await account.revokeSession(req.latch!, id, clientInfo(req, clientIp));
    if (id === session.id) cookie.clear(res);
    res.status(204).end();
  });

  router.delete('/sessions', requireAuth, async (req, res) => {
    const { count, issued } = await account.revokeOtherSessions(req.latch!, clientInfo(req, clientIp));
    cookie.issue(res, issued); // this browser stays signed in, under a new id and secret
    sendJson(res, 200, { revoked: count });
  });

  router.post('/reauth', requireAuth, async (req, res) => {
    const { password } = parseBody(passwordProofBody, req.body);
    const session = await account.reauthenticate(req.latch!, password, clientInfo(req, clientIp));
    sendJson(res, 200, { session: toPublicSession(session, session.id) });
  });

  router.post('/password', requireAuth, async (req, res) => {
    const body = parseBody(changePasswordBody, req.body);
    const issued = await account.changePassword(req.latch!, body, clientInfo(req, clientIp));
    cookie.issue(res, issued);
    sendJson(res, 200, { user: toPublicUser(issued.user) });
  });

  router.delete('/account', requireAuth, async (req, res) => {
    const { password } = parseBody(passwordProofBody, req.body);
    await account.deleteAccount(req.latch!, password, clientInfo(req, clientIp));
    cookie.clear(res);
    res.status(204).end();
  });

  router.get('/events', requireAuth, async (req, res) => {
    const query = parseBody(eventsQuery, req.query);
    const page = await account.listEvents(req.latch!, query);
    sendJson(res, 200, page.next === undefined ? { events: page.events.map(toPublicEvent) } : { events: page.events.map(toPublicEvent), next: page.next });
  });
}
