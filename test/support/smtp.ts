/**
 * An in-process SMTP server for the mail tests: it accepts every message on a loopback port,
 * parses it with mailparser and keeps it, so a test can wait for the mail a request caused
 * and read its link. It can be stopped and started again on the same port, to play an SMTP
 * server that is down; and it can require a user and password (AUTH over plain SMTP).
 */
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { SMTPServer, type SMTPServerDataStream, type SMTPServerSession } from 'smtp-server';
import { simpleParser, type AddressObject, type ParsedMail } from 'mailparser';

export interface ReceivedMail {
  /** The envelope: MAIL FROM and every RCPT TO, as the server saw them. */
  envelopeFrom: string;
  recipients: string[];
  /** The user the client authenticated as, when the server asks for one. */
  user: string | undefined;
  subject: string;
  from: string[];
  to: string[];
  cc: string[];
  bcc: string[];
  text: string;
  html: string;
  /** The header block of the raw message, as sent. */
  rawHeaders: string;
  raw: string;
  parsed: ParsedMail;
  receivedAt: number;
}

export interface TestSmtpServer {
  /** `smtp://[user:pass@]127.0.0.1:<port>` */
  url: string;
  port: number;
  messages: ReceivedMail[];
  /** Connections accepted while stopped in 'drop' mode (each closed at once: a failed delivery). */
  dropped: number;
  /** The first message (already received or still to come) matching the predicate. */
  waitFor(predicate: (mail: ReceivedMail) => boolean, timeoutMs?: number): Promise<ReceivedMail>;
  clear(): void;
  /**
   * Stops the SMTP service. 'closed' (default): nothing listens on the port (connection refused).
   * 'drop': a bare TCP listener accepts each connection and closes it at once, counting it in
   * `dropped`, so a test can see a delivery attempt fail.
   */
  stop(mode?: 'closed' | 'drop'): Promise<void>;
  /** Starts the SMTP service again, on the same port. */
  start(): Promise<void>;
}

export interface SmtpOptions {
  /** Require AUTH with this user and password (plain SMTP, AUTH allowed without TLS). */
  auth?: { user: string; pass: string };
}

const flatten = (field: AddressObject | AddressObject[] | undefined): string[] =>
  (Array.isArray(field) ? field : field ? [field] : []).flatMap((o) => o.value.map((v) => (v.address ?? '').toLowerCase()));

export async function startSmtpServer(options: SmtpOptions = {}): Promise<TestSmtpServer> {
  const messages: ReceivedMail[] = [];
  const waiters = new Set<{ predicate: (m: ReceivedMail) => boolean; resolve: (m: ReceivedMail) => void }>();
  let smtp: SMTPServer | undefined;
  let dropper: net.Server | undefined;
  const dropperSockets = new Set<net.Socket>();
  let port = 0;

  const state = { dropped: 0 };

  async function receive(stream: SMTPServerDataStream, session: SMTPServerSession): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of stream) chunks.push(chunk as Buffer);
    const rawBuffer = Buffer.concat(chunks);
    const raw = rawBuffer.toString('utf8');
    const parsed = await simpleParser(rawBuffer);
    const headerEnd = raw.search(/\r?\n\r?\n/);
    const mail: ReceivedMail = {
      envelopeFrom: session.envelope.mailFrom ? session.envelope.mailFrom.address.toLowerCase() : '',
      recipients: session.envelope.rcptTo.map((r) => r.address.toLowerCase()),
      user: typeof session.user === 'string' ? session.user : undefined,
      subject: parsed.subject ?? '',
      from: flatten(parsed.from),
      to: flatten(parsed.to),
      cc: flatten(parsed.cc),
      bcc: flatten(parsed.bcc),
      text: parsed.text ?? '',
      html: typeof parsed.html === 'string' ? parsed.html : '',
      rawHeaders: headerEnd >= 0 ? raw.slice(0, headerEnd) : raw,
      raw,
      parsed,
      receivedAt: Date.now(),
    };
    messages.push(mail);
    for (const waiter of [...waiters]) {
      if (waiter.predicate(mail)) {
        waiters.delete(waiter);
        waiter.resolve(mail);
      }
    }
  }

  function createSmtp(): SMTPServer {
    return new SMTPServer({
      logger: false,
      disabledCommands: options.auth ? ['STARTTLS'] : ['STARTTLS', 'AUTH'],
      authOptional: !options.auth,
      allowInsecureAuth: true,
      closeTimeout: 50,
      size: 1024 * 1024,
      onAuth(auth, _session, callback) {
        if (options.auth && auth.username === options.auth.user && auth.password === options.auth.pass) {
          callback(null, { user: auth.username });
        } else {
          callback(new Error('Invalid username or password'));
        }
      },
      onData(stream, session, callback) {
        receive(stream, session).then(
          () => callback(),
          (err: unknown) => callback(err instanceof Error ? err : new Error(String(err))),
        );
      },
    });
  }

  async function listen(server: { listen(port: number, host: string, cb: () => void): unknown; once(e: string, cb: (err: Error) => void): unknown }): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => resolve());
    });
  }

  async function start(): Promise<void> {
    if (smtp) return;
    if (dropper) {
      for (const socket of dropperSockets) socket.destroy();
      await new Promise<void>((resolve) => dropper!.close(() => resolve()));
      dropper = undefined;
    }
    const server = createSmtp();
    await listen(server);
    if (port === 0) port = (server.server.address() as AddressInfo).port;
    smtp = server;
  }

  async function stop(mode: 'closed' | 'drop' = 'closed'): Promise<void> {
    if (smtp) {
      const server = smtp;
      smtp = undefined;
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
    if (mode === 'drop' && !dropper) {
      const server = net.createServer((socket) => {
        state.dropped += 1;
        dropperSockets.add(socket);
        socket.on('close', () => dropperSockets.delete(socket));
        socket.on('error', () => {});
        socket.destroy();
      });
      await listen(server);
      dropper = server;
    }
    if (mode === 'closed' && dropper) {
      for (const socket of dropperSockets) socket.destroy();
      await new Promise<void>((resolve) => dropper!.close(() => resolve()));
      dropper = undefined;
    }
  }

  await start();
  const credentials = options.auth ? `${encodeURIComponent(options.auth.user)}:${encodeURIComponent(options.auth.pass)}@` : '';

  return {
    url: `smtp://${credentials}127.0.0.1:${port}`,
    port,
    messages,
    get dropped() {
      return state.dropped;
    },
    waitFor(predicate, timeoutMs = 10_000) {
      const found = messages.find(predicate);
      if (found) return Promise.resolve(found);
      return new Promise<ReceivedMail>((resolve, reject) => {
        const waiter = {
          predicate,
          resolve: (mail: ReceivedMail) => {
            clearTimeout(timer);
            resolve(mail);
          },
        };
        const timer = setTimeout(() => {
          waiters.delete(waiter);
          const seen = messages.map((m) => `  ${m.recipients.join(',')}: ${m.subject}`).join('\n');
          reject(new Error(`no matching mail within ${timeoutMs} ms; received:\n${seen || '  (nothing)'}`));
        }, timeoutMs);
        waiters.add(waiter);
      });
    },
    clear() {
      messages.length = 0;
    },
    stop,
    start,
  };
}

const TOKEN_LINK = /https?:\/\/[^\s<>"'()[\]]+?\/(?:verify-email|reset-password)\?token=[^\s<>"'()[\]&]*/g;
const TOKEN = /^[A-Za-z0-9_-]{43}$/;

const decodeHtml = (s: string) =>
  s
    .replace(/&#x([0-9a-f]+);/gi, (_, h: string) => String.fromCodePoint(parseInt(h, 16)))
    .replace(/&#(\d+);/g, (_, d: string) => String.fromCodePoint(Number(d)))
    .replace(/&quot;/g, '"')
    .replace(/&#39;|&apos;/g, "'")
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&');

/**
 * The one token link in the mail's text part (a verify-email or reset-password link); throws
 * unless there is exactly one, and unless the HTML part links to the same URL.
 */
export function linkFrom(mail: ReceivedMail): URL {
  const inText = [...new Set(mail.text.match(TOKEN_LINK) ?? [])];
  if (inText.length !== 1) throw new Error(`expected one token link in the text part, found ${inText.length}:\n${mail.text}`);
  const link = inText[0]!;
  const hrefs = [...mail.html.matchAll(/href\s*=\s*(?:"([^"]*)"|'([^']*)')/gi)].map((m) => decodeHtml(m[1] ?? m[2] ?? ''));
  if (!hrefs.includes(link)) throw new Error(`the HTML part does not link to ${link}; its links: ${JSON.stringify(hrefs)}`);
  const otherTokenLinks = hrefs.filter((h) => /[?&]token=/.test(h) && h !== link);
  if (otherTokenLinks.length) throw new Error(`the HTML part links to other tokens: ${JSON.stringify(otherTokenLinks)}`);
  return new URL(link);
}

/** The token of the mail's link: 43 characters of base64url (256 bits). */
export function tokenFrom(mail: ReceivedMail): string {
  const token = linkFrom(mail).searchParams.get('token') ?? '';
  if (!TOKEN.test(token)) throw new Error(`token "${token}" is not 43 characters of base64url`);
  return token;
}
