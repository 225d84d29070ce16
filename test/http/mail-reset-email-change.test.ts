/**
 * Mail: password reset and email change (API.md, "Endpoints"), against the real server and a
 * real SMTP server in the test process, on SQLite and on PostgreSQL + Redis. Attacked with
 * reused, expired, foreign-purpose and raced tokens. The rest of 'mail: verification, reset,
 * email change' is in mail-verification.test.ts and mail-delivery.test.ts; the check that no
 * token reaches the log closes this file, which sees the most tokens.
 */
import { expect, it } from 'vitest';
import { describeOnBackends } from '../support/backends.js';
import {
  expectError,
  expectWellFormed,
  forgot,
  HOUR,
  loginAs,
  loginStatus,
  mailHelpers,
  MINUTE,
  NEW_PASSWORD,
  resetPassword,
  setsSession,
  verifyEmail,
} from '../support/mail-helpers.js';
import { smtpForFile, SUBJECT } from '../support/mailbox.js';
import { Client, signedUp, STRONG_PASSWORD, uniqueEmail } from '../support/server.js';

const box = smtpForFile();

const { clock, seenTokens, upcoming, mailsTo, expectLink, signedUpWithToken, resetToken, sentinel, flowOptions } = mailHelpers(() => box.smtp);

describeOnBackends(
  'mail: verification, reset, email change',
  ({ server }) => {
    const url = () => server().url;

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

    it('never writes a token to the server log', async () => {
      expect(seenTokens.length).toBeGreaterThan(10);
      const logs = server().logs.join('\n');
      for (const token of seenTokens) expect(logs).not.toContain(token);
    });
  },
  flowOptions,
);
