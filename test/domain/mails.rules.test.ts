/**
 * MailComposer: every mail Latch sends has a greeting (with the name only where allowed), whole
 * paragraphs, the same text in plain and HTML form with the name escaped, and links built from
 * PUBLIC_URL alone. New sign-in alerts describe the browser, never quote its user agent.
 */
import { describe, expect, it } from 'vitest';
import { greetingName, MailComposer, type Mail } from '../../src/domain/mails.js';

const mails = new MailComposer('https://accounts.latch.test/base/');
const NAME = '<b>Ada & "Co"</b>';
const TOKEN = 'T'.repeat(43);
const at = Date.UTC(2025, 0, 1, 12, 0, 0);
const ua = (s: string) => `Mozilla/5.0 ${s}`;

const every: Array<[string, Mail, boolean]> = [
  ['verifyEmail', mails.verifyEmail('a@x.test', TOKEN), false],
  ['confirmNewEmail', mails.confirmNewEmail('a@x.test', TOKEN), false],
  ['emailChangeNotice', mails.emailChangeNotice('a@x.test', NAME, 'new@x.test'), true],
  ['resetPassword', mails.resetPassword('a@x.test', NAME, TOKEN), true],
  ['passwordChangedNotice', mails.passwordChangedNotice('a@x.test', NAME), true],
  ['signupAttemptNotice', mails.signupAttemptNotice('a@x.test', NAME), true],
  ['newSignInNotice', mails.newSignInNotice('a@x.test', NAME, { at, ip: '192.0.2.1', userAgent: ua('Firefox/128.0') }), true],
  ['recoveryCodeUsedNotice', mails.recoveryCodeUsedNotice('a@x.test', NAME, 7), true],
  ['twoStepOn', mails.twoStepChangedNotice('a@x.test', NAME, 'on'), true],
  ['twoStepOff', mails.twoStepChangedNotice('a@x.test', NAME, 'off'), true],
  ['passkeyAdded', mails.factorChangedNotice('a@x.test', NAME, { factor: 'passkey', action: 'added' }), true],
  ['appRemoved', mails.factorChangedNotice('a@x.test', NAME, { factor: 'totp', action: 'removed' }), true],
  ['secondFactorsResetNotice', mails.secondFactorsResetNotice('a@x.test', NAME), true],
  ['emailChangeAttemptNotice', mails.emailChangeAttemptNotice('a@x.test', NAME), true],
];

describe('every mail', () => {
  it.each(every)('%s: greeting, whole paragraphs, a signature, the same words in HTML', (_, mail, named) => {
    expect(mail.to).toBe('a@x.test');
    expect(mail.subject).toMatch(/^\S.*\S$/);
    const paragraphs = mail.text.split('\n\n');
    expect(paragraphs[0]).toBe(named ? `Hello ${NAME},` : 'Hello,');
    expect(paragraphs.at(-1)).toBe('— Latch');
    expect(paragraphs.length).toBeGreaterThanOrEqual(4);
    for (const p of paragraphs) expect(p).toMatch(/^\S[^]*\S$/);
    expect(mail.html).toMatch(/^<!doctype html><html><body[^>]*><p>Hello[^<]*<\/p>\n/);
    expect(mail.html).toContain('<p>— Latch</p></body></html>');
    expect(mail.html).not.toContain('<b>');
    if (named) expect(mail.html).toContain('Hello &lt;b&gt;Ada &amp; &quot;Co&quot;&lt;/b&gt;,');
    for (const p of paragraphs.slice(1, -1)) if (!p.includes('"') && !p.includes('&') && !p.includes('<')) expect(mail.html).toContain(p);
    expect((mail.html.match(/<p>/g) ?? []).length).toBe(paragraphs.length);
  });

  it('has a subject of its own', () => {
    const subjects = every.map(([, mail]) => mail.subject);
    expect(new Set(subjects).size).toBe(subjects.length);
  });
});

describe('links', () => {
  it('come from PUBLIC_URL with the token as a parameter, as the one link of the mail', () => {
    const verify = mails.verifyEmail('a@x.test', TOKEN);
    expect(verify.link).toBe(`https://accounts.latch.test/verify-email?token=${TOKEN}`);
    expect(mails.confirmNewEmail('a@x.test', TOKEN).link).toBe(verify.link);
    expect(mails.resetPassword('a@x.test', undefined, TOKEN).link).toBe(`https://accounts.latch.test/reset-password?token=${TOKEN}`);
    expect(verify.text).toContain(`\n\n${verify.link}\n\n`);
    expect(verify.html).toContain(`<p><a href="${verify.link}">${verify.link}</a></p>`);
    expect(mails.newSignInNotice('a@x.test', undefined, { at, ip: '192.0.2.1', userAgent: '' }).link).toBe('https://accounts.latch.test/account');
    for (const name of ['passwordChangedNotice', 'twoStepOn', 'emailChangeNotice']) {
      const mail = every.find(([n]) => n === name)![1];
      expect('link' in mail).toBe(false);
      expect(mail.html).not.toContain('<a ');
    }
  });
});

describe('what the notices say', () => {
  const text = (name: string) => every.find(([n]) => n === name)![1].text;

  it('name the new address, the codes left, the factor and the change', () => {
    expect(text('emailChangeNotice')).toContain('to change its address to new@x.test.');
    expect(text('recoveryCodeUsedNotice')).toContain(' 7 of your recovery codes are left.');
    expect(text('twoStepOn')).toContain('was just turned on');
    expect(text('twoStepOff')).toContain('was just turned off');
    expect(mails.twoStepChangedNotice('a@x.test', undefined, 'on').subject).toBe('Two-step sign-in is on');
    expect(mails.twoStepChangedNotice('a@x.test', undefined, 'off').subject).toBe('Two-step sign-in is off');
    expect(text('passkeyAdded')).toContain('A passkey was just added to your account.');
    expect(text('appRemoved')).toContain('An authenticator app was just removed from your account.');
    expect(mails.factorChangedNotice('a', undefined, { factor: 'totp', action: 'added' }).subject).toBe('A second factor was added');
    expect(mails.factorChangedNotice('a', undefined, { factor: 'passkey', action: 'removed' }).subject).toBe('A second factor was removed');
  });

  it('describe the browser and system of a new sign-in, with where and when', () => {
    const seen = (userAgent: string) => /before: (.*), from 192\.0\.2\.1, at /.exec(mails.newSignInNotice('a@x.test', undefined, { at, ip: '192.0.2.1', userAgent }).text)?.[1];
    expect(seen(ua('(Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/120.0 Safari/537.36 Edg/120.0'))).toBe('Edge on Windows');
    expect(seen(ua('(X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0'))).toBe('Firefox on Linux');
    expect(seen(ua('(Linux; Android 14) AppleWebKit/537.36 Chrome/120.0 Mobile Safari/537.36'))).toBe('Chrome on Android');
    expect(seen(ua('(iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 Version/17.0 Mobile/15E148 Safari/604.1'))).toBe('Safari on iOS');
    expect(seen(ua('(iPad; CPU OS 17_0 like Mac OS X) Safari/604.1'))).toBe('Safari on iOS');
    expect(seen(ua('(Macintosh; Intel Mac OS X 14_0) AppleWebKit/605.1.15 Safari/605.1.15'))).toBe('Safari on macOS');
    expect(seen('curl/8.0')).toBe('a browser');
    expect(seen('<script>')).toBe('a browser');
    const alert = mails.newSignInNotice('a@x.test', undefined, { at, ip: '192.0.2.1', userAgent: 'x' });
    expect(alert.text).toContain(`at ${new Date(at).toUTCString()}.`);
  });
});

describe('greetingName', () => {
  it('is the name only once the address is verified', () => {
    expect(greetingName({ name: 'Ada', emailVerified: true })).toBe('Ada');
    expect(greetingName({ name: 'Ada', emailVerified: false })).toBeUndefined();
  });
});
