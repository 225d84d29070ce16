/** Devices: browsers that signed in, and remembered ones. */
import type { OperationSpec } from './spec.js';

export const deviceOperations: OperationSpec[] = [
  {
    method: 'get',
    path: '/api/auth/devices',
    operationId: 'listDevices',
    tag: 'Two-step sign-in',
    summary: 'Browsers that signed in to my account',
    description: 'Most recently used first; `trusted` while "remember this device" skips the second step from it; `current` for this browser.',
    access: 'user',
    success: [{ status: 200, description: 'The devices', schema: 'DevicesResponse' }],
  },
  {
    method: 'delete',
    path: '/api/auth/devices/{id}',
    operationId: 'forgetDevice',
    tag: 'Two-step sign-in',
    summary: 'Forget a device',
    description: 'Its trust ends: the next password sign-in from it needs the second step again (and counts as a new browser).',
    access: 'user',
    pathId: 'The device id (`devices[].id`); anything else is 404',
    success: [{ status: 204, description: 'Forgotten (no body)' }],
    errors: { 404: ['not_found'] },
  },
];
