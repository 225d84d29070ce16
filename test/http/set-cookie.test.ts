/**
 * One `Set-Cookie` per cookie name per response (RFC 6265 §4.1; THREATS.md item 10). A
 * response that both clears and sets the session cookie leaves the browser at the mercy of
 * whichever line an intermediary keeps: the first one signs it out. Each answer below carries
 * two cookie decisions on the server (a dead cookie cleared or a remember-me cookie renewed by
 * the session middleware, then the route's own), and must send only the last one.
 */
import express from 'express';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sessionCookie } from '../../src/http/cookies.js';
import { describeOnBackends } from '../support/backends.js';
import { Client, ManualClock, signedUp, STRONG_PASSWORD, uniqueEmail, type Reply } from '../support/server.js';
import { startSmtpServer, tokenFrom, type TestSmtpServer } from '../support/smtp.js';

const clock = new ManualClock();
/** Past the sliding-renewal interval (one minute): the next request renews a remember-me cookie. */
const PAST_RENEWAL = 61_000;
const NEW_PASSWORD = 'copper-meadow-falcon-77';
const SESSION_TOKEN = /^[A-Za-z0-9_-]{18}\.[A-Za-z0-9_-]{43}$/;
const CLEARED = /^sid=; Path=\/; Expires=Thu, 01 Jan 1970 00:00:00 GMT; HttpOnly; SameSite=Lax$/;

let smtp: TestSmtpServer;
beforeAll(async () => {
  smtp = await startSmtpServer();
});
afterAll(async () => {
  await smtp?.stop();
});

/** The response's Set-Cookie lines by cookie name; fails when a name comes twice. */
function cookiesOf(res: Reply): Map<string, string> {
  const lines = res.headers.getSetCookie();
  const byName = new Map<string, string>();
  for (const line of lines) {
    const name = line.slice(0, line.indexOf('='));
    expect(byName.has(name), `more than one Set-Cookie for "${name}": ${JSON.stringify(lines)}`).toBe(false);
    byName.set(name, line);
  }
  return byName;
}

/** The value of the one `sid` line, which must set a live session cookie. */
function newSessionToken(res: Reply): string {
  const line = cookiesOf(res).get('sid');
  expect(line).toBeDefined();
  expect(line).not.toMatch(/Expires=Thu, 01 Jan 1970/);
  const value = line!.slice('sid='.length, line!.indexOf(';'));
  expect(value).toMatch(SESSION_TOKEN);
  return value;
}

function expectCleared(res: Reply): void {
  expect(cookiesOf(res).get('sid')).toMatch(CLEARED);
}

/** A browser holding the cookie of a session that has ended (logged out on the server). */
async function withStaleCookie(url: string): Promise<{ client: Client; email: string; stale: string }> {
  const { client, email } = await signedUp(url);
  const stale = client.cookies.get('sid')!;
  expect((await client.post('/api/auth/logout')).status).toBe(200);
  client.cookies.set('sid', stale);
  return { client, email, stale };
}

/** A remember-me session whose next request renews its cookie. */
async function rememberedAndDue(url: string) {
  const { email } = await signedUp(url);
  const client = new Client(url);
  expect((await client.post('/api/auth/login', { email, password: STRONG_PASSWORD, rememberMe: true })).status).toBe(200);
  const token = client.cookies.get('sid')!;
  const me = await client.get('/api/auth/me');
  clock.advance(PAST_RENEWAL);
  return { client, email, token, sessionId: me.body.session.id as string };
}

describeOnBackends(
  'one Set-Cookie per cookie name',
  ({ server }) => {
    const url = () => server().url;

    it('login with a stale cookie sends only the new session cookie', async () => {
      const { client, email, stale } = await withStaleCookie(url());
      const res = await client.post('/api/auth/login', { email, password: STRONG_PASSWORD });
      expect(res.status).toBe(200);
      const token = newSessionToken(res);
      expect(token).not.toBe(stale);
      expect((await client.get('/api/auth/me')).status).toBe(200);
    });

    it('register with a stale cookie sends only the new session cookie', async () => {
      const { client, stale } = await withStaleCookie(url());
      const res = await client.post('/api/auth/register', { email: uniqueEmail('fresh'), password: STRONG_PASSWORD, name: 'Fresh User' });
      expect(res.status).toBe(201);
      expect(newSessionToken(res)).not.toBe(stale);
      expect((await client.get('/api/auth/me')).body.user.name).toBe('Fresh User');
    });

    it('a stale cookie refused on a guest route is cleared once', async () => {
      const { client, email } = await withStaleCookie(url());
      const res = await client.post('/api/auth/login', { email, password: 'not-the-password-1' });
      expect(res.status).toBe(401);
      expectCleared(res);
    });

    it('logout of a remember-me session due for renewal sends only the clearing cookie', async () => {
      const { client } = await rememberedAndDue(url());
      const res = await client.post('/api/auth/logout');
      expect(res.status).toBe(200);
      expectCleared(res);
    });

    it('ending the current session by id sends only the clearing cookie', async () => {
      const { client, sessionId } = await rememberedAndDue(url());
      const res = await client.request('DELETE', `/api/auth/sessions/${sessionId}`);
      expect(res.status).toBe(204);
      expectCleared(res);
    });

    it('a password change sends only the rotated session cookie, not the renewed old one', async () => {
      const { client, token } = await rememberedAndDue(url());
      const res = await client.post('/api/auth/password', { currentPassword: STRONG_PASSWORD, newPassword: NEW_PASSWORD });
      expect(res.status).toBe(200);
      const rotated = newSessionToken(res);
      expect(rotated).not.toBe(token);
      expect(cookiesOf(res).get('sid')).toMatch(/Max-Age=\d+/); // still remember-me
      expect((await client.get('/api/auth/me')).status).toBe(200);
    });

    it('confirming a new address sends only the rotated session cookie', async () => {
      const { client, token } = await rememberedAndDue(url());
      const newEmail = uniqueEmail('moved');
      const seen = new Set(smtp.messages);
      expect((await client.post('/api/auth/email', { newEmail, password: STRONG_PASSWORD })).status).toBe(202);
      const mail = await smtp.waitFor((m) => !seen.has(m) && m.recipients.includes(newEmail));
      clock.advance(PAST_RENEWAL);
      const res = await client.post('/api/auth/email/verify', { token: tokenFrom(mail) });
      expect(res.status).toBe(200);
      expect(newSessionToken(res)).not.toBe(token);
      expect((await client.get('/api/auth/me')).body.user.email).toBe(newEmail);
    });
  },
  { latch: () => ({ clock, smtpUrl: smtp.url, mailIpMax: 1000 }) },
);

describe('the session cookie helper', () => {
  let server: import('node:http').Server;
  let url: string;

  beforeAll(async () => {
    const cookie = sessionCookie(false, clock);
    const app = express();
    app.get('/', (_req, res) => {
      res.cookie('theme', 'dark');
      cookie.clear(res);
      res.cookie('lang', 'en');
      cookie.issue(res, { token: 'new-token', session: { rememberMe: false, expiresAt: clock.now() } });
      res.end();
    });
    server = app.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
  });

  it('replaces its own earlier decision and leaves other cookies alone', async () => {
    const res = await new Client(url).get('/');
    expect(res.headers.getSetCookie()).toEqual(['theme=dark; Path=/', 'lang=en; Path=/', 'sid=new-token; Path=/; HttpOnly; SameSite=Lax']);
  });
});
