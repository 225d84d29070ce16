/**
 * Two-step sign-in (API.md, "Two-step sign-in"): finishing a pending sign-in, and turning an
 * authenticator app and recovery codes on and off. Parse, call the domain, answer.
 */
import type { Router } from 'express';
import type { TwoStepService } from '../../domain/two-step-service.js';
import type { ClientIp } from '../client-ip.js';
import type { DeviceCookie, SessionCookie } from '../cookies.js';
import type { Devices } from '../../domain/devices.js';
import { LatchError } from '../../domain/errors.js';
import type { Clock } from '../../domain/ports.js';
import type { SessionMiddleware } from '../middleware/session.js';
import { sendJson } from '../respond.js';
import { mfaCodeBody, mfaVerifyBody, parseBody, passwordProofBody } from '../schemas.js';
import { toPublicDevice, toPublicUser } from '../views.js';
import { clientInfo } from './auth.js';

export interface MfaRoutesDeps {
  twoStep: TwoStepService;
  /** The account's known browsers (list, forget). */
  deviceList: Devices;
  cookie: SessionCookie;
  devices: DeviceCookie;
  clock: Clock;
  guards: SessionMiddleware;
  clientIp: ClientIp;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export function mfaRoutes(router: Router, { twoStep, deviceList, cookie, devices, guards, clientIp, clock }: MfaRoutesDeps): void {
  const { requireAuth, requireSecondStep } = guards;

  // A pending sign-in finishes here; a remembered device's aal1 session steps up here.
  router.post('/mfa/verify', requireSecondStep, async (req, res) => {
    const body = parseBody(mfaVerifyBody, req.body);
    const client = { ...clientInfo(req, clientIp), device: devices.read(req) };
    const { issued, device } = await twoStep.verify((req.latchPending ?? req.latch)!, body, client);
    cookie.issue(res, issued); // a NEW session: the one that asked has ended
    if (device !== client.device) devices.set(res, device);
    sendJson(res, 200, { user: toPublicUser(issued.user) });
  });

  router.get('/devices', requireAuth, async (req, res) => {
    const { user } = req.latch!;
    const [all, here] = await Promise.all([deviceList.list(user.id), deviceList.current(user.id, devices.read(req))]);
    sendJson(res, 200, { devices: all.map((d) => toPublicDevice(d, here?.id, clock.now())) });
  });

  router.delete('/devices/:id', requireAuth, async (req, res) => {
    const id = String(req.params.id);
    const { user, session } = req.latch!;
    if (!UUID.test(id) || !(await deviceList.forget(user.id, id, clientInfo(req, clientIp), session.id))) {
      throw new LatchError('not_found', 'No such device');
    }
    res.status(204).end();
  });

  router.get('/mfa', requireAuth, async (req, res) => {
    const status = await twoStep.status(req.latch!.user.id);
    sendJson(res, 200, { totp: status.totp, passkeys: [], recoveryCodesLeft: status.recoveryCodesLeft });
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
    cookie.issue(res, await twoStep.disableTotp(req.latch!, password, clientInfo(req, clientIp)));
    res.status(204).end();
  });

  router.post('/mfa/recovery-codes', requireAuth, async (req, res) => {
    sendJson(res, 200, { recoveryCodes: await twoStep.regenerateRecoveryCodes(req.latch!, clientInfo(req, clientIp)) });
  });
}
