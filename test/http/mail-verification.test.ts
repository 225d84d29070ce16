/**
 * Mail: email verification (API.md, "Endpoints", "Registration sends a verification mail"), also
 * under REQUIRE_EMAIL_VERIFICATION, against the real server and a real SMTP server in the test
 * process, on SQLite and on PostgreSQL + Redis. Attacked with reused, expired, malformed and
 * raced tokens. The rest of 'mail: verification, reset, email change' is in
 * mail-reset-email-change.test.ts and mail-delivery.test.ts.
 */
import { expect, it } from 'vitest';
import { describeOnBackends } from '../support/backends.js';
import {
  backends,
  expectError,
  expectWellFormed,
  HOUR,
  loginAs,
  loginStatus,
  mailHelpers,
  MINUTE,
  setsSession,
  verifyEmail,
} from '../support/mail-helpers.js';
import { smtpForFile, SUBJECT } from '../support/mailbox.js';
import { Client, signedUp, STRONG_PASSWORD, uniqueEmail } from '../support/server.js';

const box = smtpForFile();

const { clock, upcoming, mailsTo, expectLink, signedUpWithToken, sentinel, baseOptions, flowOptions } = mailHelpers(() => box.smtp);

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
  },
  flowOptions,
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
