/**
 * Session lifetime over HTTP with a hand-moved clock (API.md, "The session cookie"): idle and
 * absolute timeouts, remember-me, sliding renewal that writes at most once per interval.
 */
import { expect, it } from 'vitest';
import { describeOnBackends } from '../support/backends.js';
import { Client, ManualClock, signedUp, STRONG_PASSWORD } from '../support/server.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const clock = new ManualClock();

describeOnBackends(
  'session lifetime',
  ({ server }) => {
    const url = () => server().url;

    it('ends an unused session after the idle timeout (24h) and clears its cookie', async () => {
      const { client } = await signedUp(url());
      clock.advance(DAY - 1000);
      expect((await client.get('/api/auth/me')).status).toBe(200);
      clock.advance(DAY - 1000); // used a second ago minus one day: still inside the window
      expect((await client.get('/api/auth/me')).status).toBe(200);
      clock.advance(DAY);
      const res = await client.get('/api/auth/me');
      expect(res.status).toBe(401);
      expect(res.headers.getSetCookie().join()).toMatch(/sid=;.*Expires=Thu, 01 Jan 1970/);
    });

    it('ends a session at the absolute timeout (7d) however often it is used', async () => {
      const { client } = await signedUp(url());
      const started = clock.now();
      while (clock.now() - started < 7 * DAY - 12 * HOUR) {
        clock.advance(12 * HOUR);
        expect((await client.get('/api/auth/me')).status).toBe(200);
      }
      const me = await client.get('/api/auth/me');
      expect(Date.parse(me.body.session.expiresAt)).toBe(started + 7 * DAY);
      clock.advance(started + 7 * DAY - clock.now());
      expect((await client.get('/api/auth/me')).status).toBe(401);
    });

    it('keeps a remember-me session 30 days and renews the cookie Max-Age as it slides', async () => {
      const { email } = await signedUp(url());
      const client = new Client(url());
      await client.post('/api/auth/login', { email, password: STRONG_PASSWORD, rememberMe: true });
      const loggedInAt = clock.now();
      clock.advance(29 * DAY);
      const res = await client.get('/api/auth/me');
      expect(res.status).toBe(200);
      const line = res.headers.getSetCookie().find((l) => l.startsWith('sid='))!;
      // Capped by the absolute limit: one day left.
      expect(Number(/Max-Age=(\d+)/.exec(line)?.[1])).toBe(DAY / 1000);
      expect(Date.parse(res.body.session.expiresAt)).toBe(loggedInAt + 30 * DAY);
      clock.advance(DAY);
      expect((await client.get('/api/auth/me')).status).toBe(401);
    });

    it('slides lastSeenAt at most once per interval, so most requests only read', async () => {
      const { client, email } = await signedUp(url());
      const first = await client.get('/api/auth/me');
      clock.advance(30_000);
      const within = await client.get('/api/auth/me');
      expect(within.body.session.lastSeenAt).toBe(first.body.session.lastSeenAt);
      expect(within.headers.getSetCookie()).toEqual([]);
      clock.advance(31_000);
      const after = await client.get('/api/auth/me');
      expect(Date.parse(after.body.session.lastSeenAt)).toBe(clock.now());
      expect(Date.parse(after.body.session.expiresAt)).toBe(clock.now() + DAY);
      // A browser-session cookie stays one: sliding does not turn it persistent.
      expect(after.headers.getSetCookie()).toEqual([]);

      // And the renewal is stored, not only answered: a second client sees it too.
      const again = new Client(url());
      again.cookies.set('sid', client.cookies.get('sid')!);
      expect((await again.get('/api/auth/me')).body.session.lastSeenAt).toBe(after.body.session.lastSeenAt);
      expect(email).toContain('@');
    });
  },
  { latch: () => ({ clock }) },
);
