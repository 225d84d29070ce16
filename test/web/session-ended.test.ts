/**
 * A browser whose session was ended elsewhere (another device, a password change) and that
 * opens a page again is told why on the sign-in page; a browser that never signed in, or
 * signed out itself, is not.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sqlite } from '../support/backends.js';
import { Client, signedUp, startServer, STRONG_PASSWORD, type TestServer } from '../support/server.js';

describe('pages after the session ended', () => {
  let server: TestServer;
  let cleanup: () => Promise<void>;

  beforeAll(async () => {
    const storage = await sqlite.provision();
    cleanup = storage.cleanup;
    server = await startServer(storage.config);
  });
  afterAll(async () => {
    await server?.close();
    await cleanup?.();
  });

  /** A browser still holding the cookie of a session that was ended from another device. */
  async function signedOutElsewhere(): Promise<Client> {
    const { client: other, email } = await signedUp(server.url);
    const browser = new Client(server.url);
    expect((await browser.post('/api/auth/login', { email, password: STRONG_PASSWORD })).status).toBe(200);
    expect((await other.request('DELETE', '/api/auth/sessions')).body.revoked).toBe(1);
    return browser;
  }

  it('/account sends a dead cookie to the sign-in page with the notice, and clears it', async () => {
    const browser = await signedOutElsewhere();
    const res = await browser.get('/account');
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe('/login?next=/account&notice=session-ended');
    expect(browser.cookies.has('sid')).toBe(false); // cleared: the next visit is a plain guest's (the device cookie stays)
    expect((await browser.get('/account')).headers.get('location')).toBe('/login?next=/account');

    const login = await browser.get('/login?next=/account&notice=session-ended');
    expect(login.text).toMatch(/<p class="notice" role="status">You were signed out\. Sign in again to continue\.<\/p>/);
  });

  it('/ does the same', async () => {
    const browser = await signedOutElsewhere();
    expect((await browser.get('/')).headers.get('location')).toBe('/login?notice=session-ended');
  });

  it('a browser without a cookie gets no notice', async () => {
    const guest = new Client(server.url);
    expect((await guest.get('/account')).headers.get('location')).toBe('/login?next=/account');
    expect((await guest.get('/')).headers.get('location')).toBe('/login');
    expect((await guest.get('/login?next=/account')).text).not.toContain('role="status"');
  });

  it('a browser that signed out itself gets no notice', async () => {
    const { client } = await signedUp(server.url);
    expect((await client.post('/api/auth/logout')).status).toBe(200);
    expect(client.cookies.has('sid')).toBe(false);
    expect((await client.get('/account')).headers.get('location')).toBe('/login?next=/account');
  });
});
