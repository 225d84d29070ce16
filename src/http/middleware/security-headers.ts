/**
 * helmet's security headers, worked out once. helmet runs a dozen small middlewares per request,
 * each setting one header to a value that never changes for a given configuration (Latch uses
 * no per-request nonce: the pages set their own CSP). So helmet runs once, at start, against a
 * response that records what it sets and removes, and each request then gets the very same
 * headers in one step. test/http/security-headers.test.ts compares them with helmet's own, header
 * for header.
 */
import type { Request, RequestHandler, Response } from 'express';
import helmet, { type HelmetOptions } from 'helmet';

export function securityHeaders(options: HelmetOptions): RequestHandler {
  if (hasPerRequestValue(options)) throw new Error('a CSP directive computed per request needs helmet itself, not a recording');
  const set: Array<[string, string]> = [];
  const removed: string[] = [];
  const recorder = {
    setHeader(name: string, value: unknown) {
      set.push([name, String(value)]);
      return recorder;
    },
    removeHeader(name: string) {
      removed.push(name);
    },
  };
  let finished = false;
  helmet(options)({ headers: {} } as Request, recorder as unknown as Response, (error?: unknown) => {
    if (error) throw error;
    finished = true;
  });
  // A helmet that needed the request, or answered later, would make the recording wrong.
  if (!finished) throw new Error('helmet did not set its headers synchronously');
  return (_req, res, next) => {
    for (const [name, value] of set) res.setHeader(name, value);
    for (const name of removed) res.removeHeader(name);
    next();
  };
}

function hasPerRequestValue(options: HelmetOptions): boolean {
  const csp = options.contentSecurityPolicy;
  const directives = typeof csp === 'object' && csp.directives ? Object.values(csp.directives) : [];
  return directives.some((value) => typeof value === 'function' || (Array.isArray(value) && value.some((part) => typeof part === 'function')));
}
