/**
 * The session cookie (API.md, "The session cookie"). With secure cookies the `__Host-` prefix
 * makes the browser refuse the cookie unless it is Secure, host-only and Path=/, so a sibling
 * subdomain cannot plant or shadow it.
 */
import { parse } from 'cookie';
import type { Request, Response } from 'express';

export interface SessionCookie {
  name: string;
  read(req: Request): string | undefined;
  /** `expiresAt` only for remember-me sessions; otherwise a browser-session cookie. */
  set(res: Response, token: string, persistUntil: number | undefined, now: number): void;
  /** Sets the cookie of a newly issued session: persistent only for remember-me. */
  issue(res: Response, issued: { token: string; session: { rememberMe: boolean; expiresAt: number } }, now: number): void;
  clear(res: Response): void;
}

export function sessionCookie(secure: boolean): SessionCookie {
  const name = secure ? '__Host-sid' : 'sid';
  const attributes = { httpOnly: true, sameSite: 'lax', path: '/', secure } as const;
  const set: SessionCookie['set'] = (res, token, persistUntil, now) => {
    const maxAge = persistUntil === undefined ? undefined : Math.max(0, persistUntil - now);
    res.cookie(name, token, maxAge === undefined ? attributes : { ...attributes, maxAge });
  };
  return {
    name,
    set,
    issue(res, { token, session }, now) {
      set(res, token, session.rememberMe ? session.expiresAt : undefined, now);
    },
    read(req) {
      const header = req.headers.cookie;
      if (!header) return undefined;
      return parse(header)[name];
    },
    clear(res) {
      res.clearCookie(name, attributes);
    },
  };
}
