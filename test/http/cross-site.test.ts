/**
 * Cross-site protection (API.md, "Cross-site requests"), CORS, security headers and the secure
 * cookie. Forged origins attack every state-changing endpoint, login and register included.
 */
import { describe, expect, it } from 'vitest';
import { describeOnBackends, sqlite } from '../support/backends.js';
import { Client, signedUp, STRONG_PASSWORD, uniqueEmail } from '../support/server.js';

const TRUSTED = 'https://app.example.test';

describeOnBackends(
  'cross-site requests',
  ({ server }) => {
    const url = () => server().url;

    it('refuses cross-site and same-site (sibling) browser requests on every state-changing endpoint', async () => {
      const { client, email } = await signedUp(url());
      const attempts = [
        () => client.post('/api/auth/logout', undefined, { 'sec-fetch-site': 'cross-site', origin: 'https://evil.example' }),
        () => client.post('/api/auth/logout', undefined, { 'sec-fetch-site': 'same-site', origin: 'https://sub.example.test' }),
        () => new Client(url()).post('/api/auth/login', { email, password: STRONG_PASSWORD }, { 'sec-fetch-site': 'cross-site' }),
        () =>
          new Client(url()).post(
            '/api/auth/register',
            { email: uniqueEmail(), password: STRONG_PASSWORD, name: 'Csrf Victim' },
            { 'sec-fetch-site': 'cross-site', origin: 'https://evil.example' },
          ),
      ];
      for (const attempt of attempts) {
        const res = await attempt();
        expect(res.status).toBe(403);
        expect(res.body).toEqual({ error: expect.any(String), code: 'csrf' });
      }
      // The victim is still signed in: the forged logout did nothing.
      expect((await client.get('/api/auth/me')).status).toBe(200);
    });

    it('without Fetch Metadata, refuses a foreign or null Origin', async () => {
      const { client } = await signedUp(url());
      for (const origin of ['https://evil.example', 'null', 'http://127.0.0.1:1', `${url()}.evil.example`]) {
        const res = await client.post('/api/auth/logout', undefined, { origin });
        expect(res.status, origin).toBe(403);
        expect(res.body.code).toBe('csrf');
      }
      expect((await client.get('/api/auth/me')).status).toBe(200);
    });

    it('lets same-origin, user-initiated and non-browser requests through', async () => {
      const { email } = await signedUp(url());
      const cases: Array<Record<string, string>> = [
        { 'sec-fetch-site': 'same-origin', origin: url() },
        { 'sec-fetch-site': 'none' },
        { origin: url() }, // the scheme and host the request was addressed to
        { origin: 'http://localhost:3000' }, // PUBLIC_URL's origin
        {}, // curl and server-to-server clients send neither header
      ];
      for (const headers of cases) {
        const client = new Client(url());
        const login = await client.post('/api/auth/login', { email, password: STRONG_PASSWORD }, headers);
        expect(login.status, JSON.stringify(headers)).toBe(200);
        expect((await client.post('/api/auth/logout', undefined, headers)).status).toBe(200);
      }
    });

    it('lets a trusted origin through, cross-site or not', async () => {
      const { email } = await signedUp(url());
      const client = new Client(url());
      const res = await client.post('/api/auth/login', { email, password: STRONG_PASSWORD }, { 'sec-fetch-site': 'cross-site', origin: TRUSTED });
      expect(res.status).toBe(200);
      expect((await client.post('/api/auth/logout', undefined, { origin: TRUSTED })).status).toBe(200);
    });

    it('does not check safe methods (GET reads nothing it could change)', async () => {
      const { client } = await signedUp(url());
      const res = await client.get('/api/auth/me', { 'sec-fetch-site': 'cross-site', origin: 'https://evil.example' });
      expect(res.status).toBe(200);
      expect(res.headers.get('access-control-allow-origin')).toBeNull();
    });

    it('answers CORS for trusted origins only, with credentials, never reflecting others', async () => {
      const preflight = await new Client(url()).request('OPTIONS', '/api/auth/login', {
        headers: { origin: TRUSTED, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type' },
      });
      expect(preflight.status).toBeLessThan(300);
      expect(preflight.headers.get('access-control-allow-origin')).toBe(TRUSTED);
      expect(preflight.headers.get('access-control-allow-credentials')).toBe('true');

      for (const origin of ['https://evil.example', 'null', `${TRUSTED}.evil.example`, TRUSTED.replace('https', 'http')]) {
        const res = await new Client(url()).request('OPTIONS', '/api/auth/login', {
          headers: { origin, 'access-control-request-method': 'POST' },
        });
        expect(res.headers.get('access-control-allow-origin'), origin).toBeNull();
        expect(res.headers.get('access-control-allow-credentials')).toBeNull();
      }
    });

    it("sends helmet's security headers", async () => {
      const res = await new Client(url()).get('/api/auth/me');
      expect(res.headers.get('x-content-type-options')).toBe('nosniff');
      expect(res.headers.get('x-frame-options')).toBe('SAMEORIGIN');
      expect(res.headers.get('content-security-policy')).toContain("default-src 'self'");
      expect(res.headers.get('referrer-policy')).toBe('no-referrer');
      expect(res.headers.get('x-powered-by')).toBeNull();
    });
  },
  { backends: [sqlite], latch: () => ({ trustedOrigins: [TRUSTED] }) },
);

describe('secure cookies', () => {
  describeOnBackends(
    'COOKIE_SECURE=true',
    ({ server }) => {
      it('names the cookie __Host-sid and marks it Secure, with no Domain', async () => {
        const client = new Client(server().url);
        const res = await client.post('/api/auth/register', { email: uniqueEmail(), password: STRONG_PASSWORD, name: 'Secure Sam' });
        expect(res.status).toBe(201);
        const line = res.headers.getSetCookie().find((l) => l.startsWith('__Host-sid='))!;
        expect(line).toMatch(/^__Host-sid=[^;]+; Path=\/; HttpOnly; Secure; SameSite=Lax$/);
        expect(res.headers.getSetCookie().some((l) => l.startsWith('sid='))).toBe(false);
        expect((await client.get('/api/auth/me')).status).toBe(200);
        expect(res.headers.get('strict-transport-security')).toMatch(/max-age=\d+/);

        // A plain `sid` cookie (as a sibling subdomain could plant) is not read in secure mode.
        const planted = new Client(server().url);
        planted.cookies.set('sid', client.cookies.get('__Host-sid')!);
        expect((await planted.get('/api/auth/me')).status).toBe(401);
      });
    },
    { backends: [sqlite], latch: () => ({ cookieSecure: true }) },
  );
});
