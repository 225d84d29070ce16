/**
 * Latch as a library: mounted in an existing Express 5 app that has routes of its own
 * (README, "Use it as a library").
 */
import express from 'express';
import { mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLatch, type Latch } from '../../src/index.js';
import { Client, STRONG_PASSWORD, uniqueEmail } from '../support/server.js';

describe('mounting createLatch() in an existing Express app', () => {
  let latch: Latch;
  let server: import('node:http').Server;
  let url: string;
  const dir = mkdtempSync(join(tmpdir(), 'latch-lib-'));

  beforeAll(async () => {
    latch = await createLatch({ databaseUrl: `sqlite:${join(dir, 'app.db')}`, outboxDir: join(dir, 'outbox'), logLevel: 'silent' });
    const app = express();
    app.get('/', (_req, res) => res.send('host app home'));
    app.use('/api/auth', latch.router);
    app.get('/dashboard', latch.requireAuth, (req, res) => {
      res.json({ hello: req.latch!.user.name, session: req.latch!.session.id });
    });
    app.get('/welcome', latch.requireGuest, (_req, res) => res.send('welcome, guest'));
    app.get('/maybe', latch.loadSession, (req, res) => res.json({ signedIn: req.latch !== undefined }));
    app.use(((error, _req, res, _next) => {
      res.status(error.code === 'unauthorized' ? 401 : 400).json({ code: error.code });
    }) as express.ErrorRequestHandler);
    server = app.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
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
    const denied = await client.get('/dashboard');
    expect(denied.status).toBe(401);
    expect(denied.body.code).toBe('unauthorized');
    expect((await client.get('/maybe')).body).toEqual({ signedIn: false });

    const reg = await client.post('/api/auth/register', { email: uniqueEmail('lib'), password: STRONG_PASSWORD, name: 'Library User' });
    expect(reg.status).toBe(201);
    const dash = await client.get('/dashboard');
    expect(dash.status).toBe(200);
    expect(dash.body.hello).toBe('Library User');
    expect(client.cookies.get('sid')!.startsWith(dash.body.session)).toBe(true);
    expect((await client.get('/maybe')).body).toEqual({ signedIn: true });

    const guestOnly = await client.get('/welcome');
    expect(guestOnly.status).toBe(400);
    expect(guestOnly.body.code).toBe('already_authenticated');

    await client.post('/api/auth/logout');
    expect((await client.get('/dashboard')).status).toBe(401);
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
