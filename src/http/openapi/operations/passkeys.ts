/** Passkeys (WebAuthn): adding, naming and removing them, and signing in with one. */
import type { JsonSchema } from '../schemas.js';
import type { OperationSpec } from './spec.js';

const PASSKEY_ID = "The passkey id (`Passkey.id`, not the credential id); another user's or an unknown one is 404";

/** A 32-byte challenge in base64url without padding. */
const CHALLENGE = { type: 'string', pattern: '^[A-Za-z0-9_-]{43}$' };

/** The creation options, and what Latch promises on top of the Level 3 shape (API.md). */
const CREATION_OPTIONS: JsonSchema = {
  allOf: [{ $ref: '#/components/schemas/PublicKeyCredentialCreationOptionsJSON' }],
  required: ['rp', 'user', 'challenge', 'pubKeyCredParams', 'excludeCredentials', 'authenticatorSelection', 'attestation'],
  properties: {
    challenge: CHALLENGE,
    attestation: { const: 'none' },
    authenticatorSelection: {
      required: ['residentKey', 'userVerification'],
      properties: { residentKey: { const: 'required' }, requireResidentKey: { const: true }, userVerification: { const: 'required' } },
    },
  },
};

/** The request options, and what Latch promises on top of the Level 3 shape (API.md). */
const REQUEST_OPTIONS: JsonSchema = {
  allOf: [{ $ref: '#/components/schemas/PublicKeyCredentialRequestOptionsJSON' }],
  required: ['challenge', 'rpId', 'userVerification'],
  properties: { challenge: CHALLENGE, userVerification: { const: 'required' } },
};

const CHALLENGE_TEXT =
  'The challenge is 32 random bytes, kept on the server, taken out by its first use (successful or not), and expires after 5 minutes. Challenges asked for are counted per client IP (429 past the budget).';

const STEP_UP_TEXT =
  'A session of an account with two-step on that was proven by the password alone (a remembered device, aal1) gets 403 `second_factor_required` until it steps up with POST /api/auth/mfa/verify.';

export const passkeyOperations: OperationSpec[] = [
  {
    method: 'post',
    path: '/api/auth/passkeys/register/options',
    operationId: 'passkeyRegistrationOptions',
    tag: 'Passkeys',
    summary: 'Options to create a passkey',
    description: `The bare PublicKeyCredentialCreationOptionsJSON (not wrapped in \`publicKey\`) for \`navigator.credentials.create()\`: a discoverable credential (\`residentKey: "required"\`), user verification \`required\`, no attestation (\`none\`), and \`excludeCredentials\` listing the user's passkeys so that an authenticator holding one does not make a second. ${CHALLENGE_TEXT} It is answered with POST /api/auth/passkeys/register by this session only. ${STEP_UP_TEXT}`,
    access: 'reauth',
    success: [{ status: 200, description: 'Creation options', content: { type: 'application/json', schema: CREATION_OPTIONS } }],
    errors: { 403: ['second_factor_required'] },
  },
  {
    method: 'post',
    path: '/api/auth/passkeys/register',
    operationId: 'registerPasskey',
    tag: 'Passkeys',
    summary: 'Add a passkey',
    description: `Checks the answer to this session's creation options: origin (WEBAUTHN_ORIGINS), rp id (WEBAUTHN_RP_ID), challenge, user verification. Anything wrong (also another session's, a used or an expired challenge, or a credential registered already) is 400 \`invalid_passkey\` and stores nothing. The session goes on under a new cookie as aal2, with \`passkey\` added to its methods. When this is the account's first second factor, two-step sign-in turns on: a credential change (every other session, mailed link, remembered device and login in flight ends) and 10 recovery codes come with the answer, shown once; otherwise remembered devices end. ${STEP_UP_TEXT}`,
    access: 'reauth',
    body: 'PasskeyRegisterRequest',
    success: [{ status: 201, description: 'Added; the session cookie is rotated', schema: 'PasskeyRegistered', setsCookie: true }],
    errors: { 400: ['invalid_passkey'], 403: ['second_factor_required'] },
  },
  {
    method: 'patch',
    path: '/api/auth/passkeys/{id}',
    operationId: 'renamePasskey',
    tag: 'Passkeys',
    summary: 'Rename a passkey',
    access: 'user',
    pathId: PASSKEY_ID,
    body: 'PasskeyRenameRequest',
    success: [{ status: 200, description: 'Renamed', schema: 'PasskeyResponse' }],
    errors: { 404: ['not_found'] },
  },
  {
    method: 'delete',
    path: '/api/auth/passkeys/{id}',
    operationId: 'deletePasskey',
    tag: 'Passkeys',
    summary: 'Remove a passkey',
    description: `It no longer signs in. Remembered devices end. When it was the account's last second factor, the recovery codes are deleted and two-step sign-in is off: a credential change (every other session, mailed link and login in flight ends; this session goes on under a new cookie). ${STEP_UP_TEXT}`,
    access: 'reauth',
    pathId: PASSKEY_ID,
    success: [{ status: 204, description: 'Removed (no body); when two-step went off, the session cookie is rotated', setsCookie: true }],
    errors: { 403: ['second_factor_required'], 404: ['not_found'] },
  },
  {
    method: 'post',
    path: '/api/auth/passkeys/login/options',
    operationId: 'passkeySignInOptions',
    tag: 'Passkeys',
    summary: 'Options to sign in with a passkey',
    description: `The bare PublicKeyCredentialRequestOptionsJSON for \`navigator.credentials.get()\`, user verification \`required\`. For a guest: no \`allowCredentials\` (a discoverable credential names its user), answered with POST /api/auth/passkeys/login. For a pending session (a password sign-in that answered \`mfaRequired\`) or an aal1 session stepping up: \`allowCredentials\` lists that user's passkeys, the challenge is bound to that session, and the answer goes to POST /api/auth/mfa/verify (\`method: "passkey"\`). ${CHALLENGE_TEXT}`,
    access: 'guestOrPending',
    success: [{ status: 200, description: 'Request options', content: { type: 'application/json', schema: REQUEST_OPTIONS } }],
  },
  {
    method: 'post',
    path: '/api/auth/passkeys/login',
    operationId: 'passkeySignIn',
    tag: 'Passkeys',
    summary: 'Sign in with a passkey',
    description:
      "Without a password: the passkey verifies its user, so the NEW session is aal2 with methods `[\"passkey\"]` (`rememberMe` as for a password login). An unknown credential, a bad signature, a wrong origin or rp id, no user verification, an unknown, used or expired challenge, or a signature counter that went back (recorded as `passkey_counter_error`): all are 401 `invalid_credentials` and nothing is created. A passkey that verifies, of an account an administrator disabled, answers 403 `account_disabled`; with REQUIRE_EMAIL_VERIFICATION=true, of an unverified address 403 `email_unverified`. A pending session this browser still held ends. A first sign-in from a browser mails the owner (NEW_DEVICE_ALERTS) and sets the device cookie.",
    access: 'guest',
    body: 'PasskeyLoginRequest',
    success: [{ status: 200, description: 'Signed in; a new session cookie is set', schema: 'UserResponse', setsCookie: true }],
    errors: { 401: ['invalid_credentials'], 403: ['account_disabled', 'email_unverified'] },
  },
];
