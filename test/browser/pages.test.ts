/**
 * The pages, in a real browser (Debian's Chromium, headless) against the real server and a
 * real SMTP server: the journeys a person takes, each ending in a screenshot under
 * test-results/screenshots/.
 */
import { readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { totpCode } from '../../src/domain/totp.js';
import { sqlite } from '../support/backends.js';
import { Client, signedUp, startServer, STRONG_PASSWORD, uniqueEmail, type TestServer } from '../support/server.js';
import { linkFrom, startSmtpServer, type ReceivedMail, type TestSmtpServer } from '../support/smtp.js';
import { CHROMIUM, cspViolations, hasChromium, openBrowser, removeProfiles, screenshot, screenshotOf } from './browser.js';

const NEW_PASSWORD = 'copper-meadow-falcon-77';
/** The pages' policy, as it was before two-step sign-in: the QR code needed no addition. */
const PAGE_CSP =
  "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; object-src 'none'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";
/** One TOTP time step. A step accepted once is never accepted again, so each use takes a later one. */
const STEP = 30_000;

if (!hasChromium) {
  const message = `browser tests need ${CHROMIUM}: apt-get install -y --no-install-recommends chromium`;
  if (process.env.CI) throw new Error(message); // in CI they must run
  console.warn(`SKIPPED: ${message}`);
}

describe.skipIf(!hasChromium)('pages in a browser', { timeout: 90_000 }, () => {
  let server: TestServer;
  let smtp: TestSmtpServer;
  let cleanup: () => Promise<void>;

  beforeAll(async () => {
    smtp = await startSmtpServer();
    const storage = await sqlite.provision();
    cleanup = storage.cleanup;
    server = await startServer({ ...storage.config, smtpUrl: smtp.url });
  });

  afterAll(async () => {
    await server?.close();
    await smtp?.stop();
    await cleanup?.();
    removeProfiles();
  });

  const at = (path: string) => server.url + path;
  const onPath = (page: Page) => new URL(page.url()).pathname;
  const mailTo = (email: string, subject: string) => (m: ReceivedMail) => m.recipients.includes(email) && m.subject === subject;
  /** The mailed link, on the test server's origin (PUBLIC_URL is not known before the port is). */
  const mailedLink = (mail: ReceivedMail) => {
    const link = linkFrom(mail);
    return at(link.pathname + link.search);
  };

  async function register(page: Page, email: string, name = 'Ada Lovelace') {
    await page.goto(at('/register'));
    await page.getByLabel('Name').fill(name);
    await page.getByLabel('Email').fill(email);
    await page.getByLabel('Password').fill(STRONG_PASSWORD);
    await page.getByRole('button', { name: 'Create account' }).click();
    await page.waitForURL(at('/account'));
  }

  async function signIn(page: Page, email: string, password = STRONG_PASSWORD, options: { rememberMe?: boolean; next?: string } = {}) {
    await page.goto(at(options.next === undefined ? '/login' : `/login?next=${encodeURIComponent(options.next)}`));
    await page.getByLabel('Email').fill(email);
    await page.getByLabel('Password').fill(password);
    if (options.rememberMe) await page.getByLabel(/Keep me signed in/).check();
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  }

  it('register lands on the account page; a second browser signed out from the first is sent to /login', async () => {
    const email = uniqueEmail('pages');
    const first = await openBrowser();
    const second = await openBrowser();
    try {
      await register(first.page, email);
      await expect.poll(() => first.page.locator('#profile-email').textContent()).toBe(email);
      await screenshot(first.page, 'register-account');

      await signIn(second.page, email);
      await second.page.waitForURL(at('/account'));

      await first.page.reload();
      const sessions = first.page.locator('#sessions > li');
      await expect.poll(() => sessions.count()).toBe(2);
      await expect.poll(() => first.page.locator('#sessions li.current').getByText('this device').count()).toBe(1);
      await screenshot(first.page, 'two-sessions');

      await first.page.locator('#sessions li:not(.current)').getByRole('button').click();
      await expect.poll(() => sessions.count()).toBe(1);

      // The second browser still shows its page; its next click meets a dead session.
      await second.page.locator('#revoke-others').click();
      await second.page.waitForURL((url) => url.pathname === '/login');
      expect(new URL(second.page.url()).searchParams.get('next')).toBe('/account');
      await screenshot(second.page, 'signed-out-elsewhere');
    } finally {
      await first.context.close();
      await second.context.close();
    }
  });

  it('changes the password, then signs in with the new one', async () => {
    const { email } = await signedUp(server.url);
    const { context, page } = await openBrowser();
    try {
      await signIn(page, email);
      await page.waitForURL(at('/account'));
      const form = page.locator('#password-form');
      await form.getByLabel('Current password').fill('not-my-password-at-all');
      await form.getByLabel('New password').fill(NEW_PASSWORD);
      await form.getByRole('button', { name: 'Change password' }).click();
      await expect.poll(() => form.locator('[data-error-for=currentPassword]').textContent()).toMatch(/\S/);

      await form.getByLabel('Current password').fill(STRONG_PASSWORD);
      await form.getByLabel('New password').fill(NEW_PASSWORD);
      await form.getByRole('button', { name: 'Change password' }).click();
      await expect.poll(() => form.locator('[data-form-alert]').textContent()).toContain('Password changed');
      await screenshot(page, 'password-changed');

      await page.locator('#logout-form button').click();
      await page.waitForURL((url) => url.pathname === '/login');
      await signIn(page, email, NEW_PASSWORD);
      await page.waitForURL(at('/account'));
    } finally {
      await context.close();
    }
  });

  it('forgot password: the mailed link resets it, then the new password signs in', async () => {
    const { email } = await signedUp(server.url);
    const { context, page } = await openBrowser();
    try {
      await page.goto(at('/forgot-password'));
      await page.getByLabel('Email').fill(email);
      await page.getByRole('button', { name: 'Send reset link' }).click();
      await expect.poll(() => page.locator('[data-form-alert]').textContent()).toContain('on its way');

      const mail = await smtp.waitFor(mailTo(email, 'Reset your password'));
      await page.goto(mailedLink(mail));
      await page.getByLabel('New password').fill('123456789qwerty');
      await expect.poll(() => page.locator('.strength .hint').textContent()).toMatch(/well-known|predictable/);
      await page.getByLabel('New password').fill(NEW_PASSWORD);
      await expect.poll(() => page.locator('.strength .hint').textContent()).toMatch(/Good|Strong/);
      await screenshot(page, 'reset-password');
      await page.getByRole('button', { name: 'Set new password' }).click();
      await page.waitForURL((url) => url.pathname === '/login');

      await signIn(page, email, NEW_PASSWORD);
      await page.waitForURL(at('/account'));
    } finally {
      await context.close();
    }
  });

  it('verifies the email address from the mailed link', async () => {
    const email = uniqueEmail('verify');
    const { context, page } = await openBrowser();
    try {
      await register(page, email, 'Grace Hopper');
      await expect.poll(() => page.locator('.badge.warn').textContent()).toBe('not verified');
      const mail = await smtp.waitFor(mailTo(email, 'Verify your email address'));
      await page.goto(mailedLink(mail));
      await page.getByRole('button', { name: 'Confirm email address' }).click();
      await expect.poll(() => page.locator('[data-form-alert]').textContent()).toContain('is verified');
      await screenshot(page, 'email-verified');
      await page.goto(at('/account'));
      await expect.poll(() => page.locator('.badge.ok').first().textContent()).toBe('verified');
    } finally {
      await context.close();
    }
  });

  it('remember-me survives a browser restart; a plain session does not', async () => {
    const { email } = await signedUp(server.url);
    const remembered = await openBrowser();
    await signIn(remembered.page, email, STRONG_PASSWORD, { rememberMe: true });
    await remembered.page.waitForURL(at('/account'));
    await remembered.context.close();
    const plain = await openBrowser();
    await signIn(plain.page, email);
    await plain.page.waitForURL(at('/account'));
    await plain.context.close();

    const again = await openBrowser(remembered.profile);
    try {
      await again.page.goto(at('/account'));
      expect(onPath(again.page)).toBe('/account');
      await expect.poll(() => again.page.locator('#sessions li.current .badge').allTextContents()).toContain('remembered');
      await screenshot(again.page, 'remembered-after-restart');
    } finally {
      await again.context.close();
    }
    const plainAgain = await openBrowser(plain.profile);
    try {
      await plainAgain.page.goto(at('/account'));
      expect(plainAgain.page.url()).toBe(at('/login?next=/account'));
    } finally {
      await plainAgain.context.close();
    }
  });

  it('a page on another origin that posts a form to /api/auth/logout leaves the victim signed in', async () => {
    const { email } = await signedUp(server.url);
    const target = at('/api/auth/logout');
    const evil = http.createServer((req, res) => {
      res.setHeader('content-type', 'text/html');
      if (req.url === '/auto.js') {
        res.setHeader('content-type', 'text/javascript');
        return res.end('document.forms[0].submit();');
      }
      res.end(`<!doctype html><form method="POST" action="${target}"><input name="x" value="1"></form><script src="/auto.js"></script>`);
    });
    await new Promise<void>((resolve) => evil.listen(0, '127.0.0.1', resolve));
    const evilUrl = `http://127.0.0.1:${(evil.address() as AddressInfo).port}/`;
    const { context, page } = await openBrowser();
    try {
      await signIn(page, email);
      await page.waitForURL(at('/account'));
      const answer = page.waitForResponse(target);
      await page.goto(evilUrl);
      expect((await answer).status()).toBe(403);
      await page.goto(at('/account'));
      expect(onPath(page)).toBe('/account');
      await expect.poll(() => page.locator('#profile-email').textContent()).toBe(email);
      await screenshot(page, 'cross-site-logout-refused');
    } finally {
      await context.close();
      evil.closeAllConnections();
      await new Promise<void>((resolve) => evil.close(() => resolve()));
    }
  });

  it('asks for a new email with the password, and deletes the account after a confirmation', async () => {
    const { email } = await signedUp(server.url);
    const newEmail = uniqueEmail('moved');
    const { context, page } = await openBrowser();
    try {
      await signIn(page, email);
      await page.waitForURL(at('/account'));
      const emailForm = page.locator('#email-form');
      await emailForm.getByLabel('New email').fill(newEmail);
      await emailForm.getByLabel('Current password').fill(STRONG_PASSWORD);
      await emailForm.getByRole('button', { name: 'Change email' }).click();
      await expect.poll(() => emailForm.locator('[data-form-alert]').textContent()).toContain(newEmail);
      await smtp.waitFor(mailTo(newEmail, 'Confirm your new email address'));

      await page.getByRole('button', { name: 'Delete account…' }).click();
      const form = page.locator('#delete-form');
      await form.getByLabel('Your password').fill(STRONG_PASSWORD);
      await form.getByRole('button', { name: 'Delete my account' }).click();
      await expect.poll(() => form.locator('[data-error-for=confirm]').textContent()).toMatch(/confirm/i);
      await form.getByLabel(/I understand/).check();
      await screenshot(page, 'delete-account');
      await form.getByRole('button', { name: 'Delete my account' }).click();
      await page.waitForURL(at('/login?notice=account-deleted'));
      await signIn(page, email);
      await expect.poll(() => page.locator('[data-form-alert]').textContent()).toMatch(/\S/);
      expect(onPath(page)).toBe('/login');
    } finally {
      await context.close();
    }
  });

  it('returns to a same-origin next after sign-in and ignores foreign ones', async () => {
    const { email } = await signedUp(server.url);
    const { context, page } = await openBrowser();
    try {
      const response = await page.goto(at('/account'));
      expect(onPath(page)).toBe('/login');
      expect(new URL(page.url()).searchParams.get('next')).toBe('/account');
      const csp = (await response!.headerValue('content-security-policy')) ?? '';
      expect(csp).toContain("script-src 'self'");
      expect(csp).not.toContain('unsafe-inline');
      await screenshot(page, 'login');
      await page.getByRole('button', { name: 'Sign in', exact: true }).click();
      await expect.poll(() => page.locator('[data-error-for=email]').textContent()).toMatch(/required/);
      await page.getByLabel('Email').fill(email);
      await page.getByLabel('Password').fill('wrong-password-here');
      await page.getByRole('button', { name: 'Sign in', exact: true }).click();
      await expect.poll(() => page.locator('[data-form-alert]').textContent()).toMatch(/\S/);
      await page.getByLabel('Password').fill(STRONG_PASSWORD);
      await page.getByRole('button', { name: 'Sign in', exact: true }).click();
      await page.waitForURL(at('/account'));

      for (const next of ['//evil.example', 'https:evil', '/\\evil']) {
        await page.locator('#logout-form button').click();
        await page.waitForURL((url) => url.pathname === '/login');
        await signIn(page, email, STRONG_PASSWORD, { next });
        await page.waitForURL(at('/account'));
      }
      await page.setViewportSize({ width: 390, height: 844 });
      await page.reload();
      await expect.poll(() => page.locator('#sessions > li').count()).toBeGreaterThan(0);
      await screenshot(page, 'account-phone');
    } finally {
      await context.close();
    }
  });

  it("the page script's safeNext, in the browser's own URL parser, never sends the sign-in to another host", async () => {
    const { context, page } = await openBrowser();
    try {
      await page.goto(at('/login'));
      const hostile = ['/.//evil.example', '/..//x', '/%2e//x', '/a/..//x', '/%2e%2e//x', '/./\\evil', '/.%2f/evil', '//evil.example', '/\\evil'];
      // The copy that runs after sign-in, as the page loads it (a string: the test runner rewrites `import()` in functions).
      const results: { input: string; next?: string; origin?: string }[] = await page.evaluate(`import('/assets/lib.js').then((lib) =>
        ${JSON.stringify(hostile)}.map((input) => {
          const next = lib.safeNext(input);
          return { input, next, origin: next === undefined ? undefined : new URL(next, location.href).origin };
        }))`);
      expect(results).toHaveLength(hostile.length);
      for (const { input, next, origin } of results) {
        if (next === undefined) continue;
        expect(next.startsWith('//') || next.startsWith('/\\'), `${input} -> ${next}`).toBe(false);
        expect(origin, `${input} -> ${next}`).toBe(server.url);
      }
      expect(results.find((r) => r.input === '/.//evil.example')!.next).toBeUndefined();
    } finally {
      await context.close();
    }
  });

  it('a page signed out from another device says so on /login, after its next click and after a reload', async () => {
    const { client: otherDevice, email } = await signedUp(server.url);
    const { context, page } = await openBrowser();
    const notice = page.getByRole('status').filter({ hasText: /\S/ });
    try {
      await signIn(page, email);
      await page.waitForURL(at('/account'));
      await expect.poll(() => page.locator('#sessions > li').count()).toBe(2);

      // Its next action meets the dead session (the page script's 401 path).
      expect((await otherDevice.request('DELETE', '/api/auth/sessions')).body.revoked).toBe(1);
      await page.locator('#revoke-others').click();
      await page.waitForURL((url) => url.pathname === '/login');
      expect(new URL(page.url()).searchParams.get('next')).toBe('/account');
      await expect.poll(() => notice.textContent()).toMatch(/^You were signed out\. Sign in again/);
      await screenshot(page, 'signed-out-elsewhere-notice');

      // A reload of the account page meets it on the server, before any script runs.
      await signIn(page, email, STRONG_PASSWORD, { next: '/account' });
      await page.waitForURL(at('/account'));
      // Both lists loaded: no request of the page script is still in flight to meet the revoke first.
      await expect.poll(() => page.locator('#sessions > li').count()).toBe(2);
      await expect.poll(() => page.locator('#events').textContent()).not.toContain('Loading');
      expect((await otherDevice.request('DELETE', '/api/auth/sessions')).body.revoked).toBe(1);
      await page.reload();
      expect(onPath(page)).toBe('/login');
      expect(new URL(page.url()).searchParams.get('next')).toBe('/account');
      await expect.poll(() => notice.textContent()).toMatch(/^You were signed out\. Sign in again/);

      // The dead cookie was cleared on the way: the next visit is a plain guest's, without the notice.
      await page.goto(at('/account'));
      expect(page.url()).toBe(at('/login?next=/account'));
      expect(await notice.count()).toBe(0);
    } finally {
      await context.close();
    }
  });

  it('a browser that never signed in, or signed out itself, gets no "signed out" notice', async () => {
    const { email } = await signedUp(server.url);
    const { context, page } = await openBrowser();
    try {
      await page.goto(at('/account'));
      expect(page.url()).toBe(at('/login?next=/account'));
      expect(await page.getByRole('status').count()).toBe(0);

      await signIn(page, email);
      await page.waitForURL(at('/account'));
      await page.locator('#logout-form button').click();
      await page.waitForURL(at('/login?notice=signed-out'));
      await page.goto(at('/account'));
      expect(page.url()).toBe(at('/login?next=/account'));
      expect(await page.getByRole('status').count()).toBe(0);
    } finally {
      await context.close();
    }
  });

  it('every labelled button and link is named by its visible text first (WCAG 2.5.3, label in name)', async () => {
    const { email } = await signedUp(server.url);
    const { context, page } = await openBrowser();
    try {
      await signIn(page, email);
      await page.waitForURL(at('/account'));
      const buttons = page.locator('#sessions button');
      await expect.poll(() => buttons.count()).toBe(2);

      const labelled = () =>
        page.locator('button[aria-label], a[aria-label], [role=button][aria-label]').evaluateAll((nodes) =>
          nodes.map((n) => ({ text: (n.textContent ?? '').trim().replace(/\s+/g, ' '), name: n.getAttribute('aria-label') ?? '' })),
        );
      const sessionButtons = await labelled();
      expect(sessionButtons.length).toBeGreaterThanOrEqual(2);
      for (const { text, name } of sessionButtons) {
        expect(text).not.toBe('');
        expect(name.toLowerCase().startsWith(text.toLowerCase()), `"${name}" should start with "${text}"`).toBe(true);
      }
      // Speech users say what they see: the visible text finds each button by its name.
      await expect.poll(() => page.getByRole('button', { name: /^Sign out this session\b/ }).count()).toBe(1);
      await screenshot(page, 'session-buttons');
    } finally {
      await context.close();
    }
  });

  /** The authenticator app of the tests: the key shown on the page, the server's (real) clock. */
  async function setUpApp(page: Page): Promise<{ secret: string; recoveryCodes: string[] }> {
    await page.getByRole('button', { name: 'Set up an authenticator app' }).click();
    await page.locator('#totp-qr svg').waitFor();
    expect(await page.locator('#totp-qr svg').getAttribute('role')).toBe('img');
    const secret = ((await page.locator('#totp-secret').textContent()) ?? '').replace(/\s/g, '');
    expect(secret).toMatch(/^[A-Z2-7]{32}$/);
    const form = page.locator('#totp-confirm-form');
    await form.getByLabel('Code from the app').fill(totpCode(secret, Date.now()));
    await form.getByRole('button', { name: 'Turn on two-step sign-in' }).click();
    const codes = page.locator('#recovery-list li');
    await expect.poll(() => codes.count()).toBe(10);
    return { secret, recoveryCodes: await codes.allTextContents() };
  }

  async function secondStep(page: Page, email: string, next?: string) {
    await signIn(page, email, STRONG_PASSWORD, { next });
    await page.waitForURL((url) => url.pathname === '/login/second-step');
  }

  it('two-step sign-in: set up with the QR code, codes shown once, app code, recovery code, turned off', async () => {
    const email = uniqueEmail('twostep');
    const { context, page } = await openBrowser();
    const urls: string[] = [];
    page.on('request', (request) => urls.push(request.url()));
    try {
      await register(page, email);
      const section = page.locator('#twostep');
      await page.locator('#twostep-off').waitFor();

      // The QR code comes from our server in a POST body, and is drawn as an SVG image.
      const qrAnswer = page.waitForResponse((r) => r.url() === at('/account/qr'));
      const { secret, recoveryCodes } = await setUpApp(page);
      const qr = await qrAnswer;
      expect(qr.request().method()).toBe('POST');
      expect(qr.headers()['content-type']).toMatch(/^image\/svg\+xml/);
      expect(qr.headers()['cache-control']).toBe('no-store');

      // Shown once: the notice says so, and Download saves them as a file made in the page.
      await expect.poll(() => page.locator('#recovery-codes .notice.warn').textContent()).toMatch(/not be shown again/);
      await screenshotOf(page.locator('#twostep'), 'two-step-recovery-codes');
      const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Download' }).click()]);
      expect(download.suggestedFilename()).toBe('latch-recovery-codes.txt');
      expect(download.url()).toMatch(/^blob:/);
      const file = readFileSync(await download.path(), 'utf8');
      expect(file.match(/^[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}$/gm)).toEqual(recoveryCodes);
      await page.getByRole('button', { name: 'I have stored them' }).click();
      expect(await page.locator('#recovery-list li').count()).toBe(0);
      await expect.poll(() => section.locator('#recovery-left').textContent()).toBe('10 recovery codes left.');
      await page.reload();
      await page.locator('#twostep-on').waitFor();
      expect(await page.locator('#recovery-codes').isHidden()).toBe(true);

      // Sign in again: the password, then the app's code (the next step: this one was used to confirm).
      await page.locator('#logout-form button').click();
      await page.waitForURL((url) => url.pathname === '/login');
      await secondStep(page, email);
      const codeField = page.getByLabel('Code from your authenticator app');
      expect(await codeField.getAttribute('autocomplete')).toBe('one-time-code');
      expect(await codeField.getAttribute('inputmode')).toBe('numeric');
      await codeField.fill('000000');
      await page.getByRole('button', { name: 'Verify' }).click();
      await expect.poll(() => page.locator('[data-error-for=code]').textContent()).toBe('That code is not right, or was already used.');
      expect(await codeField.getAttribute('aria-invalid')).toBe('true');
      await screenshot(page, 'two-step-second-step');
      await codeField.fill(totpCode(secret, Date.now() + STEP));
      await page.getByRole('button', { name: 'Verify' }).click();
      await page.waitForURL(at('/account'));

      // And with a recovery code instead: one of ten is used up.
      await page.locator('#logout-form button').click();
      await page.waitForURL((url) => url.pathname === '/login');
      await secondStep(page, email);
      await page.getByRole('button', { name: 'Use a recovery code instead' }).click();
      expect(await codeField.isHidden()).toBe(true);
      await page.getByLabel('Recovery code').fill(recoveryCodes[0]!.toLowerCase());
      await page.getByRole('button', { name: 'Verify' }).click();
      await page.waitForURL(at('/account'));
      await expect.poll(() => section.locator('#recovery-left').textContent()).toBe('9 recovery codes left.');

      // Turned off with the password: the next sign-in is one step again.
      await section.getByRole('button', { name: 'Turn off…' }).click();
      const off = page.locator('#totp-off-form');
      await off.getByLabel('Your password').fill('not-my-password-at-all');
      await off.getByRole('button', { name: 'Turn off two-step sign-in' }).click();
      await expect.poll(() => off.locator('[data-error-for=password]').textContent()).toMatch(/\S/);
      await off.getByLabel('Your password').fill(STRONG_PASSWORD);
      await off.getByRole('button', { name: 'Turn off two-step sign-in' }).click();
      await page.locator('#twostep-off').waitFor();
      await page.locator('#logout-form button').click();
      await page.waitForURL((url) => url.pathname === '/login');
      await signIn(page, email);
      await page.waitForURL(at('/account'));

      // The key never travelled in a URL (THREATS.md item 10).
      expect(urls.length).toBeGreaterThan(10);
      expect(urls.filter((url) => url.includes(secret) || url.includes('otpauth'))).toEqual([]);
    } finally {
      await context.close();
    }
  });

  it('the second step: wrong codes next to the field, the wait explained on 429, an ended sign-in back to the password', async () => {
    const { client, email } = await signedUp(server.url);
    const setup = await client.post('/api/auth/mfa/totp');
    expect((await client.post('/api/auth/mfa/totp/confirm', { code: totpCode(setup.body.secret, Date.now()) })).status).toBe(200);
    const { context, page } = await openBrowser();
    try {
      await secondStep(page, email, '/account');
      const response = await page.reload();
      expect(await response!.headerValue('content-security-policy')).toBe(PAGE_CSP);
      // Not a sign-in yet: the account page sends it back to the second step.
      await page.goto(at('/account'));
      expect(onPath(page)).toBe('/login/second-step');
      await page.getByLabel('Remember this device').check();

      const codeField = page.getByLabel('Code from your authenticator app');
      const error = page.locator('[data-error-for=code]');
      const submit = page.getByRole('button', { name: 'Verify' });
      await codeField.fill('12345');
      await submit.click();
      await expect.poll(() => error.textContent()).toBe('Enter the 6 digits your app shows.');

      // Ten wrong codes per account, over pending sign-ins of at most five each; the 11th waits.
      for (let round = 0; round < 3; round++) {
        if (round > 0) await secondStep(page, email, '/account');
        for (let i = 0; i < (round < 2 ? 4 : 2); i++) {
          await codeField.fill('000000');
          await submit.click();
          await expect.poll(() => error.textContent()).toBe('That code is not right, or was already used.');
          await codeField.fill('');
        }
      }
      await codeField.fill('000000');
      await submit.click();
      await expect.poll(() => error.textContent()).toMatch(/^Too many attempts\. Try again in \d+ (seconds|minutes)\.$/);
      await screenshot(page, 'two-step-rate-limited');

      // This sign-in ended elsewhere (here: its own sign-out): the next code goes back to the password.
      await page.evaluate(() => fetch('/api/auth/logout', { method: 'POST' }));
      await page.getByRole('button', { name: 'Use a recovery code instead' }).click();
      await page.getByLabel('Recovery code').fill('7KQM-2F9X-HT4R-B8CW');
      await submit.click();
      await page.waitForURL((url) => url.pathname === '/login');
      expect(new URL(page.url()).searchParams.get('next')).toBe('/account');
      await expect.poll(() => page.getByRole('status').textContent()).toBe('This sign-in has expired; sign in again.');
      // A reload of the ended second step lands there too.
      await page.goto(at('/login/second-step'));
      expect(onPath(page)).toBe('/login');
    } finally {
      await context.close();
    }
  });

  it('setting up asks for the password again when its proof is old, then goes on', async () => {
    const storage = await sqlite.provision();
    const strict = await startServer({ ...storage.config, reauthWindow: 3_000 });
    const { email } = await signedUp(strict.url);
    const { context, page } = await openBrowser();
    try {
      await page.goto(`${strict.url}/login`);
      await page.getByLabel('Email').fill(email);
      await page.getByLabel('Password').fill(STRONG_PASSWORD);
      await page.getByRole('button', { name: 'Sign in', exact: true }).click();
      await page.waitForURL(`${strict.url}/account`);
      const response = await page.reload();
      expect(await response!.headerValue('content-security-policy')).toBe(PAGE_CSP);
      await page.locator('#twostep-off').waitFor();
      await page.waitForTimeout(3_500);

      await page.getByRole('button', { name: 'Set up an authenticator app' }).click();
      const reauth = page.locator('#reauth-form');
      await reauth.getByText('For your security, confirm your password to continue.').waitFor();
      await expect.poll(() => page.evaluate('document.activeElement?.id')).toBe('ra-password');
      await reauth.getByLabel('Your password').fill('not-my-password-at-all');
      await reauth.getByRole('button', { name: 'Confirm password' }).click();
      await expect.poll(() => reauth.locator('[data-error-for=password]').textContent()).toMatch(/\S/);
      await screenshot(page, 'two-step-reauth');
      await reauth.getByLabel('Your password').fill(STRONG_PASSWORD);
      await reauth.getByRole('button', { name: 'Confirm password' }).click();
      await page.locator('#totp-qr svg').waitFor();
      expect(await reauth.isHidden()).toBe(true);
      const secret = ((await page.locator('#totp-secret').textContent()) ?? '').replace(/\s/g, '');
      await screenshotOf(page.locator('#twostep'), 'two-step-setup');

      // The proof went stale again while the person fetched their phone: asked once more, the code still counts.
      await page.waitForTimeout(3_500);
      const form = page.locator('#totp-confirm-form');
      await form.getByLabel('Code from the app').fill(totpCode(secret, Date.now()));
      await form.getByRole('button', { name: 'Turn on two-step sign-in' }).click();
      await reauth.getByLabel('Your password').waitFor();
      await reauth.getByLabel('Your password').fill(STRONG_PASSWORD);
      await reauth.getByRole('button', { name: 'Confirm password' }).click();
      await expect.poll(() => page.locator('#recovery-list li').count()).toBe(10);
    } finally {
      await context.close();
      await strict.close();
      await storage.cleanup();
    }
  });

  /**
   * The tests' authenticator app, for codes after `setUpApp`'s. The server takes a code of its
   * clock's step or one on either side, and only for a step later than the last it took: each
   * code is the earliest such step (never the one before the clock's, which may fall out of the
   * window before the server checks it), waiting for the clock when none is left.
   */
  function authenticator(secret: string) {
    let last = Math.floor(Date.now() / STEP); // the step setUpApp just used, or later
    return async (): Promise<string> => {
      for (;;) {
        const now = Math.floor(Date.now() / STEP);
        const step = Math.max(last + 1, now);
        if (step <= now + 1) {
          last = step;
          return totpCode(secret, step * STEP);
        }
        await new Promise((resolve) => setTimeout(resolve, (now + 1) * STEP - Date.now() + 100));
      }
    };
  }

  /**
   * A new account with the app on, and this browser remembered: signed in with the second step
   * and "Remember this device", then signed in again with the password alone. The second step
   * takes a recovery code, so the app's next code is left for the test, without waiting.
   */
  async function rememberedBrowser(page: Page) {
    const email = uniqueEmail('remembered');
    await register(page, email);
    await page.locator('#twostep-off').waitFor();
    const { secret, recoveryCodes } = await setUpApp(page);
    const nextCode = authenticator(secret);
    await page.locator('#logout-form button').click();
    await page.waitForURL((url) => url.pathname === '/login');
    await secondStep(page, email);
    await page.getByRole('button', { name: 'Use a recovery code instead' }).click();
    await page.getByLabel('Recovery code').fill(recoveryCodes[0]!);
    await page.getByLabel('Remember this device').check();
    await page.getByRole('button', { name: 'Verify' }).click();
    await page.waitForURL(at('/account'));
    await page.locator('#logout-form button').click();
    await page.waitForURL((url) => url.pathname === '/login');
    await signIn(page, email);
    await page.waitForURL(at('/account')); // no second step
    return { email, nextCode, recoveryCodes: recoveryCodes.slice(1) };
  }

  it('a remembered browser: listed under Devices, and asked for the app code before new recovery codes', async () => {
    const { context, page } = await openBrowser();
    try {
      const { nextCode } = await rememberedBrowser(page);
      const here = page.locator('#devices li.current');
      await expect.poll(() => here.locator('.badge').allTextContents()).toContain('this browser');
      const remembered = here.locator('.badge', { hasText: 'remembered until' });
      const until = new Date((await remembered.locator('time').getAttribute('datetime'))!).getTime();
      expect(Math.abs(until - (Date.now() + 30 * 86_400_000))).toBeLessThan(60_000);
      expect(await here.getByRole('button', { name: /^Forget: this browser, Chrome on \w+, IP / }).count()).toBe(1);
      await screenshotOf(page.locator('#devices').locator('..'), 'devices-remembered');

      // The session proved the password only: new recovery codes need the app's code first.
      const stepUp = page.locator('#stepup-form');
      await page.getByRole('button', { name: 'Make new recovery codes' }).click();
      await stepUp.getByRole('heading', { name: 'Confirm with your authenticator app' }).waitFor();
      const codeField = stepUp.getByLabel('Code from your authenticator app');
      await expect.poll(() => page.evaluate('document.activeElement?.id')).toBe('su-code');
      expect(await codeField.getAttribute('autocomplete')).toBe('one-time-code');
      expect(await codeField.getAttribute('inputmode')).toBe('numeric');
      expect(await page.locator('#recovery-codes').isHidden()).toBe(true);

      await codeField.fill('000000');
      await stepUp.getByRole('button', { name: 'Confirm' }).click();
      await expect.poll(() => stepUp.locator('[data-error-for=code]').textContent()).toBe('That code is not right, or was already used.');
      expect(await codeField.getAttribute('aria-invalid')).toBe('true');
      await screenshotOf(page.locator('#twostep'), 'step-up');
      await codeField.fill(await nextCode());
      await codeField.press('Enter');
      await expect.poll(() => page.locator('#recovery-list li').count()).toBe(10);
      expect(await stepUp.isHidden()).toBe(true);
      await expect.poll(() => page.locator('#twostep-status').textContent()).toContain('New recovery codes made');

      // Stepped up for the rest of this sign-in: asked once, not again.
      await page.getByRole('button', { name: 'I have stored them' }).click();
      await page.getByRole('button', { name: 'Make new recovery codes' }).click();
      await expect.poll(() => page.locator('#recovery-list li').count()).toBe(10);
      expect(await stepUp.isHidden()).toBe(true);
    } finally {
      await context.close();
    }
  });

  it('a remembered browser: a recovery code steps up a form action; Forget, and the next sign-in asks for the second step', async () => {
    const { context, page } = await openBrowser();
    try {
      const { email, recoveryCodes } = await rememberedBrowser(page);

      // The prompt opens next to the form that needs it; Escape closes it, and nothing changed.
      const emailForm = page.locator('#email-form');
      const stepUp = page.locator('#stepup-form');
      await emailForm.getByLabel('New email').fill(uniqueEmail('moved'));
      await emailForm.getByLabel('Current password').fill(STRONG_PASSWORD);
      await emailForm.getByRole('button', { name: 'Change email' }).click();
      await stepUp.getByLabel('Code from your authenticator app').waitFor();
      expect(await page.locator('#email-form + #stepup-form').count()).toBe(1);
      await page.keyboard.press('Escape');
      await expect.poll(() => stepUp.isHidden()).toBe(true);
      await expect.poll(() => page.evaluate('document.activeElement?.textContent')).toBe('Change email');
      expect(await emailForm.locator('[data-form-alert]').isHidden()).toBe(true);

      const newEmail = uniqueEmail('moved');
      await emailForm.getByLabel('New email').fill(newEmail);
      await emailForm.getByLabel('Current password').fill(STRONG_PASSWORD);
      await emailForm.getByRole('button', { name: 'Change email' }).click();
      await stepUp.getByRole('button', { name: 'Use a recovery code instead' }).click();
      await stepUp.getByRole('heading', { name: 'Confirm with a recovery code' }).waitFor();
      await stepUp.getByLabel('Recovery code').fill(recoveryCodes[0]!);
      await stepUp.getByRole('button', { name: 'Confirm' }).click();
      await expect.poll(() => emailForm.locator('[data-form-alert]').textContent()).toContain(newEmail);
      // (No wait for the mail: the suite's earlier mails from this IP may have used its mail budget.)
      await expect.poll(() => page.locator('#events li strong').allTextContents()).toContain('Email change requested');
      await expect.poll(() => page.locator('#recovery-left').textContent()).toBe('8 recovery codes left.');

      // Forget this browser: it leaves the list, and its password alone no longer signs in.
      const forget = page.getByRole('button', { name: /^Forget\b/ });
      await expect.poll(() => forget.count()).toBe(1);
      await forget.focus();
      await page.keyboard.press('Enter');
      await expect.poll(() => page.locator('#devices-status').textContent()).toBe('This browser is forgotten: signing in here asks for the code from your app again.');
      await expect.poll(() => forget.count()).toBe(0);
      expect(await page.locator('#devices li.current').count()).toBe(0);
      await expect.poll(() => page.evaluate('document.activeElement?.id')).toBe('devices-h');
      await screenshotOf(page.locator('#devices').locator('..'), 'device-forgotten');

      await page.locator('#logout-form button').click();
      await page.waitForURL((url) => url.pathname === '/login');
      await secondStep(page, email);
    } finally {
      await context.close();
    }
  });

  it('the QR endpoint draws TOTP URIs only, for a signed-in page of this site, never cached', async () => {
    const { client } = await signedUp(server.url);
    const uri = (await client.post('/api/auth/mfa/totp')).body.uri as string;
    const drawn = await client.post('/account/qr', { uri }, { 'sec-fetch-site': 'same-origin' });
    expect(drawn.status).toBe(200);
    expect(drawn.headers.get('content-type')).toMatch(/^image\/svg\+xml/);
    expect(drawn.headers.get('cache-control')).toBe('no-store');
    expect(drawn.text).toMatch(/^<svg [^>]*xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
    expect(drawn.text).not.toMatch(/style|script/i);

    expect((await client.post('/account/qr', { uri: 'https://evil.example/' })).body.code).toBe('invalid_input');
    expect((await client.post('/account/qr', { uri }, { 'sec-fetch-site': 'cross-site', origin: 'https://evil.example' })).body.code).toBe('csrf');
    expect((await new Client(server.url).post('/account/qr', { uri })).status).toBe(401);
  });

  it('no page broke its Content-Security-Policy', () => {
    expect(cspViolations).toEqual([]);
  });
});
