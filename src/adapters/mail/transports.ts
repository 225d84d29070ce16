/**
 * Where mails go: SMTP through nodemailer when SMTP_URL is set, else a development outbox of
 * .eml files (one per mail, readable by any mail client) under OUTBOX_DIR. nodemailer builds
 * the message, so addresses and headers are encoded by a well-kept library and a CR/LF in user
 * input cannot add a header or a recipient.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import nodemailer, { type Transporter } from 'nodemailer';
import type { Logger } from 'pino';
import type { Mail } from '../../domain/mails.js';

export interface MailTransport {
  /** Delivers one mail now; rejects when the mail server refuses or is unreachable. */
  deliver(mail: Mail): Promise<void>;
  close(): void;
}

export function smtpTransport(url: string, from: string, timeoutMs: number): MailTransport {
  const transporter: Transporter = nodemailer.createTransport(url, {
    from,
    connectionTimeout: timeoutMs,
    greetingTimeout: timeoutMs,
    socketTimeout: timeoutMs * 5,
    disableFileAccess: true,
    disableUrlAccess: true,
  });
  return {
    async deliver(mail) {
      await transporter.sendMail({ from, to: mail.to, subject: mail.subject, text: mail.text, html: mail.html });
    },
    close: () => transporter.close(),
  };
}

/**
 * `revealLinks` (never in production) adds the mail's action link to the one log line, so a
 * developer can click through verification and reset straight from the terminal.
 */
export function outboxTransport(dir: string, from: string, logger: Logger, revealLinks: boolean): MailTransport {
  const builder = nodemailer.createTransport({ streamTransport: true, buffer: true, newline: 'unix' });
  let sequence = 0;
  return {
    async deliver(mail) {
      const info = await builder.sendMail({ from, to: mail.to, subject: mail.subject, text: mail.text, html: mail.html });
      await mkdir(dir, { recursive: true });
      sequence += 1;
      const name = `${new Date().toISOString().replace(/[:.]/g, '-')}-${process.pid}-${sequence}.eml`;
      const file = join(dir, name);
      await writeFile(file, info.message as Buffer, { mode: 0o600 });
      const line = { to: mail.to, subject: mail.subject, file };
      logger.info(revealLinks && mail.link ? { ...line, link: mail.link } : line, 'mail written to the outbox');
    },
    close: () => builder.close(),
  };
}
