/**
 * The security headers Latch sets once per request from a recording of helmet (security-headers.ts)
 * are helmet's own, header for header, over HTTP and HTTPS settings; and the pages still replace
 * the CSP with their own.
 */
import type { AddressInfo } from 'node:net';
import express, { type RequestHandler } from 'express';
import helmet from 'helmet';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { securityHeaders } from '../../src/http/middleware/security-headers.js';
import { helmetOptions } from '../../src/http/server-app.js';

/** Headers of a response, without the ones that change per response or per connection. */
async function headersFrom(middleware: RequestHandler): Promise<Record<string, string>> {
  const app = express();
  app.disable('x-powered-by');
  app.use(middleware);
  app.get('/', (_req, res) => void res.json({ ok: true }));
  app.get('/page', (_req, res) => {
    res.setHeader('Content-Security-Policy', "default-src 'none'");
    res.type('html').send('<p>page</p>');
  });
  const server = app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  try {
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const collect = async (path: string) => {
      const res = await fetch(base + path);
      return Object.fromEntries([...res.headers].filter(([name]) => !['date', 'etag', 'connection', 'keep-alive', 'content-length'].includes(name)));
    };
    return { ...(await collect('/')), page_csp: (await collect('/page'))['content-security-policy']! };
  } finally {
    await new Promise((resolve) => server.close(resolve));
  }
}

describe('security headers worked out once', () => {
  for (const https of [false, true]) {
    it(`are helmet's own, header for header (${https ? 'HTTPS' : 'HTTP'} settings)`, async () => {
      const [expected, actual] = [await headersFrom(helmet(helmetOptions(https))), await headersFrom(securityHeaders(helmetOptions(https)))];
      expect(Object.keys(expected).length).toBeGreaterThan(10);
      expect(actual).toEqual(expected);
      expect(actual['strict-transport-security'] !== undefined).toBe(https);
      expect(actual.page_csp).toBe("default-src 'none'");
    });
  }

  it('refuse a helmet configuration that cannot be worked out once (a per-request CSP nonce)', () => {
    const nonce = (_req: unknown, res: unknown) => `'nonce-${String((res as { locals: { nonce: string } }).locals.nonce)}'`;
    expect(() => securityHeaders({ contentSecurityPolicy: { directives: { scriptSrc: ["'self'", nonce] } } })).toThrow(/per request/);
    expect(() => securityHeaders(helmetOptions(true))).not.toThrow();
  });
});
