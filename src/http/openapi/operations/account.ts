/** Account: password, deletion, the audit trail. */
import { eventsQuery } from '../../schemas.js';
import { PASSWORD_CHECKS, type OperationSpec } from './spec.js';

/** Listed apart: it comes right after the sign-in operations in `OPERATIONS`. */
export const reauthOperation: OperationSpec = {
  method: 'post',
  path: '/api/auth/reauth',
  operationId: 'reauthenticate',
  tag: 'Account',
  summary: 'Prove the password again',
  description: 'Refreshes the re-authentication time of the current session (needed by email change and account deletion). ' + PASSWORD_CHECKS,
  access: 'user',
  body: 'PasswordProofRequest',
  success: [{ status: 200, description: 'The current session', schema: 'SessionResponse' }],
  errors: { 401: ['invalid_credentials'] },
};

export const accountOperations: OperationSpec[] = [
  {
    method: 'post',
    path: '/api/auth/password',
    operationId: 'changePassword',
    tag: 'Account',
    summary: 'Change the password',
    description: 'A credential change: every other session, every mailed link and every login still in flight end; the current session is rotated (a new cookie is set). ' + PASSWORD_CHECKS,
    access: 'user',
    body: 'ChangePasswordRequest',
    success: [{ status: 200, description: 'Password changed; the session cookie is rotated', schema: 'UserResponse', setsCookie: true }],
    errors: { 400: ['weak_password'], 401: ['invalid_credentials'] },
  },
  {
    method: 'delete',
    path: '/api/auth/account',
    operationId: 'deleteAccount',
    tag: 'Account',
    summary: 'Delete my account',
    description: 'The user and all their sessions are gone (a login still in flight cannot add one); the cookie is cleared. ' + PASSWORD_CHECKS,
    access: 'reauth',
    body: 'PasswordProofRequest',
    success: [{ status: 204, description: 'Deleted (no body)', clearsCookie: true }],
    errors: { 401: ['invalid_credentials'] },
  },
  {
    method: 'get',
    path: '/api/auth/events',
    operationId: 'listEvents',
    tag: 'Account',
    summary: 'My security events',
    description: 'The audit trail of the account, newest first, paged with `before`/`next`.',
    access: 'user',
    query: eventsQuery,
    success: [{ status: 200, description: 'A page of events', schema: 'EventsResponse' }],
  },
];
