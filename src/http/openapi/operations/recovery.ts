/** Recovery: mailed links (verification, reset, email change). */
import { PASSWORD_CHECKS, type OperationSpec } from './spec.js';

export const recoveryOperations: OperationSpec[] = [
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
      'The answer is identical, and given before any lookup, whether or not the account exists. Mail is throttled silently; past the budget no new link is made, so the link already mailed keeps working. An account an administrator disabled is mailed nothing.',
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
    description: 'A credential change: every session, every other mailed link and every login still in flight end; the account\'s login throttles are lifted. There is no automatic login. The link of an account an administrator disabled (one mailed by POST /api/admin/users/{id}/password-reset after it was disabled) answers 403 `account_disabled` and stays unused.',
    access: 'anyone',
    body: 'ResetPasswordRequest',
    success: [{ status: 200, description: 'Password reset', schema: 'UserResponse' }],
    errors: { 400: ['invalid_token', 'weak_password'], 403: ['account_disabled'] },
  },
  {
    method: 'post',
    path: '/api/auth/email',
    operationId: 'changeEmail',
    tag: 'Recovery',
    summary: 'Change the email address',
    description:
      'Sends a verification mail to the new address; the change takes effect when it is verified. With REQUIRE_EMAIL_VERIFICATION=true a taken address is answered 202 like a free one (its holder is told by mail), else 409. ' + PASSWORD_CHECKS,
    access: 'reauth',
    body: 'ChangeEmailRequest',
    success: [{ status: 202, description: 'Accepted; verify the new address to complete', schema: 'Message' }],
    errors: { 401: ['invalid_credentials'], 409: ['email_taken'] },
  },
];
