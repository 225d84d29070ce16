/** Every operation of the server, as the OpenAPI document describes it. */
import type { z } from 'zod';
import type { ErrorCode } from '../../domain/errors.js';
import { eventsQuery } from '../schemas.js';
import type { JsonSchema, requestSchemas } from './schemas.js';

/* ------------------------------------------------------------------ operations */

export type Access = 'guest' | 'user' | 'reauth' | 'pending' | 'anyone' | 'metrics';
export type Method = 'get' | 'post' | 'delete';

export interface Success {
  status: number;
  description: string;
  /** A component name (JSON), or a content type with a plain schema. */
  schema?: string;
  content?: { type: string; schema: JsonSchema };
  setsCookie?: boolean;
  clearsCookie?: boolean;
}

export interface OperationSpec {
  method: Method;
  path: string;
  operationId: string;
  tag: 'Authentication' | 'Two-step sign-in' | 'Sessions' | 'Account' | 'Recovery' | 'Operations' | 'Documentation';
  summary: string;
  description?: string;
  access: Access;
  body?: keyof typeof requestSchemas;
  query?: z.ZodObject;
  pathId?: boolean;
  success: Success[];
  /** Errors specific to the endpoint; the common ones are added from `access` and `method`. */
  errors?: Partial<Record<number, ErrorCode[]>>;
}

export const ACCESS_TEXT: Record<Access, string> = {
  guest: 'Guests only: a request carrying a valid session gets 400 `already_authenticated`.',
  user: 'Needs a valid session cookie (401 `unauthorized` otherwise).',
  reauth:
    'Needs a valid session cookie whose password was proven (login or reauth) within REAUTH_WINDOW (default 10 min); 403 `reauth_required` otherwise.',
  pending:
    'Needs a pending session (the cookie set by a password login that answered `mfaRequired`), or a signed-in aal1 session of an account with two-step on (a remembered device stepping up). Anything else gets 401 `mfa_required` (sign in again).',
  anyone: 'Open to anyone, signed in or not.',
  metrics:
    'Open, unless METRICS_TOKEN is set: then `Authorization: Bearer <METRICS_TOKEN>` is required. In production (NODE_ENV=production) without METRICS_TOKEN it is not served (404).',
};

export const OPERATIONS: OperationSpec[] = [
  {
    method: 'post',
    path: '/api/auth/register',
    operationId: 'register',
    tag: 'Authentication',
    summary: 'Create an account and sign in',
    description:
      'Creates the user, sends a verification mail to the address and starts a session. With REQUIRE_EMAIL_VERIFICATION=true the answer is 202 with no session, for new and already-registered addresses alike.',
    access: 'guest',
    body: 'RegisterRequest',
    success: [
      { status: 201, description: 'Account created; a new session cookie is set', schema: 'UserResponse', setsCookie: true },
      { status: 202, description: 'REQUIRE_EMAIL_VERIFICATION=true: check your mail (no session)', schema: 'Message' },
    ],
    errors: { 400: ['weak_password'], 409: ['email_taken'] },
  },
  {
    method: 'post',
    path: '/api/auth/login',
    operationId: 'login',
    tag: 'Authentication',
    summary: 'Sign in',
    description:
      'Always issues a NEW session cookie (never reuses one). LOGIN_MAX_FAILURES (default 5 per 15m) failed logins per account and client IP lead to 429. For an account with two-step sign-in on, the right password answers `{mfaRequired, methods}` and the cookie is a pending session (MFA_PENDING_TIMEOUT, default 5 min; it can only finish the second step or log out). A wrong password answers the same for every account.',
    access: 'guest',
    body: 'LoginRequest',
    success: [
      { status: 200, description: 'Signed in, or a second step is needed; a new session cookie is set either way', schema: 'LoginResponse', setsCookie: true },
    ],
    errors: { 401: ['invalid_credentials'], 403: ['email_unverified'] },
  },
  {
    method: 'post',
    path: '/api/auth/logout',
    operationId: 'logout',
    tag: 'Authentication',
    summary: 'Sign out',
    description: 'Ends the current session and clears its cookie. The answer is `{"message": "Logged out successfully"}`.',
    access: 'user',
    success: [{ status: 200, description: 'Logged out; the cookie is cleared', schema: 'Message', clearsCookie: true }],
  },
  {
    method: 'get',
    path: '/api/auth/me',
    operationId: 'me',
    tag: 'Authentication',
    summary: 'The signed-in user and current session',
    access: 'user',
    success: [{ status: 200, description: 'The user and the current session', schema: 'MeResponse' }],
  },
  {
    method: 'post',
    path: '/api/auth/reauth',
    operationId: 'reauthenticate',
    tag: 'Account',
    summary: 'Prove the password again',
    description: 'Refreshes the re-authentication time of the current session (needed by email change and account deletion). Password checks of a signed-in user (reauth, password change, email change, account deletion) are counted per account across those endpoints: past LOGIN_MAX_FAILURES (default 5 per 15m) the answer is 429, whatever the password; each wrong one is recorded as `reauth_failed`.',
    access: 'user',
    body: 'PasswordProofRequest',
    success: [{ status: 200, description: 'The current session', schema: 'SessionResponse' }],
    errors: { 401: ['invalid_credentials'] },
  },
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
    pathId: true,
    success: [{ status: 204, description: 'Ended (no body)', clearsCookie: true }],
    errors: { 404: ['not_found'] },
  },
  {
    method: 'post',
    path: '/api/auth/password',
    operationId: 'changePassword',
    tag: 'Account',
    summary: 'Change the password',
    description: 'A credential change: every other session, every mailed link and every login still in flight end; the current session is rotated (a new cookie is set). Password checks of a signed-in user (reauth, password change, email change, account deletion) are counted per account across those endpoints: past LOGIN_MAX_FAILURES (default 5 per 15m) the answer is 429, whatever the password; each wrong one is recorded as `reauth_failed`.',
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
    description: 'The user and all their sessions are gone (a login still in flight cannot add one); the cookie is cleared. Password checks of a signed-in user (reauth, password change, email change, account deletion) are counted per account across those endpoints: past LOGIN_MAX_FAILURES (default 5 per 15m) the answer is 429, whatever the password; each wrong one is recorded as `reauth_failed`.',
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
  {
    method: 'post',
    path: '/api/auth/email/verify',
    operationId: 'verifyEmail',
    tag: 'Recovery',
    summary: 'Verify an email address',
    description:
      'Verifies the address the token was sent to (after registration, or a pending new address). A new address is a credential change: every session of the user and every other mailed link end; when the request carries that user\'s session, it goes on under a new cookie (same sign-in times). A link mailed before a later credential change is invalid.',
    access: 'anyone',
    body: 'TokenRequest',
    success: [{ status: 200, description: 'Verified', schema: 'UserResponse', setsCookie: true }],
    errors: { 400: ['invalid_token'] },
  },
  {
    method: 'post',
    path: '/api/auth/email/verify/resend',
    operationId: 'resendVerification',
    tag: 'Recovery',
    summary: 'Send the verification mail again',
    description: 'Throttled silently (the answer stays 202) after at least 3 mails per account per 15 minutes.',
    access: 'user',
    success: [{ status: 202, description: 'Accepted', schema: 'Message' }],
  },
  {
    method: 'post',
    path: '/api/auth/password/forgot',
    operationId: 'forgotPassword',
    tag: 'Recovery',
    summary: 'Ask for a password reset mail',
    description:
      'The answer is identical, and given before any lookup, whether or not the account exists. Mail is throttled silently; past the budget no new link is made, so the link already mailed keeps working.',
    access: 'anyone',
    body: 'EmailRequest',
    success: [{ status: 202, description: 'Accepted (whether or not the account exists)', schema: 'Message' }],
  },
  {
    method: 'post',
    path: '/api/auth/password/reset',
    operationId: 'resetPassword',
    tag: 'Recovery',
    summary: 'Set a new password with a reset token',
    description: 'A credential change: every session, every other mailed link and every login still in flight end; the account\'s login throttles are lifted. There is no automatic login.',
    access: 'anyone',
    body: 'ResetPasswordRequest',
    success: [{ status: 200, description: 'Password reset', schema: 'UserResponse' }],
    errors: { 400: ['invalid_token', 'weak_password'] },
  },
  {
    method: 'post',
    path: '/api/auth/email',
    operationId: 'changeEmail',
    tag: 'Recovery',
    summary: 'Change the email address',
    description:
      'Sends a verification mail to the new address; the change takes effect when it is verified. With REQUIRE_EMAIL_VERIFICATION=true a taken address is answered 202 like a free one (its holder is told by mail), else 409. Password checks of a signed-in user (reauth, password change, email change, account deletion) are counted per account across those endpoints: past LOGIN_MAX_FAILURES (default 5 per 15m) the answer is 429, whatever the password; each wrong one is recorded as `reauth_failed`.',
    access: 'reauth',
    body: 'ChangeEmailRequest',
    success: [{ status: 202, description: 'Accepted; verify the new address to complete', schema: 'Message' }],
    errors: { 401: ['invalid_credentials'], 409: ['email_taken'] },
  },
  {
    method: 'get',
    path: '/api/openapi.json',
    operationId: 'openapi',
    tag: 'Documentation',
    summary: 'This OpenAPI 3.1 document',
    access: 'anyone',
    success: [{ status: 200, description: 'The document', content: { type: 'application/json', schema: { type: 'object' } } }],
  },
  {
    method: 'get',
    path: '/api/docs',
    operationId: 'docs',
    tag: 'Documentation',
    summary: 'Rendered API reference (HTML)',
    access: 'anyone',
    success: [{ status: 200, description: 'An HTML page generated from this document', content: { type: 'text/html', schema: { type: 'string' } } }],
  },
  {
    method: 'get',
    path: '/api/docs/docs.css',
    operationId: 'docsStylesheet',
    tag: 'Documentation',
    summary: 'Stylesheet of the reference page',
    access: 'anyone',
    success: [{ status: 200, description: 'CSS', content: { type: 'text/css', schema: { type: 'string' } } }],
  },
  {
    method: 'get',
    path: '/healthz',
    operationId: 'health',
    tag: 'Operations',
    summary: 'Liveness',
    access: 'anyone',
    success: [{ status: 200, description: 'The process is up', schema: 'Health' }],
  },
  {
    method: 'get',
    path: '/readyz',
    operationId: 'ready',
    tag: 'Operations',
    summary: 'Readiness',
    description: 'Probes the database and the session store.',
    access: 'anyone',
    success: [
      { status: 200, description: 'Database and session store answer', schema: 'Readiness' },
      { status: 503, description: 'A dependency is down (`status: "unavailable"`, the failing check is false)', schema: 'Readiness' },
    ],
  },
  {
    method: 'get',
    path: '/metrics',
    operationId: 'metrics',
    tag: 'Operations',
    summary: 'Prometheus metrics',
    access: 'metrics',
    success: [
      {
        status: 200,
        description: 'Prometheus text exposition format',
        content: { type: 'text/plain; version=0.0.4; charset=utf-8', schema: { type: 'string' } },
      },
    ],
    errors: { 401: ['unauthorized'], 404: ['not_found'] },
  },
  {
    method: 'post',
    path: '/api/auth/mfa/verify',
    operationId: 'verifySecondStep',
    tag: 'Two-step sign-in',
    summary: 'Finish a sign-in with the second step',
    description:
      'A code from the authenticator app (`totp`; a time step accepted once is never accepted again) or a recovery code (works once; the owner is told by mail). Success issues a NEW session (aal2, `rememberMe` as asked at login) and ends the one that asked (a pending one, or a remembered device\'s aal1 session stepping up). `rememberDevice: true` lets a password sign-in from this browser skip the step for MFA_REMEMBER_DEVICE (30 d; the session is then aal1), until the password changes, a factor changes or the device is forgotten. A first sign-in from a browser mails the owner (NEW_DEVICE_ALERTS) and sets the device cookie. The 5th wrong code answers 401 `invalid_code` and ends the pending session; wrong codes are also counted per account across pending sessions and instances (10 per 15 minutes, then 429 whatever the code).',
    access: 'pending',
    body: 'MfaVerifyRequest',
    success: [{ status: 200, description: 'Signed in; a new session cookie is set', schema: 'UserResponse', setsCookie: true }],
    errors: { 400: ['invalid_input'], 401: ['invalid_code', 'mfa_required'], 409: ['mfa_not_enabled'] },
  },
  {
    method: 'get',
    path: '/api/auth/mfa',
    operationId: 'secondFactors',
    tag: 'Two-step sign-in',
    summary: 'My second factors',
    access: 'user',
    success: [{ status: 200, description: 'Which factors are on, and how many recovery codes are left', schema: 'MfaStatus' }],
  },
  {
    method: 'post',
    path: '/api/auth/mfa/totp',
    operationId: 'startTotpSetup',
    tag: 'Two-step sign-in',
    summary: 'Set up an authenticator app',
    description: 'A new secret, pending until confirmed with a code from the app (a new call replaces an unconfirmed secret). Stored encrypted (AES-256-GCM under SECRETS_KEY).',
    access: 'reauth',
    success: [{ status: 200, description: 'The secret and its otpauth:// URI', schema: 'TotpSetup' }],
    errors: { 409: ['already_enabled'] },
  },
  {
    method: 'post',
    path: '/api/auth/mfa/totp/confirm',
    operationId: 'confirmTotp',
    tag: 'Two-step sign-in',
    summary: 'Turn the authenticator app on',
    description:
      'With a code from the app. A credential change: every other session, mailed link and login in flight ends; the current session goes on under a new cookie as aal2 (methods + `totp`). The first second factor comes with 10 recovery codes, shown once.',
    access: 'reauth',
    body: 'MfaCodeRequest',
    success: [{ status: 200, description: 'On; the session cookie is rotated', schema: 'TotpConfirmed', setsCookie: true }],
    errors: { 401: ['invalid_code'], 409: ['no_pending_setup'] },
  },
  {
    method: 'delete',
    path: '/api/auth/mfa/totp',
    operationId: 'disableTotp',
    tag: 'Two-step sign-in',
    summary: 'Turn the authenticator app off',
    description:
      'With the password. With no second factor left, the recovery codes are deleted and two-step sign-in is off: a credential change (every other session, mailed link and login in flight ends; this session goes on under a new cookie).',
    access: 'reauth',
    body: 'PasswordProofRequest',
    success: [{ status: 204, description: 'Off (no body); the session cookie is rotated', setsCookie: true }],
    errors: { 401: ['invalid_credentials'], 404: ['not_found'] },
  },
  {
    method: 'post',
    path: '/api/auth/mfa/recovery-codes',
    operationId: 'regenerateRecoveryCodes',
    tag: 'Two-step sign-in',
    summary: 'Make a new set of recovery codes',
    description: 'Every older code stops working.',
    access: 'reauth',
    success: [{ status: 200, description: 'The new set, shown once', schema: 'RecoveryCodes' }],
    errors: { 409: ['mfa_not_enabled'] },
  },
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
    pathId: true,
    success: [{ status: 204, description: 'Forgotten (no body)' }],
    errors: { 404: ['not_found'] },
  },
];
