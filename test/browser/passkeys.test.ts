/**
 * Passkeys in a real browser: Chromium's virtual authenticator (DevTools protocol, WebAuthn
 * domain) stands in for a phone or a security key. WebAuthn needs a secure context and an rp
 * id that is a domain, so the pages are served at http://localhost:<port>, and the server's
 * PUBLIC_URL names that port (the rp id is then `localhost`, the origin that URL).
 */
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BrowserContext, CDPSession, Page } from 'playwright-core';
import { sqlite } from '../support/backends.js';
import { startServer, STRONG_PASSWORD, uniqueEmail, type TestServer } from '../support/server.js';
import { cspViolations, hasChromium, openBrowser, removeProfiles, screenshot, screenshotOf } from './browser.js';

/** A port free now, for the PUBLIC_URL the server must know before it listens. */
async function freePort(): Promise<number> {
  const probe = net.createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as AddressInfo;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}

/** A platform authenticator that holds passkeys, checks its user and answers without a person. */
interface Authenticator {
  cdp: CDPSession;
  id: string;
  credentials(): Promise<{ isResidentCredential: boolean; rpId?: string }[]>;
  /** false: the user "fails" the fingerprint or closes the prompt; the browser answers NotAllowedError. */
  userVerified(verified: boolean): Promise<void>;
  /** false: no request is answered until it is true again (a person who has not touched anything yet). */
  presence(enabled: boolean): Promise<void>;
}

async function addAuthenticator(context: BrowserContext, page: Page): Promise<Authenticator> {
  const cdp = await context.newCDPSession(page);
  await cdp.send('WebAuthn.enable');
  const { authenticatorId: id } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: { protocol: 'ctap2', transport: 'internal', hasResidentKey: true, hasUserVerification: true, isUserVerified: true, automaticPresenceSimulation: true },
  });
  return {
    cdp,
    id,
    credentials: async () => (await cdp.send('WebAuthn.getCredentials', { authenticatorId: id })).credentials,
    userVerified: async (isUserVerified) => {
      await cdp.send('WebAuthn.setUserVerified', { authenticatorId: id, isUserVerified });
    },
    presence: async (enabled) => {
      await cdp.send('WebAuthn.setAutomaticPresenceSimulation', { authenticatorId: id, enabled });
    },
  };
}

/**
 * The virtual authenticator answers the sign-in page's autofill request (conditional UI) at
 * once, as if the person picked the passkey from the email field's suggestions. Tests of the
 * buttons and the password take it away, as browsers without conditional UI are.
 */
const WITHOUT_AUTOFILL = 'if (window.PublicKeyCredential) PublicKeyCredential.isConditionalMediationAvailable = () => Promise.resolve(false);';

describe.skipIf(!hasChromium)('passkeys in a browser', { timeout: 120_000 }, () => {
  let server: TestServer;
  let cleanup: () => Promise<void>;
  let origin: string;

  beforeAll(async () => {
    const storage = await sqlite.provision();
    cleanup = storage.cleanup;
    const port = await freePort();
    origin = `http://localhost:${port}`;
    server = await startServer({ ...storage.config, publicUrl: origin, listenPort: port });
  });

  afterAll(async () => {
    await server?.close();
    await cleanup?.();
    removeProfiles();
  });

  const at = (path: string) => origin + path;
  const onPath = (page: Page) => new URL(page.url()).pathname;
  /** How the browser's current session was proven (GET /me), from the page itself. */
  const proofs = (page: Page): Promise<string[]> =>
    page.evaluate(async () => {
      const me = await fetch('/api/auth/me');
      return me.ok ? ((await me.json()) as { session: { methods: string[] } }).session.methods : [];
    });

  async function register(page: Page, email: string) {
    await page.goto(at('/register'));
    await page.getByLabel('Name').fill('Ada Lovelace');
    await page.getByLabel('Email').fill(email);
    await page.getByLabel('Password').fill(STRONG_PASSWORD);
    await page.getByRole('button', { name: 'Create account' }).click();
    await page.waitForURL(at('/account'));
  }

  async function signOut(page: Page) {
    await page.locator('#logout-form button').click();
    await page.waitForURL((url) => url.pathname === '/login');
  }

  /** The password form; the caller waits for where it leads. */
  async function signInWithPassword(page: Page, email: string, options: { rememberMe?: boolean } = {}) {
    await page.goto(at('/login'));
    await page.getByLabel('Email').fill(email);
    await page.getByLabel('Password').fill(STRONG_PASSWORD);
    if (options.rememberMe) await page.getByLabel(/Keep me signed in/).check();
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  }

  async function addPasskey(page: Page, name: string) {
    const form = page.locator('#passkey-add-form');
    await form.getByLabel('Name of the new passkey').fill(name);
    await form.getByRole('button', { name: 'Add a passkey' }).click();
  }

  const passkeyNames = (page: Page) => page.locator('#passkey-list li strong').allTextContents();

  it('adds a passkey, signs in with it alone, renames it, uses it as the second step, steps up with it, removes it', async () => {
    const email = uniqueEmail('passkey');
    const { context, page } = await openBrowser();
    const requests: { method: string; path: string; body: string | null }[] = [];
    page.on('request', (r) => requests.push({ method: r.method(), path: new URL(r.url()).pathname, body: r.postData() }));
    try {
      await page.addInitScript(WITHOUT_AUTOFILL);
      const authenticator = await addAuthenticator(context, page);
      await register(page, email);

      // Add one, named: the first second factor turns two-step on and brings recovery codes, shown once.
      await expect.poll(() => page.locator('#passkey-list').textContent()).toBe('No passkeys yet.');
      expect(await page.locator('#pk-name').inputValue()).toMatch(/^Chrome on \w+/); // a name to start from
      await addPasskey(page, 'Work laptop');
      await expect.poll(() => page.locator('#recovery-list li').count()).toBe(10);
      expect(await page.locator('#passkey-add-form + #recovery-codes').count()).toBe(1); // next to the action that made them
      await expect.poll(() => page.locator('#passkeys-status').textContent()).toBe(
        'Passkey “Work laptop” added. Two-step sign-in is on. Every other session was signed out.',
      );
      expect(await passkeyNames(page)).toEqual(['Work laptop']);
      const item = page.locator('#passkey-list li').first();
      expect(await item.locator('.muted').textContent()).toMatch(/^Added .+ · not used yet$/);
      const stored = await authenticator.credentials();
      expect(stored).toHaveLength(1);
      expect(stored[0]!.isResidentCredential).toBe(true);
      expect(stored[0]!.rpId).toBe('localhost');
      // The two-step section says passkeys now serve as the second step.
      expect(await page.locator('#twostep-off [data-factors=passkeys]').isVisible()).toBe(true);
      await expect.poll(() => page.locator('#recovery-left').textContent()).toBe('10 recovery codes left.');
      await screenshotOf(page.locator('#passkeys'), 'passkeys-added');
      await page.getByRole('button', { name: 'I have stored them' }).click();
      await expect.poll(() => page.evaluate('document.activeElement?.id')).toBe('passkeys-h');
      expect(await proofs(page)).toEqual(['password', 'passkey']);

      // Every labelled button is named by its visible text first (WCAG 2.5.3).
      const labelled = await page.locator('#passkeys button[aria-label]').evaluateAll((nodes) =>
        nodes.map((n) => ({ text: (n.textContent ?? '').trim(), name: n.getAttribute('aria-label') ?? '' })),
      );
      expect(labelled.map((l) => l.name)).toEqual(['Rename: Work laptop', 'Remove: Work laptop']);
      for (const { text, name } of labelled) expect(name.startsWith(text)).toBe(true);

      // Signed out, the passkey alone signs in: no password typed.
      await signOut(page);
      await page.getByLabel(/Keep me signed in/).check();
      expect(await page.getByLabel('Email').getAttribute('autocomplete')).toBe('username webauthn');
      await screenshot(page, 'passkeys-login');
      const signIn = page.waitForRequest((r) => r.url() === at('/api/auth/passkeys/login'));
      await page.getByRole('button', { name: 'Sign in with a passkey' }).click();
      expect(JSON.parse((await signIn).postData() ?? '{}').rememberMe).toBe(true);
      await page.waitForURL(at('/account'));
      expect(await proofs(page)).toEqual(['passkey']);
      expect(requests.some((r) => r.path === '/api/auth/login')).toBe(false);
      await expect.poll(() => item.locator('.muted').textContent()).toMatch(/ · last used /);

      // Renamed in place, with the keyboard: Enter opens the form, Escape cancels, Enter saves.
      const rename = page.getByRole('button', { name: 'Rename: Work laptop' });
      await rename.focus();
      await page.keyboard.press('Enter');
      const newName = page.getByLabel('New name for “Work laptop”');
      await expect.poll(() => page.evaluate('document.activeElement?.name')).toBe('name');
      await page.keyboard.press('Escape');
      await expect.poll(() => page.evaluate('document.activeElement?.getAttribute("aria-label")')).toBe('Rename: Work laptop');
      await page.keyboard.press('Enter');
      await newName.fill('');
      await page.keyboard.press('Enter');
      await expect.poll(() => page.locator('#passkey-list [data-error-for=name]').textContent()).toMatch(/required/);
      await newName.fill('Travel key');
      await screenshotOf(page.locator('#passkeys'), 'passkeys-rename');
      await page.keyboard.press('Enter');
      await expect.poll(() => passkeyNames(page)).toEqual(['Travel key']);
      await expect.poll(() => page.locator('#passkeys-status').textContent()).toBe('The passkey is now called “Travel key”.');
      await expect.poll(() => page.evaluate('document.activeElement?.getAttribute("aria-label")')).toBe('Rename: Travel key');

      // The password now asks for a second step, which offers the passkey; this browser is remembered.
      await signOut(page);
      await signInWithPassword(page, email);
      await page.waitForURL((url) => url.pathname === '/login/second-step');
      expect(new URL(page.url()).searchParams.get('methods')).toBe('passkey,recovery_code');
      const usePasskey = page.getByRole('button', { name: 'Use a passkey' });
      await usePasskey.waitFor();
      // No app on this account: the code the page takes is a recovery code, without a toggle.
      expect(await page.getByLabel('Recovery code').isVisible()).toBe(true);
      expect(await page.locator('#method-toggle').isVisible()).toBe(false);
      await screenshot(page, 'passkeys-second-step');
      await page.getByLabel('Remember this device').check();
      await usePasskey.click();
      await page.waitForURL(at('/account'));
      expect(await proofs(page)).toEqual(['password', 'passkey']);

      // A remembered browser: the password alone signs in, and removing the passkey asks for it first.
      await signOut(page);
      await signInWithPassword(page, email);
      await page.waitForURL(at('/account'));
      expect(await proofs(page)).toEqual(['password']);
      await page.getByRole('button', { name: 'Remove: Travel key' }).click();
      const question = page.locator('#passkey-list .confirm');
      await expect.poll(() => question.locator('p').first().textContent()).toBe(
        'Remove “Travel key”? You can no longer sign in with it. It is your only second step: two-step sign-in turns off, and every other session is signed out.',
      );
      await screenshotOf(page.locator('#passkeys'), 'passkeys-remove-confirm');
      // Cancel leaves it, with the focus back on its Remove button.
      await question.getByRole('button', { name: 'Cancel' }).click();
      await expect.poll(() => page.evaluate('document.activeElement?.getAttribute("aria-label")')).toBe('Remove: Travel key');
      await page.keyboard.press('Enter');
      await question.getByRole('button', { name: 'Remove passkey' }).click();
      const stepUp = page.locator('#stepup-form');
      await stepUp.getByRole('heading', { name: 'Confirm with a passkey' }).waitFor();
      expect(await page.locator('#passkey-list + #stepup-form').count()).toBe(1);
      await expect.poll(() => page.evaluate('document.activeElement?.id')).toBe('stepup-passkey');
      // No app: a recovery code is the other way, and there is nothing to toggle to.
      expect(await stepUp.getByLabel('Recovery code').isVisible()).toBe(true);
      expect(await stepUp.getByLabel('Code from your authenticator app').isVisible()).toBe(false);
      expect(await page.locator('#stepup-toggle').isVisible()).toBe(false);
      await screenshotOf(page.locator('#passkeys'), 'passkeys-step-up');
      await stepUp.getByRole('button', { name: 'Use a passkey' }).click();
      await expect.poll(() => page.locator('#passkeys-status').textContent()).toBe(
        '“Travel key” is removed. Two-step sign-in is off. Every other session was signed out.',
      );
      expect(await stepUp.isHidden()).toBe(true);
      await expect.poll(() => page.locator('#passkey-list').textContent()).toBe('No passkeys yet.');
      await expect.poll(() => page.evaluate('document.activeElement?.id')).toBe('passkeys-h');
      await page.locator('#twostep-off [data-factors=none]').waitFor();
      await expect.poll(() => page.locator('#events li strong').allTextContents()).toContain('Passkey removed');
      await screenshotOf(page.locator('#passkeys'), 'passkeys-removed');

      // The authenticator still holds it, but the account no longer knows it.
      await signOut(page);
      await page.getByRole('button', { name: 'Sign in with a passkey' }).click();
      await expect.poll(() => page.locator('[data-passkey-alert]').textContent()).toBe(
        'That passkey was not accepted. Try another one, or use your password.',
      );
      expect(onPath(page)).toBe('/login');
      await screenshot(page, 'passkeys-not-accepted');

      // And the password alone signs in again: two-step is off.
      await signInWithPassword(page, email);
      await page.waitForURL(at('/account'));
      expect(await proofs(page)).toEqual(['password']);
    } finally {
      await context.close();
    }
  });

  it('a closed passkey prompt says so, and the page stays usable', async () => {
    const email = uniqueEmail('cancel');
    const { context, page } = await openBrowser();
    try {
      await page.addInitScript(WITHOUT_AUTOFILL);
      const authenticator = await addAuthenticator(context, page);
      await register(page, email);

      // On the account page: no passkey is added.
      await authenticator.userVerified(false);
      await addPasskey(page, 'Phone');
      const addAlert = page.locator('#passkey-add-form [data-form-alert]');
      await expect.poll(() => addAlert.textContent()).toBe('The passkey prompt was closed; no passkey was added. You can try again.');
      expect(await passkeyNames(page)).toEqual([]);
      expect(await page.getByRole('button', { name: 'Add a passkey' }).isEnabled()).toBe(true);
      await authenticator.userVerified(true);
      await page.getByRole('button', { name: 'Add a passkey' }).click();
      await expect.poll(() => passkeyNames(page)).toEqual(['Phone']);
      expect(await addAlert.isHidden()).toBe(true);

      // On the sign-in page: the message, the button ready again, and the password still works.
      await signOut(page);
      await authenticator.userVerified(false);
      const button = page.getByRole('button', { name: 'Sign in with a passkey' });
      await button.click();
      const alert = page.locator('[data-passkey-alert]');
      await expect.poll(() => alert.textContent()).toBe('The passkey prompt was closed; you can try again or use your password.');
      await expect.poll(() => button.isEnabled()).toBe(true);
      await expect.poll(() => page.evaluate('document.activeElement?.id')).toBe('passkey-sign-in');
      await screenshot(page, 'passkeys-cancelled');

      // Tried again, with the user verified: signed in.
      await authenticator.userVerified(true);
      await button.click();
      await page.waitForURL(at('/account'));
      expect(await proofs(page)).toEqual(['passkey']);

      // On the second step: the passkey is gone from this authenticator; the recovery code still works.
      await signOut(page);
      await authenticator.cdp.send('WebAuthn.clearCredentials', { authenticatorId: authenticator.id });
      await signInWithPassword(page, email);
      await page.waitForURL((url) => url.pathname === '/login/second-step');
      await page.getByRole('button', { name: 'Use a passkey' }).click();
      await expect.poll(() => page.locator('[data-passkey-alert]').textContent()).toBe('The passkey prompt was closed; you can try again or enter a code.');
      expect(onPath(page)).toBe('/login/second-step');
      await screenshot(page, 'passkeys-second-step-cancelled');
    } finally {
      await context.close();
    }
  });

  it('the browser’s autofill offers the passkey on the sign-in page; the button replaces its request', async () => {
    const email = uniqueEmail('autofill');
    const { context, page } = await openBrowser();
    const signIns: string[] = [];
    page.on('request', (r) => {
      if (r.url() === at('/api/auth/passkeys/login')) signIns.push(r.postData() ?? '');
    });
    try {
      const authenticator = await addAuthenticator(context, page);
      await register(page, email);
      await addPasskey(page, 'Laptop');
      await expect.poll(() => page.locator('#recovery-list li').count()).toBe(10);

      // Signed out, the sign-in page asks for a passkey in the background; "picked", it signs in.
      await signOut(page);
      await page.waitForURL(at('/account'));
      expect(await proofs(page)).toEqual(['passkey']);
      expect(signIns).toHaveLength(1);

      // Nobody picks one (no presence yet): the button's request replaces the waiting one.
      await authenticator.presence(false);
      const armed = page.waitForResponse(at('/api/auth/passkeys/login/options'));
      await signOut(page);
      await armed;
      await page.waitForTimeout(500); // the page hands the options to the browser
      expect(onPath(page)).toBe('/login');
      await authenticator.presence(true);
      await page.getByRole('button', { name: 'Sign in with a passkey' }).click();
      await page.waitForURL(at('/account'));
      expect(signIns).toHaveLength(2);
    } finally {
      await context.close();
    }
  });

  it('a browser without passkeys gets a sentence instead of the button', async () => {
    const { context, page } = await openBrowser();
    try {
      await page.addInitScript('delete window.PublicKeyCredential');
      await page.goto(at('/login'));
      const part = page.locator('[data-passkey]');
      await expect.poll(() => part.locator('[data-passkey-unsupported]').textContent()).toBe(
        'This browser cannot use passkeys here; sign in with your password.',
      );
      expect(await part.getByRole('button').count()).toBe(0);
      await screenshot(page, 'passkeys-unsupported');
    } finally {
      await context.close();
    }
  });

  it('serves the WebAuthn library as same-origin modules, with the pages’ policy', async () => {
    const index = await fetch(at('/assets/webauthn/index.js'));
    expect(index.status).toBe(200);
    expect(index.headers.get('content-type')).toMatch(/^text\/javascript/);
    expect(index.headers.get('cache-control')).toBe('public, max-age=300');
    expect(index.headers.get('content-security-policy')).toContain("script-src 'self'");
    expect(await index.text()).toContain("from './methods/startAuthentication.js'");
    expect((await fetch(at('/assets/webauthn/methods/startRegistration.js'))).status).toBe(200);
    // Only its modules: no type declarations, no package file, nothing outside the folder.
    for (const path of ['/assets/webauthn/index.d.ts', '/assets/webauthn/package.json', '/assets/webauthn/../package.json', '/assets/webauthn/%2e%2e/package.json']) {
      expect((await fetch(at(path))).status, path).toBe(404);
    }
  });

  it('no page broke its Content-Security-Policy', () => {
    expect(cspViolations).toEqual([]);
  });
});
