/** Administration: what an administrator does to other accounts (API.md, "Administration"). */
import { adminEventsQuery, adminUsersQuery } from '../../schemas.js';
import type { OperationSpec } from './spec.js';

const USER_ID = 'The user id (`User.id`); an unknown one is 404 `not_found`';

const TRAIL =
  'Recorded on the target\'s trail (which the user sees in GET /api/auth/events) with `actor: {"id", "role": "admin"}`';

const NOT_SELF = 'An administrator cannot do this to their own account here: 409 `self_target`, checked before anything else about the target.';

const KEEP_AN_ADMIN =
  'The last administrator who can sign in is never disabled, demoted or deleted: 409 `last_admin`, also when two administrators act on each other at once (one wins).';

const CREDENTIAL_CHANGE =
  'A credential change: every session of the user, every mailed link (reset, verification, email change) and every login still in flight end at once.';

const PAGE_SIZE = 'Page size, 1 to 100; default 50';

/** Every operation here is for administrators; most name one account. */
const admin = (spec: Omit<OperationSpec, 'tag' | 'access'>): OperationSpec => ({ tag: 'Administration', access: 'admin', ...spec });
const onUser = (spec: Omit<OperationSpec, 'tag' | 'access' | 'pathId'>): OperationSpec => admin({ pathId: USER_ID, ...spec });

export const adminOperations: OperationSpec[] = [
  admin({
    method: 'get',
    path: '/api/admin/users',
    operationId: 'adminListUsers',
    summary: 'Find accounts',
    description: 'Accounts whose email or name contains `query` (case-insensitive; `%` and `_` are literal), newest first, paged with `cursor`/`next`. Pages stay right while accounts are added.',
    query: adminUsersQuery,
    queryNotes: {
      query: 'Text the email or the name contains (case-insensitive); trimmed; at most 254 characters; empty or absent: every account',
      cursor: 'The `next` value of an earlier page',
      limit: PAGE_SIZE,
    },
    success: [{ status: 200, description: 'A page of accounts', schema: 'AdminUsersResponse' }],
  }),
  onUser({
    method: 'get',
    path: '/api/admin/users/{id}',
    operationId: 'adminShowUser',
    summary: 'One account, its sessions and its newest events',
    success: [{ status: 200, description: 'The account, every live session and its 20 newest events', schema: 'AdminUserPage' }],
    errors: { 404: ['not_found'] },
  }),
  onUser({
    method: 'post',
    path: '/api/admin/users/{id}/disable',
    operationId: 'adminDisableUser',
    summary: 'Disable an account',
    description: `${CREDENTIAL_CHANGE} From then on the account's right password, or its passkey, answers 403 \`account_disabled\` (a wrong password 401 \`invalid_credentials\` as always), and POST /api/auth/password/forgot mails it nothing. Disabling a disabled account again records it anew, with the new reason (or none). ${NOT_SELF} ${KEEP_AN_ADMIN} ${TRAIL} (\`account_disabled\`).`,
    body: 'DisableRequest',
    bodyOptional: true,
    success: [{ status: 200, description: 'Disabled', schema: 'AdminUserResponse' }],
    errors: { 404: ['not_found'], 409: ['self_target', 'last_admin'] },
  }),
  onUser({
    method: 'post',
    path: '/api/admin/users/{id}/enable',
    operationId: 'adminEnableUser',
    summary: 'Enable an account again',
    description: `The account can sign in again; the sessions and links ended by disabling it stay ended. ${TRAIL} (\`account_enabled\`).`,
    success: [{ status: 200, description: 'Enabled', schema: 'AdminUserResponse' }],
    errors: { 404: ['not_found'] },
  }),
  onUser({
    method: 'delete',
    path: '/api/admin/users/{id}/sessions',
    operationId: 'adminRevokeSessions',
    summary: 'End every session of an account',
    description: `${CREDENTIAL_CHANGE} ${TRAIL} (\`sessions_revoked\`).`,
    success: [{ status: 200, description: 'How many sessions ended', schema: 'RevokedResponse' }],
    errors: { 404: ['not_found'] },
  }),
  onUser({
    method: 'post',
    path: '/api/admin/users/{id}/password-reset',
    operationId: 'adminSendPasswordReset',
    summary: 'Mail the user a password reset link',
    description: `The same link as POST /api/auth/password/forgot mails, sent whatever the mail budget; nothing else changes until the user follows it. A disabled account is refused (403 \`account_disabled\`: its reset would be refused too; enable it first). ${TRAIL} (\`password_reset_requested\`).`,
    success: [{ status: 202, description: 'A reset link was mailed to the user', schema: 'Message' }],
    errors: { 403: ['account_disabled'], 404: ['not_found'] },
  }),
  onUser({
    method: 'delete',
    path: '/api/admin/users/{id}/mfa',
    operationId: 'adminResetSecondFactors',
    summary: 'Remove every second factor of an account',
    description: `For a user who lost them: the authenticator app, every passkey, the recovery codes and every remembered device are removed and two-step sign-in is off. ${CREDENTIAL_CHANGE} The user is told by mail. ${TRAIL} (\`mfa_reset\`).`,
    success: [{ status: 204, description: 'Removed (no body)' }],
    errors: { 404: ['not_found'] },
  }),
  onUser({
    method: 'post',
    path: '/api/admin/users/{id}/role',
    operationId: 'adminSetRole',
    summary: 'Make an account an administrator, or a user again',
    description: `${CREDENTIAL_CHANGE} (The user signs in again with the new role.) The last administrator who can sign in is never demoted: 409 \`last_admin\`, also when two administrators demote each other at once. ${NOT_SELF} ${TRAIL} (\`role_changed\`).`,
    body: 'RoleRequest',
    success: [{ status: 200, description: 'The account with its new role', schema: 'AdminUserResponse' }],
    errors: { 404: ['not_found'], 409: ['self_target', 'last_admin'] },
  }),
  onUser({
    method: 'delete',
    path: '/api/admin/users/{id}',
    operationId: 'adminDeleteUser',
    summary: 'Delete an account',
    description: `The user and all their sessions, factors and links are gone, as when they delete the account themselves. ${NOT_SELF} ${KEEP_AN_ADMIN}`,
    success: [{ status: 204, description: 'Deleted (no body)' }],
    errors: { 404: ['not_found'], 409: ['self_target', 'last_admin'] },
  }),
  admin({
    method: 'get',
    path: '/api/admin/events',
    operationId: 'adminListEvents',
    summary: 'The audit trail of every account',
    description: 'Events of every account (or of one, with `userId`; of one type, with `type`), newest first, paged with `before`/`next`.',
    query: adminEventsQuery,
    queryNotes: {
      userId: 'Only the events of this account',
      type: 'Only the events of this type',
      before: 'The `next` cursor of an earlier page',
      limit: PAGE_SIZE,
    },
    success: [{ status: 200, description: 'A page of events', schema: 'AdminEventsResponse' }],
  }),
];
