/**
 * Mail: email verification, password reset, email change and the mail limits (API.md,
 * "Endpoints", "Registration sends a verification mail"), against the real server and a real
 * SMTP server in the test process, on SQLite and on PostgreSQL + Redis. Attacked with reused,
 * expired, foreign-purpose and raced tokens, forged Host headers, header injection in
 * addresses, and an SMTP server that is down or hangs.
 */
import http from 'node:http';
import net from 'node:net';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeOnBackends, postgresRedis, sqlite } from '../support/backends.js';
import { Client, ManualClock, signedUp, STRONG_PASSWORD, uniqueEmail, type Reply } from '../support/server.js';
import { linkFrom, startSmtpServer, tokenFrom, type ReceivedMail, type TestSmtpServer } from '../support/smtp.js';

const backends = [sqlite, postgresRedis];
const clock = new ManualClock();
const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const NEW_PASSWORD = 'copper-meadow-falcon-77';
const PUBLIC_URL = 'https://accounts.latch.example.test';
const PUBLIC_HOST = new URL(PUBLIC_URL).host;
const RETRY_DELAYS = [100, 200, 400, 800, 1600];
const SUBJECT = {
  verify: 'Verify your email address',
  reset: 'Reset your password',
  changed: 'Your password was changed',
  confirmNew: 'Confirm your new email address',
  changing: 'Your email address is being changed',
  signupAttempt: 'Someone tried to sign up with your address',
} as const;
type Subject = (typeof SUBJECT)[keyof typeof SUBJECT];

let smtp: TestSmtpServer;
/** An SMTP server that wants AUTH (user:pass in SMTP_URL). */
let authSmtp: TestSmtpServer;
const SMTP_USER = 'latch-mailer';
const SMTP_PASS = 'p@ss:w/rd-0123';
/** Accepts TCP connections and never says a word (a hanging SMTP server). */
let blackhole: net.Server;
let blackholePort = 0;
let blackholeHangs = true;
const blackholeSockets = new Set<net.Socket>();

beforeAll(async () => {
  smtp = await startSmtpServer();
  authSmtp = await startSmtpServer({ auth: { user: SMTP_USER, pass: SMTP_PASS } });
  blackhole = net.createServer((socket) => {
    socket.on('error', () => {});
    if (!blackholeHangs) return void socket.destroy();
    blackholeSockets.add(socket);
    socket.on('close', () => blackholeSockets.delete(socket));
  });
  await new Promise<void>((resolve) => blackhole.listen(0, '127.0.0.1', resolve));
  blackholePort = (blackhole.address() as net.AddressInfo).port;
});

afterAll(async () => {
  await smtp?.stop();
  await authSmtp?.stop();
  for (const socket of blackholeSockets) socket.destroy();
  await new Promise<void>((resolve) => (blackhole ? blackhole.close(() => resolve()) : resolve()));
});

// ---------------------------------------------------------------------------------------------
// helpers

const from = (ip: string) => ({ 'x-forwarded-for': ip });
let ipCounter = 1;
const freshIp = () => `198.18.${Math.floor(ipCounter / 250) % 250}.${(ipCounter++ % 250) + 1}`;

/** Every token seen by this file, to check none of them ever reaches a log. */
const seenTokens: string[] = [];
function tokenOf(mail: ReceivedMail): string {
  const token = tokenFrom(mail);
  seenTokens.push(token);
  return token;
}

const matches = (address: string, subject: Subject) => (m: ReceivedMail) =>
  m.recipients.includes(address.toLowerCase()) && m.subject === subject;

/**
 * Call BEFORE the request that should send a mail; the returned function waits for a mail to
 * `address` with `subject` that had not arrived when `upcoming` was called.
 */
function upcoming(address: string, subject: Subject, server: TestSmtpServer = smtp) {
  const seen = new Set(server.messages.filter(matches(address, subject)));
  return (timeoutMs = 10_000) => server.waitFor((m) => matches(address, subject)(m) && !seen.has(m), timeoutMs);
}

const mailsTo = (address: string, subject?: Subject, server: TestSmtpServer = smtp) =>
  server.messages.filter((m) => m.recipients.includes(address.toLowerCase()) && (subject === undefined || m.subject === subject));

/** One mail to exactly one recipient (envelope and headers), multipart text + HTML, from the default sender. */
function expectWellFormed(mail: ReceivedMail, address: string, sender = { name: 'Latch', address: `no-reply@${PUBLIC_HOST}` }) {
  const to = address.toLowerCase();
  expect(mail.recipients).toEqual([to]);
  expect(mail.to).toEqual([to]);
  expect(mail.cc).toEqual([]);
  expect(mail.bcc).toEqual([]);
  expect(mail.rawHeaders).not.toMatch(/^(bcc|cc):/im);
  expect(mail.parsed.from?.value).toEqual([sender]);
  expect(mail.rawHeaders).toMatch(/^content-type:\s*multipart\//im);
  expect(mail.text.trim().length).toBeGreaterThan(0);
  expect(mail.html.trim().length).toBeGreaterThan(0);
}

/** The mail's single link: on PUBLIC_URL, to `path`, with a 43-char base64url token. */
function expectLink(mail: ReceivedMail, path: '/verify-email' | '/reset-password'): string {
  const link = linkFrom(mail);
  expect(link.origin).toBe(PUBLIC_URL);
  expect(link.pathname).toBe(path);
  expect([...link.searchParams.keys()]).toEqual(['token']);
  return tokenOf(mail);
}

function expectError(res: Reply, status: number, code: string) {
  expect(res.status, res.text).toBe(status);
  // Validation errors add `issues` (API.md, "Conventions"); every other error is exactly {error, code}.
  if (code === 'invalid_input') expect(res.body).toEqual({ error: expect.any(String), code, issues: expect.any(Array) });
  else expect(res.body).toEqual({ error: expect.any(String), code });
}

const setsSession = (res: Reply) => res.headers.getSetCookie().some((line) => /^(__Host-)?sid=[^;\s]+/.test(line.trim()));

const forgot = (url: string, email: unknown, headers?: Record<string, string>) =>
  new Client(url).post('/api/auth/password/forgot', { email }, headers);
const resetPassword = (url: string, token: unknown, password = NEW_PASSWORD) =>
  new Client(url).post('/api/auth/password/reset', { token, password });
const verifyEmail = (url: string, token: unknown, client = new Client(url)) => client.post('/api/auth/email/verify', { token });

async function loginAs(url: string, email: string, password = STRONG_PASSWORD) {
  const client = new Client(url);
  const res = await client.post('/api/auth/login', { email, password });
  if (res.status !== 200) throw new Error(`login failed: ${res.status} ${res.text}`);
  return client;
}
const loginStatus = async (url: string, email: string, password = STRONG_PASSWORD) =>
  (await new Client(url).post('/api/auth/login', { email, password })).status;

/** Signs up and returns the token of the verification mail too. */
async function signedUpWithToken(url: string) {
  const email = uniqueEmail('mail');
  const next = upcoming(email, SUBJECT.verify);
  const account = await signedUp(url, { email });
  const mail = await next();
  return { ...account, mail, token: tokenOf(mail) };
}

/** Asks for a reset and returns the token from the mail. */
async function resetToken(url: string, email: string, headers?: Record<string, string>) {
  const next = upcoming(email, SUBJECT.reset);
  const res = await forgot(url, email, headers);
  expect(res.status).toBe(202);
  const mail = await next();
  expectWellFormed(mail, email);
  return expectLink(mail, '/reset-password');
}

/**
 * A mail caused after everything the test did so far: once it has arrived, mails that the
 * earlier requests would have caused have had their chance (no fixed sleep).
 */
async function sentinel(url: string, server: TestSmtpServer = smtp) {
  const email = uniqueEmail('sentinel');
  const next = upcoming(email, SUBJECT.verify, server);
  const res = await new Client(url).post('/api/auth/register', { email, password: STRONG_PASSWORD, name: 'Sentinel' }, from(freshIp()));
  expect([201, 202]).toContain(res.status);
  await next();
}

/** Polls `condition` until it holds or the deadline passes. */
async function until(condition: () => boolean, timeoutMs = 10_000, what = 'condition') {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`${what} not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** A POST through node:http, which sends whatever Host header it is given. */
function rawPost(url: string, path: string, body: unknown, headers: Record<string, string>): Promise<{ status: number; text: string }> {
  const { hostname, port } = new URL(url);
  const payload = JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: hostname,
        port: Number(port),
        path,
        method: 'POST',
        headers: { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(payload)), ...headers },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

const cookieHeader = (client: Client) => [...client.cookies].map(([k, v]) => `${k}=${v}`).join('; ');

const FORGED = { host: 'evil.example', 'x-forwarded-host': 'evil.example', 'x-forwarded-proto': 'http', forwarded: 'host=evil.example;proto=http' };

/** Links in reset and verification mails ignore Host and X-Forwarded-Host. */
async function expectLinksIgnoreForgedHost(url: string) {
  const { client, email } = await signedUpWithToken(url);
  const nextReset = upcoming(email, SUBJECT.reset);
  const res = await rawPost(url, '/api/auth/password/forgot', { email }, FORGED);
  expect(res.status).toBe(202);
  const resetMail = await nextReset();
  expectLink(resetMail, '/reset-password');
  expect(resetMail.text + resetMail.html + resetMail.rawHeaders).not.toContain('evil.example');

  const nextVerify = upcoming(email, SUBJECT.verify);
  const resend = await rawPost(url, '/api/auth/email/verify/resend', {}, { ...FORGED, cookie: cookieHeader(client) });
  expect(resend.status).toBe(202);
  const verifyMail = await nextVerify();
  expectLink(verifyMail, '/verify-email');
  expect(verifyMail.text + verifyMail.html + verifyMail.rawHeaders).not.toContain('evil.example');
}

const EVIL = 'evil.example';
/** No mail ever went to, or named in a header, an injected address. */
function expectNoInjectedRecipient(server: TestSmtpServer = smtp) {
  for (const m of server.messages) {
    for (const address of [...m.recipients, ...m.to, ...m.cc, ...m.bcc]) expect(address).not.toContain(EVIL);
    expect(m.rawHeaders).not.toMatch(/^(bcc|cc):/im);
    expect(m.bcc).toEqual([]);
    expect(m.cc).toEqual([]);
    expect(m.recipients).toHaveLength(1);
  }
}

const baseOptions = () => ({
  clock,
  publicUrl: PUBLIC_URL,
  smtpUrl: smtp.url,
  mailRetryDelays: RETRY_DELAYS,
  loginMaxFailures: 1000,
});

// ---------------------------------------------------------------------------------------------

describeOnBackends(
  'mail: verification, reset, email change',
  ({ server }) => {
    const url = () => server().url;

    it('registration sends a verification mail: to the new address only, multipart, linking to PUBLIC_URL', async () => {
      const email = uniqueEmail('Verify.Me');
      const next = upcoming(email.toLowerCase(), SUBJECT.verify);
      const started = Date.now();
      const client = new Client(url());
      const res = await client.post('/api/auth/register', { email: `  ${email.toUpperCase()} `, password: STRONG_PASSWORD, name: 'Mail Tester' });
      expect(res.status).toBe(201);
      expect(setsSession(res)).toBe(true);
      expect(res.body.user.emailVerified).toBe(false);
      const mail = await next();
      expect(mail.receivedAt).toBeGreaterThanOrEqual(started);
      expectWellFormed(mail, email.toLowerCase());
      const token = expectLink(mail, '/verify-email');
      expect(res.text).not.toContain(token);
      expect((await client.get('/api/auth/me')).body.user.emailVerified).toBe(false);
    });

    it('verifies the address with its token, once; unknown, reused and malformed tokens are refused', async () => {
      const { client, user, token } = await signedUpWithToken(url());
      const res = await verifyEmail(url(), token);
      expect(res.status).toBe(200);
      expect(res.headers.get('cache-control')).toBe('no-store');
      expect(res.body.user).toMatchObject({ id: user.id, email: user.email, emailVerified: true });
      expect(setsSession(res)).toBe(false);
      expect((await client.get('/api/auth/me')).body.user.emailVerified).toBe(true);

      expectError(await verifyEmail(url(), token), 400, 'invalid_token'); // reused
      const unknown = Buffer.alloc(32, 7).toString('base64url');
      expectError(await verifyEmail(url(), unknown), 400, 'invalid_token');
      const flipped = token.slice(0, -1) + (token.endsWith('A') ? 'B' : 'A');
      expectError(await verifyEmail(url(), flipped), 400, 'invalid_token');
      for (const bad of ['', 'x', `${token}x`, token.slice(1), `${token.slice(0, 42)}=`, 'a'.repeat(5000)]) {
        const r = await verifyEmail(url(), bad);
        expect(r.status, bad.slice(0, 50)).toBe(400);
        expect(['invalid_token', 'invalid_input']).toContain(r.body.code);
      }
      for (const bad of [123, null, ['x'], { token }]) expectError(await verifyEmail(url(), bad), 400, 'invalid_input');
      expectError(await new Client(url()).post('/api/auth/email/verify', {}), 400, 'invalid_input');
    });

    it("a token verifies its own account, whoever sends it", async () => {
      const owner = await signedUpWithToken(url());
      const { client: other, user: otherUser } = await signedUp(url());
      const res = await verifyEmail(url(), owner.token, other);
      expect(res.status).toBe(200);
      expect(res.body.user).toMatchObject({ id: owner.user.id, emailVerified: true });
      const me = await other.get('/api/auth/me');
      expect(me.body.user).toMatchObject({ id: otherUser.id, emailVerified: false });
      expect((await owner.client.get('/api/auth/me')).body.user.emailVerified).toBe(true);
    });

    it('resend sends a new mail whose token replaces the older one; guests get 401', async () => {
      const { client, email, token: first } = await signedUpWithToken(url());
      const next = upcoming(email, SUBJECT.verify);
      const res = await client.post('/api/auth/email/verify/resend');
      expect(res.status).toBe(202);
      const mail = await next();
      expectWellFormed(mail, email);
      const second = expectLink(mail, '/verify-email');
      expect(second).not.toBe(first);
      expectError(await verifyEmail(url(), first), 400, 'invalid_token');
      expect((await verifyEmail(url(), second)).status).toBe(200);
      expectError(await verifyEmail(url(), second), 400, 'invalid_token');

      expectError(await new Client(url()).post('/api/auth/email/verify/resend'), 401, 'unauthorized');
    });

    it('forgot-password answers known and unknown addresses byte-identically, and mails only the known one', async () => {
      const { email } = await signedUp(url());
      const ghost = uniqueEmail('ghost');
      const next = upcoming(email, SUBJECT.reset);
      const known = await forgot(url(), `  ${email.toUpperCase()} `);
      const unknown = await forgot(url(), ghost);
      expect(known.status).toBe(202);
      expect(unknown.status).toBe(202);
      expect(unknown.text).toBe(known.text);
      expect(unknown.headers.get('content-type')).toBe(known.headers.get('content-type'));
      expect(known.headers.get('cache-control')).toBe('no-store');
      expect(setsSession(known) || setsSession(unknown)).toBe(false);

      const mail = await next();
      expectWellFormed(mail, email); // to the stored (lower-case) address
      expectLink(mail, '/reset-password');
      await sentinel(url());
      expect(mailsTo(ghost)).toEqual([]);

      expectError(await forgot(url(), 42), 400, 'invalid_input');
    });

    it('resets the password: every session ends, no auto-login, the owner is told, the token is single-use', async () => {
      const { client, email, user } = await signedUp(url());
      const other = await loginAs(url(), email);
      const token = await resetToken(url(), email);

      // A weak password is refused and does not use the token up.
      expectError(await resetPassword(url(), token, 'short'), 400, 'weak_password');
      expectError(await resetPassword(url(), token, `${email}-xyz`), 400, 'weak_password');
      expect((await client.get('/api/auth/me')).status).toBe(200);

      const changed = upcoming(email, SUBJECT.changed);
      const res = await resetPassword(url(), token);
      expect(res.status).toBe(200);
      expect(res.body.user).toMatchObject({ id: user.id, email });
      expect(setsSession(res)).toBe(false);
      expect(res.headers.get('cache-control')).toBe('no-store');

      expect((await client.get('/api/auth/me')).status).toBe(401);
      expect((await other.get('/api/auth/me')).status).toBe(401);
      expect(await loginStatus(url(), email, STRONG_PASSWORD)).toBe(401);
      expect(await loginStatus(url(), email, NEW_PASSWORD)).toBe(200);

      const notice = await changed();
      expectWellFormed(notice, email);
      expect(notice.text + notice.html).not.toContain(token);

      expectError(await resetPassword(url(), token, 'another-fine-password-31'), 400, 'invalid_token');
      expect(await loginStatus(url(), email, NEW_PASSWORD)).toBe(200);
    });

    it('refuses unknown and malformed reset tokens', async () => {
      expectError(await resetPassword(url(), Buffer.alloc(32, 9).toString('base64url')), 400, 'invalid_token');
      for (const bad of ['', 'nope', 'b'.repeat(5000)]) {
        const r = await resetPassword(url(), bad);
        expect(r.status).toBe(400);
        expect(['invalid_token', 'invalid_input']).toContain(r.body.code);
      }
      expectError(await resetPassword(url(), 17), 400, 'invalid_input');
      expectError(await new Client(url()).post('/api/auth/password/reset', { token: 'x'.repeat(43) }), 400, 'invalid_input');
    });

    it('a newer reset token voids the older one', async () => {
      const { email } = await signedUp(url());
      const older = await resetToken(url(), email);
      const newer = await resetToken(url(), email);
      expect(newer).not.toBe(older);
      expectError(await resetPassword(url(), older), 400, 'invalid_token');
      expect((await resetPassword(url(), newer)).status).toBe(200);
      expect(await loginStatus(url(), email, NEW_PASSWORD)).toBe(200);
    });

    it('changing the password voids outstanding reset tokens', async () => {
      const { client, email } = await signedUp(url());
      const token = await resetToken(url(), email);
      const change = await client.post('/api/auth/password', { currentPassword: STRONG_PASSWORD, newPassword: NEW_PASSWORD });
      expect(change.status).toBe(200);
      expectError(await resetPassword(url(), token, 'attacker-chosen-pass-99'), 400, 'invalid_token');
      expect(await loginStatus(url(), email, NEW_PASSWORD)).toBe(200);
    });

    it('a reset token never verifies, a verification token never resets', async () => {
      const { client, email, token: verifyToken } = await signedUpWithToken(url());
      const reset = await resetToken(url(), email);
      expectError(await verifyEmail(url(), reset), 400, 'invalid_token');
      expect((await client.get('/api/auth/me')).body.user.emailVerified).toBe(false);
      expectError(await resetPassword(url(), verifyToken), 400, 'invalid_token');
      expect(await loginStatus(url(), email, STRONG_PASSWORD)).toBe(200);
      expect(await loginStatus(url(), email, NEW_PASSWORD)).toBe(401);
    });

    it('reset tokens expire after RESET_TOKEN_TTL (1h)', async () => {
      const { email } = await signedUp(url());
      const expiring = await resetToken(url(), email);
      clock.advance(HOUR + MINUTE);
      expectError(await resetPassword(url(), expiring), 400, 'invalid_token');
      expect(await loginStatus(url(), email, STRONG_PASSWORD)).toBe(200);

      const fresh = await resetToken(url(), email);
      clock.advance(59 * MINUTE);
      expect((await resetPassword(url(), fresh)).status).toBe(200);
    });

    it('verification tokens expire after VERIFY_TOKEN_TTL (24h)', async () => {
      const late = await signedUpWithToken(url());
      const onTime = await signedUpWithToken(url());
      clock.advance(23 * HOUR + 58 * MINUTE);
      expect((await verifyEmail(url(), onTime.token)).status).toBe(200);
      clock.advance(3 * MINUTE);
      expectError(await verifyEmail(url(), late.token), 400, 'invalid_token');
      const client = await loginAs(url(), late.email);
      expect((await client.get('/api/auth/me')).body.user.emailVerified).toBe(false);
    });

    it('consumes a verification token atomically: 30 parallel uses, exactly one 200', async () => {
      const { token } = await signedUpWithToken(url());
      const results = await Promise.all(Array.from({ length: 30 }, () => verifyEmail(url(), token)));
      expect(results.filter((r) => r.status === 200)).toHaveLength(1);
      for (const r of results.filter((r) => r.status !== 200)) expectError(r, 400, 'invalid_token');
    });

    it('consumes a reset token atomically: 30 parallel uses, exactly one 200', async () => {
      const { email } = await signedUp(url());
      const token = await resetToken(url(), email);
      const passwords = Array.from({ length: 30 }, (_, i) => `racing-password-number-${i}-xyz`);
      const results = await Promise.all(passwords.map((p) => resetPassword(url(), token, p)));
      const winners = results.flatMap((r, i) => (r.status === 200 ? [passwords[i]!] : []));
      expect(winners).toHaveLength(1);
      for (const r of results.filter((r) => r.status !== 200)) expectError(r, 400, 'invalid_token');
      expect(await loginStatus(url(), email, winners[0]!)).toBe(200);
    });

    it('changes the email only once the new address is confirmed', async () => {
      const { client, email, user } = await signedUp(url());
      const newEmail = uniqueEmail('moved');
      const confirm = upcoming(newEmail, SUBJECT.confirmNew);
      const warn = upcoming(email, SUBJECT.changing);
      const res = await client.post('/api/auth/email', { newEmail: `  ${newEmail.toUpperCase()}  `, password: STRONG_PASSWORD });
      expect(res.status).toBe(202);
      expect(res.headers.get('cache-control')).toBe('no-store');

      const confirmMail = await confirm();
      expectWellFormed(confirmMail, newEmail);
      const token = expectLink(confirmMail, '/verify-email');
      const warning = await warn();
      expectWellFormed(warning, email);
      expect(warning.text + warning.html).not.toContain(token); // only the new mailbox can confirm

      // Until confirmed nothing changes.
      expect((await client.get('/api/auth/me')).body.user.email).toBe(email);
      expect(await loginStatus(url(), newEmail)).toBe(401);
      expect(await loginStatus(url(), email)).toBe(200);

      // Confirmed from a browser that is not signed in (a mail app): a new address is a
      // credential change, so every session ends, the one that asked for it too.
      const verified = await verifyEmail(url(), token);
      expect(verified.status).toBe(200);
      expect(verified.body.user).toMatchObject({ id: user.id, email: newEmail, emailVerified: true });
      expect((await client.get('/api/auth/me')).status).toBe(401);
      expect(await loginStatus(url(), email)).toBe(401);
      expect(await loginStatus(url(), newEmail)).toBe(200);
      expectError(await verifyEmail(url(), token), 400, 'invalid_token');

      // Reset mails now go to the new address only.
      await resetToken(url(), newEmail);
      await sentinel(url());
      expect(mailsTo(email, SUBJECT.reset)).toEqual([]);
    });

    it('email change: 401 for a wrong password, 409 for a taken address, 403 once the proof is stale', async () => {
      const { client, email } = await signedUp(url());
      const { email: taken } = await signedUp(url());
      const target = uniqueEmail('target');

      expectError(await client.post('/api/auth/email', { newEmail: target, password: 'not-my-password-1' }), 401, 'invalid_credentials');
      expectError(await client.post('/api/auth/email', { newEmail: taken.toUpperCase(), password: STRONG_PASSWORD }), 409, 'email_taken');
      expectError(await client.post('/api/auth/email', { newEmail: 'not-an-email', password: STRONG_PASSWORD }), 400, 'invalid_input');
      expectError(await client.post('/api/auth/email', { newEmail: target }), 400, 'invalid_input');
      expectError(await new Client(url()).post('/api/auth/email', { newEmail: target, password: STRONG_PASSWORD }), 401, 'unauthorized');

      clock.advance(11 * MINUTE); // past REAUTH_WINDOW (10m)
      expectError(await client.post('/api/auth/email', { newEmail: target, password: STRONG_PASSWORD }), 403, 'reauth_required');
      expect((await client.get('/api/auth/me')).body.user.email).toBe(email);

      expect((await client.post('/api/auth/reauth', { password: STRONG_PASSWORD })).status).toBe(200);
      const confirm = upcoming(target, SUBJECT.confirmNew);
      expect((await client.post('/api/auth/email', { newEmail: target, password: STRONG_PASSWORD })).status).toBe(202);
      await confirm();

      // Refused requests sent nothing.
      await sentinel(url());
      expect(mailsTo(target, SUBJECT.confirmNew)).toHaveLength(1);
      expect(mailsTo(taken, SUBJECT.confirmNew)).toEqual([]);
      expect(mailsTo(email, SUBJECT.changing)).toHaveLength(1);
    });

    it('a fresh login counts as a recent proof for the email change', async () => {
      const { email } = await signedUp(url());
      clock.advance(11 * MINUTE);
      const client = await loginAs(url(), email);
      clock.advance(9 * MINUTE);
      expect((await client.post('/api/auth/email', { newEmail: uniqueEmail('fresh'), password: STRONG_PASSWORD })).status).toBe(202);
    });

    it('links use PUBLIC_URL, never the Host or X-Forwarded-Host of the request', async () => {
      await expectLinksIgnoreForgedHost(url());
    });

    it('CRLF and list injection in addresses never add a recipient or a header', async () => {
      const { client, email } = await signedUp(url());
      const injections = [
        `${email}\r\nBcc: x@${EVIL}`,
        `${email}\nBcc: x@${EVIL}`,
        `${email}\r\n\r\nx@${EVIL}`,
        `${email},x@${EVIL}`,
        `${email}; x@${EVIL}`,
        `${email} <x@${EVIL}>`,
        `"${email}" <x@${EVIL}>`,
        `x@${EVIL}\r\nTo: ${email}`,
      ];
      for (const address of injections) {
        // Refusing the address (400) is expected; whatever the answer, no mail may reach an injected recipient.
        const reg = await new Client(url()).post('/api/auth/register', { email: address, password: STRONG_PASSWORD, name: 'Crlf Test' });
        expect([400, 409], JSON.stringify(address)).toContain(reg.status);
        const res = await forgot(url(), address);
        expect([202, 400], JSON.stringify(address)).toContain(res.status);
        const change = await client.post('/api/auth/email', { newEmail: address, password: STRONG_PASSWORD });
        expect([202, 400, 409], JSON.stringify(address)).toContain(change.status);
      }
      const named = await new Client(url()).post('/api/auth/register', {
        email: uniqueEmail('named'),
        password: STRONG_PASSWORD,
        name: `Eve\r\nBcc: x@${EVIL}`,
      });
      expect(named.status).toBe(400);
      await sentinel(url());
      expectNoInjectedRecipient();
      expect(mailsTo(email, SUBJECT.reset)).toEqual([]); // an injected variant is not the account's address
    });

    it('escapes the user name in the HTML part', async () => {
      const email = uniqueEmail('html');
      const next = upcoming(email, SUBJECT.verify);
      await signedUp(url(), { email, name: '<img src=x onerror=alert(1)> "Mal" & co' });
      const mail = await next();
      expect(mail.html).not.toContain('<img src=x');
      expect(mail.rawHeaders).not.toMatch(/^bcc:/im);
    });

    it('while the SMTP server is down, requests answer at once and the mail arrives once it is back', async () => {
      const { email } = await signedUp(url());
      const next = upcoming(email, SUBJECT.reset);
      await smtp.stop(); // nothing listens: connection refused
      try {
        const started = Date.now();
        const res = await forgot(url(), email);
        expect(res.status).toBe(202);
        const registration = await new Client(url()).post('/api/auth/register', { email: uniqueEmail('down'), password: STRONG_PASSWORD, name: 'Down Time' });
        expect(registration.status).toBe(201);
        expect(Date.now() - started).toBeLessThan(3000);
      } finally {
        await smtp.start();
      }
      const mail = await next();
      expectWellFormed(mail, email);
      expectLink(mail, '/reset-password');
    });

    it('retries a failed delivery per MAIL_RETRY_DELAYS', async () => {
      const { email } = await signedUp(url());
      await sentinel(url()); // the registration mail is out of the way
      const next = upcoming(email, SUBJECT.reset);
      await smtp.stop('drop'); // connections are accepted and closed at once: every attempt fails
      const attemptsBefore = smtp.dropped;
      try {
        const res = await forgot(url(), email);
        expect(res.status).toBe(202);
        await until(() => smtp.dropped > attemptsBefore, 5000, 'a failed delivery attempt');
      } finally {
        await smtp.start();
      }
      const mail = await next();
      expectWellFormed(mail, email);
      const token = expectLink(mail, '/reset-password');
      expect((await resetPassword(url(), token)).status).toBe(200);
    });

    it('never writes a token to the server log', async () => {
      expect(seenTokens.length).toBeGreaterThan(10);
      const logs = server().logs.join('\n');
      for (const token of seenTokens) expect(logs).not.toContain(token);
    });
  },
  {
    backends,
    latch: () => ({ ...baseOptions(), mailAccountMax: 1000, mailIpMax: 1_000_000, hashQueueLimit: 1000 }),
  },
);

describeOnBackends(
  'mail: REQUIRE_EMAIL_VERIFICATION',
  ({ server }) => {
    const url = () => server().url;
    const register = (email: string, password = STRONG_PASSWORD) =>
      new Client(url()).post('/api/auth/register', { email, password, name: 'Needs Verify' });

    it('registers with 202 and no session, identically for new and taken addresses; the owner is told', async () => {
      const email = uniqueEmail('first');
      const verifyMail = upcoming(email, SUBJECT.verify);
      const fresh = await register(email);
      expect(fresh.status).toBe(202);
      expect(Object.keys(fresh.body)).toEqual(['message']);
      expect(typeof fresh.body.message).toBe('string');
      expect(setsSession(fresh)).toBe(false);
      const token = expectLink(await verifyMail(), '/verify-email');
      expect((await verifyEmail(url(), token)).status).toBe(200);

      const told = upcoming(email, SUBJECT.signupAttempt);
      const again = await register(email.toUpperCase(), 'attacker-password-42-xyz');
      expect(again.status).toBe(fresh.status);
      expect(again.text).toBe(fresh.text);
      expect(setsSession(again)).toBe(false);
      const notice = await told();
      expectWellFormed(notice, email);

      // The attempt changed nothing about the account.
      expect(await loginStatus(url(), email, 'attacker-password-42-xyz')).toBe(401);
      expect(await loginStatus(url(), email, STRONG_PASSWORD)).toBe(200);
      await sentinel(url());
      expect(mailsTo(email, SUBJECT.verify)).toHaveLength(1);
    });

    it('login answers 403 email_unverified after the right password only, until the address is verified', async () => {
      const email = uniqueEmail('unverified');
      const verifyMail = upcoming(email, SUBJECT.verify);
      expect((await register(email)).status).toBe(202);
      const token = expectLink(await verifyMail(), '/verify-email');

      expectError(await new Client(url()).post('/api/auth/login', { email, password: 'not-my-password-1' }), 401, 'invalid_credentials');
      const refused = await new Client(url()).post('/api/auth/login', { email, password: STRONG_PASSWORD });
      expectError(refused, 403, 'email_unverified');
      expect(setsSession(refused)).toBe(false);

      const verified = await verifyEmail(url(), token);
      expect(verified.status).toBe(200);
      expect(verified.body.user).toMatchObject({ email, emailVerified: true });
      expect(setsSession(verified)).toBe(false);
      const client = await loginAs(url(), email);
      expect((await client.get('/api/auth/me')).body.user.emailVerified).toBe(true);
      expect(await loginStatus(url(), email, 'not-my-password-1')).toBe(401);
    });

    it('a taken address answers exactly like a new one even before its owner verified', async () => {
      const email = uniqueEmail('pending');
      const a = await register(email);
      const b = await register(email, 'another-strong-pass-77');
      const c = await register(uniqueEmail('other'));
      expect([a.status, b.status, c.status]).toEqual([202, 202, 202]);
      expect(b.text).toBe(a.text);
      expect(c.text).toBe(a.text);
      expect(await loginStatus(url(), email, 'another-strong-pass-77')).toBe(401);
    });
  },
  {
    backends,
    latch: () => ({ ...baseOptions(), requireEmailVerification: true, mailAccountMax: 1000, mailIpMax: 1_000_000 }),
  },
);

describeOnBackends(
  'mail: limits',
  ({ server }) => {
    const url = () => server().url;
    const registerFrom = async (ip: string) => {
      const email = uniqueEmail('limited');
      const next = upcoming(email, SUBJECT.verify);
      const res = await new Client(url()).post('/api/auth/register', { email, password: STRONG_PASSWORD, name: 'Limit Test' }, from(ip));
      expect(res.status).toBe(201);
      await next();
      return { email, client: res };
    };

    it('per account: at least 3 mails per 15 minutes, then silently nothing more (still 202)', async () => {
      const { email } = await registerFrom(freshIp());
      const ghost = uniqueEmail('ghost');
      const answers: Reply[] = [];
      for (let i = 0; i < 8; i++) answers.push(await forgot(url(), email, from(freshIp())));
      const unknownAnswer = await forgot(url(), ghost, from(freshIp()));
      for (const res of answers) {
        expect(res.status).toBe(202);
        expect(res.text).toBe(unknownAnswer.text);
      }
      await smtp.waitFor(() => mailsTo(email, SUBJECT.reset).length >= 2);
      await sentinel(url());
      const resets = mailsTo(email, SUBJECT.reset);
      expect(resets.length).toBeGreaterThanOrEqual(2);
      expect(resets.length).toBeLessThanOrEqual(3);
      expect(mailsTo(email).length).toBeGreaterThanOrEqual(3); // the verification mail + the resets
      expect(mailsTo(email).length).toBeLessThanOrEqual(4);
    });

    it('per account across endpoints: resend is throttled silently too', async () => {
      const ip = freshIp();
      const email = uniqueEmail('resend');
      const next = upcoming(email, SUBJECT.verify);
      const client = new Client(url());
      expect((await client.post('/api/auth/register', { email, password: STRONG_PASSWORD, name: 'Resend Test' }, from(ip))).status).toBe(201);
      await next();
      for (let i = 0; i < 8; i++) expect((await client.post('/api/auth/email/verify/resend', undefined, from(freshIp()))).status).toBe(202);
      await smtp.waitFor(() => mailsTo(email, SUBJECT.verify).length >= 3);
      await sentinel(url());
      expect(mailsTo(email, SUBJECT.verify).length).toBeLessThanOrEqual(4);
    });

    it('per client IP: at most MAIL_IP_MAX (10) mails an hour, whatever the accounts; other IPs are unaffected', async () => {
      const accounts: string[] = [];
      for (let i = 0; i < 13; i++) accounts.push((await registerFrom(freshIp())).email);
      const ip = freshIp();
      const answers: Reply[] = [];
      for (const email of accounts.slice(0, 12)) answers.push(await forgot(url(), email, from(ip)));
      for (const res of answers) {
        expect(res.status).toBe(202);
        expect(res.text).toBe(answers[0]!.text);
      }
      await smtp.waitFor(() => accounts.filter((e) => mailsTo(e, SUBJECT.reset).length > 0).length >= 3);
      await sentinel(url());
      const mailed = accounts.filter((e) => mailsTo(e, SUBJECT.reset).length > 0);
      expect(mailed.length).toBeLessThanOrEqual(10);
      // Another IP still gets its mail through.
      const last = accounts[12]!;
      const next = upcoming(last, SUBJECT.reset);
      expect((await forgot(url(), last, from(freshIp()))).status).toBe(202);
      await next();
    }, 90_000);

    it('behind a trusted proxy, links still ignore X-Forwarded-Host', async () => {
      await expectLinksIgnoreForgedHost(url());
    });
  },
  { backends, latch: () => ({ ...baseOptions(), trustProxy: 'loopback' }) },
);

describeOnBackends(
  'mail: SMTP with authentication and a configured sender',
  ({ server }) => {
    it('authenticates with the user and password of SMTP_URL and sends from MAIL_FROM', async () => {
      const email = uniqueEmail('auth');
      const next = upcoming(email, SUBJECT.verify, authSmtp);
      await signedUp(server().url, { email });
      const mail = await next();
      expect(mail.user).toBe(SMTP_USER);
      expectWellFormed(mail, email, { name: 'Latch Test', address: 'auth-sender@latch.example.test' });
      expectLink(mail, '/verify-email');
      expect(server().logs.join('\n')).not.toContain(SMTP_PASS);
    });
  },
  {
    backends,
    latch: () => ({ ...baseOptions(), smtpUrl: authSmtp.url, mailFrom: 'Latch Test <auth-sender@latch.example.test>' }),
  },
);

describeOnBackends(
  'mail: a hanging SMTP server',
  ({ server }) => {
    it('never delays a response', async () => {
      try {
        const started = Date.now();
        const { client, email } = await signedUp(server().url);
        expect((await forgot(server().url, email)).status).toBe(202);
        expect((await client.post('/api/auth/email/verify/resend')).status).toBe(202);
        expect((await client.post('/api/auth/email', { newEmail: uniqueEmail('hang'), password: STRONG_PASSWORD })).status).toBe(202);
        expect(Date.now() - started).toBeLessThan(5000);
      } finally {
        // Let the pending deliveries fail fast from here on, so the server can close.
        blackholeHangs = false;
        for (const socket of blackholeSockets) socket.destroy();
      }
    });
  },
  {
    backends,
    latch: () => {
      blackholeHangs = true;
      return { ...baseOptions(), smtpUrl: `smtp://127.0.0.1:${blackholePort}` };
    },
  },
);
