/**
 * The pages a person uses (DESIGN.md, "web/"), served at the same origin as the API they call.
 * Pages are rendered here; the forms post to `/api/auth` with fetch from static modules under
 * `/assets`. Every response of this router carries a strict CSP: no inline script or style, no
 * framing, no foreign form targets.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { dictionary } from '@zxcvbn-ts/language-common';
import { parse as parseCookies } from 'cookie';
import express, { Router, type Request, type RequestHandler, type Response } from 'express';
import QRCode from 'qrcode';
import type { Latch } from '../latch.js';
import { assuranceOf } from '../domain/assurance.js';
import { LatchError } from '../domain/errors.js';
import { codePointLength } from '../domain/password-policy.js';
import { crossSiteProtection } from '../http/middleware/cross-site.js';
import { jsonBody } from '../http/middleware/json-body.js';
import { accountPage } from './account-page.js';
import { adminSecondStepPage, adminUserPage, adminUsersPage, notAdminPage } from './admin-pages.js';
import {
  forgotPasswordPage,
  loginPage,
  registerPage,
  resetPasswordPage,
  SECOND_STEP_METHODS,
  secondStepPage,
  verifyEmailPage,
  type SecondStepMethod,
} from './guest-pages.js';
import { safeNext } from './next.js';

export function pageCsp(https: boolean): string {
  return [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self'",
    "connect-src 'self'",
    "object-src 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
    "base-uri 'none'",
    ...(https ? ['upgrade-insecure-requests'] : []),
  ].join('; ');
}

/** Next to this file: the build copies src/web/assets to dist/web/assets (source tree as a fallback). */
function assetsDir(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  const candidates = [join(here, 'assets'), join(here, '..', '..', 'src', 'web', 'assets')];
  return candidates.find((dir) => existsSync(join(dir, 'pages.js'))) ?? candidates[0]!;
}

/**
 * The ES modules of @simplewebauthn/browser (its `esm/` folder, whose relative imports carry
 * `.js`), served as they are: no bundler, and `script-src 'self'` covers them. Found through
 * Node's resolution at run time, so it works from dist/ and from the source tree alike.
 */
function webauthnDir(): string {
  const entry = createRequire(import.meta.url).resolve('@simplewebauthn/browser'); // <package>/script/index.js
  const dir = join(dirname(dirname(entry)), 'esm');
  if (!existsSync(join(dir, 'index.js'))) throw new Error(`@simplewebauthn/browser: no ES modules at ${dir}`);
  return dir;
}

/** The second-step methods a login answered, as the login page passes them on (`?methods=totp,passkey`). */
function secondStepMethods(raw: string | undefined): SecondStepMethod[] | undefined {
  const known = new Set<string>(SECOND_STEP_METHODS);
  const methods = [...new Set((raw ?? '').split(','))].filter((m): m is SecondStepMethod => known.has(m));
  return methods.length > 0 ? methods : undefined;
}

/** An otpauth URI is some 200 characters (secret, issuer, account email); these leave room. */
const QR_URI_MAX_LENGTH = 1024;
const QR_BODY_LIMIT_BYTES = 2048;

const query = (req: Request, name: string): string | undefined => {
  const value = req.query[name];
  return typeof value === 'string' && value.length > 0 && value.length <= 512 ? value : undefined;
};

export function createWebRouter(latch: Latch): Router {
  const { config } = latch;
  const router = Router();
  const csp = pageCsp(config.cookieSecure);
  const rules = { minLength: config.passwordMinLength, maxLength: config.passwordMaxLength };
  const rememberDays = Math.max(1, Math.round(config.rememberMeTimeout / 86_400_000));
  // Only entries the length rule lets through can matter to the hint; the server checks the full list.
  const commonPasswords = JSON.stringify(
    [...new Set(dictionary['passwords-common'].map((p) => p.toLowerCase()))].filter((p) => codePointLength(p) >= rules.minLength),
  );

  // Only this router's own answers get the page CSP: requests it does not serve pass through untouched.
  const withCsp: RequestHandler = (_req, res, next) => {
    res.setHeader('Content-Security-Policy', csp);
    next();
  };
  router.use('/assets', withCsp);
  router.get('/assets/common-passwords.json', (_req, res) => {
    res.setHeader('Cache-Control', 'public, max-age=3600');
    res.type('application/json').send(commonPasswords);
  });
  const assetOptions = { index: false, maxAge: '5m', fallthrough: true } as const;
  // Only its modules: the package's type declarations and maps are no asset of these pages.
  const webauthn = express.static(webauthnDir(), assetOptions);
  router.use('/assets/webauthn', (req, res, next) => (req.path.endsWith('.js') ? webauthn(req, res, next) : next()));
  router.use('/assets', express.static(assetsDir(), assetOptions));

  const send = (res: Response, body: string, status = 200) => {
    // Pages show who is signed in: never cache them, never let a shared cache keep them.
    res.setHeader('Cache-Control', 'no-store');
    res.setHeader('Content-Security-Policy', csp);
    res.status(status).type('html').send(body);
  };
  const load: RequestHandler = latch.loadSession;
  // API.md, "The session cookie". Only its presence matters here; the session middleware judged it.
  const cookieName = config.cookieSecure ? '__Host-sid' : 'sid';
  /**
   * The sign-in page for a request without a live session. One that still carried a session
   * cookie lost its session (ended from another device, by a password change, or it ran out):
   * the page says so. A browser that never had one, or signed out itself (its cookie was
   * cleared), gets no notice.
   */
  const toLogin = (req: Request, next?: string, notice = 'session-ended') => {
    const hadSession = parseCookies(req.headers.cookie ?? '')[cookieName] !== undefined;
    const params = [next === undefined ? '' : `next=${next}`, hadSession ? `notice=${notice}` : ''].filter(Boolean);
    return params.length > 0 ? `/login?${params.join('&')}` : '/login';
  };

  // A pending sign-in (password right, second step to come) goes on to its second step.
  router.get('/', load, (req, res) =>
    res.redirect(303, req.latch ? '/account' : req.latchPending ? '/login/second-step' : toLogin(req)),
  );
  router.get('/login', load, (req, res) => {
    const next = safeNext(query(req, 'next'));
    if (req.latch) return res.redirect(303, next ?? '/account');
    send(res, loginPage(next, query(req, 'notice'), rememberDays));
  });
  router.get('/login/second-step', load, (req, res) => {
    const next = safeNext(query(req, 'next'));
    if (req.latch) return res.redirect(303, next ?? '/account');
    // No pending sign-in: it ran out or was ended by wrong codes (a cookie came), or never began.
    if (!req.latchPending) return res.redirect(303, toLogin(req, next && encodeURIComponent(next), 'second-step-ended'));
    // The methods the login answered; without them (a reload of / or /account), every kind is offered.
    send(res, secondStepPage(next, secondStepMethods(query(req, 'methods'))));
  });
  router.get('/register', load, (req, res) => {
    if (req.latch) return res.redirect(303, '/account');
    send(res, registerPage(rules));
  });
  router.get('/account', load, (req, res) => {
    if (req.latchPending) return res.redirect(303, '/login/second-step?next=/account');
    if (!req.latch) return res.redirect(303, toLogin(req, '/account'));
    send(res, accountPage(req.latch.user, rules));
  });

  /**
   * The administration pages let in whom the admin API lets in (API.md, "Administration"): an
   * administrator, with a two-step session unless ADMIN_REQUIRE_MFA=false. Others get a page
   * that says why (403), never a shell whose every call would fail.
   */
  const adminOnly: RequestHandler = (req, res, next) => {
    const path = safeNext(req.originalUrl) ?? '/admin';
    if (req.latchPending) return res.redirect(303, `/login/second-step?next=${encodeURIComponent(path)}`);
    if (!req.latch) return res.redirect(303, toLogin(req, encodeURIComponent(path)));
    const { user, session } = req.latch;
    if (user.role !== 'admin') return send(res, notAdminPage(), 403);
    if (config.adminRequireMfa && assuranceOf(session.methods) !== 'aal2') {
      return send(res, adminSecondStepPage(path, user), 403);
    }
    next();
  };
  router.get('/admin', load, adminOnly, (req, res) => {
    const limit = Number(query(req, 'limit'));
    const view = { query: query(req, 'query'), cursor: query(req, 'cursor') };
    send(res, adminUsersPage(Number.isInteger(limit) && limit >= 1 && limit <= 100 ? { ...view, limit } : view));
  });
  router.get('/admin/users/:id', load, adminOnly, (req, res) => send(res, adminUserPage(String(req.params.id), req.latch!.user)));

  /**
   * The QR code of an authenticator-app setup, as SVG. The `otpauth://` URI holds the secret, so
   * it comes in a POST body from the account page's script, never in a URL that a log, a proxy,
   * the history or a Referer would keep (THREATS.md item 10); the answer is never cached. Only
   * this site's own pages of a signed-in user may ask, and only for a TOTP URI: this is no
   * general-purpose QR service. The SVG is drawn with attributes only (no `style`), so the page
   * inserts it as elements under its unchanged CSP.
   */
  const sameOrigin = crossSiteProtection({ publicOrigin: config.publicUrl, trustedOrigins: [] });
  router.post('/account/qr', sameOrigin, latch.requireAuth, jsonBody(QR_BODY_LIMIT_BYTES), async (req, res) => {
    const uri: unknown = req.body?.uri;
    if (typeof uri !== 'string' || !uri.startsWith('otpauth://totp/') || uri.length > QR_URI_MAX_LENGTH) {
      throw new LatchError('invalid_input', 'Invalid input', [{ path: 'uri', message: 'Expected an otpauth://totp/ URI' }]);
    }
    const svg = await QRCode.toString(uri, { type: 'svg', errorCorrectionLevel: 'M', margin: 2 });
    res.setHeader('Cache-Control', 'no-store');
    // Opened on its own, the image is a document: it may load and run nothing.
    res.setHeader('Content-Security-Policy', "default-src 'none'; frame-ancestors 'none'");
    res.type('image/svg+xml').send(svg);
  });
  router.get('/forgot-password', (_req, res) => send(res, forgotPasswordPage()));
  router.get('/reset-password', (req, res) => send(res, resetPasswordPage(query(req, 'token'), rules)));
  router.get('/verify-email', load, (req, res) => send(res, verifyEmailPage(query(req, 'token'), req.latch?.user)));
  return router;
}
