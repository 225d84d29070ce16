/**
 * The mails Latch sends: subject, plain text and HTML. Links are built from PUBLIC_URL only —
 * never from the request's Host — so a forged Host header cannot point a reset link at an
 * attacker's site. User-supplied text (the name) is HTML-escaped, and it is left out of mails to
 * an address that is not verified yet: whoever registers someone else's address must not be able
 * to put words of their choosing into a genuine Latch mail to that person (callers pass
 * `undefined`; see `greetingName`).
 */
import { escapeHtml } from './escape-html.js';

export interface Mail {
  to: string;
  subject: string;
  text: string;
  html: string;
  /** The one action link, if any (for the development outbox's log line). */
  link?: string;
}

export interface Mailer {
  /**
   * Puts a mail in the durable outbox; resolves once it is stored (before the answer goes out),
   * never waits for the mail server. Delivery, with retries, happens in the background.
   */
  send(mail: Mail): Promise<void>;
}

/** The account holder's name, or undefined to greet without one. */
export type Greeting = string | undefined;

/** The name goes into a mail only once the address it is sent to is proven to be the owner's. */
export function greetingName(account: { name: string; emailVerified: boolean }): Greeting {
  return account.emailVerified ? account.name : undefined;
}

export type SecondFactorName = 'totp' | 'passkey';

export class MailComposer {
  constructor(private readonly publicUrl: string) {}

  /** To an address not proven yet: never carries the name. */
  verifyEmail(to: string, token: string): Mail {
    const link = this.link('/verify-email', token);
    return this.compose(to, 'Verify your email address', undefined, [
      'Please confirm that this is your email address by opening this link:',
      link,
      'The link works once and expires in 24 hours. If you did not create an account, ignore this mail.',
    ], link);
  }

  /** To an address not proven yet: never carries the name. */
  confirmNewEmail(to: string, token: string): Mail {
    const link = this.link('/verify-email', token);
    return this.compose(to, 'Confirm your new email address', undefined, [
      'You asked to use this address for your account. Confirm it by opening this link:',
      link,
      'Until you do, your account keeps its current address. If this was not you, ignore this mail.',
    ], link);
  }

  emailChangeNotice(to: string, name: Greeting, newEmail: string): Mail {
    return this.compose(to, 'Your email address is being changed', name, [
      `Someone signed in to your account asked to change its address to ${newEmail}.`,
      'The change takes effect when the new address is confirmed. If this was not you, change your password now.',
    ]);
  }

  resetPassword(to: string, name: Greeting, token: string): Mail {
    const link = this.link('/reset-password', token);
    return this.compose(to, 'Reset your password', name, [
      'To choose a new password, open this link:',
      link,
      'The link works once and expires in 1 hour. If you did not ask for this, ignore this mail: your password stays as it is.',
    ], link);
  }

  passwordChangedNotice(to: string, name: Greeting): Mail {
    return this.compose(to, 'Your password was changed', name, [
      'The password of your account was just changed, and every session was signed out.',
      'If this was not you, reset your password right away.',
    ]);
  }

  signupAttemptNotice(to: string, name: Greeting): Mail {
    return this.compose(to, 'Someone tried to sign up with your address', name, [
      'Someone tried to create a new account with this email address, which already has one.',
      'If it was you, sign in instead (or reset your password). If not, no action is needed.',
    ]);
  }

  newSignInNotice(to: string, name: Greeting, signIn: { at: number; ip: string; userAgent: string }): Mail {
    const account = new URL('/account', this.publicUrl).toString();
    return this.compose(to, 'New sign-in to your account', name, [
      `Your account was just signed in to from a browser it has not been used from before: ${describeBrowser(signIn.userAgent)}, from ${signIn.ip}, at ${new Date(signIn.at).toUTCString()}.`,
      'If this was you, there is nothing to do. If not, change your password now and sign out everywhere else from your account page:',
      account,
    ], account);
  }

  recoveryCodeUsedNotice(to: string, name: Greeting, left: number): Mail {
    return this.compose(to, 'A recovery code was used to sign in', name, [
      `A recovery code was just used to sign in to your account. ${left} of your recovery codes are left.`,
      'If this was not you, change your password now and make new recovery codes from your account page.',
    ]);
  }

  twoStepChangedNotice(to: string, name: Greeting, state: 'on' | 'off'): Mail {
    return this.compose(to, state === 'on' ? 'Two-step sign-in is on' : 'Two-step sign-in is off', name, [
      state === 'on'
        ? 'Two-step sign-in was just turned on for your account: signing in with your password now also takes a second step (your authenticator app or a passkey). Every other session was signed out.'
        : 'Two-step sign-in was just turned off for your account: a password alone signs in now. Every other session was signed out.',
      'If this was not you, reset your password right away.',
    ]);
  }

  factorChangedNotice(to: string, name: Greeting, change: { factor: SecondFactorName; action: 'added' | 'removed' }): Mail {
    const what = change.factor === 'passkey' ? 'A passkey' : 'An authenticator app';
    return this.compose(to, change.action === 'added' ? 'A second factor was added' : 'A second factor was removed', name, [
      `${what} was just ${change.action} ${change.action === 'added' ? 'to' : 'from'} your account. Two-step sign-in stays on; browsers you asked to remember will ask for the second step again.`,
      'If this was not you, reset your password right away.',
    ]);
  }

  secondFactorsResetNotice(to: string, name: Greeting): Mail {
    return this.compose(to, 'Your second factors were reset', name, [
      'An administrator removed every second factor of your account (authenticator app, passkeys, recovery codes) and every remembered browser: two-step sign-in is off, and every session was signed out.',
      'Sign in with your password and set up two-step sign-in again. If you did not ask for this, reset your password and tell the administrators.',
    ]);
  }

  emailChangeAttemptNotice(to: string, name: Greeting): Mail {
    return this.compose(to, 'Someone tried to move an account to your address', name, [
      'Someone signed in to another account asked to change its address to this one, which already has an account.',
      'Nothing was changed. If it was you, sign in to this account instead. If not, no action is needed.',
    ]);
  }

  private link(path: string, token: string): string {
    const url = new URL(path, this.publicUrl);
    url.searchParams.set('token', token);
    return url.toString();
  }

  private compose(to: string, subject: string, name: Greeting, paragraphs: string[], link?: string): Mail {
    const hello = name === undefined ? 'Hello,' : `Hello ${name},`;
    const text = [hello, '', ...paragraphs.flatMap((p) => [p, '']), '— Latch'].join('\n');
    const body = paragraphs
      .map((p) => (p === link ? `<p><a href="${escapeHtml(p)}">${escapeHtml(p)}</a></p>` : `<p>${escapeHtml(p)}</p>`))
      .join('\n');
    const html = `<!doctype html><html><body style="font-family:sans-serif;line-height:1.5"><p>${escapeHtml(hello)}</p>\n${body}\n<p>— Latch</p></body></html>`;
    return link === undefined ? { to, subject, text, html } : { to, subject, text, html, link };
  }
}

/** A short, plain description of a user agent: never the raw header, which a client chooses freely. */
function describeBrowser(userAgent: string): string {
  const browser = /Edg\//.test(userAgent) ? 'Edge' : /Firefox\//.test(userAgent) ? 'Firefox' : /Chrome\//.test(userAgent) ? 'Chrome' : /Safari\//.test(userAgent) ? 'Safari' : 'a browser';
  const system = /Android/.test(userAgent) ? 'Android' : /iPhone|iPad/.test(userAgent) ? 'iOS' : /Windows/.test(userAgent) ? 'Windows' : /Mac OS X/.test(userAgent) ? 'macOS' : /Linux/.test(userAgent) ? 'Linux' : '';
  return system ? `${browser} on ${system}` : browser;
}
