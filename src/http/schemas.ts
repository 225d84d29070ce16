/**
 * Request bodies, validated with zod. The same schemas will feed the OpenAPI document.
 * Unknown fields are dropped; wrong types are 400 `invalid_input` with per-field issues.
 */
import { z } from 'zod';
import { authEventTypes } from '../domain/auth-events.js';
import { LatchError } from '../domain/errors.js';
import { codePointLength } from '../domain/password-policy.js';
import { EMAIL_MAX_LENGTH, NAME_MAX_LENGTH, NAME_MIN_LENGTH } from '../domain/user.js';

/** Control characters (NUL, CR, LF, …) have no business in an address or a display name. */
const CONTROL = /\p{Cc}/u;

export const emailSchema = z
  .string()
  .trim()
  .toLowerCase()
  .max(EMAIL_MAX_LENGTH, `Email must be at most ${EMAIL_MAX_LENGTH} characters`)
  .pipe(z.email('Enter a valid email address'));

const nameSchema = z
  .string()
  .trim()
  .refine((v) => !CONTROL.test(v), 'Name must not contain control characters')
  .refine((v) => codePointLength(v) >= NAME_MIN_LENGTH, `Name must be at least ${NAME_MIN_LENGTH} characters`)
  .refine((v) => codePointLength(v) <= NAME_MAX_LENGTH, `Name must be at most ${NAME_MAX_LENGTH} characters`);

/** Length and strength rules live in the domain's password policy, not here. */
const passwordSchema = z.string().min(1, 'Password is required');

/**
 * An address to look up (login, forgot password): not validated as an address — a malformed
 * one is simply not found — but control characters are refused outright (PostgreSQL text
 * cannot even hold a NUL).
 */
function loginEmail() {
  return z
    .string()
    .trim()
    .toLowerCase()
    .max(EMAIL_MAX_LENGTH)
    .refine((v) => !CONTROL.test(v), 'Email must not contain control characters');
}

export const registerBody = z.object({ email: emailSchema, password: passwordSchema, name: nameSchema });
export const loginBody = z.object({
  email: loginEmail(),
  password: passwordSchema,
  rememberMe: z.boolean().default(false),
});

export const passwordProofBody = z.object({ password: passwordSchema });
export const changePasswordBody = z.object({ currentPassword: passwordSchema, newPassword: passwordSchema });

/** A code from an authenticator app or a recovery code, as typed (spaces and dashes allowed). */
const codeSchema = z.string().trim().min(1, 'Code is required').max(64, 'Code is too long');
export const mfaCodeBody = z.object({ code: codeSchema });
/* WebAuthn Level 3 JSON (RegistrationResponseJSON, AuthenticationResponseJSON): the shapes are
   checked here, the contents by the WebAuthn library. */
const base64url = z.string().regex(/^[A-Za-z0-9_-]+$/, 'must be base64url').max(8192);
const transports = z.array(z.enum(['ble', 'cable', 'hybrid', 'internal', 'nfc', 'smart-card', 'usb'])).max(8);
const credentialCommon = {
  id: base64url,
  rawId: base64url,
  type: z.literal('public-key'),
  clientExtensionResults: z.record(z.string(), z.unknown()).default({}),
  authenticatorAttachment: z.enum(['platform', 'cross-platform']).optional(),
};
export const registrationResponseSchema = z.object({
  ...credentialCommon,
  response: z.object({
    clientDataJSON: base64url,
    attestationObject: base64url,
    authenticatorData: base64url.optional(),
    transports: transports.optional(),
    publicKeyAlgorithm: z.number().int().optional(),
    publicKey: base64url.optional(),
  }),
});
export const authenticationResponseSchema = z.object({
  ...credentialCommon,
  response: z.object({
    clientDataJSON: base64url,
    authenticatorData: base64url,
    signature: base64url,
    userHandle: base64url.optional(),
  }),
});
const passkeyName = z
  .string()
  .trim()
  .min(1, 'Name is required')
  .max(64, 'Name is at most 64 characters')
  .refine((v) => !CONTROL.test(v), 'Name must not contain control characters');
export const passkeyRegisterBody = z.object({ response: registrationResponseSchema, name: passkeyName.optional() });
export const passkeyRenameBody = z.object({ name: passkeyName });
export const passkeyLoginBody = z.object({ response: authenticationResponseSchema, rememberMe: z.boolean().default(false) });

export const mfaVerifyBody = z.discriminatedUnion('method', [
  z.object({ method: z.enum(['totp', 'recovery_code']), code: codeSchema, rememberDevice: z.boolean().default(false) }),
  z.object({ method: z.literal('passkey'), response: authenticationResponseSchema, rememberDevice: z.boolean().default(false) }),
]);

export const emailBody = z.object({ email: loginEmail() });
export const tokenBody = z.object({ token: z.string().max(200) });
export const resetPasswordBody = z.object({ token: z.string().max(200), password: passwordSchema });
export const changeEmailBody = z.object({ newEmail: emailSchema, password: passwordSchema });

/** `GET /events?before=&limit=`: `before` is the `next` cursor of an earlier page. */
export const eventsQuery = z.object({
  before: z.string().regex(/^\d{1,18}$/, 'before must be a cursor from an earlier page').optional(),
  limit: z
    .string()
    .regex(/^\d{1,3}$/, 'limit must be a whole number from 1 to 100')
    .transform(Number)
    .pipe(z.number().int().min(1, 'limit must be at least 1').max(100, 'limit must be at most 100'))
    .optional(),
});

/* Administration (API.md, "Administration"). */
const limitParam = z
  .string()
  .regex(/^\d{1,3}$/, 'limit must be a whole number from 1 to 100')
  .transform(Number)
  .pipe(z.number().int().min(1, 'limit must be at least 1').max(100, 'limit must be at most 100'));
export const adminUsersQuery = z.object({
  query: z.string().trim().max(254, 'query is at most 254 characters').optional(),
  cursor: z.string().regex(/^[A-Za-z0-9_-]{1,200}$/, 'cursor must be a `next` value from an earlier page').optional(),
  limit: limitParam.optional(),
});
export const adminEventsQuery = z.object({
  userId: z.string().regex(/^[0-9a-f-]{36}$/, 'userId must be a user id').optional(),
  type: z.enum(authEventTypes).optional(),
  before: z.string().regex(/^\d{1,18}$/, 'before must be a cursor from an earlier page').optional(),
  limit: limitParam.optional(),
});
export const disableBody = z.object({
  reason: z
    .string()
    .trim()
    .min(1, 'Reason must not be empty')
    .max(500, 'Reason is at most 500 characters')
    .refine((v) => !CONTROL.test(v.replace(/[\n\t]/g, ' ')), 'Reason must not contain control characters')
    .optional(),
});
export const roleBody = z.object({ role: z.enum(['user', 'admin']) });

export function parseBody<S extends z.ZodType>(schema: S, body: unknown): z.output<S> {
  const result = schema.safeParse(body ?? {});
  if (result.success) return result.data;
  const issues = result.error.issues.map((issue) => ({
    path: issue.path.map(String).join('.'),
    message: issue.message,
  }));
  throw new LatchError('invalid_input', 'Invalid input', issues);
}
