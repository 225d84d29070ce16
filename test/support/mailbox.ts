/**
 * Reading the mails Latch sent to the in-process SMTP server (smtp.ts): wait for the mail a
 * request is about to cause, and take the token out of its link.
 */
import { Client, settledAt, STRONG_PASSWORD, uniqueEmail } from './server.js';
import { afterAll, beforeAll } from 'vitest';
import { startSmtpServer, tokenFrom, type ReceivedMail, type TestSmtpServer } from './smtp.js';

export const SUBJECT = {
  verify: 'Verify your email address',
  reset: 'Reset your password',
  changed: 'Your password was changed',
  confirmNew: 'Confirm your new email address',
  changing: 'Your email address is being changed',
  signupAttempt: 'Someone tried to sign up with your address',
  changeAttempt: 'Someone tried to move an account to your address',
  newSignIn: 'New sign-in to your account',
  recoveryCodeUsed: 'A recovery code was used to sign in',
  twoStepOn: 'Two-step sign-in is on',
  twoStepOff: 'Two-step sign-in is off',
} as const;
export type Subject = (typeof SUBJECT)[keyof typeof SUBJECT];

export class Mailbox {
  constructor(private readonly source: TestSmtpServer | (() => TestSmtpServer)) {}

  get smtp(): TestSmtpServer {
    return typeof this.source === 'function' ? this.source() : this.source;
  }

  private matches(address: string, subject: Subject) {
    return (m: ReceivedMail) => m.recipients.includes(address.toLowerCase()) && m.subject === subject;
  }

  /**
   * Call BEFORE the request that should send a mail; the returned function waits for a mail to
   * `address` with `subject` that had not arrived when `upcoming` was called.
   */
  upcoming(address: string, subject: Subject): (timeoutMs?: number) => Promise<ReceivedMail> {
    const seen = new Set(this.smtp.messages.filter(this.matches(address, subject)));
    return (timeoutMs = 10_000) => this.smtp.waitFor((m) => this.matches(address, subject)(m) && !seen.has(m), timeoutMs);
  }

  /** Sends a request and returns the token of the mail it caused. */
  async tokenFrom(address: string, subject: Subject, request: () => Promise<unknown>): Promise<string> {
    const next = this.upcoming(address, subject);
    await request();
    return tokenFrom(await next());
  }

  to(address: string, subject?: Subject): ReceivedMail[] {
    return this.smtp.messages.filter((m) => m.recipients.includes(address.toLowerCase()) && (subject === undefined || m.subject === subject));
  }

  /**
   * A mail caused after everything the test did so far: once it has arrived, mails that the
   * earlier requests would have caused have had their chance (no fixed sleep).
   */
  async sentinel(url: string, headers?: Record<string, string>): Promise<void> {
    // A forgot-password request queues its mail after its answer: let that work finish first,
    // or the sentinel's mail can be queued, and delivered, ahead of it.
    await settledAt(url);
    const email = uniqueEmail('sentinel');
    const next = this.upcoming(email, SUBJECT.verify);
    const res = await new Client(url).post('/api/auth/register', { email, password: STRONG_PASSWORD, name: 'Sentinel' }, headers);
    if (res.status !== 201 && res.status !== 202) throw new Error(`sentinel sign-up failed: ${res.status}`);
    await next();
  }
}

/**
 * The test file's own SMTP server (vitest runs each file in its own worker): started before
 * its tests, stopped after, and read through the Mailbox returned (`box.smtp.url` for Latch).
 */
export function smtpForFile(): Mailbox {
  let server: TestSmtpServer | undefined;
  beforeAll(async () => {
    server = await startSmtpServer();
  });
  afterAll(async () => server?.stop());
  return new Mailbox(() => {
    if (!server) throw new Error('the SMTP server starts in beforeAll: read it inside a test or hook');
    return server;
  });
}
