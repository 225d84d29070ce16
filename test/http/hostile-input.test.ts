/**
 * Hostile input (API.md, "Conventions"): oversized, mistyped, malformed and prototype-poisoning
 * bodies, NUL bytes, giant cookies. Never a 5xx, always the one error shape, nothing internal.
 */
import net from 'node:net';
import { expect, it } from 'vitest';
import { describeOnBackends, postgresRedis, sqlite } from '../support/backends.js';
import { Client, signedUp, STRONG_PASSWORD, uniqueEmail, type Reply } from '../support/server.js';

function expectErrorShape(res: Reply, status: number, code: string) {
  expect(res.status).toBe(status);
  expect(res.body.code).toBe(code);
  const keys = Object.keys(res.body).sort();
  expect(keys.filter((k) => k !== 'issues')).toEqual(['code', 'error']);
  expect(res.text).not.toMatch(/at \w+ \(|node_modules|\/src\/|SELECT|sqlite|postgres|redis/i);
  expect(res.headers.get('cache-control')).toBe('no-store');
}

describeOnBackends(
  'hostile input',
  ({ server }) => {
    const url = () => server().url;

    it('refuses a body over 10 KiB with 413 before reading it', async () => {
      const big = JSON.stringify({ email: uniqueEmail(), password: 'p'.repeat(10_300), name: 'Big Body' });
      const res = await new Client(url()).request('POST', '/api/auth/register', {
        body: big,
        headers: { 'content-type': 'application/json' },
      });
      expectErrorShape(res, 413, 'payload_too_large');
    });

    it('refuses an over-limit body sent chunked (no Content-Length) with 413', async () => {
      const chunks = (async function* () {
        yield new TextEncoder().encode('{"email":"a@b.co","password":"');
        for (let i = 0; i < 12; i++) yield new TextEncoder().encode('x'.repeat(1024));
        yield new TextEncoder().encode('","name":"Big"}');
      })();
      const response = await fetch(`${url()}/api/auth/register`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: chunks as unknown as ReadableStream,
        duplex: 'half',
      } as RequestInit);
      expect(response.status).toBe(413);
      expect(((await response.json()) as { code: string }).code).toBe('payload_too_large');
    });

    it('a body of exactly 10,240 bytes is parsed (the limit is inclusive)', async () => {
      const base = JSON.stringify({ email: uniqueEmail(), password: '', name: 'Exact Size' });
      const body = base.replace('"password":""', `"password":"${'q'.repeat(10_240 - base.length)}"`);
      expect(Buffer.byteLength(body)).toBe(10_240);
      const res = await new Client(url()).request('POST', '/api/auth/register', { body, headers: { 'content-type': 'application/json' } });
      expectErrorShape(res, 400, 'weak_password'); // parsed and judged: too long, not too big
    });

    it('refuses non-JSON bodies with 415', async () => {
      for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/json-seq']) {
        const res = await new Client(url()).request('POST', '/api/auth/login', { body: 'email=a&password=b', headers: { 'content-type': type } });
        expectErrorShape(res, 415, 'unsupported_media_type');
      }
      const missing = await new Client(url()).request('POST', '/api/auth/login', { body: '{"email":"a"}' });
      expect([415]).toContain(missing.status);
    });

    it('answers malformed JSON with 400 invalid_input', async () => {
      for (const body of ['{', '{"email": }', 'null', '"just a string"', '42', '{"a":1}}', '\u0000']) {
        const res = await new Client(url()).request('POST', '/api/auth/login', { body, headers: { 'content-type': 'application/json' } });
        expectErrorShape(res, 400, 'invalid_input');
      }
    });

    it('answers wrong types with 400 invalid_input and per-field issues', async () => {
      const bodies = [
        { email: 42, password: STRONG_PASSWORD, name: 'Typed Wrong' },
        { email: uniqueEmail(), password: ['a'], name: 'Typed Wrong' },
        { email: uniqueEmail(), password: STRONG_PASSWORD, name: { first: 'x' } },
        { email: uniqueEmail(), password: STRONG_PASSWORD },
        [],
        {},
      ];
      for (const json of bodies) {
        const res = await new Client(url()).post('/api/auth/register', json);
        expectErrorShape(res, 400, 'invalid_input');
        expect(res.body.issues.length).toBeGreaterThan(0);
        for (const issue of res.body.issues) expect(issue).toEqual({ path: expect.any(String), message: expect.any(String) });
      }
      const login = await new Client(url()).post('/api/auth/login', { email: 'a@b.co', password: 'x', rememberMe: 'yes' });
      expectErrorShape(login, 400, 'invalid_input');
      expect(login.body.issues[0].path).toBe('rememberMe');
    });

    it('refuses NUL bytes and control characters in emails and names', async () => {
      const cases = [
        { email: `a\u0000${uniqueEmail()}`, password: STRONG_PASSWORD, name: 'Nul Email' },
        { email: uniqueEmail(), password: STRONG_PASSWORD, name: 'Nul\u0000Name' },
        { email: `${uniqueEmail()}\r\nBcc: victim@example.test`, password: STRONG_PASSWORD, name: 'Crlf Email' },
        { email: uniqueEmail(), password: STRONG_PASSWORD, name: 'Line\nBreak' },
        { email: 'x'.repeat(250) + '@a.co', password: STRONG_PASSWORD, name: 'Long Email' },
        { email: uniqueEmail(), password: STRONG_PASSWORD, name: 'x' },
        { email: uniqueEmail(), password: STRONG_PASSWORD, name: 'n'.repeat(101) },
      ];
      for (const json of cases) {
        expectErrorShape(await new Client(url()).post('/api/auth/register', json), 400, 'invalid_input');
      }
      // A NUL byte inside a password is just a character: hashed, never truncated at it.
      const email = uniqueEmail('nul-pass');
      const reg = await new Client(url()).post('/api/auth/register', { email, password: `${STRONG_PASSWORD}\u0000tail`, name: 'Nul Pass' });
      expect(reg.status).toBe(201);
      const cut = await new Client(url()).post('/api/auth/login', { email, password: STRONG_PASSWORD });
      expectErrorShape(cut, 401, 'invalid_credentials');
    });

    it('never lets __proto__ or constructor keys reach a prototype', async () => {
      const email = uniqueEmail('proto');
      const body = `{"email":"${email}","password":"${STRONG_PASSWORD}","name":"Proto Type","__proto__":{"polluted":"yes","emailVerified":true},"constructor":{"prototype":{"polluted":"yes"}}}`;
      const res = await new Client(url()).request('POST', '/api/auth/register', { body, headers: { 'content-type': 'application/json' } });
      expect(res.status).toBe(201);
      expect(res.body.user.emailVerified).toBe(false);
      expect(({} as Record<string, unknown>).polluted).toBeUndefined();
      expect(Object.prototype).not.toHaveProperty('polluted');
      const nested = await new Client(url()).request('POST', '/api/auth/login', {
        body: '{"email":{"__proto__":{"x":1}},"password":"y"}',
        headers: { 'content-type': 'application/json' },
      });
      expectErrorShape(nested, 400, 'invalid_input');
    });

    it('survives garbage, huge and duplicated cookies without a 5xx', async () => {
      const { client } = await signedUp(url());
      const good = client.cookies.get('sid')!;
      const cookies = [
        'sid=' + 'A'.repeat(8000),
        'sid=%E0%A4%A',
        'sid=' + good + '; sid=garbage',
        'sid=garbage; sid=' + good,
        'sid=' + good.replace('.', '..'),
        'sid=' + good + '\u0000',
        'sid=__proto__',
        'sid=.' ,
        '__proto__=x; constructor=y; sid=',
      ];
      for (const cookie of cookies) {
        const res = await rawRequest(url(), `GET /api/auth/me HTTP/1.1\r\nHost: x\r\nConnection: close\r\nCookie: ${cookie}\r\n\r\n`);
        expect(res, cookie.slice(0, 40)).toMatch(/^HTTP\/1\.1 (200|400|401) /);
      }
      // The first of duplicated cookies wins, like in browsers; a valid session still works.
      expect(await rawRequest(url(), `GET /api/auth/me HTTP/1.1\r\nHost: x\r\nConnection: close\r\nCookie: sid=${good}; sid=x\r\n\r\n`)).toMatch(/^HTTP\/1\.1 200 /);
      // Headers past Node's limit are refused by the HTTP parser itself, not with a 5xx.
      const huge = await rawRequest(url(), `GET /api/auth/me HTTP/1.1\r\nHost: x\r\nCookie: sid=${'B'.repeat(70_000)}\r\n\r\n`);
      expect(huge).toMatch(/^HTTP\/1\.1 431/);
    });

    it('refuses compressed bodies, undecodable paths and NUL in a login email without a 5xx', async () => {
      for (const encoding of ['gzip', 'deflate', 'br']) {
        const res = await new Client(url()).request('POST', '/api/auth/register', {
          body: '{',
          headers: { 'content-type': 'application/json', 'content-encoding': encoding },
        });
        expectErrorShape(res, 415, 'unsupported_media_type');
      }
      const { client } = await signedUp(url());
      expectErrorShape(await client.request('DELETE', '/api/auth/sessions/%ff'), 400, 'invalid_input');
      expectErrorShape(await new Client(url()).get('/api/auth/%E0%A4%A'), 404, 'not_found');
      const nul = await new Client(url()).post('/api/auth/login', { email: '\u0000a@a.aa', password: '\u0000' });
      expectErrorShape(nul, 400, 'invalid_input');
    });

    it('answers unknown API routes with 404 in the error shape', async () => {
      for (const path of ['/api/auth/nope', '/api/auth/me/extra', '/api/unknown', '/api']) {
        expectErrorShape(await new Client(url()).get(path), 404, 'not_found');
      }
      expectErrorShape(await new Client(url()).request('DELETE', '/api/auth/login'), 404, 'not_found');
    });
  },
  { backends: [sqlite, postgresRedis] },
);

function rawRequest(baseUrl: string, request: string): Promise<string> {
  const { hostname, port } = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    let data = '';
    const socket = net.connect({ host: hostname, port: Number(port) }, () => socket.write(request));
    socket.on('data', (chunk) => (data += chunk));
    socket.on('end', () => resolve(data));
    socket.on('close', () => resolve(data));
    socket.on('error', reject);
  });
}
