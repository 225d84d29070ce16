/**
 * The browsers that signed in to the account (API.md, "Devices and new sign-in alerts"): list
 * them, forget one (its "remember this device" trust ends with it).
 */
import type { Router } from 'express';
import type { Devices } from '../../domain/devices.js';
import { LatchError } from '../../domain/errors.js';
import type { Clock } from '../../domain/ports.js';
import type { ClientIp } from '../client-ip.js';
import type { DeviceCookie } from '../cookies.js';
import type { SessionMiddleware } from '../middleware/session.js';
import { sendJson } from '../respond.js';
import { toPublicDevice } from '../views.js';
import { clientInfo } from './auth.js';

export interface DeviceRoutesDeps {
  deviceList: Devices;
  devices: DeviceCookie;
  guards: SessionMiddleware;
  clientIp: ClientIp;
  clock: Clock;
}

const DEVICE_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export function deviceRoutes(router: Router, { deviceList, devices, guards, clientIp, clock }: DeviceRoutesDeps): void {
  router.get('/devices', guards.requireAuth, async (req, res) => {
    const { user } = req.latch!;
    const [all, here] = await Promise.all([deviceList.list(user.id), deviceList.current(user.id, devices.read(req))]);
    sendJson(res, 200, { devices: all.map((d) => toPublicDevice(d, here?.id, clock.now())) });
  });

  router.delete('/devices/:id', guards.requireAuth, async (req, res) => {
    const id = String(req.params.id);
    const { user, session } = req.latch!;
    if (!DEVICE_ID.test(id) || !(await deviceList.forget(user.id, id, clientInfo(req, clientIp), session.id))) {
      throw new LatchError('not_found', 'No such device');
    }
    res.status(204).end();
  });
}
