/** register, login, logout, me (API.md, "Endpoints"). Parse, call the domain, answer. */
import { Router, type Request, type Response } from 'express';
import type { AuthService, ClientInfo, IssuedSession } from '../../domain/auth-service.js';
import type { Clock } from '../../domain/ports.js';
import type { SessionCookie } from '../cookies.js';
import type { SessionMiddleware } from '../middleware/session.js';
import { loginBody, parseBody, registerBody } from '../schemas.js';
import { toPublicSession, toPublicUser } from '../views.js';

export interface AuthRoutesDeps {
  auth: AuthService;
  cookie: SessionCookie;
  guards: SessionMiddleware;
  clock: Clock;
}

export function authRoutes({ auth, cookie, guards, clock }: AuthRoutesDeps): Router {
  const router = Router();

  const issue = (res: Response, issued: IssuedSession) => {
    const persistUntil = issued.session.rememberMe ? issued.session.expiresAt : undefined;
    cookie.set(res, issued.token, persistUntil, clock.now());
  };

  router.post('/register', guards.requireGuest, async (req, res) => {
    const body = parseBody(registerBody, req.body);
    const issued = await auth.register(body, clientInfo(req));
    issue(res, issued);
    res.status(201).json({ user: toPublicUser(issued.user) });
  });

  router.post('/login', guards.requireGuest, async (req, res) => {
    const body = parseBody(loginBody, req.body);
    const issued = await auth.login(body, clientInfo(req));
    issue(res, issued);
    res.status(200).json({ user: toPublicUser(issued.user) });
  });

  router.post('/logout', guards.requireAuth, async (req, res) => {
    await auth.logout(req.latch!.session.id);
    cookie.clear(res);
    res.status(200).json({ message: 'Logged out successfully' });
  });

  router.get('/me', guards.requireAuth, (req, res) => {
    const { user, session } = req.latch!;
    res.json({ user: toPublicUser(user), session: toPublicSession(session, session.id) });
  });

  return router;
}

export function clientInfo(req: Request): ClientInfo {
  return { ip: req.ip ?? req.socket.remoteAddress ?? '', userAgent: req.get('user-agent') ?? '' };
}
