/**
 * Passkeys (API.md, "Passkeys (WebAuthn)"): adding, naming and removing them, and signing in
 * with one. Parse, call the domain, answer. A passkey as the second step of a password sign-in
 * finishes at `POST /mfa/verify` (routes/mfa.ts); its options come from here.
 */
import type { Request, Router } from 'express';
import type { AuthService } from '../../domain/auth-service.js';
import type { PasskeyService } from '../../domain/passkey-service.js';
import { publicPasskey, type AuthenticationResponseJSON, type RegistrationResponseJSON } from '../../domain/passkeys.js';
import type { ClientIp } from '../client-ip.js';
import type { DeviceCookie, SessionCookie } from '../cookies.js';
import type { SessionMiddleware } from '../middleware/session.js';
import { sendJson } from '../respond.js';
import { parseBody, passkeyLoginBody, passkeyRegisterBody, passkeyRenameBody } from '../schemas.js';
import { toPublicUser } from '../views.js';
import { clientInfo, signInClient } from './auth.js';

export interface PasskeyRoutesDeps {
  passkeys: PasskeyService;
  auth: AuthService;
  cookie: SessionCookie;
  devices: DeviceCookie;
  guards: SessionMiddleware;
  clientIp: ClientIp;
}

export function passkeyRoutes(router: Router, { passkeys, auth, cookie, devices, guards, clientIp }: PasskeyRoutesDeps): void {
  const { requireAuth, requireGuest, loadSession } = guards;
  const id = (req: Request) => String(req.params.id);

  router.post('/passkeys/register/options', requireAuth, async (req, res) => {
    sendJson(res, 200, await passkeys.registrationOptions(req.latch!));
  });

  router.post('/passkeys/register', requireAuth, async (req, res) => {
    const body = parseBody(passkeyRegisterBody, req.body);
    const input = { response: body.response as RegistrationResponseJSON, ...(body.name !== undefined ? { name: body.name } : {}) };
    const { passkey, issued, recoveryCodes } = await passkeys.register(req.latch!, input, clientInfo(req, clientIp));
    cookie.issue(res, issued); // proven with user verification just now: the same sign-in, aal2, new id
    sendJson(res, 201, recoveryCodes ? { passkey: publicPasskey(passkey), recoveryCodes } : { passkey: publicPasskey(passkey) });
  });

  router.patch('/passkeys/:id', requireAuth, async (req, res) => {
    const { name } = parseBody(passkeyRenameBody, req.body);
    sendJson(res, 200, { passkey: publicPasskey(await passkeys.rename(req.latch!, id(req), name)) });
  });

  router.delete('/passkeys/:id', requireAuth, async (req, res) => {
    const issued = await passkeys.remove(req.latch!, id(req), clientInfo(req, clientIp));
    if (issued) cookie.issue(res, issued); // the last factor went: two-step off, a credential change
    res.status(204).end();
  });

  // A guest's discoverable sign-in, or the second step of a pending (or stepping-up aal1) session.
  router.post('/passkeys/login/options', loadSession, async (req, res) => {
    sendJson(res, 200, await passkeys.signInOptions(req.latchPending ?? req.latch, clientInfo(req, clientIp)));
  });

  router.post('/passkeys/login', requireGuest, async (req, res) => {
    const body = parseBody(passkeyLoginBody, req.body);
    const { issued, device } = await passkeys.signIn(
      { response: body.response as AuthenticationResponseJSON, rememberMe: body.rememberMe },
      signInClient(req, clientIp, devices),
    );
    // A new sign-in replaces a pending one this browser still held (as a password login does).
    if (req.latchPending) await auth.logout(req.latchPending, clientInfo(req, clientIp));
    cookie.issue(res, issued);
    devices.keep(req, res, device);
    sendJson(res, 200, { user: toPublicUser(issued.user) });
  });
}
