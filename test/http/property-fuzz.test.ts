/**
 * Property-based fuzzing of the real, running server (API.md, "Conventions"): random and
 * adversarial bodies, content types, encodings, headers, cookies, paths and methods at every
 * endpoint, signed in and not. Whatever arrives: never a 5xx (503 included: the services are up),
 * never a crash, nothing internal in a body, every error in the one shape, `no-store` on every
 * /api response, no prototype pollution, and the heap stays flat.
 *
 * A failure shows the shrunk request and response; `FUZZ_SEED=<seed>` replays a reported run.
 *
 * Requests that fetch cannot express (bytes outside Latin-1 or control characters in a header, a
 * body on GET/HEAD, unknown methods, verbatim paths) go over a raw socket instead.
 */
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import v8 from 'node:v8';
import vm from 'node:vm';
import { deflateSync, gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { beforeAll, expect, it } from 'vitest';
import { describeOnBackends, postgresRedis, sqlite } from '../support/backends.js';
import { Client, STRONG_PASSWORD } from '../support/server.js';

// ---------------------------------------------------------------------------------------------
// Prototype snapshot, before any request: compared after the runs.
// ---------------------------------------------------------------------------------------------
const PROTOTYPES = { Object: Object.prototype, Array: Array.prototype, Function: Function.prototype, String: String.prototype };
const protoSnapshot = Object.fromEntries(Object.entries(PROTOTYPES).map(([k, p]) => [k, Reflect.ownKeys(p).map(String).sort()]));

// ---------------------------------------------------------------------------------------------
// What one generated request looks like.
// ---------------------------------------------------------------------------------------------

/** Replaced at send time by the signed-in owner's current session id. */
const CURRENT_SESSION = '{{current-session-id}}';
/** Replaced at send time by this server's own origin. */
const SELF_ORIGIN = '{{self-origin}}';
/** A second account that fuzzed logins may hit with wrong passwords (never its real one). */
const DECOY_EMAIL = `fuzz-decoy.${process.pid}.${Date.now()}@example.test`;

type BodyEncoding = 'none' | 'gzip' | 'deflate';

interface FuzzRequest {
  method: string;
  path: string;
  /** Send the owner's valid session cookie first (extra cookies follow it). */
  auth: boolean;
  /** Header name/value pairs, in order. */
  headers: [string, string][];
  /** Extra cookies; for a guest they are the whole Cookie header. */
  cookies: [string, string][] | string | undefined;
  body: string | undefined;
  /** Really compress the body (the Content-Encoding header, if any, is in `headers`). */
  encoding: BodyEncoding;
  /** Force the raw socket even where fetch would do. */
  raw: boolean;
}

interface Endpoint {
  method: string;
  path: string;
  who: 'guest' | 'user' | 'anyone';
  /** In API.md, not (yet) in the router. */
  planned?: true;
}

/** Every endpoint of API.md. Ones not implemented yet answer 404; the properties hold either way. */
const ENDPOINTS: Endpoint[] = [
  { method: 'POST', path: '/api/auth/register', who: 'guest' },
  { method: 'POST', path: '/api/auth/login', who: 'guest' },
  { method: 'POST', path: '/api/auth/logout', who: 'user' },
  { method: 'GET', path: '/api/auth/me', who: 'user' },
  { method: 'POST', path: '/api/auth/reauth', who: 'user' },
  { method: 'GET', path: '/api/auth/sessions', who: 'user' },
  { method: 'DELETE', path: '/api/auth/sessions', who: 'user' },
  { method: 'DELETE', path: `/api/auth/sessions/${CURRENT_SESSION}`, who: 'user' },
  { method: 'DELETE', path: '/api/auth/sessions/AAAAAAAAAAAAAAAAAAAAAA', who: 'user' },
  { method: 'POST', path: '/api/auth/password', who: 'user' },
  { method: 'DELETE', path: '/api/auth/account', who: 'user' },
  { method: 'GET', path: '/healthz', who: 'anyone' },
  { method: 'GET', path: '/readyz', who: 'anyone' },
  // In API.md; 404 until implemented.
  { method: 'POST', path: '/api/auth/password/forgot', who: 'anyone', planned: true },
  { method: 'POST', path: '/api/auth/password/reset', who: 'anyone', planned: true },
  { method: 'POST', path: '/api/auth/email/verify', who: 'anyone', planned: true },
  { method: 'POST', path: '/api/auth/email/verify/resend', who: 'user', planned: true },
  { method: 'POST', path: '/api/auth/email', who: 'user', planned: true },
  { method: 'GET', path: '/api/auth/events', who: 'user', planned: true },
  { method: 'GET', path: '/api/openapi.json', who: 'anyone', planned: true },
];
const IMPLEMENTED_USER_ROUTES = new Set(
  ['POST /api/auth/logout', 'GET /api/auth/me', 'POST /api/auth/reauth', 'GET /api/auth/sessions', 'DELETE /api/auth/sessions',
    `DELETE /api/auth/sessions/${CURRENT_SESSION}`, 'DELETE /api/auth/sessions/AAAAAAAAAAAAAAAAAAAAAA', 'POST /api/auth/password',
    'DELETE /api/auth/account'],
);

// ---------------------------------------------------------------------------------------------
// Arbitraries
// ---------------------------------------------------------------------------------------------

const FIELDS = ['email', 'password', 'name', 'rememberMe', 'currentPassword', 'newPassword', 'token', 'newEmail'];
const PROTO_KEYS = ['__proto__', 'constructor', 'prototype'];

/** Characters that break naive code: NUL and controls, lone surrogates, BOM, RTL, NFKC expanders. */
const hostileChar = fc.oneof(
  { weight: 1, arbitrary: fc.constant('\u0000') },
  fc.constantFrom(
    '\u0000', '\u0001', '\u001f', '\u007f', '\r', '\n', '\t', '"', '\\', '/', '%', "'", ';', '=', '\u00a0', '\u0085', '\u2028',
    '\u2029', '\ufeff', '\ufffd', '\uffff', '\u202e', '\u0301', 'İ', 'ß', 'ﬁ', '\ufdfa', '\u{1f600}', '\u{10ffff}', '𝔸',
  ),
  fc.integer({ min: 0xd800, max: 0xdfff }).map((c) => String.fromCharCode(c)), // lone surrogates
);
const anyString = fc.oneof(
  { weight: 3, arbitrary: fc.string({ maxLength: 40 }) },
  { weight: 2, arbitrary: fc.string({ unit: 'grapheme', maxLength: 30 }) },
  { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 30 }) },
  { weight: 2, arbitrary: fc.string({ unit: hostileChar, maxLength: 20 }) },
  { weight: 1, arbitrary: fc.string({ unit: fc.oneof(fc.constantFrom('a', 'B', '@', '.', ' ', '-'), hostileChar), maxLength: 30 }) },
);
/** Big strings from a repeated seed: mostly under the 10 KiB body limit, sometimes over it. */
const hugeString = fc
  .tuple(anyString.filter((s) => s.length > 0), fc.oneof({ weight: 4, arbitrary: fc.integer({ min: 200, max: 9_000 }) }, fc.integer({ min: 9_000, max: 14_000 })))
  .map(([seed, n]) => seed.repeat(Math.ceil(n / seed.length)).slice(0, n));
const numberValue = fc.oneof(
  fc.integer(),
  fc.double(),
  fc.constantFrom(0, -0, 1, -1, 1e308, -1e308, 5e-324, 2 ** 53 + 2, 256, 257, 254, 255),
);
const leafValue = fc.oneof(
  { weight: 6, arbitrary: anyString },
  { weight: 1, arbitrary: hugeString },
  { weight: 2, arbitrary: fc.boolean() },
  { weight: 1, arbitrary: fc.constant(null) },
  { weight: 2, arbitrary: numberValue },
);
const keyArb = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom(...FIELDS, ...PROTO_KEYS) },
  { weight: 1, arbitrary: fc.constantFrom('Email', 'email ', 'PASSWORD', 'hasOwnProperty', 'toString', 'valueOf', 'isAdmin', 'emailVerified', 'id', '') },
  { weight: 1, arbitrary: anyString },
);

/** Serializes entries by hand, so `__proto__` and duplicate keys really are in the JSON text. */
function objectText(entries: [string, string][]): string {
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${v}`).join(',')}}`;
}
const leafText = leafValue.map((v) => JSON.stringify(v));
/** JSON text of one value of any type. */
const valueText: fc.Arbitrary<string> = fc.oneof(
  { weight: 8, arbitrary: leafText },
  { weight: 1, arbitrary: fc.constantFrom('1e999', '-1e999', '1E400', '0.00000000000000000000000000000001', '123456789012345678901234567890', '-0', '[]', '{}') },
  { weight: 2, arbitrary: fc.json({ maxDepth: 3, stringUnit: 'binary' }) },
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 2 }).map((v) => JSON.stringify(v)) },
  // Deeply nested arrays (up to ~5,000 levels still fit in the body limit), with or without a leaf.
  {
    weight: 1,
    arbitrary: fc.tuple(fc.integer({ min: 1, max: 6_000 }), fc.option(leafText, { nil: '' })).map(([d, leaf]) => '['.repeat(d) + leaf + ']'.repeat(d)),
  },
  // Deeply nested objects keyed by real field names and __proto__.
  {
    weight: 1,
    arbitrary: fc.tuple(fc.integer({ min: 1, max: 800 }), keyArb, leafText).map(([d, k, leaf]) => `{${JSON.stringify(k)}:`.repeat(d) + leaf + '}'.repeat(d)),
  },
  { weight: 1, arbitrary: fc.array(fc.tuple(keyArb, leafText), { maxLength: 5 }).map(objectText) },
  { weight: 1, arbitrary: fc.array(leafText, { maxLength: 6 }).map((items) => `[${items.join(',')}]`) },
);

/** Something shaped like an email, often valid, sometimes subtly not. */
const plausibleEmail = fc.oneof(
  { weight: 3, arbitrary: fc.emailAddress() },
  { weight: 1, arbitrary: fc.emailAddress().map((e) => e.toUpperCase()) },
  { weight: 1, arbitrary: fc.emailAddress().map((e) => ` \t${e}  `) },
  { weight: 2, arbitrary: fc.tuple(fc.emailAddress(), hostileChar, fc.nat()).map(([e, c, i]) => e.slice(0, i % (e.length + 1)) + c + e.slice(i % (e.length + 1))) },
  { weight: 2, arbitrary: fc.tuple(fc.emailAddress(), fc.nat()).map(([e, i]) => `${e.slice(0, i % (e.length + 1))}\u0000${e.slice(i % (e.length + 1))}`) },
  { weight: 1, arbitrary: fc.constantFrom(DECOY_EMAIL, DECOY_EMAIL.toUpperCase(), ` ${DECOY_EMAIL} `, `${DECOY_EMAIL}\u0000`, `\u0000${DECOY_EMAIL}`) },
  { weight: 1, arbitrary: fc.string({ unit: fc.oneof(fc.constantFrom('a', '@', '.', 'é', ' '), hostileChar), maxLength: 30 }) },
  { weight: 1, arbitrary: fc.integer({ min: 240, max: 270 }).map((n) => `${'a'.repeat(n - 7)}@x.test`) },
);
const plausiblePassword = fc
  .oneof(
    { weight: 3, arbitrary: fc.string({ unit: 'grapheme', minLength: 15, maxLength: 40 }) },
    { weight: 2, arbitrary: fc.string({ unit: 'binary', minLength: 1, maxLength: 300 }) },
    { weight: 2, arbitrary: fc.string({ unit: hostileChar, minLength: 1, maxLength: 30 }) },
    { weight: 1, arbitrary: fc.integer({ min: 250, max: 262 }).map((n) => 'Zq8!'.repeat(70).slice(0, n)) },
    { weight: 1, arbitrary: fc.constantFrom('\ufdfa'.repeat(15), 'ﬁ'.repeat(140), 'password', 'password1234567890', '') },
  )
  .filter((p) => p !== STRONG_PASSWORD);
const plausibleName = fc.oneof(
  { weight: 3, arbitrary: fc.string({ unit: 'grapheme', minLength: 2, maxLength: 30 }) },
  { weight: 1, arbitrary: fc.string({ unit: hostileChar, minLength: 1, maxLength: 10 }) },
  { weight: 1, arbitrary: fc.constantFrom('  Ab  ', 'x', 'n'.repeat(101), '\u0301\u0301', '𝔸𝔸') },
);
const plausibleToken = fc.oneof(
  fc.string({ unit: fc.constantFrom(...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'), minLength: 43, maxLength: 43 }),
  anyString,
);
/** Bodies shaped like a real request of some endpoint, so the deeper code paths run too. */
const plausibleBody = fc
  .oneof(
    fc.record({ email: plausibleEmail, password: plausiblePassword, name: plausibleName }),
    fc.record({ email: plausibleEmail, password: plausiblePassword, rememberMe: fc.oneof(fc.boolean(), leafValue) }, { requiredKeys: ['email', 'password'] }),
    fc.record({ currentPassword: plausiblePassword, newPassword: plausiblePassword }),
    fc.record({ password: plausiblePassword }),
    fc.record({ token: plausibleToken, password: plausiblePassword, newEmail: plausibleEmail, email: plausibleEmail }, { requiredKeys: [] }),
  )
  .map((o) => JSON.stringify(o));

/** A body shaped for the endpoint it goes to, values plausible but hostile. */
function shapedBody(path: string): fc.Arbitrary<string> {
  const shapes: Record<string, fc.Arbitrary<Record<string, unknown>>> = {
    '/api/auth/register': fc.record({ email: plausibleEmail, password: plausiblePassword, name: plausibleName }),
    '/api/auth/login': fc.record({ email: plausibleEmail, password: plausiblePassword, rememberMe: fc.oneof(fc.boolean(), leafValue) }, { requiredKeys: ['email', 'password'] }),
    '/api/auth/reauth': fc.record({ password: plausiblePassword }),
    '/api/auth/account': fc.record({ password: plausiblePassword }),
    '/api/auth/password': fc.record({ currentPassword: plausiblePassword, newPassword: plausiblePassword }),
    '/api/auth/password/forgot': fc.record({ email: plausibleEmail }),
    '/api/auth/password/reset': fc.record({ token: plausibleToken, password: plausiblePassword }),
    '/api/auth/email/verify': fc.record({ token: plausibleToken }),
    '/api/auth/email': fc.record({ newEmail: plausibleEmail, password: plausiblePassword }),
  };
  const shape = shapes[path];
  return shape ? shape.map((o) => JSON.stringify(o)) : plausibleBody;
}

/** A syntactically valid JSON body of any shape. */
const jsonBody = fc.oneof(
  { weight: 4, arbitrary: plausibleBody },
  { weight: 5, arbitrary: fc.array(fc.tuple(keyArb, valueText), { maxLength: 8 }).map(objectText) },
  { weight: 1, arbitrary: fc.json({ maxDepth: 4 }) },
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 3, stringUnit: 'grapheme' }).map((v) => JSON.stringify(v)) },
  { weight: 1, arbitrary: fc.object({ key: keyArb, values: [leafValue], maxDepth: 2 }).map((o) => JSON.stringify(o)) },
  { weight: 1, arbitrary: valueText },
);

/** Bodies that are not JSON at all, or almost. */
const rawBody = fc.oneof(
  anyString,
  hugeString,
  jsonBody.chain((text) => fc.nat({ max: Math.max(0, text.length - 1) }).map((cut) => text.slice(0, cut))), // truncated JSON
  fc.constantFrom(
    '', ' ', '\u0000', '\ufeff{}', '{"email":"a@b.co",}', "{'email':'a'}", '{"a":1}{"b":2}', '{"email":"\\ud800"}', '{"e":"\\u0000"}',
    'email=a%40b.co&password=x', '--x\r\nContent-Disposition: form-data; name="email"\r\n\r\na\r\n--x--', 'null', 'true', '"s"', '1',
    '[', ']', '{"__proto__":', '{"a":"\\x"}', 'NaN', 'Infinity', '{"a":01}', '\u2028{}', '<?xml version="1.0"?><a/>',
  ),
);

const anyHeaderText = fc.string({ unit: fc.oneof({ weight: 4, arbitrary: fc.string({ minLength: 1, maxLength: 1 }) }, hostileChar, fc.string({ unit: 'binary', minLength: 1, maxLength: 1 })), maxLength: 60 });

const contentType = fc.oneof(
  { weight: 12, arbitrary: fc.constant('application/json') },
  {
    weight: 4,
    arbitrary: fc.constantFrom(
      'application/json; charset=utf-8', 'application/json;charset=UTF-8', 'Application/JSON', 'application/json; charset=latin1',
      'application/json; charset=utf-16le', 'application/json; charset=utf-7', 'application/json; charset="utf-8"', 'application/json; charset=',
      'application/json; boundary=x', 'application/json;;', 'application/vnd.api+json', 'application/merge-patch+json', 'application/jsonx',
      'text/json', 'text/plain', 'text/html', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=----x',
      'application/octet-stream', '*/*', 'application/*', 'json', ';', '', 'application/json, text/plain', 'application/json; charset=utf-8; charset=latin1',
    ),
  },
  { weight: 1, arbitrary: anyHeaderText },
);
const contentEncoding = fc.oneof(
  { weight: 12, arbitrary: fc.constant<[BodyEncoding, string | undefined]>(['none', undefined]) },
  { weight: 1, arbitrary: fc.constantFrom<[BodyEncoding, string | undefined]>(['gzip', 'gzip'], ['deflate', 'deflate'], ['gzip', 'x-gzip']) },
  {
    weight: 2,
    arbitrary: fc
      .constantFrom('gzip', 'deflate', 'br', 'identity', 'GZIP', 'compress', 'gzip, gzip', '', 'x-unknown', 'zstd')
      .map((label): [BodyEncoding, string | undefined] => ['none', label]),
  },
);

const B64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
const tokenPart = (n: number) =>
  fc.oneof(
    { weight: 4, arbitrary: fc.string({ unit: fc.constantFrom(...B64URL), minLength: n, maxLength: n }) },
    { weight: 1, arbitrary: fc.string({ unit: fc.oneof(fc.constantFrom(...B64URL), hostileChar, fc.constantFrom('.', '%', '=', '+', ' ')), minLength: n - 1, maxLength: n + 1 }) },
  );
const cookieName = fc.oneof({ weight: 4, arbitrary: fc.constant('sid') }, fc.constantFrom('__Host-sid', 'SID', ' sid', 'sid ', '__proto__', 'constructor', 'a', ''), anyHeaderText);
const cookieValue = fc.oneof(
  { weight: 4, arbitrary: fc.tuple(fc.oneof(tokenPart(18), tokenPart(22)), tokenPart(43)).map(([id, secret]) => `${id}.${secret}`) },
  { weight: 1, arbitrary: fc.integer({ min: 1_000, max: 8_000 }).chain((n) => fc.constantFrom('A', 'x.', '%', '%E0%A4%A', '\u00e9').map((s) => s.repeat(Math.ceil(n / s.length)).slice(0, n))) },
  { weight: 1, arbitrary: fc.constantFrom('', '.', '..', '%', '%ff', '"quoted"', '__proto__', 'a'.repeat(22) + '.' + 'b'.repeat(43) + '.c') },
  { weight: 1, arbitrary: anyHeaderText },
);
const cookies = fc.oneof(
  { weight: 3, arbitrary: fc.constant(undefined) },
  { weight: 4, arbitrary: fc.array(fc.tuple(cookieName, cookieValue), { minLength: 1, maxLength: 4 }) },
  { weight: 1, arbitrary: anyHeaderText },
);

const origin = fc.oneof(
  { weight: 6, arbitrary: fc.constant(undefined) },
  { weight: 2, arbitrary: fc.constantFrom(SELF_ORIGIN, 'null', 'http://evil.test', 'http://localhost:3000', 'https://127.0.0.1', 'http://127.0.0.1', `${SELF_ORIGIN}/`, `${SELF_ORIGIN}.evil.test`, '') },
  { weight: 1, arbitrary: anyHeaderText },
);
const secFetchSite = fc.oneof(
  { weight: 6, arbitrary: fc.constant(undefined) },
  { weight: 2, arbitrary: fc.constantFrom('same-origin', 'none', 'same-site', 'cross-site', 'Same-Origin', '', 'same-origin, cross-site', ' same-origin') },
  { weight: 1, arbitrary: anyHeaderText },
);
const userAgent = fc.oneof(
  { weight: 5, arbitrary: fc.constant(undefined) },
  { weight: 1, arbitrary: fc.constant('Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36') },
  { weight: 1, arbitrary: fc.integer({ min: 500, max: 4_000 }).map((n) => 'Mozilla/5.0 '.repeat(Math.ceil(n / 12)).slice(0, n)) },
  { weight: 2, arbitrary: fc.string({ unit: 'grapheme', minLength: 1, maxLength: 200 }) },
  { weight: 1, arbitrary: anyHeaderText },
);

interface HeaderChoices {
  contentType?: string | undefined;
  encoding?: [BodyEncoding, string | undefined];
  origin?: string | undefined;
  secFetchSite?: string | undefined;
  userAgent?: string | undefined;
}
function headerList(h: HeaderChoices, hasBody: boolean): { headers: [string, string][]; encoding: BodyEncoding } {
  const headers: [string, string][] = [];
  if (hasBody && h.contentType !== undefined) headers.push(['content-type', h.contentType]);
  if (hasBody && h.encoding?.[1] !== undefined) headers.push(['content-encoding', h.encoding[1]]);
  if (h.origin !== undefined) headers.push(['origin', h.origin]);
  if (h.secFetchSite !== undefined) headers.push(['sec-fetch-site', h.secFetchSite]);
  if (h.userAgent !== undefined) headers.push(['user-agent', h.userAgent]);
  return { headers, encoding: hasBody ? (h.encoding?.[0] ?? 'none') : 'none' };
}

/** Implemented endpoints three times as often as the rest. */
const endpoint = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...ENDPOINTS.filter((e) => !e.planned)) },
  { weight: 1, arbitrary: fc.constantFrom(...ENDPOINTS.filter((e) => e.planned)) },
);
const withBodyOrNot = (body: fc.Arbitrary<string>) => fc.oneof({ weight: 5, arbitrary: body }, { weight: 1, arbitrary: fc.constant(undefined) });

/** Signed in half the time; guest routes mostly as a guest (signed in they stop at the guard). */
const authFor = (ep: Endpoint) => (ep.who === 'guest' ? fc.oneof({ weight: 3, arbitrary: fc.constant(false) }, fc.constant(true)) : fc.boolean());

/** 1. Valid JSON with hostile keys and values, at every endpoint. */
const jsonRequests: fc.Arbitrary<FuzzRequest> = endpoint
  .chain((ep) =>
    fc.record({
      ep: fc.constant(ep),
      auth: authFor(ep),
      body: withBodyOrNot(fc.oneof(shapedBody(ep.path), jsonBody)),
      ct: fc.oneof({ weight: 9, arbitrary: fc.constant('application/json') }, contentType),
    }),
  )
  .map(({ ep, auth, body, ct }) => ({
    method: ep.method,
    path: ep.path,
    auth,
    cookies: undefined,
    body,
    raw: false,
    ...headerList({ contentType: ct }, body !== undefined),
  }));

/** 2. Bodies that are not JSON, random content types and encodings. */
const rawBodyRequests: fc.Arbitrary<FuzzRequest> = fc
  .record({
    ep: endpoint,
    auth: fc.boolean(),
    body: fc.oneof(rawBody, jsonBody),
    ct: contentType,
    enc: contentEncoding,
    raw: fc.boolean(),
  })
  .map(({ ep, auth, body, ct, enc, raw }) => ({
    method: ep.method,
    path: ep.path,
    auth,
    cookies: undefined,
    body,
    raw,
    ...headerList({ contentType: ct, encoding: enc }, true),
  }));

/** 3. Hostile Origin / Sec-Fetch-Site / Cookie / User-Agent. */
const headerRequests: fc.Arbitrary<FuzzRequest> = fc
  .record({
    ep: endpoint,
    auth: fc.boolean(),
    body: withBodyOrNot(fc.oneof(plausibleBody, jsonBody)),
    cookies,
    origin,
    secFetchSite,
    userAgent,
    raw: fc.boolean(),
  })
  .map(({ ep, auth, body, cookies, origin, secFetchSite, userAgent, raw }) => ({
    method: ep.method,
    path: ep.path,
    auth,
    cookies,
    body,
    raw,
    ...headerList({ contentType: 'application/json', origin, secFetchSite, userAgent }, body !== undefined),
  }));

/** 4. Unknown paths, odd methods, hostile session ids and query strings. */
const segment = fc.oneof(
  { weight: 3, arbitrary: fc.webSegment() },
  { weight: 2, arbitrary: anyString.map((s) => encodeURIComponent(s.replace(/[\ud800-\udfff]/g, '?'))) },
  {
    weight: 2,
    arbitrary: fc.constantFrom(
      '%ff', '%E0%A4%A', '%', '%00', '%2e%2e', '..', '.', '%2F', '%5C', '__proto__', 'constructor', 'prototype', 'me', 'sessions', 'auth', 'api',
      'login', 'AAAAAAAAAAAAAAAAAAAAAA', 'AAAAAAAAAAAAAAAAAAAAAA.BBBB', ';', '*', 'a'.repeat(3_000), CURRENT_SESSION,
    ),
  },
  { weight: 1, arbitrary: fc.string({ unit: fc.constantFrom(...B64URL), minLength: 20, maxLength: 24 }) },
);
const query = fc.oneof(
  { weight: 4, arbitrary: fc.constant('') },
  {
    weight: 2,
    arbitrary: fc.constantFrom(
      '?__proto__[polluted]=yes', '?constructor[prototype][polluted]=yes', '?sid=AAAAAAAAAAAAAAAAAAAAAA.BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB',
      '?limit=-1&before=x', '?limit=99999999999999999999&before=%ff', '?a=1&a=2&a[]=3', '?%', '?', '?&&&=', `?x=${'y'.repeat(4_000)}`,
    ),
  },
  { weight: 1, arbitrary: anyString.map((s) => `?${encodeURIComponent(s.replace(/[\ud800-\udfff]/g, '?'))}=1`) },
);
const pathPrefix = fc.constantFrom(
  '/api/auth/', '/api/auth/sessions/', '/api/auth/password/', '/api/auth/email/', '/api/', '/', '/API/AUTH/', '/Api/Auth/sessions/', '//api/auth/',
  '/api/auth//', '/healthz/', '/readyz/', '/api/auth/me/',
);
const anyPath = fc.oneof(
  { weight: 4, arbitrary: fc.tuple(pathPrefix, fc.array(segment, { minLength: 0, maxLength: 3 }), query).map(([p, segs, q]) => p + segs.join('/') + q) },
  // The one route with a parameter: its value is decoded by the router.
  { weight: 1, arbitrary: fc.tuple(segment, query).map(([id, q]) => `/api/auth/sessions/${id}${q}`) },
  { weight: 2, arbitrary: fc.tuple(endpoint, query).map(([ep, q]) => ep.path + q) },
);
const fetchMethods = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'HEAD'];
const method = fc.oneof(
  { weight: 8, arbitrary: fc.constantFrom(...fetchMethods) },
  { weight: 1, arbitrary: fc.constantFrom('PROPFIND', 'PURGE', 'SEARCH', 'FOO', 'get', 'M-SEARCH', 'TRACE') },
);
const pathRequests: fc.Arbitrary<FuzzRequest> = fc
  .record({ path: anyPath, method, auth: fc.boolean(), body: withBodyOrNot(jsonBody), raw: fc.boolean() })
  .map(({ path, method, auth, body, raw }) => ({
    method,
    path,
    auth,
    cookies: undefined,
    body: body !== undefined && (method === 'GET' || method === 'HEAD') && !raw ? undefined : body,
    raw,
    ...headerList({ contentType: 'application/json' }, body !== undefined),
  }));

const anyRequest = fc.oneof(jsonRequests, rawBodyRequests, headerRequests, pathRequests);

// ---------------------------------------------------------------------------------------------
// Sending
// ---------------------------------------------------------------------------------------------

interface Sent {
  transport: 'fetch' | 'raw';
  status: number;
  headers: Map<string, string>;
  setCookies: string[];
  text: string;
  /** The path the server saw: fetch resolves dot segments (`/api/%2e%2e` is `/`), a raw request is verbatim. */
  arrivedAt: string;
  /** What actually went out (placeholders resolved, cookie assembled). */
  request: { method: string; path: string; headers: [string, string][]; body: string | undefined };
}

interface Owner {
  email: string;
  password: string;
  token: string;
  sessionId: string;
  stale: boolean;
}

/** Values fetch (undici) accepts as header values: Latin-1, no NUL/CR/LF, no surrounding whitespace. */
const FETCH_SAFE_VALUE = /^(?:[\x21-\x7e\x80-\xff](?:[\t\x20-\x7e\x80-\xff]*[\x21-\x7e\x80-\xff])?)?$/;
const FETCH_SAFE_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

function cookieHeader(req: FuzzRequest, owner: Owner): string | undefined {
  const extra = req.cookies;
  const pairs = (list: [string, string][]) => list.map(([k, v]) => `${k}=${v}`).join('; ');
  if (!req.auth) return extra === undefined ? undefined : typeof extra === 'string' ? extra : pairs(extra);
  const own = `sid=${owner.token}`;
  if (extra === undefined) return own;
  // The owner's cookie comes first and no extra one is named `sid`: the first cookie wins.
  if (typeof extra === 'string') return `${own}; ${extra}`;
  return [own, pairs(extra.filter(([k]) => k.trim() !== 'sid'))].filter(Boolean).join('; ');
}

async function send(baseUrl: string, req: FuzzRequest, owner: Owner): Promise<Sent> {
  const resolve = (s: string) => s.split(CURRENT_SESSION).join(owner.sessionId).split(SELF_ORIGIN).join(baseUrl);
  const path = resolve(req.path);
  const headers: [string, string][] = req.headers.map(([k, v]) => [k, resolve(v)]);
  const cookie = cookieHeader(req, owner);
  if (cookie !== undefined) headers.push(['cookie', cookie]);
  if (req.body?.includes(owner.password)) throw new Error('fuzz body contains the owner password: refusing to send');

  let payload: Buffer | undefined = req.body === undefined ? undefined : Buffer.from(req.body, 'utf8');
  if (payload && req.encoding === 'gzip') payload = gzipSync(payload);
  if (payload && req.encoding === 'deflate') payload = deflateSync(payload);

  const fetchable =
    !req.raw &&
    fetchMethods.includes(req.method) &&
    !(payload !== undefined && (req.method === 'GET' || req.method === 'HEAD')) &&
    /^\/[\x21-\x7e]*$/.test(path) &&
    headers.every(([k, v]) => FETCH_SAFE_NAME.test(k) && FETCH_SAFE_VALUE.test(v));
  const request = { method: req.method, path, headers, body: req.body };
  if (fetchable) {
    const response = await fetch(baseUrl + path, { method: req.method, headers, body: payload, redirect: 'manual' });
    const text = await response.text();
    const map = new Map<string, string>();
    response.headers.forEach((value, key) => map.set(key, value));
    const arrivedAt = new URL(baseUrl + path).pathname;
    return { transport: 'fetch', arrivedAt, status: response.status, headers: map, setCookies: response.headers.getSetCookie(), text, request };
  }
  return rawSend(baseUrl, request, payload);
}

/** One request over a fresh socket, bytes as given (header values as UTF-8, CR/LF flattened). */
function rawSend(baseUrl: string, request: Sent['request'], payload: Buffer | undefined): Promise<Sent> {
  const { hostname, port, host } = new URL(baseUrl);
  const flat = (s: string) => s.replace(/[\r\n]/g, ' ');
  const target = path(request.path);
  const lines = [`${request.method} ${target} HTTP/1.1`, `Host: ${host}`, 'Connection: close'];
  for (const [k, v] of request.headers) lines.push(`${flat(k)}: ${flat(v)}`);
  if (payload !== undefined) lines.push(`Content-Length: ${payload.length}`);
  const bytes = Buffer.concat([Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'utf8'), payload ?? Buffer.alloc(0)]);

  return new Promise((resolvePromise, reject) => {
    const chunks: Buffer[] = [];
    const socket = net.connect({ host: hostname, port: Number(port) }, () => socket.write(bytes)); // Connection: close ends it
    let done = false;
    const finish = (error?: Error) => {
      if (done) return;
      done = true;
      socket.destroy();
      const data = Buffer.concat(chunks);
      if (data.length === 0) return reject(new Error(`raw socket: no response (${error?.message ?? 'connection closed'})`));
      resolvePromise({ transport: 'raw', arrivedAt: request.path, ...parseResponse(data), request });
    };
    socket.setTimeout(10_000, () => finish(new Error('timed out after 10 s')));
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('end', () => finish());
    socket.on('close', () => finish());
    socket.on('error', (error) => finish(error));
  });

  function path(p: string): string {
    // Keep the path verbatim, except what would end the request line.
    return p.replace(/[\s\u0000]/g, (c) => encodeURIComponent(c));
  }
}

function parseResponse(data: Buffer): Pick<Sent, 'status' | 'headers' | 'setCookies' | 'text'> {
  const end = data.indexOf('\r\n\r\n');
  const head = data.subarray(0, end < 0 ? data.length : end).toString('latin1').split('\r\n');
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(head[0] ?? '')?.[1] ?? 0);
  const headers = new Map<string, string>();
  const setCookies: string[] = [];
  for (const line of head.slice(1)) {
    const colon = line.indexOf(':');
    const key = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    if (key === 'set-cookie') setCookies.push(value);
    headers.set(key, headers.has(key) ? `${headers.get(key)}, ${value}` : value);
  }
  let body = end < 0 ? Buffer.alloc(0) : data.subarray(end + 4);
  if (/chunked/i.test(headers.get('transfer-encoding') ?? '')) {
    const parts: Buffer[] = [];
    let at = 0;
    for (;;) {
      const lineEnd = body.indexOf('\r\n', at);
      if (lineEnd < 0) break;
      const size = parseInt(body.subarray(at, lineEnd).toString('latin1'), 16);
      if (!(size > 0)) break;
      parts.push(body.subarray(lineEnd + 2, lineEnd + 2 + size));
      at = lineEnd + 2 + size + 2;
    }
    body = Buffer.concat(parts);
  } else if (headers.has('content-length')) {
    body = body.subarray(0, Number(headers.get('content-length')));
  }
  return { status, headers, setCookies, text: body.toString('utf8') };
}

// ---------------------------------------------------------------------------------------------
// The properties of one response
// ---------------------------------------------------------------------------------------------

const LEAK = /\bat [\w$.<>\[\] ]+ \(|\n\s+at |node_modules|\/src\/|\.ts:\d+|SELECT |INSERT INTO|UPDATE "|DELETE FROM|sqlite|postgres|redis|TypeError|ReferenceError|SyntaxError|URIError|RangeError/i;
const SNAKE = /^[a-z]+(?:_[a-z]+)*$/;

function problemsOf(req: FuzzRequest, res: Sent): string[] {
  const problems: string[] = [];
  const fromApp = res.headers.has('x-content-type-options'); // helmet marks every response of the app
  if (res.status >= 500 || res.status < 100) problems.push(`status ${res.status}`);
  if (!fromApp && ![400, 431].includes(res.status)) problems.push(`status ${res.status} did not come from the app (no helmet headers)`);
  // The API reference (OpenAPI document, docs page) and metrics describe the system on purpose.
  const describesItself = /^\/(api\/openapi\.json|api\/docs|metrics)/.test(res.arrivedAt) && res.status === 200;
  const leak = describesItself ? null : LEAK.exec(res.text);
  if (leak) problems.push(`internal detail in body: ${JSON.stringify(leak[0])}`);
  if (fromApp && res.arrivedAt.startsWith('/api') && res.headers.get('cache-control') !== 'no-store') {
    problems.push(`Cache-Control is ${JSON.stringify(res.headers.get('cache-control'))}, not "no-store"`);
  }
  if (res.status === 429 && !res.headers.has('retry-after')) problems.push('429 without Retry-After');
  // Redirects (the pages send signed-out visitors to /login) are not errors.
  if (fromApp && (res.status < 200 || res.status >= 400) && res.request.method !== 'HEAD') {
    problems.push(...errorShapeProblems(res));
  }
  if (fromApp && res.status >= 200 && res.status < 300 && /json/.test(res.headers.get('content-type') ?? '') && res.text !== '') {
    try {
      JSON.parse(res.text);
    } catch {
      problems.push('2xx body says JSON but does not parse');
    }
  }
  const route = `${req.method} ${req.path.split('?')[0]}`;
  if (req.auth && fromApp && IMPLEMENTED_USER_ROUTES.has(route)) {
    let code: unknown;
    try {
      code = JSON.parse(res.text)?.code;
    } catch {
      code = undefined;
    }
    if (code === 'unauthorized') problems.push('a valid session cookie was answered 401 unauthorized');
  }
  if (req.auth && (route === 'POST /api/auth/register' || route === 'POST /api/auth/login') && res.status >= 200 && res.status < 300) {
    problems.push('guest route succeeded for a signed-in request');
  }
  return problems;
}

function errorShapeProblems(res: Sent): string[] {
  if (!/^application\/json\b/.test(res.headers.get('content-type') ?? '')) return [`error content-type ${JSON.stringify(res.headers.get('content-type'))}`];
  let body: unknown;
  try {
    body = JSON.parse(res.text);
  } catch {
    return ['error body is not JSON'];
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return ['error body is not an object'];
  const record = body as Record<string, unknown>;
  const problems: string[] = [];
  const keys = Object.keys(record).filter((k) => k !== 'issues').sort();
  if (keys.join(',') !== 'code,error') problems.push(`error body keys ${JSON.stringify(Object.keys(record))}`);
  if (typeof record.error !== 'string' || record.error === '') problems.push('`error` is not a non-empty string');
  if (typeof record.code !== 'string' || !SNAKE.test(record.code)) problems.push(`\`code\` ${JSON.stringify(record.code)} is not snake_case`);
  if ('issues' in record) {
    const issues = record.issues;
    const ok =
      Array.isArray(issues) &&
      issues.every(
        (i) =>
          typeof i === 'object' && i !== null && Object.keys(i).sort().join(',') === 'message,path' &&
          typeof (i as { path: unknown }).path === 'string' && typeof (i as { message: unknown }).message === 'string',
      );
    if (!ok) problems.push(`malformed issues ${JSON.stringify(issues).slice(0, 200)}`);
  }
  return problems;
}

function short(value: string | undefined, max = 300): string {
  if (value === undefined) return '(none)';
  const json = JSON.stringify(value);
  return json.length > max ? `${json.slice(0, max)}… (${value.length} chars)` : json;
}

function report(res: Sent, problems: string[]): string {
  const r = res.request;
  return [
    `Fuzz property violated: ${problems.join('; ')}`,
    `  request (${res.transport}): ${r.method} ${short(r.path, 200)}`,
    ...r.headers.map(([k, v]) => `    ${k}: ${short(v, 200)}`),
    `    body: ${short(r.body)}`,
    `  response: ${res.status} ${short(res.text, 500)}`,
  ].join('\n');
}

// ---------------------------------------------------------------------------------------------
// The suite
// ---------------------------------------------------------------------------------------------

const gc: () => void = (() => {
  v8.setFlagsFromString('--expose-gc');
  return vm.runInNewContext('gc') as () => void;
})();
function heapAfterGc(): number {
  for (let i = 0; i < 3; i++) gc();
  return process.memoryUsage().heapUsed;
}

const seedFromEnv = process.env.FUZZ_SEED === undefined ? undefined : Number(process.env.FUZZ_SEED);
const fcParams = (numRuns: number): fc.Parameters<[FuzzRequest]> => ({
  numRuns,
  ...(seedFromEnv === undefined ? {} : { seed: seedFromEnv }),
  // Bound the whole run, shrinking included; a counterexample found so far is still reported.
  interruptAfterTimeLimit: 25_000,
});

describeOnBackends(
  'property fuzz',
  ({ server }) => {
    const url = () => server().url;
    const owner: Owner = { email: '', password: '', token: '', sessionId: '', stale: true };

    async function signIn(): Promise<void> {
      const client = new Client(url());
      const res = await client.post('/api/auth/login', { email: owner.email, password: owner.password });
      if (res.status !== 200) throw new Error(`owner login failed: ${res.status} ${res.text}`);
      owner.token = client.cookies.get('sid')!;
      const me = await client.get('/api/auth/me');
      if (me.status !== 200) throw new Error(`owner /me failed: ${me.status} ${me.text}`);
      owner.sessionId = me.body.session.id;
      owner.stale = false;
    }

    async function run(req: FuzzRequest): Promise<Sent> {
      if (req.auth && owner.stale) await signIn();
      const res = await send(url(), req, owner);
      // Logout, or ending its own session, clears the cookie: sign in again before the next run.
      if (req.auth && res.setCookies.some((c) => /^sid=;|expires=Thu, 01 Jan 1970/i.test(c))) owner.stale = true;
      // A rotation (password change, sign out everywhere else) hands the browser a new cookie:
      // it goes on with that one, as a browser would.
      const rotated = req.auth ? res.setCookies.map((c) => /^sid=([^;]+)/.exec(c)?.[1]).find((v) => v !== undefined) : undefined;
      if (rotated !== undefined) {
        owner.token = rotated;
        owner.sessionId = rotated.split('.')[0]!;
      }
      return res;
    }

    const check = (arb: fc.Arbitrary<FuzzRequest>) =>
      fc.asyncProperty(arb, async (req) => {
        const res = await run(req);
        const problems = problemsOf(req, res);
        if (problems.length > 0) throw new Error(report(res, problems));
      });

    async function stillHealthy(): Promise<void> {
      const health = await fetch(`${url()}/healthz`);
      expect(health.status).toBe(200);
      expect(await health.json()).toEqual({ status: 'ok' });
      const ready = await fetch(`${url()}/readyz`);
      expect(ready.status).toBe(200);
    }

    beforeAll(async () => {
      owner.email = `fuzz-owner.${process.pid}.${Date.now()}@example.test`;
      // A password no arbitrary can produce; it is never put in a fuzzed request.
      owner.password = `${randomBytes(24).toString('base64url')}-Owner-9`;
      const client = new Client(url());
      const reg = await client.post('/api/auth/register', { email: owner.email, password: owner.password, name: 'Fuzz Owner' });
      if (reg.status !== 201) throw new Error(`owner register failed: ${reg.status} ${reg.text}`);
      const decoy = await new Client(url()).post('/api/auth/register', { email: DECOY_EMAIL, password: `${randomBytes(24).toString('base64url')}-Decoy-9`, name: 'Fuzz Decoy' });
      if (decoy.status !== 201) throw new Error(`decoy register failed: ${decoy.status} ${decoy.text}`);
      await signIn();
    });

    it('valid JSON with hostile keys and values, at every endpoint, signed in or not', async () => {
      await fc.assert(check(jsonRequests), fcParams(1_000));
      await stillHealthy();
    }, 60_000);

    it('non-JSON bodies, random content types and content encodings', async () => {
      await fc.assert(check(rawBodyRequests), fcParams(500));
      await stillHealthy();
    }, 60_000);

    it('hostile Origin, Sec-Fetch-Site, Cookie and User-Agent headers', async () => {
      await fc.assert(check(headerRequests), fcParams(500));
      await stillHealthy();
    }, 60_000);

    it('unknown paths, odd methods, hostile session ids and query strings', async () => {
      await fc.assert(check(pathRequests), fcParams(500));
      await stillHealthy();
    }, 60_000);

    it('keeps the heap flat over several hundred more requests', async () => {
      const warmUp = fc.sample(anyRequest, { numRuns: 150 });
      const measured = fc.sample(anyRequest, { numRuns: 400 });
      // Only memory and liveness here: the response properties are the other tests' job.
      const runAll = async (batch: FuzzRequest[]) => {
        for (const req of batch) await run(req);
      };
      await runAll(warmUp);
      const before = heapAfterGc();
      await runAll(measured);
      const after = heapAfterGc();
      await stillHealthy();
      const growthMb = (after - before) / 2 ** 20;
      expect(growthMb, `heap grew ${growthMb.toFixed(1)} MB over ${measured.length} requests`).toBeLessThan(20);
    }, 60_000);

    it('leaves no prototype polluted and the owner account intact', async () => {
      expect(({} as Record<string, unknown>).polluted).toBeUndefined();
      expect(([] as unknown as Record<string, unknown>).polluted).toBeUndefined();
      for (const [name, proto] of Object.entries(PROTOTYPES)) {
        expect(Reflect.ownKeys(proto).map(String).sort(), `${name}.prototype`).toEqual(protoSnapshot[name]);
      }
      // The owner's password still works, so no fuzz run changed it or deleted the account.
      const login = await new Client(url()).post('/api/auth/login', { email: owner.email, password: owner.password });
      expect(login.status).toBe(200);
      await stillHealthy();
    }, 30_000);
  },
  { backends: [sqlite, postgresRedis] },
);
