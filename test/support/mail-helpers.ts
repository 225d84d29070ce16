/**
 * Shared by the mail suites (test/http/mail-*.test.ts): the deployments and options they run
 * with, the requests they send and the checks they make on the mails Latch sent. Each suite
 * starts its own SMTP server (vitest runs every file in its own worker) and builds the helpers
 * that read it with `mailHelpers(() => smtp)`.
 */
import http from 'node:http';
import { expect } from 'vitest';
import { postgresRedis, sqlite } from './backends.js';
import { Mailbox, SUBJECT, type Subject } from './mailbox.js';
import { Client, ManualClock, signedUp, STRONG_PASSWORD, uniqueEmail, type Reply } from './server.js';
import { linkFrom, tokenFrom, type ReceivedMail, type TestSmtpServer } from './smtp.js';

export const backends = [sqlite, postgresRedis];
export const MINUTE = 60_000;
export const HOUR = 60 * MINUTE;
export const NEW_PASSWORD = 'copper-meadow-falcon-77';
export const PUBLIC_URL = 'https://accounts.latch.example.test';
const PUBLIC_HOST = new URL(PUBLIC_URL).host;
const RETRY_DELAYS = [100, 200, 400, 800, 1600];

export const from = (ip: string) => ({ 'x-forwarded-for': ip });

/** One mail to exactly one recipient (envelope and headers), multipart text + HTML, from the default sender. */
export function expectWellFormed(mail: ReceivedMail, address: string, sender = { name: 'Latch', address: `no-reply@${PUBLIC_HOST}` }) {
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

export function expectError(res: Reply, status: number, code: string) {
  expect(res.status, res.text).toBe(status);
  // Validation errors add `issues` (API.md, "Conventions"); every other error is exactly {error, code}.
  if (code === 'invalid_input') expect(res.body).toEqual({ error: expect.any(String), code, issues: expect.any(Array) });
  else expect(res.body).toEqual({ error: expect.any(String), code });
}

export const setsSession = (res: Reply) => res.headers.getSetCookie().some((line) => /^(__Host-)?sid=[^;\s]+/.test(line.trim()));

export const forgot = (url: string, email: unknown, headers?: Record<string, string>) =>
  new Client(url).post('/api/auth/password/forgot', { email }, headers);
export const resetPassword = (url: string, token: unknown, password = NEW_PASSWORD) =>
  new Client(url).post('/api/auth/password/reset', { token, password });
export const verifyEmail = (url: string, token: unknown, client = new Client(url)) => client.post('/api/auth/email/verify', { token });

export async function loginAs(url: string, email: string, password = STRONG_PASSWORD) {
  const client = new Client(url);
  const res = await client.post('/api/auth/login', { email, password });
  if (res.status !== 200) throw new Error(`login failed: ${res.status} ${res.text}`);
  return client;
}
export const loginStatus = async (url: string, email: string, password = STRONG_PASSWORD) =>
  (await new Client(url).post('/api/auth/login', { email, password })).status;

/** Polls `condition` until it holds or the deadline passes. */
export async function until(condition: () => boolean, timeoutMs = 10_000, what = 'condition') {
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

export const EVIL = 'evil.example';

/**
 * The helpers that read the suite's SMTP server (`smtp()`, started by the suite) or keep state
 * for one suite: its manual clock, its client IPs and every token it has seen.
 */
export function mailHelpers(smtp: () => TestSmtpServer) {
  const clock = new ManualClock();

  let ipCounter = 1;
  const freshIp = () => `198.18.${Math.floor(ipCounter / 250) % 250}.${(ipCounter++ % 250) + 1}`;

  /** Every token seen by this suite, to check none of them ever reaches a log. */
  const seenTokens: string[] = [];
  function tokenOf(mail: ReceivedMail): string {
    const token = tokenFrom(mail);
    seenTokens.push(token);
    return token;
  }

  /** See Mailbox.upcoming; on the suite's SMTP server unless told otherwise. */
  const upcoming = (address: string, subject: Subject, server: TestSmtpServer = smtp()) => new Mailbox(server).upcoming(address, subject);

  const mailsTo = (address: string, subject?: Subject, server: TestSmtpServer = smtp()) => new Mailbox(server).to(address, subject);

  /** The mail's single link: on PUBLIC_URL, to `path`, with a 43-char base64url token. */
  function expectLink(mail: ReceivedMail, path: '/verify-email' | '/reset-password'): string {
    const link = linkFrom(mail);
    expect(link.origin).toBe(PUBLIC_URL);
    expect(link.pathname).toBe(path);
    expect([...link.searchParams.keys()]).toEqual(['token']);
    return tokenOf(mail);
  }

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

  /** See Mailbox.sentinel; signs the sentinel up from a fresh client IP. */
  const sentinel = (url: string, server: TestSmtpServer = smtp()) => new Mailbox(server).sentinel(url, from(freshIp()));

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

  /** No mail ever went to, or named in a header, an injected address. */
  function expectNoInjectedRecipient(server: TestSmtpServer = smtp()) {
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
    smtpUrl: smtp().url,
    mailRetryDelays: RETRY_DELAYS,
    loginMaxFailures: 1000,
  });

  /**
   * The deployment of 'mail: verification, reset, email change', whose tests are spread over
   * mail-verification, mail-reset-email-change and mail-delivery: one configuration for all.
   */
  const flowOptions = {
    backends,
    latch: () => ({ ...baseOptions(), mailAccountMax: 1000, mailIpMax: 1_000_000, hashQueueLimit: 1000 }),
  };

  return {
    clock,
    freshIp,
    seenTokens,
    upcoming,
    mailsTo,
    expectLink,
    signedUpWithToken,
    resetToken,
    sentinel,
    expectLinksIgnoreForgedHost,
    expectNoInjectedRecipient,
    baseOptions,
    flowOptions,
  };
}
