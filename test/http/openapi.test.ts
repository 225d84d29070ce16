/**
 * The OpenAPI document (API.md, "GET /api/openapi.json") against the real server:
 * (a) it lists exactly the routes the server mounts, (b) the answers the server really gives
 * match the response schemas (and statuses) it documents, (c) /api/docs renders every path.
 */
import { createRequire } from 'node:module';
import type { Router } from 'express';
import { describe, expect, it } from 'vitest';
import type { ValidateFunction } from 'ajv';
import { createServerApp } from '../../src/http/server-app.js';
import { openApiDocument } from '../../src/http/openapi/document.js';
import { totpCode } from '../../src/domain/totp.js';
import { describeOnBackends, sqlite } from '../support/backends.js';
import { Client, STRONG_PASSWORD, signedUp, uniqueEmail, type Reply } from '../support/server.js';
import { SoftAuthenticator } from '../support/soft-authenticator.js';

// ajv and ajv-formats are CommonJS with `exports.default`; require() sidesteps ESM interop.
const require = createRequire(import.meta.url);
const Ajv2020 = require('ajv/dist/2020').default as typeof import('ajv/dist/2020.js').default;
const addFormats = require('ajv-formats').default as typeof import('ajv-formats').default;

type Json = Record<string, any>;
type Method = 'get' | 'post' | 'delete' | 'put' | 'patch';

const doc = openApiDocument() as Json;

/** The relying party of the suite's server, and the "browser" the soft authenticator plays. */
const WEBAUTHN = { rpId: 'latch.test', origin: 'https://latch.test' };

/* ---------------------------------------------------------------- schema validation */

const ajv = new Ajv2020({ allErrors: true, strict: false });
addFormats(ajv);
// The document's components as one schema resource, so `#/components/schemas/X` refs resolve.
const DOC_ID = 'https://latch.invalid/openapi.json';
ajv.addSchema({ $id: DOC_ID, components: { schemas: doc.components.schemas } });
const compiled = new Map<unknown, ValidateFunction>();

function validator(schema: Json): ValidateFunction {
  let validate = compiled.get(schema);
  if (!validate) {
    // Re-root relative refs on the document resource.
    const rerooted = JSON.parse(JSON.stringify(schema).replaceAll('"#/components/', `"${DOC_ID}#/components/`));
    validate = ajv.compile(rerooted);
    compiled.set(schema, validate);
  }
  return validate;
}

function operation(method: Method, path: string): Json {
  const op = doc.paths[path]?.[method];
  if (!op) throw new Error(`${method.toUpperCase()} ${path} is not in the document`);
  return op;
}

/** Every (operation, status) the suite has seen, to prove each operation was exercised. */
const seen = new Set<string>();

/** Asserts that `reply` is a documented answer of `method path` and that its body matches. */
function conforms(reply: Reply, method: Method, path: string, expectedStatus?: number): void {
  if (expectedStatus !== undefined) expect(reply.status, `${method} ${path}: ${reply.text}`).toBe(expectedStatus);
  const op = operation(method, path);
  const response = op.responses[String(reply.status)];
  expect(response, `${method.toUpperCase()} ${path} answered an undocumented ${reply.status}: ${reply.text}`).toBeDefined();
  seen.add(`${method} ${path}`);

  const content: Record<string, Json> = response.content ?? {};
  if (!Object.keys(content).length) {
    expect(reply.text, `${method} ${path} ${reply.status} documents no body`).toBe('');
  } else {
    const contentType = reply.headers.get('content-type') ?? '';
    const mediaType = Object.keys(content).find((t) => contentType.startsWith(t.split(';')[0]!));
    expect(mediaType, `content-type ${contentType} not documented for ${method} ${path} ${reply.status}`).toBeDefined();
    if (mediaType === 'application/json') {
      const validate = validator(content[mediaType]!.schema);
      const ok = validate(reply.body);
      expect(ok, `${method.toUpperCase()} ${path} ${reply.status} body ${reply.text}\n${JSON.stringify(validate.errors, null, 2)}`).toBe(true);
    }
  }
  for (const name of Object.keys(response.headers ?? {})) {
    if (name === 'Set-Cookie') continue; // e.g. deleting another session's id clears nothing
    expect(reply.headers.get(name), `${method} ${path} ${reply.status} should send ${name}`).not.toBeNull();
  }
  if (path.startsWith('/api/')) expect(reply.headers.get('cache-control')).toBe('no-store');
}

/** A request body the test sends must itself be valid per the documented request schema. */
function acceptsBody(method: Method, path: string, body: unknown): void {
  const schema = operation(method, path).requestBody?.content?.['application/json']?.schema;
  expect(schema, `${method} ${path} documents no request body`).toBeDefined();
  const validate = validator(schema);
  expect(validate(body), JSON.stringify(validate.errors)).toBe(true);
}

/* ---------------------------------------------------------------- mounted routes */

interface Layer {
  route?: { path: string | string[]; methods: Record<string, boolean> };
  handle?: unknown;
}

function routesOf(router: { stack: Layer[] }, prefix: string): string[] {
  const out: string[] = [];
  for (const layer of router.stack) {
    if (!layer.route) continue;
    const paths = Array.isArray(layer.route.path) ? layer.route.path : [layer.route.path];
    for (const path of paths) {
      for (const [method, on] of Object.entries(layer.route.methods)) {
        if (on && method !== '_all') out.push(`${method.toUpperCase()} ${prefix}${path}`.replace(/:(\w+)/g, '{$1}'));
      }
    }
  }
  return out;
}

function documentedRoutes(): string[] {
  const out: string[] = [];
  for (const [path, item] of Object.entries<Json>(doc.paths)) {
    for (const method of ['get', 'post', 'put', 'patch', 'delete', 'head', 'options']) {
      if (item[method]) out.push(`${method.toUpperCase()} ${path}`);
    }
  }
  return out.sort();
}

/* ---------------------------------------------------------------- the suite */

describe('OpenAPI document (static)', () => {
  it('is OpenAPI 3.1 with the cookie security schemes and unique operation ids', () => {
    expect(doc.openapi).toMatch(/^3\.1\./);
    expect(doc.components.securitySchemes.sessionCookie).toMatchObject({ type: 'apiKey', in: 'cookie', name: 'sid' });
    expect(doc.components.securitySchemes.secureSessionCookie).toMatchObject({ type: 'apiKey', in: 'cookie', name: '__Host-sid' });
    const ids = Object.values<Json>(doc.paths).flatMap((item) => Object.values<Json>(item).map((op) => op.operationId));
    expect(new Set(ids).size).toBe(ids.length);
    // Every schema in the document compiles under JSON Schema 2020-12.
    for (const name of Object.keys(doc.components.schemas)) validator({ $ref: `#/components/schemas/${name}` });
  });

  it('takes request bodies from the zod schemas the server validates with', async () => {
    const { z } = await import('zod');
    const schemas = await import('../../src/http/schemas.js');
    const generated = z.toJSONSchema(schemas.registerBody, { io: 'input', target: 'draft-2020-12' }) as Json;
    const inDoc = doc.components.schemas.RegisterRequest;
    expect(inDoc.required).toEqual(generated.required);
    expect(inDoc.properties.email.maxLength).toBe(generated.properties.email.maxLength);
    expect(operation('post', '/api/auth/register').requestBody.content['application/json'].schema.$ref).toBe('#/components/schemas/RegisterRequest');
    expect(operation('get', '/api/auth/events').parameters.map((p: Json) => p.name).sort()).toEqual(['before', 'limit']);
  });

  it('response schemas reject what the contract forbids (the validator bites)', () => {
    const user = { id: 'u1', email: 'a@b.test', name: 'Ab', emailVerified: false, createdAt: new Date().toISOString(), role: 'user', twoFactor: false };
    const userResponse = validator({ $ref: '#/components/schemas/UserResponse' });
    expect(userResponse({ user })).toBe(true);
    expect(userResponse({ user: { ...user, passwordHash: '$argon2id$...' } })).toBe(false);
    expect(userResponse({ user: { ...user, createdAt: 'yesterday' } })).toBe(false);
    const error = validator({ $ref: '#/components/schemas/Error' });
    expect(error({ error: 'x', code: 'internal' })).toBe(true);
    expect(error({ error: 'x', code: 'internal', stack: 'at foo (/src/x.ts:1)' })).toBe(false);
    expect(error({ error: 'x', code: 'no_such_code' })).toBe(false);
    const passkey = { id: 'p1', name: 'Laptop', createdAt: new Date().toISOString(), lastUsedAt: null, backedUp: true };
    const passkeyResponse = validator({ $ref: '#/components/schemas/PasskeyResponse' });
    expect(passkeyResponse({ passkey })).toBe(true);
    expect(passkeyResponse({ passkey: { ...passkey, credentialId: 'AAAA' } })).toBe(false);
    expect(passkeyResponse({ passkey: { ...passkey, publicKey: 'pQECAyYg' } })).toBe(false);
    const requestOptions = validator(operation('post', '/api/auth/passkeys/login/options').responses['200'].content['application/json'].schema);
    const challenge = Buffer.alloc(32, 7).toString('base64url');
    expect(requestOptions({ challenge, rpId: WEBAUTHN.rpId, userVerification: 'required' })).toBe(true);
    expect(requestOptions({ challenge, rpId: WEBAUTHN.rpId, userVerification: 'preferred' })).toBe(false);
    expect(requestOptions({ challenge: `${challenge.slice(1)}=`, rpId: WEBAUTHN.rpId, userVerification: 'required' })).toBe(false);
    const registration = validator({ $ref: '#/components/schemas/PasskeyRegisterRequest' });
    const attestation = { clientDataJSON: 'eyJ9', attestationObject: 'o2Nm' };
    expect(registration({ response: { id: 'AA', rawId: 'AA', type: 'public-key', response: attestation, clientExtensionResults: {} } })).toBe(true);
    expect(registration({ response: { id: 'A+A/', rawId: 'AA', type: 'public-key', response: attestation, clientExtensionResults: {} } })).toBe(false);
    const loginUnauthorized = validator(operation('post', '/api/auth/login').responses['401'].content['application/json'].schema);
    expect(loginUnauthorized({ error: 'x', code: 'invalid_credentials' })).toBe(true);
    expect(loginUnauthorized({ error: 'x', code: 'unauthorized' })).toBe(false);
  });

  it('documents the administration codes where they are answered', () => {
    const codes = (method: Method, path: string, status: number) =>
      operation(method, path).responses[String(status)]?.content['application/json'].schema.properties.code.enum as string[];
    expect(codes('post', '/api/auth/login', 403)).toContain('account_disabled');
    expect(codes('post', '/api/auth/passkeys/login', 403)).toContain('account_disabled');
    for (const [path, item] of Object.entries<Json>(doc.paths)) {
      if (!path.startsWith('/api/admin/')) continue;
      for (const [method, op] of Object.entries<Json>(item)) {
        expect(op['x-latch-access'], `${method} ${path}`).toBe('admin');
        expect(codes(method as Method, path, 401)).toEqual(['unauthorized', 'mfa_required']);
        expect(codes(method as Method, path, 403)).toEqual(expect.arrayContaining(['forbidden', 'second_factor_required']));
        expect(op.responses['429'], `${method} ${path}: nothing on /api/admin is rate-limited`).toBeUndefined();
      }
    }
    expect(codes('post', '/api/admin/users/{id}/role', 409)).toEqual(['self_target', 'last_admin']);
    for (const code of ['account_disabled', 'forbidden', 'self_target', 'last_admin']) {
      expect(doc.components.schemas.Error.properties.code.enum).toContain(code);
    }
  });

  it('documents Retry-After on every 429 and 503', () => {
    for (const item of Object.values<Json>(doc.paths)) {
      for (const op of Object.values<Json>(item)) {
        for (const status of ['429', '503']) {
          if (op.responses[status]) expect(op.responses[status].headers?.['Retry-After'], op.operationId).toBeDefined();
        }
      }
    }
  });
});

describeOnBackends(
  'OpenAPI document vs. the server',
  ({ server }) => {
    it('lists every route the server mounts, and only those', () => {
      const latch = server().latch;
      const app = createServerApp(latch) as unknown as { router: { stack: Layer[] } };
      const apiRouter = latch.router as unknown as Router & { stack: Layer[] };
      const adminRouter = latch.adminRouter as unknown as Router & { stack: Layer[] };
      const mounted: string[] = routesOf(app.router, '');
      let foundApi = false;
      let foundAdmin = false;
      for (const layer of app.router.stack) {
        if (layer.handle === latch.router) {
          foundApi = true;
          mounted.push(...routesOf(apiRouter, '/api/auth'));
        } else if (layer.handle === latch.adminRouter) {
          foundAdmin = true;
          mounted.push(...routesOf(adminRouter, '/api/admin'));
        } else if (!layer.route && Array.isArray((layer.handle as { stack?: unknown })?.stack)) {
          // Other routers (the web UI's HTML pages) are not part of the API contract, unless
          // one of their routes lives under /api.
          mounted.push(...routesOf(layer.handle as { stack: Layer[] }, '').filter((r) => r.split(' ')[1]!.startsWith('/api')));
        }
      }
      expect(foundApi).toBe(true);
      expect(foundAdmin).toBe(true);
      const unique = [...new Set(mounted)].sort();
      expect(unique).toEqual(documentedRoutes());
      for (const required of ['POST /api/auth/register', 'DELETE /api/auth/sessions/{id}', 'GET /healthz', 'GET /readyz', 'GET /metrics', 'GET /api/openapi.json', 'GET /api/admin/users', 'DELETE /api/admin/users/{id}']) {
        expect(unique).toContain(required);
      }
    });

    it('serves the document itself', async () => {
      const reply = await new Client(server().url).get('/api/openapi.json');
      conforms(reply, 'get', '/api/openapi.json', 200);
      expect(reply.body).toEqual(JSON.parse(JSON.stringify(doc)));
    });

    it('register, login, me, sessions, events, logout answer as documented', async () => {
      const url = server().url;
      const email = uniqueEmail('oa');
      const browser = new Client(url);
      const register = { email, password: STRONG_PASSWORD, name: 'Open Api' };
      acceptsBody('post', '/api/auth/register', register);
      conforms(await browser.post('/api/auth/register', register), 'post', '/api/auth/register', 201);
      conforms(await browser.post('/api/auth/register', register), 'post', '/api/auth/register', 400); // already_authenticated

      const me = await browser.get('/api/auth/me');
      conforms(me, 'get', '/api/auth/me', 200);
      expect(me.body.session.current).toBe(true);

      const other = new Client(url);
      const login = { email, password: STRONG_PASSWORD, rememberMe: true };
      acceptsBody('post', '/api/auth/login', login);
      conforms(await other.post('/api/auth/login', login), 'post', '/api/auth/login', 200);

      const sessions = await browser.get('/api/auth/sessions');
      conforms(sessions, 'get', '/api/auth/sessions', 200);
      expect(sessions.body.sessions).toHaveLength(2);
      const otherId = sessions.body.sessions.find((s: Json) => !s.current).id as string;

      conforms(await browser.request('DELETE', `/api/auth/sessions/${otherId}`), 'delete', '/api/auth/sessions/{id}', 204);
      conforms(await browser.request('DELETE', '/api/auth/sessions/AAAAAAAAAAAAAAAAAAAAAA'), 'delete', '/api/auth/sessions/{id}', 404);
      conforms(await browser.request('DELETE', '/api/auth/sessions/nope'), 'delete', '/api/auth/sessions/{id}', 404);
      conforms(await other.get('/api/auth/me'), 'get', '/api/auth/me', 401);

      await new Client(url).post('/api/auth/login', { email, password: STRONG_PASSWORD });
      const revoked = await browser.request('DELETE', '/api/auth/sessions');
      conforms(revoked, 'delete', '/api/auth/sessions', 200);
      expect(revoked.body.revoked).toBe(1);

      const events = await browser.get('/api/auth/events?limit=2');
      conforms(events, 'get', '/api/auth/events', 200);
      expect(events.body.next).toBeDefined();
      conforms(await browser.get(`/api/auth/events?before=${events.body.next}&limit=100`), 'get', '/api/auth/events', 200);
      const badQuery = await browser.get('/api/auth/events?limit=0');
      conforms(badQuery, 'get', '/api/auth/events', 400);
      expect(badQuery.body.issues?.[0]?.path).toBe('limit');

      conforms(await browser.post('/api/auth/reauth', { password: STRONG_PASSWORD }), 'post', '/api/auth/reauth', 200);
      conforms(await browser.post('/api/auth/reauth', { password: 'not-my-password-at-all' }), 'post', '/api/auth/reauth', 401);

      conforms(await browser.post('/api/auth/email/verify/resend'), 'post', '/api/auth/email/verify/resend', 202);

      const logout = await browser.post('/api/auth/logout');
      conforms(logout, 'post', '/api/auth/logout', 200);
      expect(logout.body).toEqual({ message: 'Logged out successfully' });
      conforms(await browser.post('/api/auth/logout'), 'post', '/api/auth/logout', 401);
      conforms(await browser.get('/api/auth/sessions'), 'get', '/api/auth/sessions', 401);
      conforms(await browser.get('/api/auth/events'), 'get', '/api/auth/events', 401);
      conforms(await browser.request('DELETE', '/api/auth/sessions'), 'delete', '/api/auth/sessions', 401);
    });

    it('account, password and recovery endpoints answer as documented', async () => {
      const url = server().url;
      const { client, email } = await signedUp(url);
      const taken = await signedUp(url);

      const newEmail = { newEmail: uniqueEmail('oa-new'), password: STRONG_PASSWORD };
      acceptsBody('post', '/api/auth/email', newEmail);
      conforms(await client.post('/api/auth/email', newEmail), 'post', '/api/auth/email', 202);
      conforms(await client.post('/api/auth/email', { newEmail: taken.email, password: STRONG_PASSWORD }), 'post', '/api/auth/email', 409);
      conforms(await client.post('/api/auth/email', { newEmail: uniqueEmail(), password: 'wrong-password-here' }), 'post', '/api/auth/email', 401);

      conforms(await client.post('/api/auth/password', { currentPassword: STRONG_PASSWORD, newPassword: 'short' }), 'post', '/api/auth/password', 400);
      conforms(await client.post('/api/auth/password', { currentPassword: 'wrong-password-x', newPassword: 'another-strong-pass-phrase-9' }), 'post', '/api/auth/password', 401);
      const change = { currentPassword: STRONG_PASSWORD, newPassword: 'another-strong-pass-phrase-9' };
      acceptsBody('post', '/api/auth/password', change);
      conforms(await client.post('/api/auth/password', change), 'post', '/api/auth/password', 200);

      const anyone = new Client(url);
      acceptsBody('post', '/api/auth/password/forgot', { email });
      conforms(await anyone.post('/api/auth/password/forgot', { email }), 'post', '/api/auth/password/forgot', 202);
      conforms(await anyone.post('/api/auth/password/forgot', { email: uniqueEmail('nobody') }), 'post', '/api/auth/password/forgot', 202);
      conforms(await anyone.post('/api/auth/password/forgot', { email: 42 }), 'post', '/api/auth/password/forgot', 400);
      const reset = { token: 'not-a-real-token', password: 'yet-another-strong-phrase-7' };
      acceptsBody('post', '/api/auth/password/reset', reset);
      conforms(await anyone.post('/api/auth/password/reset', reset), 'post', '/api/auth/password/reset', 400);
      acceptsBody('post', '/api/auth/email/verify', { token: 'nope' });
      conforms(await anyone.post('/api/auth/email/verify', { token: 'nope' }), 'post', '/api/auth/email/verify', 400);
      conforms(await anyone.post('/api/auth/email/verify/resend'), 'post', '/api/auth/email/verify/resend', 401);

      conforms(
        await client.request('DELETE', '/api/auth/account', { json: { password: 'wrong-password-x' } }),
        'delete',
        '/api/auth/account',
        401,
      );
      acceptsBody('delete', '/api/auth/account', { password: 'another-strong-pass-phrase-9' });
      conforms(
        await client.request('DELETE', '/api/auth/account', { json: { password: 'another-strong-pass-phrase-9' } }),
        'delete',
        '/api/auth/account',
        204,
      );
      conforms(await client.get('/api/auth/me'), 'get', '/api/auth/me', 401);
    });

    it('two-step endpoints answer as documented', async () => {
      const url = server().url;
      const { client, email } = await signedUp(url);
      conforms(await client.get('/api/auth/mfa'), 'get', '/api/auth/mfa', 200);
      conforms(await client.post('/api/auth/mfa/recovery-codes'), 'post', '/api/auth/mfa/recovery-codes', 409);
      conforms(await client.post('/api/auth/mfa/totp/confirm', { code: '123456' }), 'post', '/api/auth/mfa/totp/confirm', 409);
      const setup = await client.post('/api/auth/mfa/totp');
      conforms(setup, 'post', '/api/auth/mfa/totp', 200);
      conforms(await client.post('/api/auth/mfa/totp/confirm', { code: '000000' }), 'post', '/api/auth/mfa/totp/confirm', 401);
      // The code of the step before now: the next uses below take the current and the next step.
      const code = (offset: number) => totpCode(setup.body.secret, Date.now() + offset * 30_000);
      acceptsBody('post', '/api/auth/mfa/totp/confirm', { code: code(-1) });
      conforms(await client.post('/api/auth/mfa/totp/confirm', { code: code(-1) }), 'post', '/api/auth/mfa/totp/confirm', 200);
      conforms(await client.post('/api/auth/mfa/totp'), 'post', '/api/auth/mfa/totp', 409);
      conforms(await client.post('/api/auth/mfa/recovery-codes'), 'post', '/api/auth/mfa/recovery-codes', 200);

      const browser = new Client(url);
      conforms(await browser.post('/api/auth/login', { email, password: STRONG_PASSWORD }), 'post', '/api/auth/login', 200);
      conforms(await browser.get('/api/auth/me'), 'get', '/api/auth/me', 401);
      conforms(await browser.post('/api/auth/mfa/verify', { method: 'totp', code: '000000' }), 'post', '/api/auth/mfa/verify', 401);
      acceptsBody('post', '/api/auth/mfa/verify', { method: 'totp', code: code(1) });
      conforms(await browser.post('/api/auth/mfa/verify', { method: 'totp', code: code(1) }), 'post', '/api/auth/mfa/verify', 200);
      conforms(await client.request('DELETE', '/api/auth/mfa/totp', { json: { password: 'wrong-password-x' } }), 'delete', '/api/auth/mfa/totp', 401);
      conforms(await client.request('DELETE', '/api/auth/mfa/totp', { json: { password: STRONG_PASSWORD } }), 'delete', '/api/auth/mfa/totp', 204);
      conforms(await client.request('DELETE', '/api/auth/mfa/totp', { json: { password: STRONG_PASSWORD } }), 'delete', '/api/auth/mfa/totp', 404);

      const devices = await client.get('/api/auth/devices');
      conforms(devices, 'get', '/api/auth/devices', 200);
      const id = devices.body.devices[0].id as string;
      conforms(await client.request('DELETE', `/api/auth/devices/${id}`), 'delete', '/api/auth/devices/{id}', 204);
      conforms(await client.request('DELETE', `/api/auth/devices/${id}`), 'delete', '/api/auth/devices/{id}', 404);
    });

    it('errors have the documented shape and status: 400, 403, 409, 413, 415, 429, 404', async () => {
      const url = server().url;
      const guest = new Client(url);
      const email = uniqueEmail('oa-err');
      await guest.post('/api/auth/register', { email, password: STRONG_PASSWORD, name: 'Err Ors' });
      const fresh = new Client(url);

      const wrongType = await fresh.post('/api/auth/register', { email: 7, password: STRONG_PASSWORD, name: 'X Y' });
      conforms(wrongType, 'post', '/api/auth/register', 400);
      expect(wrongType.body.code).toBe('invalid_input');
      expect(wrongType.body.issues.length).toBeGreaterThan(0);

      const weak = await fresh.post('/api/auth/register', { email: uniqueEmail(), password: 'short', name: 'Weak Pass' });
      conforms(weak, 'post', '/api/auth/register', 400);
      expect(weak.body.code).toBe('weak_password');

      conforms(await fresh.post('/api/auth/register', { email, password: STRONG_PASSWORD, name: 'Again' }), 'post', '/api/auth/register', 409);
      conforms(await fresh.request('POST', '/api/auth/register', { body: '{"email":', headers: { 'content-type': 'application/json' } }), 'post', '/api/auth/register', 400);

      const big = await fresh.request('POST', '/api/auth/register', { body: JSON.stringify({ name: 'x'.repeat(11_000) }), headers: { 'content-type': 'application/json' } });
      conforms(big, 'post', '/api/auth/register', 413);
      const text = await fresh.request('POST', '/api/auth/login', { body: 'email=a', headers: { 'content-type': 'text/plain' } });
      conforms(text, 'post', '/api/auth/login', 415);

      const csrf = await fresh.request('POST', '/api/auth/login', {
        json: { email, password: STRONG_PASSWORD },
        headers: { origin: 'https://evil.example', 'sec-fetch-site': 'cross-site' },
      });
      conforms(csrf, 'post', '/api/auth/login', 403);
      expect(csrf.body.code).toBe('csrf');

      conforms(await fresh.post('/api/auth/login', { email, password: 'wrong-password-1' }), 'post', '/api/auth/login', 401);
      let throttled: Reply | undefined;
      for (let i = 0; i < 10 && !throttled; i++) {
        const reply = await fresh.post('/api/auth/login', { email, password: `wrong-password-${i}` });
        if (reply.status === 429) throttled = reply;
        else conforms(reply, 'post', '/api/auth/login', 401);
      }
      expect(throttled, 'login never throttled').toBeDefined();
      conforms(throttled!, 'post', '/api/auth/login', 429);
      expect(Number(throttled!.headers.get('retry-after'))).toBeGreaterThan(0);

      // Paths nobody mounts: still the one error shape.
      for (const path of ['/api/auth/nope', '/api/nope']) {
        const reply = await fresh.get(path);
        expect(reply.status).toBe(404);
        expect(validator({ $ref: '#/components/schemas/Error' })(reply.body)).toBe(true);
        expect(reply.body.code).toBe('not_found');
      }
    });

    it('operations endpoints answer as documented', async () => {
      const client = new Client(server().url);
      conforms(await client.get('/healthz'), 'get', '/healthz', 200);
      conforms(await client.get('/readyz'), 'get', '/readyz', 200);
      const metrics = await client.get('/metrics');
      conforms(metrics, 'get', '/metrics', 200);
      expect(metrics.text).toContain('# TYPE');
    });

    it('/api/docs renders every documented path, without inline script or style', async () => {
      const client = new Client(server().url);
      const page = await client.get('/api/docs');
      conforms(page, 'get', '/api/docs', 200);
      expect(page.headers.get('content-type')).toMatch(/^text\/html/);
      for (const [path, item] of Object.entries<Json>(doc.paths)) {
        expect(page.text).toContain(path.replaceAll('&', '&amp;'));
        for (const method of Object.keys(item)) expect(page.text).toContain(`method-${method}`);
        for (const op of Object.values<Json>(item)) expect(page.text).toContain(op.summary.replaceAll('&', '&amp;'));
      }
      for (const field of ['email', 'password', 'name', 'rememberMe', 'currentPassword', 'newPassword', 'newEmail', 'token']) {
        expect(page.text).toContain(`<code>${field}</code>`);
      }
      expect(page.text).not.toMatch(/<script|<style|\sstyle=|\son[a-z]+=/i);
      expect(page.text).not.toMatch(/https?:\/\/(?!json-schema\.org)/); // no CDN
      const css = await client.get('/api/docs/docs.css');
      conforms(css, 'get', '/api/docs/docs.css', 200);
      const csp = page.headers.get('content-security-policy') ?? '';
      expect(csp).not.toContain('unsafe-inline');
    });

    it('passkey endpoints answer as documented', async () => {
      const url = server().url;
      const { client, email } = await signedUp(url);
      const guest = new Client(url);
      const stranger = new Client(url); // never signs in
      const authenticator = new SoftAuthenticator(WEBAUTHN);
      const REGISTER_OPTIONS = '/api/auth/passkeys/register/options';
      const REGISTER = '/api/auth/passkeys/register';
      const LOGIN_OPTIONS = '/api/auth/passkeys/login/options';
      const LOGIN = '/api/auth/passkeys/login';
      const ONE = '/api/auth/passkeys/{id}';
      const expectCode = (reply: Reply, code: string) => expect(reply.body?.code, reply.text).toBe(code);

      conforms(await stranger.post(REGISTER_OPTIONS), 'post', REGISTER_OPTIONS, 401);
      conforms(await stranger.post(REGISTER, {}), 'post', REGISTER, 401);

      // An answer that does not verify (another origin) is refused and uses up its challenge.
      const refused = await client.post(REGISTER_OPTIONS);
      conforms(refused, 'post', REGISTER_OPTIONS, 200);
      const forged = { response: new SoftAuthenticator(WEBAUTHN).register(refused.body, { origin: 'https://evil.test' }) };
      acceptsBody('post', REGISTER, forged);
      const invalid = await client.post(REGISTER, forged);
      conforms(invalid, 'post', REGISTER, 400);
      expectCode(invalid, 'invalid_passkey');
      const badName = await client.post(REGISTER, { response: forged.response, name: '   ' });
      conforms(badName, 'post', REGISTER, 400);
      expectCode(badName, 'invalid_input');

      const creation = await client.post(REGISTER_OPTIONS);
      conforms(creation, 'post', REGISTER_OPTIONS, 200);
      expect(creation.body.rp.id).toBe(WEBAUTHN.rpId);
      expect(creation.body.excludeCredentials).toEqual([]);
      const register = { response: authenticator.register(creation.body), name: '  Laptop  ' };
      acceptsBody('post', REGISTER, register);
      const registered = await client.post(REGISTER, register);
      conforms(registered, 'post', REGISTER, 201);
      expect(registered.headers.getSetCookie().length).toBeGreaterThan(0);
      expect(registered.body.passkey.name).toBe('Laptop');
      expect(registered.body.recoveryCodes).toHaveLength(10);
      const id = registered.body.passkey.id as string;
      const credentialId = register.response.id;
      expect((await client.get('/api/auth/me')).body.session).toMatchObject({ aal: 'aal2', methods: ['password', 'passkey'] });

      const again = await client.post(REGISTER_OPTIONS);
      conforms(again, 'post', REGISTER_OPTIONS, 200);
      expect(again.body.excludeCredentials.map((c: Json) => c.id)).toEqual([credentialId]);

      const factors = await client.get('/api/auth/mfa');
      conforms(factors, 'get', '/api/auth/mfa', 200);
      expect(factors.body.passkeys).toEqual([registered.body.passkey]);

      acceptsBody('patch', ONE, { name: 'Work laptop' });
      const renamed = await client.request('PATCH', `/api/auth/passkeys/${id}`, { json: { name: 'Work laptop' } });
      conforms(renamed, 'patch', ONE, 200);
      expect(renamed.body.passkey).toMatchObject({ id, name: 'Work laptop' });
      conforms(await client.request('PATCH', '/api/auth/passkeys/AAAAAAAAAAAAAAAAAAAAAA', { json: { name: 'Nope' } }), 'patch', ONE, 404);
      conforms(await client.request('PATCH', `/api/auth/passkeys/${id}`, { json: { name: 'x'.repeat(65) } }), 'patch', ONE, 400);
      conforms(await stranger.request('PATCH', `/api/auth/passkeys/${id}`, { json: { name: 'Mine now' } }), 'patch', ONE, 401);

      // A guest signs in with the passkey alone: discoverable, no allowCredentials.
      const request = await guest.post(LOGIN_OPTIONS);
      conforms(request, 'post', LOGIN_OPTIONS, 200);
      expect(request.body.allowCredentials).toBeUndefined();
      const wrongKey = { response: authenticator.authenticate(request.body, { badSignature: true }) };
      acceptsBody('post', LOGIN, wrongKey);
      const wrong = await guest.post(LOGIN, wrongKey);
      conforms(wrong, 'post', LOGIN, 401);
      expectCode(wrong, 'invalid_credentials');
      const signIn = { response: authenticator.authenticate((await guest.post(LOGIN_OPTIONS)).body), rememberMe: true };
      acceptsBody('post', LOGIN, signIn);
      const signedIn = await guest.post(LOGIN, signIn);
      conforms(signedIn, 'post', LOGIN, 200);
      expect(signedIn.body.user.email).toBe(email);
      expect((await guest.get('/api/auth/me')).body.session).toMatchObject({ aal: 'aal2', methods: ['passkey'] });
      const twice = await guest.post(LOGIN, signIn);
      conforms(twice, 'post', LOGIN, 400);
      expectCode(twice, 'already_authenticated');
      const full = await guest.post(LOGIN_OPTIONS);
      conforms(full, 'post', LOGIN_OPTIONS, 400);
      expectCode(full, 'already_authenticated');

      // A password sign-in now asks for the second step; the passkey finishes it.
      const browser = new Client(url);
      const password = await browser.post('/api/auth/login', { email, password: STRONG_PASSWORD });
      conforms(password, 'post', '/api/auth/login', 200);
      expect(password.body).toMatchObject({ mfaRequired: true, methods: expect.arrayContaining(['passkey']) });
      const stepOptions = await browser.post(LOGIN_OPTIONS);
      conforms(stepOptions, 'post', LOGIN_OPTIONS, 200);
      expect(stepOptions.body.allowCredentials.map((c: Json) => c.id)).toEqual([credentialId]);
      const step = { method: 'passkey', response: authenticator.authenticate(stepOptions.body, { credentialId }) };
      acceptsBody('post', '/api/auth/mfa/verify', step);
      conforms(await browser.post('/api/auth/mfa/verify', step), 'post', '/api/auth/mfa/verify', 200);
      expect((await browser.get('/api/auth/me')).body.session).toMatchObject({ aal: 'aal2', methods: ['password', 'passkey'] });

      conforms(await stranger.request('DELETE', `/api/auth/passkeys/${id}`), 'delete', ONE, 401);
      conforms(await client.request('DELETE', '/api/auth/passkeys/AAAAAAAAAAAAAAAAAAAAAA'), 'delete', ONE, 404);
      const removed = await client.request('DELETE', `/api/auth/passkeys/${id}`);
      conforms(removed, 'delete', ONE, 204);
      expect(removed.headers.getSetCookie().length).toBeGreaterThan(0); // the last factor: two-step is off
      conforms(await client.request('DELETE', `/api/auth/passkeys/${id}`), 'delete', ONE, 404);
      expect((await client.get('/api/auth/mfa')).body).toMatchObject({ totp: false, passkeys: [] });
    });

    it('administration endpoints answer as documented', async () => {
      const { url, latch } = server();
      const USERS = '/api/admin/users';
      const ONE = '/api/admin/users/{id}';
      const NOBODY = '00000000-0000-4000-8000-000000000000';
      const expectCode = (reply: Reply, code: string) => expect(reply.body?.code, reply.text).toBe(code);
      const boss = await signedUp(url, { name: 'Boss Admin' });
      const target = await signedUp(url, { name: 'Target Person' });
      const member = await signedUp(url); // signed in, not an admin
      const guest = new Client(url);
      const cli = { actor: { role: 'cli' as const }, client: { ip: '127.0.0.1', userAgent: 'test' } };
      await latch.admin.setRole(boss.user.id, 'admin', cli); // ends the boss's sessions

      const noSession = await guest.get(USERS);
      conforms(noSession, 'get', USERS, 401);
      expectCode(noSession, 'unauthorized');
      conforms(await guest.request('DELETE', `/api/admin/users/${target.user.id}`), 'delete', ONE, 401);
      const notAdmin = await member.client.get(USERS);
      conforms(notAdmin, 'get', USERS, 403);
      expectCode(notAdmin, 'forbidden');
      conforms(await member.client.post(`/api/admin/users/${target.user.id}/disable`), 'post', `${ONE}/disable`, 403);

      // An admin signed in with the password alone (aal1) must add a second factor first.
      const admin = new Client(url);
      conforms(await admin.post('/api/auth/login', { email: boss.email, password: STRONG_PASSWORD }), 'post', '/api/auth/login', 200);
      const aal1 = await admin.get('/api/admin/events');
      conforms(aal1, 'get', '/api/admin/events', 403);
      expectCode(aal1, 'second_factor_required');
      const setup = await admin.post('/api/auth/mfa/totp');
      const code = (offset: number) => totpCode(setup.body.secret, Date.now() + offset * 30_000);
      expect((await admin.post('/api/auth/mfa/totp/confirm', { code: code(-1) })).status).toBe(200); // now aal2
      const pending = new Client(url);
      expect((await pending.post('/api/auth/login', { email: boss.email, password: STRONG_PASSWORD })).body.mfaRequired).toBe(true);
      const notFinished = await pending.get(`/api/admin/users/${target.user.id}`);
      conforms(notFinished, 'get', ONE, 401);
      expectCode(notFinished, 'mfa_required');

      // The list: search, keyset pages, a bad limit.
      const found = await admin.get(`${USERS}?query=${encodeURIComponent(target.email.toUpperCase())}`);
      conforms(found, 'get', USERS, 200);
      expect(found.body.users.map((u: Json) => u.id)).toEqual([target.user.id]);
      const first = await admin.get(`${USERS}?limit=1`);
      conforms(first, 'get', USERS, 200);
      expect(first.body.next).toBeDefined();
      conforms(await admin.get(`${USERS}?cursor=${first.body.next}&limit=100`), 'get', USERS, 200);
      conforms(await admin.get(`${USERS}?limit=0`), 'get', USERS, 400);

      const page = await admin.get(`/api/admin/users/${target.user.id}`);
      conforms(page, 'get', ONE, 200);
      expect(page.body.user).toMatchObject({ id: target.user.id, role: 'user', disabled: false, sessionCount: 1 });
      expect(page.body.sessions).toHaveLength(1);
      conforms(await admin.get(`/api/admin/users/${NOBODY}`), 'get', ONE, 404);

      // Disable: a bad reason, self, unknown; then the right password answers account_disabled.
      const DISABLE = `${ONE}/disable`;
      acceptsBody('post', DISABLE, { reason: 'Left the company' });
      conforms(await admin.post(`/api/admin/users/${target.user.id}/disable`, { reason: '   ' }), 'post', DISABLE, 400);
      const self = await admin.post(`/api/admin/users/${boss.user.id}/disable`);
      conforms(self, 'post', DISABLE, 409);
      expectCode(self, 'self_target');
      conforms(await admin.post(`/api/admin/users/${NOBODY}/disable`), 'post', DISABLE, 404);
      const disabled = await admin.post(`/api/admin/users/${target.user.id}/disable`, { reason: 'Left the company' });
      conforms(disabled, 'post', DISABLE, 200);
      expect(disabled.body.user).toMatchObject({ disabled: true, disabledReason: 'Left the company', sessionCount: 0 });
      conforms(await target.client.get('/api/auth/me'), 'get', '/api/auth/me', 401);
      const refused = await new Client(url).post('/api/auth/login', { email: target.email, password: STRONG_PASSWORD });
      conforms(refused, 'post', '/api/auth/login', 403);
      expectCode(refused, 'account_disabled');

      const ENABLE = `${ONE}/enable`;
      conforms(await admin.post(`/api/admin/users/${NOBODY}/enable`), 'post', ENABLE, 404);
      const enabled = await admin.post(`/api/admin/users/${target.user.id}/enable`);
      conforms(enabled, 'post', ENABLE, 200);
      expect(enabled.body.user.disabled).toBe(false);
      expect(enabled.body.user.disabledReason).toBeUndefined();

      const SESSIONS = `${ONE}/sessions`;
      const again = new Client(url);
      conforms(await again.post('/api/auth/login', { email: target.email, password: STRONG_PASSWORD }), 'post', '/api/auth/login', 200);
      const revoked = await admin.request('DELETE', `/api/admin/users/${target.user.id}/sessions`);
      conforms(revoked, 'delete', SESSIONS, 200);
      expect(revoked.body.revoked).toBe(1);
      conforms(await admin.request('DELETE', `/api/admin/users/${NOBODY}/sessions`), 'delete', SESSIONS, 404);

      const RESET = `${ONE}/password-reset`;
      conforms(await admin.post(`/api/admin/users/${target.user.id}/password-reset`), 'post', RESET, 202);
      conforms(await admin.post(`/api/admin/users/${NOBODY}/password-reset`), 'post', RESET, 404);

      // Second factors: the member gets an authenticator app, the admin takes it away.
      const MFA = `${ONE}/mfa`;
      const memberSetup = await member.client.post('/api/auth/mfa/totp');
      expect((await member.client.post('/api/auth/mfa/totp/confirm', { code: totpCode(memberSetup.body.secret, Date.now()) })).status).toBe(200);
      conforms(await admin.request('DELETE', `/api/admin/users/${member.user.id}/mfa`), 'delete', MFA, 204);
      expect((await admin.get(`/api/admin/users/${member.user.id}`)).body.user).toMatchObject({ twoFactor: false, sessionCount: 0 });
      conforms(await admin.request('DELETE', `/api/admin/users/${NOBODY}/mfa`), 'delete', MFA, 404);

      const ROLE = `${ONE}/role`;
      acceptsBody('post', ROLE, { role: 'admin' });
      conforms(await admin.post(`/api/admin/users/${target.user.id}/role`, { role: 'root' }), 'post', ROLE, 400);
      const demoteSelf = await admin.post(`/api/admin/users/${boss.user.id}/role`, { role: 'user' });
      conforms(demoteSelf, 'post', ROLE, 409);
      expectCode(demoteSelf, 'self_target');
      conforms(await admin.post(`/api/admin/users/${NOBODY}/role`, { role: 'admin' }), 'post', ROLE, 404);
      const promoted = await admin.post(`/api/admin/users/${target.user.id}/role`, { role: 'admin' });
      conforms(promoted, 'post', ROLE, 200);
      expect(promoted.body.user.role).toBe('admin');
      conforms(await admin.post(`/api/admin/users/${target.user.id}/role`, { role: 'user' }), 'post', ROLE, 200);

      // The trail of every account, and of one.
      const EVENTS = '/api/admin/events';
      const trail = await admin.get(`${EVENTS}?userId=${target.user.id}&limit=2`);
      conforms(trail, 'get', EVENTS, 200);
      expect(trail.body.events[0]).toMatchObject({ type: 'role_changed', userId: target.user.id, actor: { id: boss.user.id, role: 'admin' } });
      expect(trail.body.next).toBeDefined();
      conforms(await admin.get(`${EVENTS}?userId=${target.user.id}&before=${trail.body.next}&limit=100`), 'get', EVENTS, 200);
      const typed = await admin.get(`${EVENTS}?type=account_disabled`);
      conforms(typed, 'get', EVENTS, 200);
      expect(typed.body.events.every((e: Json) => e.type === 'account_disabled')).toBe(true);
      expect(typed.body.events.some((e: Json) => e.userId === target.user.id)).toBe(true);
      conforms(await admin.get(`${EVENTS}?type=no_such_type`), 'get', EVENTS, 400);
      conforms(await guest.get(EVENTS), 'get', EVENTS, 401);

      const deleteSelf = await admin.request('DELETE', `/api/admin/users/${boss.user.id}`);
      conforms(deleteSelf, 'delete', ONE, 409);
      expectCode(deleteSelf, 'self_target');
      conforms(await admin.request('DELETE', `/api/admin/users/${target.user.id}`), 'delete', ONE, 204);
      conforms(await admin.request('DELETE', `/api/admin/users/${target.user.id}`), 'delete', ONE, 404);
      conforms(await admin.get(`/api/admin/users/${target.user.id}`), 'get', ONE, 404);

      // An unknown admin path: the one error shape.
      const unknown = await admin.get('/api/admin/nope');
      expect(unknown.status).toBe(404);
      expect(validator({ $ref: '#/components/schemas/Error' })(unknown.body)).toBe(true);
    });

    it('every documented operation was exercised above', () => {
      const all = documentedRoutes().map((r) => {
        const [method, path] = r.split(' ');
        return `${method!.toLowerCase()} ${path}`;
      });
      expect(all.filter((r) => !seen.has(r))).toEqual([]);
    });
  },
  { backends: [sqlite], latch: () => ({ webauthnRpId: WEBAUTHN.rpId, webauthnOrigins: WEBAUTHN.origin }) },
);
