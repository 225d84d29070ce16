/** Sessions: list and end them. */
import type { OperationSpec } from './spec.js';

export const sessionOperations: OperationSpec[] = [
  {
    method: 'get',
    path: '/api/auth/sessions',
    operationId: 'listSessions',
    tag: 'Sessions',
    summary: 'List my sessions',
    access: 'user',
    success: [{ status: 200, description: 'Every live session of the user, most recently used first', schema: 'SessionsResponse' }],
  },
  {
    method: 'delete',
    path: '/api/auth/sessions',
    operationId: 'revokeOtherSessions',
    tag: 'Sessions',
    summary: 'End every other session',
    description:
      'Ends every session of the user except the current one, and like a credential change also every mailed link (reset, verification, email change) and every login still in flight. The current session goes on under a new cookie (same sign-in times).',
    access: 'user',
    success: [{ status: 200, description: 'How many sessions ended; the session cookie is rotated', schema: 'RevokedResponse', setsCookie: true }],
  },
  {
    method: 'delete',
    path: '/api/auth/sessions/{id}',
    operationId: 'revokeSession',
    tag: 'Sessions',
    summary: 'End one session',
    description:
      'The session stops working at once. Ending the current session also clears its cookie. Another user\'s session id is 404, exactly like an unknown one.',
    access: 'user',
    pathId: 'The public session id (`Session.id`); anything else is 404',
    success: [{ status: 204, description: 'Ended (no body)', clearsCookie: true }],
    errors: { 404: ['not_found'] },
  },
];
