/**
 * The redirect after sign-in (THREATS.md item 4: check the value you use, after every
 * normalisation). `next` must name a path on this origin; an input that parsing turns into
 * `//host` (dot segments, `%2e`, `\` folded to `/`) must not come out as a Location a browser
 * reads as another host. The server's `safeNext`, the page script's copy and the HTTP answers
 * of GET /login are attacked with the same inputs.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { safeNext } from '../../src/web/next.js';
import { sqlite } from '../support/backends.js';
import { Client, signedUp, startServer, type TestServer } from '../support/server.js';

/** Inputs a raw-string check lets through but URL parsing turns into `//host` (or worse). */
const NORMALISED_TO_OTHER_HOST = [
  '/.//evil.example',
  '/..//x',
  '/%2e//x',
  '/%2E//x',
  '/a/..//x',
  '/%2e%2e//x',
  '/.%2e//x',
  '/%2e./evil.example/..//x',
  '/a/b/../..//evil.example/path?q=1#h',
  '/././/evil.example',
];

const HOSTILE = [
  ...NORMALISED_TO_OTHER_HOST,
  '//evil.example',
  '/\\evil.example',
  '/./\\evil',
  '/.\\/evil',
  '/..\\\\evil',
  '/.%2f/evil',
  '/./%2f/evil',
  '/.%5c/evil',
  '/%5c%5cevil.example',
  '/\t/evil.example',
  '/.\n//evil.example',
  '/%09/evil.example',
  'https://evil.example/',
  'https:evil.example',
  'javascript:alert(1)',
  './/evil.example',
  'evil.example',
  ' //evil.example',
];

const ORIGIN = 'http://latch.test';

/** What a browser does with the value: it must stay on this origin, as a path. */
function expectLocalPath(value: string, input: string): void {
  expect(value, input).toMatch(/^\//);
  expect(value.startsWith('//'), `${input} -> ${value}`).toBe(false);
  expect(value.startsWith('/\\'), `${input} -> ${value}`).toBe(false);
  expect(value, input).not.toMatch(/[\u0000-\u001f\u007f]/);
  expect(new URL(value, ORIGIN).origin, `${input} -> ${value}`).toBe(ORIGIN);
}

describe('safeNext (server)', () => {
  it.each(NORMALISED_TO_OTHER_HOST)('refuses %j, which parses to another host', (input) => {
    expect(safeNext(input)).toBeUndefined();
  });

  it.each(HOSTILE)('returns nothing or a path on this origin for %j', (input) => {
    const next = safeNext(input);
    if (next !== undefined) expectLocalPath(next, input);
  });

  it('keeps ordinary paths, resolved', () => {
    expect(safeNext('/account')).toBe('/account');
    expect(safeNext('/account?tab=sessions#events')).toBe('/account?tab=sessions#events');
    expect(safeNext('/a/../account')).toBe('/account');
    expect(safeNext('/.%2f/evil')).toBe('/.%2f/evil'); // an encoded slash stays a path segment
  });
});

describe('safeNext (page script, src/web/assets/lib.js)', () => {
  let browserSafeNext: (raw: unknown) => string | undefined;

  beforeAll(async () => {
    // The script reads only `location.origin`; the URL parser is the same WHATWG one as a browser's.
    vi.stubGlobal('location', { origin: ORIGIN });
    const lib = (await import(new URL('../../src/web/assets/lib.js', import.meta.url).href)) as { safeNext: typeof browserSafeNext };
    browserSafeNext = lib.safeNext;
  });
  afterAll(() => {
    vi.unstubAllGlobals();
  });

  it.each(NORMALISED_TO_OTHER_HOST)('refuses %j, which parses to another host', (input) => {
    expect(browserSafeNext(input)).toBeUndefined();
  });

  it.each(HOSTILE)('returns nothing or a path on this origin for %j', (input) => {
    const next = browserSafeNext(input);
    if (next !== undefined) expectLocalPath(next, input);
  });

  it('agrees with the server on every input', () => {
    for (const input of [...HOSTILE, '/account', '/a/../account?x=1#y']) expect(browserSafeNext(input), input).toBe(safeNext(input));
  });
});

describe('GET /login?next=', () => {
  let server: TestServer;
  let cleanup: () => Promise<void>;
  let signedIn: Client;

  beforeAll(async () => {
    const storage = await sqlite.provision();
    cleanup = storage.cleanup;
    server = await startServer(storage.config);
    signedIn = (await signedUp(server.url)).client;
  });
  afterAll(async () => {
    await server?.close();
    await cleanup?.();
  });

  /** As typed in the address bar, and percent-encoded once (the query is decoded once by the server). */
  const queries = (input: string) => [`next=${encodeURIComponent(input)}`, ...(/[\t\n]/.test(input) ? [] : [`next=${input}`])];

  it.each(HOSTILE)('a signed-in browser is redirected on this origin for %j', async (input) => {
    for (const query of queries(input)) {
      const res = await signedIn.get(`/login?${query}`);
      expect(res.status, query).toBe(303);
      const location = res.headers.get('location') ?? '';
      expectLocalPath(location, query);
      expect(new URL(location, server.url).origin, query).toBe(server.url);
    }
  });

  it.each(HOSTILE)('the sign-in page carries no foreign data-next for %j', async (input) => {
    for (const query of queries(input)) {
      const res = await new Client(server.url).get(`/login?${query}`);
      expect(res.status, query).toBe(200);
      const attribute = /<form id="login-form"[^>]* data-next="([^"]*)"/.exec(res.text);
      expect(attribute, query).not.toBeNull();
      const next = attribute![1]!.replace(/&amp;/g, '&').replace(/&#39;/g, "'").replace(/&quot;/g, '"');
      if (next !== '') expectLocalPath(next, query);
    }
  });

  it('a safe next is honoured', async () => {
    const res = await signedIn.get(`/login?next=${encodeURIComponent('/account?tab=sessions')}`);
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe('/account?tab=sessions');
  });
});
