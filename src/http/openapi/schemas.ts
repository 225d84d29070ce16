/**
 * The schemas of the OpenAPI document: responses written here (mirroring `views.ts`), requests
 * taken from the very zod schemas the routes validate with (`../schemas.ts`), so the document
 * cannot drift from what the server accepts.
 */
import { z } from 'zod';
import { authMethods } from '../../domain/assurance.js';
import { authEventTypes } from '../../domain/auth-events.js';
import { errorCodes } from '../../domain/errors.js';
import { SESSION_ID_PATTERN } from '../../domain/session-token.js';
import {
  authenticationResponseSchema,
  changeEmailBody,
  disableBody,
  changePasswordBody,
  emailBody,
  loginBody,
  mfaCodeBody,
  mfaVerifyBody,
  passkeyLoginBody,
  passkeyRegisterBody,
  passkeyRenameBody,
  passwordProofBody,
  registerBody,
  registrationResponseSchema,
  resetPasswordBody,
  roleBody,
  tokenBody,
} from '../schemas.js';
import { WEBAUTHN_OPTIONS } from './webauthn.js';

/* ------------------------------------------------------------------ response schemas */

const timestamp = z.iso.datetime().describe('ISO-8601 timestamp (UTC)');

export const userResponseSchema = z
  .strictObject({
    id: z.string(),
    email: z.string().describe('Trimmed and lower-cased'),
    name: z.string(),
    emailVerified: z.boolean(),
    createdAt: timestamp,
    role: z.enum(['user', 'admin']),
    twoFactor: z.boolean().describe('True while the account has a second factor (an authenticator app or a passkey)'),
  })
  .describe('A user. Never carries a password hash.');

export const sessionResponseSchema = z
  .strictObject({
    id: z
      .string()
      .regex(SESSION_ID_PATTERN)
      .describe('Public handle of the session; never the secret part of the cookie'),
    current: z.boolean().describe('True for the session that made this request'),
    createdAt: timestamp,
    lastSeenAt: timestamp,
    expiresAt: timestamp.describe('Earlier of (last use + idle timeout) and (login + absolute timeout)'),
    rememberMe: z.boolean(),
    ip: z.string(),
    userAgent: z.string(),
    aal: z.enum(['aal1', 'aal2']).describe('aal2 when proven by two factors or by a passkey (NIST SP 800-63B-4), else aal1'),
    methods: z.array(z.enum(authMethods)).min(1).describe('How the session was proven, in order'),
  })
  .describe('A signed-in session.');

export const eventResponseSchema = z
  .strictObject({
    type: z.enum(authEventTypes),
    at: timestamp,
    ip: z.string(),
    userAgent: z.string(),
    sessionId: z.string().optional().describe('The session the event concerns, when there is one'),
    actor: z
      .union([z.strictObject({ id: z.string(), role: z.literal('admin') }), z.strictObject({ role: z.literal('cli') })])
      .optional()
      .describe('Who caused it when not the account owner: an administrator, or the command line'),
  })
  .describe('An entry of the account audit trail.');

export const issueSchema = z.strictObject({
  path: z.string().describe('Dotted path of the offending field, e.g. `email`'),
  message: z.string(),
});

export const errorResponseSchema = z
  .strictObject({
    error: z.string().describe('Human-readable message'),
    code: z.enum(errorCodes).describe('Stable machine-readable code'),
    issues: z.array(issueSchema).optional().describe('Per-field problems (validation errors only)'),
  })
  .describe('Every error has this shape and no other: never a stack trace, SQL or a file path.');

const messageSchema = z.strictObject({ message: z.string() }).describe('An acknowledgement.');

export const responses = z.registry<{ id: string }>();
responses.add(userResponseSchema, { id: 'User' });
responses.add(sessionResponseSchema, { id: 'Session' });
responses.add(eventResponseSchema, { id: 'Event' });
responses.add(issueSchema, { id: 'Issue' });
responses.add(errorResponseSchema, { id: 'Error' });
responses.add(messageSchema, { id: 'Message' });
responses.add(z.strictObject({ user: userResponseSchema }), { id: 'UserResponse' });
responses.add(z.strictObject({ user: userResponseSchema, session: sessionResponseSchema }), { id: 'MeResponse' });
responses.add(z.strictObject({ session: sessionResponseSchema }), { id: 'SessionResponse' });
responses.add(z.strictObject({ sessions: z.array(sessionResponseSchema).describe('Most recently used first') }), {
  id: 'SessionsResponse',
});
responses.add(z.strictObject({ revoked: z.number().int().min(0).describe('How many sessions ended') }), { id: 'RevokedResponse' });
responses.add(
  z.strictObject({
    events: z.array(eventResponseSchema).describe('Newest first'),
    next: z.string().optional().describe('Pass as `before` to get the next (older) page; absent on the last page'),
  }),
  { id: 'EventsResponse' },
);
const secondStepMethods = z.array(z.enum(['totp', 'recovery_code', 'passkey'])).min(1);
const mfaRequiredSchema = z
  .strictObject({ mfaRequired: z.literal(true), methods: secondStepMethods.describe('The second steps this account can finish with') })
  .describe('The password was right; a pending session cookie is set: finish with POST /api/auth/mfa/verify.');
responses.add(mfaRequiredSchema, { id: 'MfaRequired' });
responses.add(z.union([z.strictObject({ user: userResponseSchema }), mfaRequiredSchema]), { id: 'LoginResponse' });
export const passkeySchema = z
  .strictObject({
    id: z.string().describe('Public handle of the passkey (for rename and delete); never the credential id'),
    name: z.string().describe('1 to 64 characters'),
    createdAt: timestamp,
    lastUsedAt: timestamp.nullable().describe('The last sign-in or second step with it; null before the first'),
    backedUp: z.boolean().describe('The authenticator says it is synced (backed up), e.g. to a password manager'),
  })
  .describe('A passkey of the user. Never carries the credential id or the public key.');
responses.add(passkeySchema, { id: 'Passkey' });
responses.add(
  z.strictObject({
    totp: z.boolean().describe('An authenticator app is on'),
    passkeys: z.array(passkeySchema).describe('Oldest first; two-step sign-in is on while there is one, or `totp`'),
    recoveryCodesLeft: z.number().int().min(0),
  }),
  { id: 'MfaStatus' },
);
responses.add(
  z.strictObject({
    secret: z.string().regex(/^[A-Z2-7]+=*$/).describe('Base32, 160 bits, for manual entry'),
    uri: z.string().startsWith('otpauth://totp/').describe('For a QR code'),
  }),
  { id: 'TotpSetup' },
);
const recoveryCodes = z.array(z.string().regex(/^[0-9A-Z]{4}(-[0-9A-Z]{4}){3}$/)).length(10).describe('Shown once: store them safely');
responses.add(z.strictObject({ recoveryCodes: recoveryCodes.optional() }), { id: 'TotpConfirmed' });
responses.add(z.strictObject({ recoveryCodes }), { id: 'RecoveryCodes' });
responses.add(z.strictObject({ passkey: passkeySchema }), { id: 'PasskeyResponse' });
responses.add(
  z.strictObject({
    passkey: passkeySchema,
    recoveryCodes: recoveryCodes.optional().describe('Only when this is the account\'s first second factor; shown once'),
  }),
  { id: 'PasskeyRegistered' },
);
for (const [id, schema] of Object.entries(WEBAUTHN_OPTIONS)) responses.add(schema, { id });
responses.add(
  z.strictObject({
    devices: z.array(
      z.strictObject({
        id: z.string(),
        current: z.boolean().describe('This browser'),
        firstSeenAt: timestamp,
        lastSeenAt: timestamp,
        userAgent: z.string(),
        ip: z.string(),
        trusted: z.boolean().describe('A password sign-in from it skips the second step'),
        trustedUntil: timestamp.optional(),
      }),
    ),
  }),
  { id: 'DevicesResponse' },
);

/* Administration (API.md, "Administration"); mirrors `toAdminUser` and `toAdminEvent`. */
export const adminUserSchema = userResponseSchema
  .extend({
    disabled: z.boolean().describe('An administrator disabled the account: it cannot sign in'),
    disabledReason: z.string().optional().describe('The reason given when it was disabled, if any (only while disabled)'),
    lastLoginAt: timestamp.nullable().describe('The last sign-in (password, second step or passkey); null before the first'),
    sessionCount: z.number().int().min(0).describe('Live sessions of the account'),
  })
  .describe('An account as administrators see it: a User and its state.');
export const adminEventSchema = eventResponseSchema
  .extend({ userId: z.string().nullable().describe('The account the event concerns; null for a failed login naming no account') })
  .describe('An entry of the audit trail of any account.');
const nextCursor = (of: string) => z.string().optional().describe(`Pass as \`${of}\` to get the next (older) page; absent on the last page`);
responses.add(adminUserSchema, { id: 'AdminUser' });
responses.add(adminEventSchema, { id: 'AdminEvent' });
responses.add(z.strictObject({ user: adminUserSchema }), { id: 'AdminUserResponse' });
responses.add(
  z.strictObject({ users: z.array(adminUserSchema).describe('Newest account first'), next: nextCursor('cursor') }),
  { id: 'AdminUsersResponse' },
);
responses.add(
  z.strictObject({
    user: adminUserSchema,
    sessions: z.array(sessionResponseSchema).describe('Every live session of the account, most recently used first (`current` is always false)'),
    events: z.array(adminEventSchema).describe('The 20 newest events of the account, newest first'),
  }),
  { id: 'AdminUserPage' },
);
responses.add(z.strictObject({ events: z.array(adminEventSchema).describe('Newest first'), next: nextCursor('before') }), {
  id: 'AdminEventsResponse',
});
responses.add(z.strictObject({ status: z.literal('ok') }), { id: 'Health' });
responses.add(
  z.strictObject({
    status: z.enum(['ready', 'unavailable']),
    database: z.boolean(),
    sessionStore: z.boolean(),
  }),
  { id: 'Readiness' },
);

/* ------------------------------------------------------------------ request schemas */

/** The server's own validators, by component name. */
export const requests = z.registry<{ id: string; description?: string }>();
export const requestSchemas = {
  RegisterRequest: registerBody,
  LoginRequest: loginBody,
  PasswordProofRequest: passwordProofBody,
  ChangePasswordRequest: changePasswordBody,
  EmailRequest: emailBody,
  TokenRequest: tokenBody,
  ResetPasswordRequest: resetPasswordBody,
  ChangeEmailRequest: changeEmailBody,
  MfaVerifyRequest: mfaVerifyBody,
  MfaCodeRequest: mfaCodeBody,
  PasskeyRegisterRequest: passkeyRegisterBody,
  PasskeyRenameRequest: passkeyRenameBody,
  PasskeyLoginRequest: passkeyLoginBody,
  DisableRequest: disableBody,
  RoleRequest: roleBody,
} as const;
for (const [id, schema] of Object.entries(requestSchemas)) requests.add(schema, { id });
// Named, so the bodies that carry them refer to one component each.
requests.add(registrationResponseSchema, {
  id: 'RegistrationResponseJSON',
  description:
    'WebAuthn Level 3 RegistrationResponseJSON: what `navigator.credentials.create()` resolved to, as `PublicKeyCredential.toJSON()` gives it (base64url without padding). The shape is checked here; origin, rp id, challenge and user verification by the server.',
});
requests.add(authenticationResponseSchema, {
  id: 'AuthenticationResponseJSON',
  description:
    'WebAuthn Level 3 AuthenticationResponseJSON: what `navigator.credentials.get()` resolved to, as `PublicKeyCredential.toJSON()` gives it (base64url without padding). The shape is checked here; origin, rp id, challenge, signature and user verification by the server.',
});

/**
 * Rules zod checks with refinements (which JSON Schema cannot express) or the password policy
 * enforces after parsing: added as descriptions, never as a copy of the schema.
 */
export const FIELD_NOTES: Record<string, string> = {
  'PasskeyRegisterRequest.name': 'A name for the passkey, 1 to 64 characters after trimming; default `Passkey added YYYY-MM-DD`',
  'PasskeyRenameRequest.name': 'The new name, 1 to 64 characters after trimming',
  'PasskeyRegisterRequest.response': 'The answer of `navigator.credentials.create()` to the options of POST /api/auth/passkeys/register/options',
  'PasskeyLoginRequest.response': 'The answer of `navigator.credentials.get()` to the options of POST /api/auth/passkeys/login/options',
  'DisableRequest.reason': 'Why, for the administrators (kept on the account as `disabledReason`); 1 to 500 characters after trimming, no control characters but new lines and tabs',
  'RoleRequest.role': 'The new role; a change ends every session of the account (it signs in again with the new role)',
  rememberDevice: 'Let a password sign-in from this browser skip the second step for MFA_REMEMBER_DEVICE (default 30d)',
  email: 'Trimmed and lower-cased; at most 254 characters',
  newEmail: 'A valid address; trimmed and lower-cased; at most 254 characters',
  name: '2 to 100 characters after trimming; no control characters',
  password:
    'NFKC-normalized, then checked against the password policy (PASSWORD_MIN_LENGTH, default 15, to PASSWORD_MAX_LENGTH, default 256, code points; not common; must not contain the email or name) where a new password is set',
  newPassword: 'NFKC-normalized; must satisfy the password policy (else 400 `weak_password`)',
  currentPassword: 'The current password',
  rememberMe: 'Keep the session for REMEMBER_ME_TIMEOUT (default 30d) with a persistent cookie',
  token: 'The token from the link sent by mail',
  before: 'The `next` cursor of an earlier page',
  limit: 'Page size, 1 to 100',
};

export type JsonSchema = Record<string, unknown>;

export function componentSchemas(
  registry: z.core.$ZodRegistry<{ id: string; description?: string }>,
  io: 'input' | 'output',
): Record<string, JsonSchema> {
  const out = z.toJSONSchema(registry, {
    target: 'draft-2020-12',
    io,
    unrepresentable: 'any',
    uri: (id) => `#/components/schemas/${id}`,
  }) as { schemas: Record<string, JsonSchema> };
  const result: Record<string, JsonSchema> = {};
  for (const [id, schema] of Object.entries(out.schemas)) {
    const { $schema: _ignored, $id: _id, ...rest } = schema;
    const described = registry._idmap.get(id);
    const description = described && registry.get(described)?.description;
    result[id] = description && rest.description === undefined ? { ...rest, description } : rest;
  }
  return result;
}

/** Adds FIELD_NOTES (`Component.field` first, then `field`) to the fields of a request body, and of each of its alternatives. */
export function annotateFields(schema: JsonSchema, component: string): JsonSchema {
  const alternatives = schema.oneOf as JsonSchema[] | undefined;
  if (alternatives) return { ...schema, oneOf: alternatives.map((alternative) => annotateFields(alternative, component)) };
  const properties = schema.properties as Record<string, JsonSchema> | undefined;
  if (!properties) return schema;
  const annotated: Record<string, JsonSchema> = {};
  for (const [name, property] of Object.entries(properties)) {
    const note = FIELD_NOTES[`${component}.${name}`] ?? FIELD_NOTES[name];
    annotated[name] = note && property.description === undefined ? { ...property, description: note } : property;
  }
  return { ...schema, properties: annotated };
}
