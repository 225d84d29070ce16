/**
 * Latch as a library: mounted in an existing Express 5 app that has routes of its own
 * (README, "Use it as a library"). The host app has no error handler of its own (Express's
 * default answers an HTML 500 with a stack): every refusal and failure of Latch's guards must
 * still answer in Latch's shape (THREATS.md item 12).
 */
import express from 'express';
import { mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLatch, type Latch } from '../../src/index.js';
import { Client, signedUp, STRONG_PASSWORD, uniqueEmail, type Reply } from '../support/server.js';
import { createPostgresDatabase, hasPostgres, POSTGRES_URL } from '../support/services.js';
import { startTcpProxy, throughProxy, type TcpProxy } from '../support/tcp-proxy.js';

/** Exactly Latch's error answer: status, JSON body, content type, no-store. */
function expectLatchError(res: Reply, status: number, body: { error: string; code: string }) {
  expect(res.status).toBe(status);
  expect(res.headers.get('content-type')).toBe('application/json; charset=utf-8');
  expect(res.headers.get('cache-control')).toBe('no-store');
  expect(JSON.parse(res.text)).toEqual(body);
}

const UNAUTHORIZED = { error: 'Authentication required', code: 'unauthorized' };
const ALREADY_AUTHENTICATED = { error: 'Already signed in; log out first', code: 'already_authenticated' };
const UNAVAILABLE = { error: 'Service temporarily unavailable, try again shortly', code: 'unavailable' };

/** A host app with routes of its own behind Latch's guards, and Express's default error handler. */
function hostApp(latch: Latch): express.Express {
  const app = express();
  app.get('/', (_req, res) => res.send('host app home'));
  app.use('/api/auth', latch.router);
  app.get('/dashboard', latch.requireAuth, (req, res) => {
    res.json({ hello: req.latch!.user.name, session: req.latch!.session.id });
  });
  app.get('/welcome', latch.requireGuest, (_req, res) => res.send('welcome, guest'));
  app.get('/maybe', latch.loadSession, (req, res) => res.json({ signedIn: req.latch !== undefined }));
  return app;
}

async function listen(app: express.Express): Promise<{ server: import('node:http').Server; url: string }> {
  const server = app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

describe('mounting createLatch() in an existing Express app', () => {
  let latch: Latch;
  let server: import('node:http').Server;
  let url: string;
  const dir = mkdtempSync(join(tmpdir(), 'latch-lib-'));

  beforeAll(async () => {
    latch = await createLatch({ databaseUrl: `sqlite:${join(dir, 'app.db')}`, outboxDir: join(dir, 'outbox'), logLevel: 'silent' });
    ({ server, url } = await listen(hostApp(latch)));
  });

  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    await latch.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("serves the host app's own routes untouched", async () => {
    const res = await new Client(url).get('/');
    expect(res.text).toBe('host app home');
  });

  it('protects host routes with requireAuth and exposes the typed user', async () => {
    const client = new Client(url);
    expectLatchError(await client.get('/dashboard'), 401, UNAUTHORIZED);
    expect((await client.get('/maybe')).body).toEqual({ signedIn: false });

    const reg = await client.post('/api/auth/register', { email: uniqueEmail('lib'), password: STRONG_PASSWORD, name: 'Library User' });
    expect(reg.status).toBe(201);
    const dash = await client.get('/dashboard');
    expect(dash.status).toBe(200);
    expect(dash.body.hello).toBe('Library User');
    expect(client.cookies.get('sid')!.startsWith(dash.body.session)).toBe(true);
    expect((await client.get('/maybe')).body).toEqual({ signedIn: true });

    expectLatchError(await client.get('/welcome'), 400, ALREADY_AUTHENTICATED);

    await client.post('/api/auth/logout');
    expectLatchError(await client.get('/dashboard'), 401, UNAUTHORIZED);
    expect((await client.get('/welcome')).text).toBe('welcome, guest');
  });

  it("answers the API's own errors in Latch's shape inside the host app", async () => {
    const res = await new Client(url).post('/api/auth/login', { email: 'x@y.z', password: 'nope' });
    expect(res.status).toBe(401);
    expect(res.body).toEqual({ error: 'Invalid email or password', code: 'invalid_credentials' });
    expect(res.headers.get('cache-control')).toBe('no-store');
  });

  it('two Latch instances live side by side in one process (no global state)', async () => {
    const other = await createLatch({ databaseUrl: `sqlite:${join(dir, 'other.db')}`, logLevel: 'silent', passwordMinLength: 20 });
    try {
      expect(other.config.passwordMinLength).toBe(20);
      expect(latch.config.passwordMinLength).toBe(15);
    } finally {
      await other.close();
    }
  });
});

describe.skipIf(!hasPostgres)("a store outage behind Latch's guards in a host app", () => {
  let database: Awaited<ReturnType<typeof createPostgresDatabase>> | undefined;
  let proxy: TcpProxy | undefined;
  let latch: Latch | undefined;
  let server: import('node:http').Server | undefined;
  let url: string;
  const dir = mkdtempSync(join(tmpdir(), 'latch-lib-outage-'));

  beforeAll(async () => {
    // Users and sessions in PostgreSQL, reached through a proxy the test cuts: a real outage.
    database = await createPostgresDatabase();
    const target = new URL(POSTGRES_URL);
    proxy = await startTcpProxy({ host: target.hostname, port: Number(target.port || 5432) });
    latch = await createLatch({ databaseUrl: throughProxy(database.url, proxy), outboxDir: join(dir, 'outbox'), logLevel: 'silent' });
    ({ server, url } = await listen(hostApp(latch)));
  });

  afterAll(async () => {
    server?.closeAllConnections();
    await new Promise((resolve) => (server ? server.close(resolve) : resolve(undefined)));
    await latch?.close();
    await proxy?.close();
    await database?.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('answers 503 unavailable in Latch\'s shape from requireAuth, requireGuest and loadSession', async () => {
    const { client } = await signedUp(url);
    expect((await client.get('/dashboard')).status).toBe(200);

    await proxy!.cut();
    for (const path of ['/dashboard', '/welcome', '/maybe']) {
      const res = await client.get(path);
      expectLatchError(res, 503, UNAVAILABLE);
      expect(res.headers.get('retry-after')).toBe('1');
    }
    // Without a cookie nothing needs the store: the refusal is the usual one.
    expectLatchError(await new Client(url).get('/dashboard'), 401, UNAUTHORIZED);
  });
});
