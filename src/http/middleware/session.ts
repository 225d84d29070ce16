/**
 * Loads the session named by the cookie, once per request, and exposes it as `req.latch`.
 * `requireAuth` / `requireGuest` are the guards API.md calls "user" and "guest" routes.
 */
import type { Request, RequestHandler, Response } from 'express';
import type { AuthService, Authenticated } from '../../domain/auth-service.js';
import type { Clock } from '../../domain/ports.js';
import { LatchError } from '../../domain/errors.js';
import type { SessionCookie } from '../cookies.js';

declare module 'express-serve-static-core' {
  interface Request {
    /** The signed-in user and session, set by Latch's session middleware; undefined for guests. */
    latch?: Authenticated;
  }
}

const loaded = Symbol('latch.sessionLoaded');
type Marked = Request & { [loaded]?: true };

export interface SessionMiddleware {
  loadSession: RequestHandler;
  requireAuth: RequestHandler;
  requireGuest: RequestHandler;
}

export function sessionMiddleware(auth: AuthService, cookie: SessionCookie, clock: Clock): SessionMiddleware {
  async function load(req: Marked, res: Response): Promise<void> {
    if (req[loaded]) return;
    req[loaded] = true;
    const token = cookie.read(req);
    if (token === undefined) return;
    const result = await auth.authenticate(token);
    if (!result) {
      cookie.clear(res); // a dead cookie is of no use to the browser
      return;
    }
    req.latch = result;
    if (result.renewed && result.session.rememberMe) {
      cookie.set(res, token, result.session.expiresAt, clock.now());
    }
  }

  const loadSession: RequestHandler = async (req, res, next) => {
    await load(req, res);
    next();
  };
  const requireAuth: RequestHandler = async (req, res, next) => {
    await load(req, res);
    next(req.latch ? undefined : new LatchError('unauthorized', 'Authentication required'));
  };
  const requireGuest: RequestHandler = async (req, res, next) => {
    await load(req, res);
    next(req.latch ? new LatchError('already_authenticated', 'Already signed in; log out first') : undefined);
  };
  return { loadSession, requireAuth, requireGuest };
}
