/**
 * The administration pages in a real browser (API.md, "Administration"): an administrator with
 * an authenticator app manages other people's accounts, and those people's browsers feel it.
 * The first administrator is made the way an operator does it, in the database (until the
 * command line's `users grant-admin` is there to call).
 */
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BrowserContext, Page } from 'playwright-core';
import { totpCode } from '../../src/domain/totp.js';
import { sqlite } from '../support/backends.js';
import { Client, signedUp, startServer, STRONG_PASSWORD, uniqueEmail, type TestServer } from '../support/server.js';
import { cspViolations, hasChromium, openBrowser, removeProfiles, screenshot } from './browser.js';

/** One TOTP time step; the server takes a step once, and the one on either side of its clock's. */
const STEP = 30_000;

describe.skipIf(!hasChromium)('administration pages in a browser', { timeout: 120_000 }, () => {
  let server: TestServer;
  let cleanup: () => Promise<void>;
  let databaseFile: string;
  /** The administrator of these tests, signed in with the app's code in its own browser. */
  let admin: { context: BrowserContext; page: Page; email: string };

  const at = (path: string) => server.url + path;
  const onPath = (page: Page) => new URL(page.url()).pathname;
  const headerLink = (page: Page, name: string) => page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name, exact: true });

  /** `users grant-admin <email>`, as the operator's database would have it. */
  function grantAdmin(email: string) {
    const db = new Database(databaseFile);
    try {
      db.pragma('busy_timeout = 5000');
      expect(db.prepare("UPDATE users SET role = 'admin' WHERE email = ?").run(email).changes).toBe(1);
    } finally {
      db.close();
    }
  }

  async function registerIn(page: Page, email: string, name: string) {
    await page.goto(at('/register'));
    await page.getByLabel('Name').fill(name);
    await page.getByLabel('Email').fill(email);
    await page.getByLabel('Password').fill(STRONG_PASSWORD);
    await page.getByRole('button', { name: 'Create account' }).click();
    await page.waitForURL(at('/account'));
  }

  /** The password form; the caller waits for where it leads. */
  async function passwordStep(page: Page, email: string, next?: string) {
    await page.goto(at(next ? `/login?next=${encodeURIComponent(next)}` : '/login'));
    await page.getByLabel('Email').fill(email);
    await page.getByLabel('Password').fill(STRONG_PASSWORD);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  }

  /**
   * Turns the authenticator app on for the browser's own session, through the API as the account
   * page does (the page's own journey is pages.test.ts's). Codes come from `code()`, each of a
   * later step than the last, waiting for the clock when the window has none left.
   */
  async function turnOnApp(page: Page) {
    const setup = (await page.evaluate(async () => (await fetch('/api/auth/mfa/totp', { method: 'POST' })).json())) as { secret: string };
    let last = Math.floor(Date.now() / STEP);
    const confirm = (await page.evaluate(
      async (code) => (await fetch('/api/auth/mfa/totp/confirm', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ code }) })).json(),
      totpCode(setup.secret, last * STEP),
    )) as { recoveryCodes: string[] };
    expect(confirm.recoveryCodes).toHaveLength(10);
    const code = async (): Promise<string> => {
      const now = Math.floor(Date.now() / STEP);
      if (last + 1 > now + 1) await new Promise((resolve) => setTimeout(resolve, (now + 1) * STEP - Date.now() + 100));
      last = Math.max(last + 1, Math.floor(Date.now() / STEP));
      return totpCode(setup.secret, last * STEP);
    };
    return { code, recoveryCodes: confirm.recoveryCodes };
  }

  async function signOut(page: Page) {
    await page.locator('#logout-form button').click();
    await page.waitForURL((url) => url.pathname === '/login');
  }

  /**
   * An administrator: registered through the page, the app turned on, made an administrator,
   * then signed in again with the app's code (and "Remember this device" when asked).
   */
  async function newAdmin(page: Page, email: string, name: string, { rememberDevice = false } = {}) {
    await registerIn(page, email, name);
    const app = await turnOnApp(page);
    grantAdmin(email);
    await signOut(page);
    await passwordStep(page, email);
    await page.waitForURL((url) => url.pathname === '/login/second-step');
    await page.getByLabel('Code from your authenticator app').fill(await app.code());
    if (rememberDevice) await page.getByLabel('Remember this device').check();
    await page.getByRole('button', { name: 'Verify' }).click();
    await page.waitForURL(at('/account'));
    return app;
  }

  /** Every button and link with an aria-label is named by its visible text first (WCAG 2.5.3). */
  async function labelsStartWithText(page: Page) {
    const labelled = await page.locator('button[aria-label], a[aria-label]').evaluateAll((nodes) =>
      nodes.map((n) => ({ text: (n.textContent ?? '').trim().replace(/\s+/g, ' '), name: n.getAttribute('aria-label') ?? '' })),
    );
    for (const { text, name } of labelled) expect(name.toLowerCase().startsWith(text.toLowerCase()), `"${name}" should start with "${text}"`).toBe(true);
  }

  /** The account's page, from the list's search, by keyboard. */
  async function openAccount(page: Page, email: string) {
    await page.goto(at('/admin'));
    await page.getByLabel('Search by email or name').fill(email);
    await page.getByLabel('Search by email or name').press('Enter');
    await page.waitForURL((url) => url.pathname === '/admin' && url.searchParams.get('query') === email);
    await expect.poll(() => page.locator('#users li').count()).toBe(1);
    await page.locator('#users a').click();
    await page.waitForURL((url) => url.pathname.startsWith('/admin/users/'));
    await page.locator('#user-parts').waitFor();
  }

  beforeAll(async () => {
    const storage = await sqlite.provision();
    cleanup = storage.cleanup;
    databaseFile = storage.config.databaseUrl!.replace(/^sqlite:/, '');
    server = await startServer(storage.config);

    const email = uniqueEmail('admin');
    const { context, page } = await openBrowser();
    admin = { context, page, email };
    await newAdmin(page, email, 'Ada Admin');
  });

  afterAll(async () => {
    await admin?.context.close();
    await server?.close();
    await cleanup?.();
    removeProfiles();
  });

  it('an admin (with TOTP) disables a user who is signed in elsewhere; that browser is signed out on its next request; the admin re-enables; the user signs in', async () => {
    const userEmail = uniqueEmail('grace');
    const person = await openBrowser();
    const { page } = admin;
    try {
      await registerIn(person.page, userEmail, 'Grace Hopper');

      // The header names the administration pages to the administrator only.
      expect(await headerLink(person.page, 'Admin').count()).toBe(0);
      await page.reload();
      await headerLink(page, 'Admin').click();
      await page.waitForURL(at('/admin'));

      // Search finds the person; the list is reached by Tab from the search, and Enter opens the account.
      const search = page.getByLabel('Search by email or name');
      await search.fill(userEmail);
      await search.press('Enter');
      await page.waitForURL((url) => url.searchParams.get('query') === userEmail);
      await expect.poll(() => page.locator('#users li').count()).toBe(1);
      expect(await search.inputValue()).toBe(userEmail);
      await expect.poll(() => page.getByRole('status').textContent()).toBe(`1 account matching “${userEmail}”.`);
      expect(await page.locator('#users li .badge').allTextContents()).toEqual(['Unverified']);
      await search.focus();
      await page.keyboard.press('Tab');
      expect(await page.evaluate('document.activeElement?.textContent')).toBe('Search');
      await page.keyboard.press('Tab');
      expect(await page.evaluate("document.activeElement?.closest('#users') !== null")).toBe(true);
      await screenshot(page, 'admin-search');
      await page.keyboard.press('Enter');
      await page.waitForURL((url) => url.pathname.startsWith('/admin/users/'));
      await expect.poll(() => page.getByRole('heading', { level: 1 }).textContent()).toBe('Grace Hopper');
      await expect.poll(() => page.locator('#sessions li').count()).toBe(1);
      await labelsStartWithText(page);

      // Disable, with a reason: asked first, and Escape leaves it undone.
      await page.getByRole('button', { name: 'Disable account…' }).click();
      const reason = page.getByLabel('Reason (optional)');
      await expect.poll(() => page.evaluate('document.activeElement?.id')).toBe('disable-reason');
      await page.keyboard.press('Escape');
      expect(await reason.isHidden()).toBe(true);
      expect(await page.evaluate('document.activeElement?.textContent')).toBe('Disable account…');
      await page.keyboard.press('Enter');
      await reason.fill('Reported for spam');
      await screenshot(page, 'admin-disable-question');
      await page.getByRole('button', { name: 'Disable account', exact: true }).click();
      await expect.poll(() => page.locator('#manage-status').textContent()).toBe('Grace Hopper is disabled, and signed out everywhere.');
      await expect.poll(() => page.locator('[data-field=status] .badge').allTextContents()).toEqual(['Disabled', 'Unverified']);
      expect(await page.locator('[data-field=disabledReason]').textContent()).toBe('Reported for spam');
      await expect.poll(() => page.locator('#sessions').textContent()).toBe('Not signed in anywhere.');
      await expect.poll(() => page.locator('#events li', { hasText: 'Account disabled' }).textContent()).toMatch(/^Account disabled · .* · by you · /);
      await screenshot(page, 'admin-user-disabled');

      // That browser's next request meets its ended session; its password no longer signs in.
      await person.page.reload();
      expect(onPath(person.page)).toBe('/login');
      expect(new URL(person.page.url()).searchParams.get('notice')).toBe('session-ended');
      await passwordStep(person.page, userEmail);
      await expect.poll(() => person.page.locator('[data-form-alert]').textContent()).toMatch(/disabled/i);
      expect(onPath(person.page)).toBe('/login');
      await screenshot(person.page, 'admin-disabled-sign-in');

      // Enabled again: the person signs in.
      await page.getByRole('button', { name: 'Enable account' }).click();
      await expect.poll(() => page.locator('#manage-status').textContent()).toBe('Grace Hopper can sign in again.');
      await expect.poll(() => page.locator('[data-field=status] .badge').allTextContents()).toEqual(['Unverified']);
      expect(await page.getByRole('button', { name: 'Disable account…' }).isVisible()).toBe(true);
      await passwordStep(person.page, userEmail);
      await person.page.waitForURL(at('/account'));
      await expect.poll(() => page.reload().then(() => page.locator('#sessions li').count())).toBe(1);
    } finally {
      await person.context.close();
    }
  });

  it('a guest is sent to sign in; a non-admin gets a 403 page; an admin without two-step is told to turn it on', async () => {
    const { context, page } = await openBrowser();
    try {
      await page.goto(at('/admin/users/someone'));
      expect(onPath(page)).toBe('/login');
      expect(new URL(page.url()).searchParams.get('next')).toBe('/admin/users/someone');

      const email = uniqueEmail('plain');
      await registerIn(page, email, 'Plain User');
      const refused = await page.goto(at('/admin'));
      expect(refused!.status()).toBe(403);
      expect(await page.getByRole('heading', { level: 1 }).textContent()).toBe('You need an administrator account');
      expect(await headerLink(page, 'Admin').count()).toBe(0);
      await screenshot(page, 'admin-not-admin');
      // The API agrees with the page.
      expect(await page.evaluate(async () => (await fetch('/api/admin/users')).status)).toBe(403);

      // An administrator without a second step: the page says what to do, and the account page is where.
      grantAdmin(email);
      const secondStep = await page.goto(at('/admin'));
      expect(secondStep!.status()).toBe(403);
      expect(await page.getByRole('heading', { level: 1 }).textContent()).toBe('Sign in with your second step');
      expect(await page.getByText('Your account has no second step yet.').count()).toBe(1);
      expect(await headerLink(page, 'Admin').count()).toBe(1);
      await screenshot(page, 'admin-no-second-step');

      // Turning the app on makes this session two-step: the pages open.
      await turnOnApp(page);
      await page.goto(at('/admin'));
      await expect.poll(() => page.locator('#users li').count()).toBeGreaterThan(0);
    } finally {
      await context.close();
    }
  });

  it("a remembered browser's admin session is stepped up with the app's code on the page, which then opens", async () => {
    const email = uniqueEmail('remembered');
    const { context, page } = await openBrowser();
    try {
      const app = await newAdmin(page, email, 'Remembered Admin', { rememberDevice: true });
      await signOut(page);
      await passwordStep(page, email, '/admin?query=remembered');
      await page.waitForURL((url) => url.pathname === '/admin');

      // The password alone signed in: the second step, here, before anything shows.
      expect(await page.getByRole('heading', { level: 1 }).textContent()).toBe('Sign in with your second step');
      expect(await page.locator('#users').count()).toBe(0);
      expect(await page.getByLabel('Remember this device').count()).toBe(0);
      await screenshot(page, 'admin-step-up');
      await page.getByLabel('Code from your authenticator app').fill('000000');
      await page.getByRole('button', { name: 'Verify' }).click();
      await expect.poll(() => page.locator('[data-error-for=code]').textContent()).toBe('That code is not right, or was already used.');
      await page.getByLabel('Code from your authenticator app').fill(await app.code());
      await page.getByRole('button', { name: 'Verify' }).click();
      await expect.poll(() => page.locator('#users li').count()).toBeGreaterThan(0);
      expect(new URL(page.url()).searchParams.get('query')).toBe('remembered');
    } finally {
      await context.close();
    }
  });

  it('resets two-step sign-in, sends a reset link, changes the role and deletes, each asked first; the own account offers none of the self-targeted ones', async () => {
    const { client, email } = await signedUp(server.url, { name: 'Alan Turing' });
    const setup = await client.post('/api/auth/mfa/totp');
    expect((await client.post('/api/auth/mfa/totp/confirm', { code: totpCode(setup.body.secret, Date.now()) })).status).toBe(200);
    const { page } = admin;
    await openAccount(page, email);
    const badges = page.locator('[data-field=status] .badge');
    await expect.poll(() => badges.allTextContents()).toEqual(['Two-step', 'Unverified']);

    // Reset two-step sign-in: the question says what goes; Cancel gives the focus back.
    const reset = page.getByRole('button', { name: 'Reset two-step sign-in…' });
    await reset.click();
    await expect.poll(() => page.locator('[data-mfa-warning]').textContent()).toMatch(/^This removes the authenticator app, passkeys, recovery codes and remembered browsers of Alan Turing/);
    await page.locator('#mfa-form').getByRole('button', { name: 'Cancel' }).click();
    await expect.poll(() => page.evaluate('document.activeElement?.textContent')).toBe('Reset two-step sign-in…');
    await reset.click();
    await screenshot(page, 'admin-reset-two-step-question');
    await page.getByRole('button', { name: 'Reset two-step sign-in', exact: true }).click();
    await expect.poll(() => page.locator('#manage-status').textContent()).toBe('Two-step sign-in of Alan Turing is reset; they were told by email.');
    await expect.poll(() => badges.allTextContents()).toEqual(['Unverified']);
    expect(await reset.isVisible()).toBe(false);
    expect((await client.get('/api/auth/mfa')).status).toBe(401); // their sessions ended

    await page.getByRole('button', { name: 'Send password reset link' }).click();
    await expect.poll(() => page.locator('#manage-status').textContent()).toBe(`A link to choose a new password is on its way to ${email}.`);

    await page.getByRole('button', { name: 'Make administrator…' }).click();
    await expect.poll(() => page.locator('[data-role-warning]').textContent()).toMatch(/^Alan Turing will see and manage every account/);
    await page.getByRole('button', { name: 'Make administrator', exact: true }).click();
    await expect.poll(() => badges.allTextContents()).toEqual(['Admin', 'Unverified']);
    await expect.poll(() => page.getByRole('button', { name: 'Remove administrator role…' }).count()).toBe(1);
    await expect.poll(() => page.locator('#events li strong').allTextContents()).toEqual(
      expect.arrayContaining(['Role changed', 'Password reset link sent', 'Two-step sign-in reset']),
    );
    await labelsStartWithText(page);
    await screenshot(page, 'admin-user-actions');

    // Deleting asks for a confirmation box too.
    await page.getByRole('button', { name: 'Delete account…' }).click();
    const deleteForm = page.locator('#delete-form');
    await deleteForm.getByRole('button', { name: 'Delete account' }).click();
    await expect.poll(() => deleteForm.locator('[data-error-for=confirm]').textContent()).toMatch(/confirm/i);
    await deleteForm.getByLabel(/I understand/).check();
    await deleteForm.getByRole('button', { name: 'Delete account' }).click();
    await expect.poll(() => page.locator('#user-done').textContent()).toBe(`The account of Alan Turing (${email}) is deleted.`);
    expect((await new Client(server.url).post('/api/auth/login', { email, password: STRONG_PASSWORD })).status).toBe(401);

    // The administrator's own page: nothing that the API refuses on oneself (409 self_target).
    await openAccount(page, admin.email);
    expect(await page.getByText('This is your own account').count()).toBe(1);
    for (const name of ['Disable account…', 'Delete account…', 'Remove administrator role…']) {
      expect(await page.getByRole('button', { name }).count()).toBe(0);
    }
    await expect.poll(() => page.locator('#sessions li').count()).toBeGreaterThan(0);
  });

  it('pages through the accounts with links that keep the search', async () => {
    const label = `page${Date.now()}`;
    for (let i = 0; i < 3; i++) await signedUp(server.url, { email: uniqueEmail(label), name: `Paged ${i}` });
    const { page } = admin;
    await page.goto(at(`/admin?query=${label}&limit=2`));
    await expect.poll(() => page.locator('#users li').count()).toBe(2);
    const first = await page.locator('#users li strong').allTextContents();
    expect(first).toEqual(['Paged 2', 'Paged 1']); // newest first
    await page.getByRole('link', { name: 'Next page' }).click();
    await page.waitForURL((url) => url.searchParams.has('cursor'));
    await expect.poll(() => page.locator('#users li strong').allTextContents()).toEqual(['Paged 0']);
    expect(new URL(page.url()).searchParams.get('query')).toBe(label);
    expect(await page.getByRole('link', { name: 'Next page' }).count()).toBe(0);
    await screenshot(page, 'admin-second-page');
    await page.getByRole('link', { name: 'First page' }).click();
    await expect.poll(() => page.locator('#users li').count()).toBe(2);
    await labelsStartWithText(page);
  });

  it('no page broke its Content-Security-Policy', () => {
    expect(cspViolations).toEqual([]);
  });
});
