/** register, login, logout, me against the real server on every backend (API.md, "Endpoints"). */
import { expect, it } from 'vitest';
import { describeOnBackends } from '../support/backends.js';
import { Client, signedUp, STRONG_PASSWORD, uniqueEmail } from '../support/server.js';

function sessionCookieLine(headers: Headers): string | undefined {
  return headers.getSetCookie().find((line) => line.startsWith('sid='));
}

describeOnBackends('auth flows', ({ server }) => {
  const url = () => server().url;

  it('registers, normalizes the email and name, and signs the new user in', async () => {
    const client = new Client(url());
    const local = uniqueEmail('Mixed.Case');
    const res = await client.post('/api/auth/register', {
      email: `  ${local.toUpperCase()}  `,
      password: STRONG_PASSWORD,
      name: '  Ada Lovelace  ',
    });
    expect(res.status).toBe(201);
    expect(res.body.user).toEqual({
      id: expect.any(String),
      email: local.toLowerCase(),
      name: 'Ada Lovelace',
      emailVerified: false,
      createdAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      role: 'user',
      twoFactor: false,
    });
    expect(Object.keys(res.body.user).sort()).toEqual(['createdAt', 'email', 'emailVerified', 'id', 'name', 'role', 'twoFactor']);
    expect(res.headers.get('cache-control')).toBe('no-store');

    const line = sessionCookieLine(res.headers)!;
    expect(line).toMatch(/^sid=[A-Za-z0-9_-]{18}\.[A-Za-z0-9_-]{43}; Path=\/; HttpOnly; SameSite=Lax$/);
    expect(line).not.toMatch(/Max-Age|Expires|Domain/i);

    const me = await client.get('/api/auth/me');
    expect(me.status).toBe(200);
    expect(me.body.user).toEqual(res.body.user);
    expect(me.body.session).toMatchObject({ current: true, rememberMe: false, ip: '127.0.0.1' });
    // The public session id is the lookup half; the secret half never comes back.
    const [id, secret] = client.cookies.get('sid')!.split('.');
    expect(me.body.session.id).toBe(id);
    expect(me.text).not.toContain(secret);
  });

  it('refuses a second account for the same address, whatever its case', async () => {
    const { email } = await signedUp(url());
    const res = await new Client(url()).post('/api/auth/register', {
      email: email.toUpperCase(),
      password: STRONG_PASSWORD,
      name: 'Someone Else',
    });
    expect(res.status).toBe(409);
    expect(res.body).toEqual({ error: expect.any(String), code: 'email_taken' });
  });

  it('gives exactly one 201 and 409s to 30 concurrent registrations of one email', async () => {
    const email = uniqueEmail('race');
    const results = await Promise.all(
      Array.from({ length: 30 }, () =>
        new Client(url()).post('/api/auth/register', { email, password: STRONG_PASSWORD, name: 'Racer' }),
      ),
    );
    const statuses = results.map((r) => r.status).sort();
    expect(statuses.filter((s) => s === 201)).toHaveLength(1);
    expect(statuses.filter((s) => s === 409)).toHaveLength(29);
  });

  it('refuses weak passwords with weak_password and a message naming the rule', async () => {
    const cases: Array<[string, RegExp]> = [
      ['short-pass', /at least 15/],
      ['x'.repeat(257), /at most 256/],
      ['1234567890123456', /consecutive/],
      ['passwordpassword', /common/],
      ['QWERTYuiop12345', /common/],
      ['aaaaaaaaaaaaaaaaaaaa', /repeated|common/],
    ];
    for (const [password, message] of cases) {
      const res = await new Client(url()).post('/api/auth/register', { email: uniqueEmail(), password, name: 'Weak Tester' });
      expect(res.status, password).toBe(400);
      expect(res.body.code).toBe('weak_password');
      expect(res.body.error).toMatch(message);
    }
    const email = uniqueEmail('personal');
    const withEmail = await new Client(url()).post('/api/auth/register', { email, password: `my-${email}-pw`, name: 'Pat Doe' });
    expect(withEmail.body.code).toBe('weak_password');
    const withName = await new Client(url()).post('/api/auth/register', {
      email: uniqueEmail(),
      password: 'xx-Archibald Haddock-2024',
      name: 'Archibald Haddock',
    });
    expect(withName.body.code).toBe('weak_password');
    expect(withName.body.error).toMatch(/name/);
  });

  it('NFKC-normalizes passwords: full-width at sign-up, ASCII at login', async () => {
    const email = uniqueEmail('nfkc');
    const fullWidth = 'ｖｉｏｌｅｔ－ｈａｒｂｏｒ－ｌａｎｔｅｒｎ'; // "violet-harbor-lantern"
    const reg = await new Client(url()).post('/api/auth/register', { email, password: fullWidth, name: 'Wide Keys' });
    expect(reg.status).toBe(201);
    const login = await new Client(url()).post('/api/auth/login', { email, password: 'violet-harbor-lantern' });
    expect(login.status).toBe(200);
  });

  it('logs in with a NEW session every time, never adopting a planted cookie', async () => {
    const { email } = await signedUp(url());
    const victim = new Client(url());
    const planted = 'AAAAAAAAAAAAAAAAAAAAAA.BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB';
    victim.cookies.set('sid', planted);
    const first = await victim.post('/api/auth/login', { email, password: STRONG_PASSWORD });
    expect(first.status).toBe(200);
    const issued = victim.cookies.get('sid')!;
    expect(issued).not.toBe(planted);

    const attacker = new Client(url());
    attacker.cookies.set('sid', planted);
    expect((await attacker.get('/api/auth/me')).status).toBe(401);

    const second = await new Client(url()).post('/api/auth/login', { email, password: STRONG_PASSWORD });
    expect(sessionCookieLine(second.headers)).toBeDefined();
    expect(sessionCookieLine(second.headers)).not.toContain(issued);
  });

  it('answers an unknown email exactly like a wrong password', async () => {
    const { email } = await signedUp(url());
    const wrong = await new Client(url()).post('/api/auth/login', { email, password: 'not-the-password-at-all' });
    const unknown = await new Client(url()).post('/api/auth/login', { email: uniqueEmail('nobody'), password: 'not-the-password-at-all' });
    expect(wrong.status).toBe(401);
    expect(unknown.status).toBe(401);
    expect(unknown.text).toBe(wrong.text);
    expect(wrong.body).toEqual({ error: 'Invalid email or password', code: 'invalid_credentials' });
    const comparable = (h: Headers) => [...h].filter(([name]) => name !== 'date');
    expect(comparable(unknown.headers)).toEqual(comparable(wrong.headers));
  });

  it('sets a persistent cookie for rememberMe whose Max-Age reaches expiresAt', async () => {
    const { email } = await signedUp(url());
    const client = new Client(url());
    const res = await client.post('/api/auth/login', { email, password: STRONG_PASSWORD, rememberMe: true });
    const line = sessionCookieLine(res.headers)!;
    const maxAge = Number(/Max-Age=(\d+)/.exec(line)?.[1]);
    expect(maxAge).toBeGreaterThan(30 * 86400 - 60);
    expect(maxAge).toBeLessThanOrEqual(30 * 86400);
    const me = await client.get('/api/auth/me');
    expect(me.body.session.rememberMe).toBe(true);
    const expiresIn = (Date.parse(me.body.session.expiresAt) - Date.now()) / 1000;
    expect(Math.abs(expiresIn - maxAge)).toBeLessThan(60);
  });

  it('logout deletes the session on the server: the old cookie replayed is refused', async () => {
    const { client } = await signedUp(url());
    const token = client.cookies.get('sid')!;
    const out = await client.post('/api/auth/logout');
    expect(out.status).toBe(200);
    expect(out.body).toEqual({ message: 'Logged out successfully' });
    expect(sessionCookieLine(out.headers)).toMatch(/^sid=;.*Expires=Thu, 01 Jan 1970/);

    const replay = new Client(url());
    replay.cookies.set('sid', token);
    expect((await replay.get('/api/auth/me')).status).toBe(401);
    expect((await replay.post('/api/auth/logout')).status).toBe(401);
  });

  it('guards: guests get 401 on user routes, signed-in users 400 on guest routes', async () => {
    const guest = new Client(url());
    for (const res of [await guest.get('/api/auth/me'), await guest.post('/api/auth/logout')]) {
      expect(res.status).toBe(401);
      expect(res.body).toEqual({ error: expect.any(String), code: 'unauthorized' });
    }
    const { client, email } = await signedUp(url());
    const again = await client.post('/api/auth/login', { email, password: STRONG_PASSWORD });
    expect(again.status).toBe(400);
    expect(again.body.code).toBe('already_authenticated');
    const reg = await client.post('/api/auth/register', { email: uniqueEmail(), password: STRONG_PASSWORD, name: 'Second' });
    expect(reg.body.code).toBe('already_authenticated');
  });

  it('accepts the session only from the cookie, never from a header, query or body', async () => {
    const { client } = await signedUp(url());
    const token = client.cookies.get('sid')!;
    const stranger = new Client(url());
    expect((await stranger.get(`/api/auth/me?sid=${token}`)).status).toBe(401);
    expect((await stranger.get('/api/auth/me', { authorization: `Bearer ${token}`, 'x-session-id': token })).status).toBe(401);
    expect((await stranger.request('POST', '/api/auth/logout', { json: { sid: token } })).status).toBe(401);
  });

  it('refuses a cookie whose id is right but whose secret is not', async () => {
    const { client } = await signedUp(url());
    const [id, secret] = client.cookies.get('sid')!.split('.') as [string, string];
    const forged = new Client(url());
    const flipped = (secret[0] === 'A' ? 'B' : 'A') + secret.slice(1);
    forged.cookies.set('sid', `${id}.${flipped}`);
    const res = await forged.get('/api/auth/me');
    expect(res.status).toBe(401);
    // The real owner is unaffected.
    expect((await client.get('/api/auth/me')).status).toBe(200);
  });

  it('keeps no usable secret in the logs', async () => {
    const { client, email } = await signedUp(url());
    await client.get('/api/auth/me');
    const token = client.cookies.get('sid')!;
    const logs = server().logs.join('');
    expect(logs).not.toContain(token.split('.')[1]);
    expect(logs).not.toContain(STRONG_PASSWORD);
    expect(logs).not.toContain(email);
  });
});

