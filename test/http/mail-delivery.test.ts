/**
 * Mail delivery (API.md, "Endpoints"): links that ignore forged Host headers, header injection
 * in addresses, an SMTP server that is down, drops connections, wants AUTH or hangs, and the
 * mail limits per account and per client IP; against the real server and a real SMTP server in
 * the test process, on SQLite and on PostgreSQL + Redis. The rest of 'mail: verification,
 * reset, email change' is in mail-verification.test.ts and mail-reset-email-change.test.ts.
 */
import net from 'node:net';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeOnBackends } from '../support/backends.js';
import { backends, EVIL, expectWellFormed, forgot, from, mailHelpers, resetPassword, until } from '../support/mail-helpers.js';
import { SUBJECT } from '../support/mailbox.js';
import { Client, signedUp, STRONG_PASSWORD, uniqueEmail, type Reply } from '../support/server.js';
import { startSmtpServer, type TestSmtpServer } from '../support/smtp.js';

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

const {
  freshIp,
  upcoming,
  mailsTo,
  expectLink,
  sentinel,
  expectLinksIgnoreForgedHost,
  expectNoInjectedRecipient,
  baseOptions,
  flowOptions,
} = mailHelpers(() => smtp);

describeOnBackends(
  'mail: verification, reset, email change',
  ({ server }) => {
    const url = () => server().url;

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
  },
  flowOptions,
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
