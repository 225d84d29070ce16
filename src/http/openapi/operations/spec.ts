/** The shape of an operation of the OpenAPI document, and what each kind of access means. */
import type { z } from 'zod';
import type { ErrorCode } from '../../../domain/errors.js';
import type { JsonSchema, requestSchemas } from '../schemas.js';

export type Access = 'guest' | 'user' | 'reauth' | 'pending' | 'guestOrPending' | 'admin' | 'anyone' | 'metrics';
export type Method = 'get' | 'post' | 'patch' | 'delete';

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
  tag: 'Authentication' | 'Two-step sign-in' | 'Passkeys' | 'Sessions' | 'Account' | 'Recovery' | 'Administration' | 'Operations' | 'Documentation';
  summary: string;
  description?: string;
  access: Access;
  body?: keyof typeof requestSchemas;
  /** The body may be left out (the request is then taken as `{}`). */
  bodyOptional?: boolean;
  query?: z.ZodObject;
  /** Notes on query parameters of this operation, over the shared FIELD_NOTES. */
  queryNotes?: Record<string, string>;
  /** The path has an `{id}`: what it names. */
  pathId?: string;
  success: Success[];
  /** Errors specific to the endpoint; the common ones are added from `access` and `method`. */
  errors?: Partial<Record<number, ErrorCode[]>>;
}

export const ACCESS_TEXT: Record<Access, string> = {
  guest: 'Guests only: a request carrying a valid session gets 400 `already_authenticated`.',
  user: 'Needs a valid session cookie (401 `unauthorized` otherwise).',
  reauth:
    'Needs a valid session cookie whose sign-in was proven within REAUTH_WINDOW (default 10 min): a password login or reauth, or a passkey sign-in (a user-verified passkey is the stronger proof); 403 `reauth_required` otherwise. For an account with two-step on, an aal1 session (a remembered browser) gets 403 `second_factor_required` until it steps up with POST /mfa/verify.',
  pending:
    'Needs a pending session (the cookie set by a password login that answered `mfaRequired`), or a signed-in aal1 session of an account with two-step on (a remembered device stepping up). Anything else gets 401 `mfa_required` (sign in again).',
  guestOrPending:
    'Open to guests, to a pending session (the second step of a password sign-in) and to a signed-in aal1 session of an account with two-step on (a remembered device stepping up); any other signed-in session gets 400 `already_authenticated`.',
  admin:
    'Administrators only (API.md, "Administration"): without a session 401 `unauthorized`; a pending session (the second step of a sign-in is not finished) 401 `mfa_required`; a signed-in user who is not an admin 403 `forbidden`; an admin session that is not aal2 (proven by two factors or by a passkey) 403 `second_factor_required`, unless ADMIN_REQUIRE_MFA=false.',
  anyone: 'Open to anyone, signed in or not.',
  metrics:
    'Open, unless METRICS_TOKEN is set: then `Authorization: Bearer <METRICS_TOKEN>` is required. In production (NODE_ENV=production) without METRICS_TOKEN it is not served (404).',
};

/** Said of every endpoint that checks the password of a signed-in user. */
export const PASSWORD_CHECKS =
  'Password checks of a signed-in user (reauth, password change, email change, account deletion) are counted per account across those endpoints: past LOGIN_MAX_FAILURES (default 5 per 15m) the answer is 429, whatever the password; each wrong one is recorded as `reauth_failed`.';
