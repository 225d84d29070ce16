/**
 * The session cookie (API.md, "The session cookie"). With secure cookies the `__Host-` prefix
 * makes the browser refuse the cookie unless it is Secure, host-only and Path=/, so a sibling
 * subdomain cannot plant or shadow it.
 *
 * One response makes at most one decision about the cookie: a later set or clear replaces an
 * earlier one (RFC 6265 §4.1: no two Set-Cookie of the same name; an intermediary that keeps
 * only the first would sign the browser out after a login that cleared a dead cookie first).
 */
import { parse } from 'cookie';
import type { Request, Response } from 'express';
import type { Clock } from '../domain/ports.js';

export interface SessionCookie {
  read(req: Request): string | undefined;
  /** `persistUntil` only for remember-me sessions; otherwise a browser-session cookie. */
  set(res: Response, token: string, persistUntil: number | undefined): void;
  /** Sets the cookie of a newly issued session: persistent only for remember-me. */
  issue(res: Response, issued: { token: string; session: { rememberMe: boolean; expiresAt: number } }): void;
  clear(res: Response): void;
}

export function sessionCookie(secure: boolean, clock: Clock): SessionCookie {
  const name = secure ? '__Host-sid' : 'sid';
  const attributes = { httpOnly: true, sameSite: 'lax', path: '/', secure } as const;

  /** Drops this response's earlier line for our cookie; other cookies stay as they are. */
  const withdraw = (res: Response) => {
    const lines = res.getHeader('Set-Cookie');
    if (lines === undefined) return;
    const others = [lines].flat().map(String).filter((line) => !line.startsWith(`${name}=`));
    if (others.length > 0) res.setHeader('Set-Cookie', others);
    else res.removeHeader('Set-Cookie');
  };

  const set: SessionCookie['set'] = (res, token, persistUntil) => {
    withdraw(res);
    const maxAge = persistUntil === undefined ? undefined : Math.max(0, persistUntil - clock.now());
    res.cookie(name, token, maxAge === undefined ? attributes : { ...attributes, maxAge });
  };
  return {
    set,
    issue(res, { token, session }) {
      set(res, token, session.rememberMe ? session.expiresAt : undefined);
    },
    read(req) {
      const header = req.headers.cookie;
      if (!header) return undefined;
      return parse(header)[name];
    },
    clear(res) {
      withdraw(res);
      res.clearCookie(name, attributes);
    },
  };
}

/**
 * The device cookie (API.md, "Devices and new sign-in alerts"): `did`, or `__Host-did` when
 * secure; HttpOnly, SameSite=Lax, Path=/, a year. It only recognises a browser that signed in
 * before; nothing is ever authenticated by it.
 */
export interface DeviceCookie {
  read(req: Request): string | undefined;
  /** After a completed sign-in: sets `token` unless the browser already sent exactly that. */
  keep(req: Request, res: Response, token: string): void;
}

const DEVICE_COOKIE_MAX_AGE_MS = 365 * 86_400_000;

export function deviceCookie(secure: boolean): DeviceCookie {
  const name = secure ? '__Host-did' : 'did';
  const attributes = { httpOnly: true, sameSite: 'lax', path: '/', secure, maxAge: DEVICE_COOKIE_MAX_AGE_MS } as const;
  return {
    read(req) {
      const header = req.headers.cookie;
      return header ? parse(header)[name] : undefined;
    },
    keep(req, res, token) {
      if (this.read(req) !== token) res.cookie(name, token, attributes);
    },
  };
}
