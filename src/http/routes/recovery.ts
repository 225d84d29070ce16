/**
 * Mail-based recovery (API.md): verify an address, resend the verification, forgot and reset
 * password, change the address. Every mail-sending route answers 202 whatever happened behind.
 */
import type { Router } from 'express';
import type { RecoveryService } from '../../domain/recovery-service.js';
import type { ClientIp } from '../client-ip.js';
import type { SessionCookie } from '../cookies.js';
import type { SessionMiddleware } from '../middleware/session.js';
import { sendJson } from '../respond.js';
import { changeEmailBody, emailBody, parseBody, resetPasswordBody, tokenBody } from '../schemas.js';
import { toPublicUser } from '../views.js';
import { clientInfo } from './auth.js';

export interface RecoveryRoutesDeps {
  recovery: RecoveryService;
  cookie: SessionCookie;
  guards: SessionMiddleware;
  clientIp: ClientIp;
}

const ACCEPTED = { message: 'Accepted: if this matches an account, an email is on its way' };

export function recoveryRoutes(router: Router, { recovery, cookie, guards, clientIp }: RecoveryRoutesDeps): void {
  router.post('/email/verify', guards.loadSession, async (req, res) => {
    const { token } = parseBody(tokenBody, req.body);
    const client = clientInfo(req, clientIp);
    const verified = await recovery.verifyEmail(token, client, req.latch);
    // A new address took effect: every session ended, but the browser that confirmed it, when
    // signed in to the account, has a new one for the same sign-in.
    if (verified.issued) cookie.issue(res, verified.issued);
    sendJson(res, 200, { user: toPublicUser(verified.user) });
  });

  router.post('/email/verify/resend', guards.requireAuth, async (req, res) => {
    await recovery.resendVerification(req.latch!, clientInfo(req, clientIp));
    sendJson(res, 202, ACCEPTED);
  });

  router.post('/password/forgot', async (req, res) => {
    const { email } = parseBody(emailBody, req.body);
    // Answers before any lookup: the work runs after (see RecoveryService.forgotPassword).
    recovery.forgotPassword(email, clientInfo(req, clientIp));
    sendJson(res, 202, ACCEPTED);
  });

  router.post('/password/reset', async (req, res) => {
    const { token, password } = parseBody(resetPasswordBody, req.body);
    const user = await recovery.resetPassword(token, password, clientInfo(req, clientIp));
    sendJson(res, 200, { user: toPublicUser(user) });
  });

  router.post('/email', guards.requireAuth, async (req, res) => {
    const body = parseBody(changeEmailBody, req.body);
    await recovery.requestEmailChange(req.latch!, body, clientInfo(req, clientIp));
    sendJson(res, 202, ACCEPTED);
  });
}
