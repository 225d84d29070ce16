/**
 * THREATS.md item 3: a refused request changes nothing. Past the mail budget (3 mails per
 * account per 15 minutes, by default), forgot-password, resend-verification and email-change
 * requests still answer 202 and send nothing, and the link the user already holds keeps
 * working: anyone who knows an address must not be able to kill its owner's recovery link by
 * asking again and again. On every backend, with a real SMTP server.
 */
import { expect, it } from 'vitest';
import { describeOnBackends } from '../support/backends.js';
import { smtpForFile, SUBJECT } from '../support/mailbox.js';
import { Client, STRONG_PASSWORD, uniqueEmail } from '../support/server.js';

const NEW_PASSWORD = 'copper-meadow-falcon-77';
const box = smtpForFile();

/** A new account, signed in, with the token of its verification mail (the first of its 3 mails). */
async function account(url: string) {
  const email = uniqueEmail('budget');
  const client = new Client(url);
  const verify = await box.tokenFrom(email, SUBJECT.verify, () =>
    client.post('/api/auth/register', { email, password: STRONG_PASSWORD, name: 'Budget' }),
  );
  return { email, client, verify };
}

describeOnBackends(
  'refused mail requests change nothing',
  ({ server }) => {
    const url = () => server().url;
    const forgot = (email: string) => new Client(url()).post('/api/auth/password/forgot', { email });

    it('past the budget, forgot-password and resend answer 202, send nothing, and the links already mailed still work', async () => {
      const { email, client, verify } = await account(url()); // mail 1
      await box.tokenFrom(email, SUBJECT.reset, () => forgot(email)); // mail 2
      const reset = await box.tokenFrom(email, SUBJECT.reset, () => forgot(email)); // mail 3: the link the user holds
      const resetsBefore = box.to(email, SUBJECT.reset).length;
      const verifiesBefore = box.to(email, SUBJECT.verify).length;

      for (let i = 0; i < 5; i++) {
        expect((await forgot(email)).status).toBe(202);
        expect((await client.post('/api/auth/email/verify/resend')).status).toBe(202);
      }
      await box.sentinel(url());
      expect(box.to(email, SUBJECT.reset)).toHaveLength(resetsBefore);
      expect(box.to(email, SUBJECT.verify)).toHaveLength(verifiesBefore);

      expect((await new Client(url()).post('/api/auth/email/verify', { token: verify })).status).toBe(200);
      const res = await new Client(url()).post('/api/auth/password/reset', { token: reset, password: NEW_PASSWORD });
      expect(res.status, res.text).toBe(200);
    });

    it('past the budget, an email-change request sends nothing and the confirmation link already mailed still works', async () => {
      const { email, client } = await account(url()); // mail 1
      await box.tokenFrom(email, SUBJECT.reset, () => forgot(email)); // mail 2
      const wanted = uniqueEmail('wanted');
      const confirm = await box.tokenFrom(wanted, SUBJECT.confirmNew, () =>
        client.post('/api/auth/email', { newEmail: wanted, password: STRONG_PASSWORD }),
      ); // mail 3 (and its notice to the old address, which is the same request)
      const others = [uniqueEmail('other'), uniqueEmail('other')];
      for (const newEmail of others) {
        expect((await client.post('/api/auth/email', { newEmail, password: STRONG_PASSWORD })).status).toBe(202);
      }
      await box.sentinel(url());
      for (const other of others) expect(box.to(other)).toEqual([]);

      const res = await client.post('/api/auth/email/verify', { token: confirm });
      expect(res.status, res.text).toBe(200);
      expect(res.body.user.email).toBe(wanted);
    });
  },
  { latch: () => ({ smtpUrl: box.smtp.url, mailIpMax: 1_000_000, mailRetryDelays: [100, 200] }) },
);
