/**
 * Two-step sign-in (API.md, "Two-step sign-in"): finishing a pending sign-in, and turning an
 * authenticator app and recovery codes on and off. Parse, call the domain, answer.
 */
import type { Router } from 'express';
import type { PasskeyService } from '../../domain/passkey-service.js';
import { publicPasskey } from '../../domain/passkeys.js';
import type { SecondStepInput, TwoStepService } from '../../domain/two-step-service.js';
import type { ClientIp } from '../client-ip.js';
import type { DeviceCookie, SessionCookie } from '../cookies.js';
import type { SessionMiddleware } from '../middleware/session.js';
import { sendJson } from '../respond.js';
import { mfaCodeBody, mfaVerifyBody, parseBody, passwordProofBody } from '../schemas.js';
import { toPublicUser } from '../views.js';
import { clientInfo, signInClient } from './auth.js';

export interface MfaRoutesDeps {
  twoStep: TwoStepService;
  passkeys: PasskeyService;
  cookie: SessionCookie;
  devices: DeviceCookie;
  guards: SessionMiddleware;
  clientIp: ClientIp;
}

export function mfaRoutes(router: Router, { twoStep, passkeys, cookie, devices, guards, clientIp }: MfaRoutesDeps): void {
  const { requireAuth, requireSecondStep } = guards;

  // A pending sign-in finishes here; a remembered device's aal1 session steps up here.
  router.post('/mfa/verify', requireSecondStep, async (req, res) => {
    const body = parseBody(mfaVerifyBody, req.body) as SecondStepInput; // the WebAuthn JSON's contents are the library's to check
    const { issued, device } = await twoStep.verify((req.latchPending ?? req.latch)!, body, signInClient(req, clientIp, devices));
    cookie.issue(res, issued); // a NEW session: the one that asked has ended
    devices.keep(req, res, device);
    sendJson(res, 200, { user: toPublicUser(issued.user) });
  });

  router.get('/mfa', requireAuth, async (req, res) => {
    const userId = req.latch!.user.id;
    const [status, list] = await Promise.all([twoStep.status(userId), passkeys.list(userId)]);
    sendJson(res, 200, { totp: status.totp, passkeys: list.map(publicPasskey), recoveryCodesLeft: status.recoveryCodesLeft });
  });

  router.post('/mfa/totp', requireAuth, async (req, res) => {
    sendJson(res, 200, await twoStep.startTotp(req.latch!));
  });

  router.post('/mfa/totp/confirm', requireAuth, async (req, res) => {
    const { code } = parseBody(mfaCodeBody, req.body);
    const { issued, recoveryCodes } = await twoStep.confirmTotp(req.latch!, code, clientInfo(req, clientIp));
    cookie.issue(res, issued); // the same sign-in, now aal2, under a new id and secret
    sendJson(res, 200, recoveryCodes ? { recoveryCodes } : {});
  });

  router.delete('/mfa/totp', requireAuth, async (req, res) => {
    const { password } = parseBody(passwordProofBody, req.body);
    const issued = await twoStep.disableTotp(req.latch!, password, clientInfo(req, clientIp));
    if (issued) cookie.issue(res, issued); // two-step went off: a credential change
    res.status(204).end();
  });

  router.post('/mfa/recovery-codes', requireAuth, async (req, res) => {
    sendJson(res, 200, { recoveryCodes: await twoStep.regenerateRecoveryCodes(req.latch!, clientInfo(req, clientIp)) });
  });
}
