/**
 * Loads the session named by the cookie, once per request, and exposes it as `req.latch`.
 * `requireAuth` / `requireGuest` are the guards API.md calls "user" and "guest" routes.
 *
 * A pending session (a second step still to come) is never `req.latch`: every "user" route
 * answers it 401 `mfa_required`, every "guest" route treats it as a guest, and only the routes
 * that finish the second step (`requireSecondStep`) or log out (`requireSession`) see it, as
 * `req.latchPending`. So a route can only let a pending session in by asking for it.
 */
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import type { Logger } from 'pino';
import type { AuthService, Authenticated } from '../../domain/auth-service.js';
import { assuranceOf } from '../../domain/assurance.js';
import { LatchError } from '../../domain/errors.js';
import type { SessionCookie } from '../cookies.js';
import { errorHandler, type ErrorObserver } from '../errors.js';

declare module 'express-serve-static-core' {
  interface Request {
    /** The signed-in user and session, set by Latch's session middleware; undefined for guests. */
    latch?: Authenticated;
    /** A pending sign-in waiting for its second step; set instead of `latch`. */
    latchPending?: Authenticated;
  }
}

const loaded = Symbol('latch.sessionLoaded');
type Marked = Request & { [loaded]?: true };

export interface SessionMiddleware {
  loadSession: RequestHandler;
  requireAuth: RequestHandler;
  requireGuest: RequestHandler;
  /** A signed-in or a pending session (logout). */
  requireSession: RequestHandler;
  /**
   * The second step: a pending session finishes it, a signed-in one steps up with it; anything
   * else gets 401 `mfa_required` (sign in again).
   */
  requireSecondStep: RequestHandler;
  /**
   * Administration (API.md): a signed-in admin, proven by two factors (aal2) unless
   * `requireMfa` is false. 401 without a session, 403 `forbidden` to non-admins, 403
   * `second_factor_required` to an admin session that is not aal2.
   */
  requireAdmin(options: { requireMfa: boolean }): RequestHandler;
}

/**
 * The guards answer their refusals and failures themselves, with Latch's one error mapping
 * (http/errors.ts), instead of `next(error)`: mounted in a host app, `next(error)` would reach
 * the host's error handler, whose default is an HTML 500 with a stack trace (THREATS.md
 * item 12). `logger` and `errorObserver` are the ones the API router answers with.
 */
export function sessionMiddleware(
  auth: AuthService,
  cookie: SessionCookie,
  { logger, errorObserver }: { logger: Logger; errorObserver?: ErrorObserver },
): SessionMiddleware {
  const answerError = errorHandler(logger, errorObserver);

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
    if (result.session.pending) {
      req.latchPending = result;
      return;
    }
    req.latch = result;
    if (result.renewed && result.session.rememberMe) {
      cookie.set(res, token, result.session.expiresAt);
    }
  }

  const refuse = (error: unknown, req: Request, res: Response, next: NextFunction) => {
    res.setHeader('Cache-Control', 'no-store'); // an auth answer, also on a host app's route
    answerError(error, req, res, next);
  };

  /** Loads the session, then lets the request through unless `refusal` names a reason. */
  const guard =
    (refusal: (req: Request) => LatchError | undefined): RequestHandler =>
    async (req, res, next) => {
      try {
        await load(req, res);
      } catch (error) {
        return refuse(error, req, res, next); // a store outage is a 503, in Latch's shape too
      }
      const refused = refusal(req);
      if (refused) return refuse(refused, req, res, next);
      next();
    };

  return {
    loadSession: guard(() => undefined),
    requireAuth: guard((req) => {
      if (req.latch) return undefined;
      if (req.latchPending) return new LatchError('mfa_required', 'Finish signing in with your second step first');
      return new LatchError('unauthorized', 'Authentication required');
    }),
    requireSession: guard((req) =>
      req.latch || req.latchPending ? undefined : new LatchError('unauthorized', 'Authentication required'),
    ),
    requireSecondStep: guard((req) =>
      req.latch || req.latchPending ? undefined : new LatchError('mfa_required', 'No second step is waiting here; sign in again'),
    ),
    requireAdmin: ({ requireMfa }) =>
      guard((req) => {
        if (!req.latch) return new LatchError(req.latchPending ? 'mfa_required' : 'unauthorized', 'Sign in as an administrator');
        if (req.latch.user.role !== 'admin') return new LatchError('forbidden', 'This needs an administrator account');
        if (requireMfa && assuranceOf(req.latch.session.methods) !== 'aal2') {
          return new LatchError('second_factor_required', 'Administration needs a sign-in with two factors (or a passkey)');
        }
        return undefined;
      }),
    requireGuest: guard((req) =>
      req.latch ? new LatchError('already_authenticated', 'Already signed in; log out first') : undefined,
    ),
  };
}
