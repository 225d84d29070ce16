/**
 * Cross-site request refusal by Fetch Metadata and Origin (API.md, "Cross-site requests").
 * SameSite=Lax already keeps the cookie off most cross-site POSTs; this closes the rest
 * (sibling subdomains are "same-site", older browsers) without a token round trip.
 */
import type { Request, RequestHandler } from 'express';
import { LatchError } from '../../domain/errors.js';

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

export interface CrossSiteOptions {
  /** This server's public origin (PUBLIC_URL). */
  publicOrigin: string;
  trustedOrigins: readonly string[];
}

export function crossSiteProtection(options: CrossSiteOptions): RequestHandler {
  const refusal = crossSiteRefusal(options);
  return (req, _res, next) => next(refusal(req));
}

/** The same rule as a plain check, for a caller that goes on itself (no callback per request). */
export function crossSiteRefusal(options: CrossSiteOptions): (req: Request) => LatchError | undefined {
  const trusted = new Set(options.trustedOrigins);
  const refuse = () => new LatchError('csrf', 'Cross-site request refused');

  return (req) => {
    if (SAFE_METHODS.has(req.method)) return undefined;
    const fetchSite = req.get('sec-fetch-site');
    const origin = req.get('origin');
    if (fetchSite !== undefined) {
      if (fetchSite === 'same-origin' || fetchSite === 'none') return undefined;
      return origin !== undefined && trusted.has(origin) ? undefined : refuse();
    }
    if (origin === undefined) return undefined; // not a browser: nothing ambient to abuse
    const allowed = origin === options.publicOrigin || origin === addressedOrigin(req) || trusted.has(origin);
    return allowed ? undefined : refuse(); // `Origin: null` matches none of them
  };
}

/** The scheme and host the request was sent to (the proxy's view when `trust proxy` is set). */
function addressedOrigin(req: Request): string | undefined {
  const host = req.get('host');
  return host ? `${req.protocol}://${host}` : undefined;
}
