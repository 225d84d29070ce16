/** Authentication: sign up, sign in, sign out, who am I. */
import type { OperationSpec } from './spec.js';

export const authOperations: OperationSpec[] = [
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
      'Always issues a NEW session cookie (never reuses one). LOGIN_MAX_FAILURES (default 5 per 15m) failed logins per account and client IP lead to 429. For an account with two-step sign-in on, the right password answers `{mfaRequired, methods}` and the cookie is a pending session (MFA_PENDING_TIMEOUT, default 5 min; it can only finish the second step or log out). A wrong password answers the same for every account. The right password of an account an administrator disabled answers 403 `account_disabled` (a wrong one 401 `invalid_credentials`, as for any account).',
    access: 'guest',
    body: 'LoginRequest',
    success: [
      { status: 200, description: 'Signed in, or a second step is needed; a new session cookie is set either way', schema: 'LoginResponse', setsCookie: true },
    ],
    errors: { 401: ['invalid_credentials'], 403: ['email_unverified', 'account_disabled'] },
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
];
