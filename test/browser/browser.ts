/**
 * Debian's Chromium, driven by playwright-core (never a downloaded browser). Every "browser" is
 * a persistent context on its own user-data-dir, so a test can close it and start it again on
 * the same profile, as a person restarting their browser would.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Locator, type Page } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';
export const hasChromium = existsSync(CHROMIUM);
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
export const SCREENSHOTS = join(process.cwd(), 'test-results', 'screenshots');

const profiles: string[] = [];
/** Console reports of Content-Security-Policy violations, from every browser opened here. */
export const cspViolations: string[] = [];

export function freshProfile(): string {
  const dir = mkdtempSync(join(tmpdir(), 'latch-chromium-'));
  profiles.push(dir);
  return dir;
}

export async function openBrowser(profile = freshProfile()): Promise<{ context: BrowserContext; page: Page; profile: string }> {
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: ARGS,
    viewport: { width: 1100, height: 800 },
    locale: 'en-GB',
    timezoneId: 'UTC',
  });
  context.setDefaultTimeout(10_000);
  // A CSP violation means a page relies on something the policy forbids: collect them all.
  context.on('console', (message) => {
    if (message.type() === 'error' && /Content Security Policy/i.test(message.text())) cspViolations.push(message.text());
  });
  const page = context.pages()[0] ?? (await context.newPage());
  return { context, page, profile };
}

export function removeProfiles(): void {
  for (const dir of profiles.splice(0)) rmSync(dir, { recursive: true, force: true });
}

export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(SCREENSHOTS, { recursive: true });
  const path = join(SCREENSHOTS, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  return path;
}

/** One part of a page (a section, a card), for pictures that show only what they are about. */
export async function screenshotOf(part: Locator, name: string): Promise<string> {
  mkdirSync(SCREENSHOTS, { recursive: true });
  const path = join(SCREENSHOTS, `${name}.png`);
  await part.screenshot({ path });
  return path;
}
