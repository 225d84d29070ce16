/** register, login, logout, me (API.md, "Endpoints"). Parse, call the domain, answer. */
import type { Request, Router } from 'express';
import type { AuthService, ClientInfo } from '../../domain/auth-service.js';
import type { ClientIp } from '../client-ip.js';
import type { DeviceCookie, SessionCookie } from '../cookies.js';
import type { SessionMiddleware } from '../middleware/session.js';
import { loginBody, parseBody, registerBody } from '../schemas.js';
import { sendJson } from '../respond.js';
import { toPublicSession, toPublicUser } from '../views.js';

export interface AuthRoutesDeps {
  auth: AuthService;
  cookie: SessionCookie;
  devices: DeviceCookie;
  guards: SessionMiddleware;
  clientIp: ClientIp;
}

/** Adds the routes to `router`. */
export function authRoutes(router: Router, { auth, cookie, devices, guards, clientIp }: AuthRoutesDeps): void {
  const from = (req: Request) => signInClient(req, clientIp, devices);

  router.post('/register', guards.requireGuest, async (req, res) => {
    const body = parseBody(registerBody, req.body);
    const outcome = await auth.register(body, from(req));
    if (outcome.kind === 'verification_pending') {
      return sendJson(res, 202, { message: 'Check your email to finish creating your account' });
    }
    cookie.issue(res, outcome.issued);
    devices.keep(req, res, outcome.device);
    sendJson(res, 201, { user: toPublicUser(outcome.issued.user) });
  });

  router.post('/login', guards.requireGuest, async (req, res) => {
    const body = parseBody(loginBody, req.body);
    const outcome = await auth.login(body, from(req));
    // A new sign-in replaces a pending one this browser still held (API.md, "Two-step sign-in").
    if (req.latchPending) await auth.logout(req.latchPending, clientInfo(req, clientIp));
    cookie.issue(res, outcome.issued); // a pending session's cookie is the session cookie too
    if (outcome.kind === 'mfa_required') return sendJson(res, 200, { mfaRequired: true, methods: outcome.methods });
    devices.keep(req, res, outcome.device);
    sendJson(res, 200, { user: toPublicUser(outcome.issued.user) });
  });

  router.post('/logout', guards.requireSession, async (req, res) => {
    await auth.logout((req.latch ?? req.latchPending)!, clientInfo(req, clientIp));
    cookie.clear(res);
    sendJson(res, 200, { message: 'Logged out successfully' });
  });

  router.get('/me', guards.requireAuth, (req, res) => {
    const { user, session } = req.latch!;
    sendJson(res, 200, { user: toPublicUser(user), session: toPublicSession(session, session.id) });
  });

}

export function clientInfo(req: Request, clientIp: ClientIp): ClientInfo {
  return { ip: clientIp(req), userAgent: req.get('user-agent') ?? '' };
}

/** For a request that may complete a sign-in: its origin and the browser's device cookie. */
export function signInClient(req: Request, clientIp: ClientIp, devices: DeviceCookie): ClientInfo {
  return { ...clientInfo(req, clientIp), device: devices.read(req) };
}
