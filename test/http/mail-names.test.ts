/**
 * API.md, mails: whoever registers someone else's address must not be able to put words of
 * their choosing into a genuine Latch mail to that person. The name given at sign-up appears in
 * no mail until the address is verified (verification, sign-up attempt notice, reset); once
 * verified, mails greet the owner by name. On every backend, with a real SMTP server.
 */
import { expect, it } from 'vitest';
import { describeOnBackends } from '../support/backends.js';
import { smtpForFile, SUBJECT } from '../support/mailbox.js';
import { Client, STRONG_PASSWORD, uniqueEmail } from '../support/server.js';

const PAYLOAD = 'Call +1 555 0100 now about your account';
const box = smtpForFile();

describeOnBackends(
  'no user-supplied name in mails to an unverified address',
  ({ server }) => {
    const url = () => server().url;

    it('verification, sign-up attempt and reset mails to an unverified address carry no name; after verification they do', async () => {
      const victim = uniqueEmail('victim');
      const verify = box.upcoming(victim, SUBJECT.verify);
      expect((await new Client(url()).post('/api/auth/register', { email: victim, password: STRONG_PASSWORD, name: PAYLOAD })).status).toBe(202);
      const attempt = box.upcoming(victim, SUBJECT.signupAttempt);
      await new Client(url()).post('/api/auth/register', { email: victim, password: STRONG_PASSWORD, name: PAYLOAD });
      const reset = box.upcoming(victim, SUBJECT.reset);
      await new Client(url()).post('/api/auth/password/forgot', { email: victim });

      const verifyMail = await verify();
      for (const mail of [verifyMail, await attempt(), await reset()]) {
        expect(mail.text + mail.html + mail.subject).not.toContain('555 0100');
        expect(mail.text.startsWith('Hello,\n')).toBe(true);
      }

      const token = new URL(/https?:\/\/\S+/.exec(verifyMail.text)![0]).searchParams.get('token');
      expect((await new Client(url()).post('/api/auth/email/verify', { token })).status).toBe(200);
      const named = await box.tokenFrom(victim, SUBJECT.reset, () => new Client(url()).post('/api/auth/password/forgot', { email: victim }));
      expect(named).toMatch(/^[A-Za-z0-9_-]{43}$/);
      expect(box.to(victim, SUBJECT.reset).at(-1)!.text).toContain(`Hello ${PAYLOAD},`);
    });
  },
  // With REQUIRE_EMAIL_VERIFICATION a second sign-up for the address mails its holder a notice.
  { latch: () => ({ smtpUrl: box.smtp.url, requireEmailVerification: true, mailAccountMax: 1000, mailIpMax: 1_000_000, mailRetryDelays: [100, 200] }) },
);
