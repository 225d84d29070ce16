/**
 * Sessions you can see and end, re-authentication, password change and account deletion
 * (API.md, "Endpoints"), on every backend, attacked with replayed cookies, foreign ids and races.
 */
import { expect, it } from 'vitest';
import { describeOnBackends } from '../support/backends.js';
import { Client, ManualClock, signedUp, STRONG_PASSWORD } from '../support/server.js';

const clock = new ManualClock();
const MINUTE = 60_000;
const NEW_PASSWORD = 'copper-meadow-falcon-77';

async function loginAs(url: string, email: string, password = STRONG_PASSWORD, userAgent = 'TestBrowser/1.0') {
  const client = new Client(url);
  const res = await client.post('/api/auth/login', { email, password }, { 'user-agent': userAgent });
  if (res.status !== 200) throw new Error(`login failed: ${res.status} ${res.text}`);
  return client;
}

describeOnBackends(
  'sessions and account',
  ({ server }) => {
    const url = () => server().url;

    it('lists my live sessions, most recently used first, marking the current one', async () => {
      const { client: first, email } = await signedUp(url());
      clock.advance(2 * MINUTE);
      const second = await loginAs(url(), email, STRONG_PASSWORD, 'Laptop/3.0');
      clock.advance(2 * MINUTE);
      const third = await loginAs(url(), email, STRONG_PASSWORD, 'Phone/2.0');
      clock.advance(2 * MINUTE);
      await first.get('/api/auth/me'); // first is now used more recently than second
      clock.advance(2 * MINUTE);

      const res = await third.get('/api/auth/sessions'); // and third, the caller, most recently
      expect(res.status).toBe(200);
      expect(res.headers.get('cache-control')).toBe('no-store');
      const sessions = res.body.sessions;
      const idOf = (c: Client) => c.cookies.get('sid')!.split('.')[0];
      expect(sessions.map((s: { id: string }) => s.id)).toEqual([idOf(third), idOf(first), idOf(second)]);
      expect(sessions.map((s: { current: boolean }) => s.current)).toEqual([true, false, false]);
      expect(sessions[0]).toMatchObject({ userAgent: 'Phone/2.0', ip: '127.0.0.1', rememberMe: false });
      expect(sessions[2].userAgent).toBe('Laptop/3.0');
      for (const s of sessions) {
        expect(Object.keys(s).sort()).toEqual(['aal', 'createdAt', 'current', 'expiresAt', 'id', 'ip', 'lastSeenAt', 'methods', 'rememberMe', 'userAgent']);
        expect(s).toMatchObject({ aal: 'aal1', methods: ['password'] }); // a password alone is one factor
      }
      for (const c of [first, second, third]) expect(res.text).not.toContain(c.cookies.get('sid')!.split('.')[1]);
    });

    it('ends one other session at once; 404 for ids that are not mine', async () => {
      const { client: mine, email } = await signedUp(url());
      const other = await loginAs(url(), email);
      const otherId = other.cookies.get('sid')!.split('.')[0]!;
      const { client: stranger } = await signedUp(url());
      const strangerId = stranger.cookies.get('sid')!.split('.')[0]!;

      for (const id of [strangerId, 'x'.repeat(18), 'x'.repeat(19), 'x'.repeat(21), 'x'.repeat(22), 'not-an-id', '..%2F..%2Fetc', '%00']) {
        const res = await mine.request('DELETE', `/api/auth/sessions/${id}`);
        expect(res.status, id).toBe(404);
        expect(res.body.code).toBe('not_found');
      }
      expect((await stranger.get('/api/auth/me')).status).toBe(200);

      const res = await mine.request('DELETE', `/api/auth/sessions/${otherId}`);
      expect(res.status).toBe(204);
      expect((await other.get('/api/auth/me')).status).toBe(401);
      expect((await mine.get('/api/auth/me')).status).toBe(200);
      expect((await mine.request('DELETE', `/api/auth/sessions/${otherId}`)).status).toBe(404);
    });

    it('ending my own current session clears its cookie', async () => {
      const { client } = await signedUp(url());
      const token = client.cookies.get('sid')!;
      const res = await client.request('DELETE', `/api/auth/sessions/${token.split('.')[0]}`);
      expect(res.status).toBe(204);
      expect(res.headers.getSetCookie().join()).toMatch(/sid=;.*Expires=Thu, 01 Jan 1970/);
      const replay = new Client(url());
      replay.cookies.set('sid', token);
      expect((await replay.get('/api/auth/me')).status).toBe(401);
    });

    it('signs out everywhere else and says how many', async () => {
      const { client: keep, email } = await signedUp(url());
      const others = [await loginAs(url(), email), await loginAs(url(), email), await loginAs(url(), email)];
      const res = await keep.request('DELETE', '/api/auth/sessions');
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ revoked: 3 });
      for (const c of others) expect((await c.get('/api/auth/me')).status).toBe(401);
      expect((await keep.get('/api/auth/me')).status).toBe(200);
      expect((await keep.get('/api/auth/sessions')).body.sessions).toHaveLength(1);
    });

    it('after "sign out everywhere else" returns, no session issued before it works, while logins race it', async () => {
      const { client: keep, email } = await signedUp(url());
      const before = await Promise.all(Array.from({ length: 8 }, () => loginAs(url(), email)));
      const racers = Array.from({ length: 8 }, () => new Client(url()));
      const [revoke, ...answers] = await Promise.all([
        keep.request('DELETE', '/api/auth/sessions'),
        ...racers.map((c) => c.post('/api/auth/login', { email, password: STRONG_PASSWORD })),
      ]);
      expect(revoke.status).toBe(200);
      expect(revoke.body.revoked).toBeGreaterThanOrEqual(8);
      for (const c of before) expect((await c.get('/api/auth/me')).status).toBe(401);
      // A login still in flight when the revoke bumped the epoch is refused (401); the others
      // are each either revoked or listed: the index never loses one.
      for (const res of answers) expect([200, 401]).toContain(res.status);
      const racing = racers.filter((_, i) => answers[i]!.status === 200);
      const listed = new Set((await keep.get('/api/auth/sessions')).body.sessions.map((s: { id: string }) => s.id));
      for (const c of racing) {
        const alive = (await c.get('/api/auth/me')).status === 200;
        expect(listed.has(c.cookies.get('sid')!.split('.')[0])).toBe(alive);
      }
    });

    it('re-authenticates with the password and refreshes the proof time', async () => {
      const { client } = await signedUp(url());
      clock.advance(5 * MINUTE);
      const wrong = await client.post('/api/auth/reauth', { password: 'definitely-not-it-123' });
      expect(wrong.status).toBe(401);
      expect(wrong.body.code).toBe('invalid_credentials');
      expect((await client.get('/api/auth/me')).status).toBe(200); // a wrong proof does not sign out
      const ok = await client.post('/api/auth/reauth', { password: STRONG_PASSWORD });
      expect(ok.status).toBe(200);
      expect(ok.body.session).toMatchObject({ current: true, id: client.cookies.get('sid')!.split('.')[0] });
      expect((await client.post('/api/auth/reauth', {})).body.code).toBe('invalid_input');
    });

    it('changes the password: others end, the current session rotates, the old cookie is dead', async () => {
      const { client, email } = await signedUp(url());
      const other = await loginAs(url(), email);
      const oldToken = client.cookies.get('sid')!;

      const wrong = await client.post('/api/auth/password', { currentPassword: 'not-my-password-1', newPassword: NEW_PASSWORD });
      expect(wrong.status).toBe(401);
      expect(wrong.body.code).toBe('invalid_credentials');
      const weak = await client.post('/api/auth/password', { currentPassword: STRONG_PASSWORD, newPassword: 'short' });
      expect(weak.status).toBe(400);
      expect(weak.body.code).toBe('weak_password');
      const personal = await client.post('/api/auth/password', { currentPassword: STRONG_PASSWORD, newPassword: `${email}-xyz` });
      expect(personal.body.code).toBe('weak_password');
      expect((await other.get('/api/auth/me')).status).toBe(200); // failures change nothing

      const res = await client.post('/api/auth/password', { currentPassword: STRONG_PASSWORD, newPassword: NEW_PASSWORD });
      expect(res.status).toBe(200);
      expect(res.body.user.email).toBe(email);
      const newToken = client.cookies.get('sid')!;
      expect(newToken).not.toBe(oldToken);
      expect((await client.get('/api/auth/me')).status).toBe(200);
      expect((await other.get('/api/auth/me')).status).toBe(401);
      const replay = new Client(url());
      replay.cookies.set('sid', oldToken);
      expect((await replay.get('/api/auth/me')).status).toBe(401);
      expect((await client.get('/api/auth/sessions')).body.sessions).toHaveLength(1);

      expect((await new Client(url()).post('/api/auth/login', { email, password: STRONG_PASSWORD })).status).toBe(401);
      expect((await new Client(url()).post('/api/auth/login', { email, password: NEW_PASSWORD })).status).toBe(200);
    });

    it('deletes the account only with a recent password proof, then nothing of it works', async () => {
      const { client, email } = await signedUp(url());
      const other = await loginAs(url(), email);
      clock.advance(11 * MINUTE); // past REAUTH_WINDOW (10m)
      const stale = await client.request('DELETE', '/api/auth/account', { json: { password: STRONG_PASSWORD } });
      expect(stale.status).toBe(403);
      expect(stale.body.code).toBe('reauth_required');

      expect((await client.post('/api/auth/reauth', { password: STRONG_PASSWORD })).status).toBe(200);
      const wrong = await client.request('DELETE', '/api/auth/account', { json: { password: 'not-my-password-1' } });
      expect(wrong.status).toBe(401);
      expect(wrong.body.code).toBe('invalid_credentials');

      const token = client.cookies.get('sid')!;
      const res = await client.request('DELETE', '/api/auth/account', { json: { password: STRONG_PASSWORD } });
      expect(res.status).toBe(204);
      expect(res.headers.getSetCookie().join()).toMatch(/sid=;.*Expires=Thu, 01 Jan 1970/);
      const replay = new Client(url());
      replay.cookies.set('sid', token);
      expect((await replay.get('/api/auth/me')).status).toBe(401);
      expect((await other.get('/api/auth/me')).status).toBe(401);
      expect((await new Client(url()).post('/api/auth/login', { email, password: STRONG_PASSWORD })).status).toBe(401);
      // The address is free again.
      const again = await new Client(url()).post('/api/auth/register', { email, password: STRONG_PASSWORD, name: 'Back Again' });
      expect(again.status).toBe(201);
    });

    it('a fresh login counts as a recent proof for account deletion', async () => {
      const { email } = await signedUp(url());
      const client = await loginAs(url(), email);
      clock.advance(9 * MINUTE);
      expect((await client.request('DELETE', '/api/auth/account', { json: { password: STRONG_PASSWORD } })).status).toBe(204);
    });

    it('answers 401 to guests on every session and account endpoint', async () => {
      const guest = new Client(url());
      const calls = [
        guest.get('/api/auth/sessions'),
        guest.request('DELETE', '/api/auth/sessions'),
        guest.request('DELETE', `/api/auth/sessions/${'a'.repeat(22)}`),
        guest.post('/api/auth/reauth', { password: STRONG_PASSWORD }),
        guest.post('/api/auth/password', { currentPassword: STRONG_PASSWORD, newPassword: NEW_PASSWORD }),
        guest.request('DELETE', '/api/auth/account', { json: { password: STRONG_PASSWORD } }),
      ];
      for (const res of await Promise.all(calls)) {
        expect(res.status).toBe(401);
        expect(res.body.code).toBe('unauthorized');
      }
    });

    it('never lists an expired session', async () => {
      const { client: keeper, email } = await signedUp(url());
      const shortLived = await loginAs(url(), email);
      expect((await keeper.get('/api/auth/sessions')).body.sessions).toHaveLength(2);
      clock.advance(23 * 60 * MINUTE);
      await keeper.get('/api/auth/me'); // keeper slides, shortLived does not
      clock.advance(2 * 60 * MINUTE);
      const listed = (await keeper.get('/api/auth/sessions')).body.sessions;
      expect(listed).toHaveLength(1);
      expect(listed[0].current).toBe(true);
      expect((await shortLived.get('/api/auth/me')).status).toBe(401);
      expect(email).toMatch(/@/);
    });
  },
  // Parallel logins of one account from one IP are what the throttle counts; lift it here.
  { latch: () => ({ clock, loginMaxFailures: 1000 }) },
);

describeOnBackends(
  'session cap',
  ({ server }) => {
    const url = () => server().url;

    it('ends the least recently used session when a login would pass MAX_SESSIONS_PER_USER (3)', async () => {
      const { client: first, email } = await signedUp(url());
      clock.advance(2 * MINUTE);
      const second = await loginAs(url(), email);
      clock.advance(2 * MINUTE);
      const third = await loginAs(url(), email);
      clock.advance(2 * MINUTE);
      expect((await first.get('/api/auth/me')).status).toBe(200); // first is used again: second is now the LRU
      clock.advance(2 * MINUTE);
      const fourth = await loginAs(url(), email);

      expect((await second.get('/api/auth/me')).status).toBe(401);
      for (const c of [first, third, fourth]) expect((await c.get('/api/auth/me')).status).toBe(200);
      expect((await fourth.get('/api/auth/sessions')).body.sessions).toHaveLength(3);
    });
  },
  { latch: () => ({ clock, maxSessionsPerUser: 3 }) },
);

