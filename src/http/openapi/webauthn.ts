/**
 * The WebAuthn Level 3 JSON options the passkey routes send
 * (PublicKeyCredentialCreationOptionsJSON, PublicKeyCredentialRequestOptionsJSON and their parts),
 * field for field as @simplewebauthn/server 13 declares them (`esm/types/index.d.ts`, `dom.d.ts`).
 * Objects stay open (`additionalProperties`): the library may add members, and a client must
 * ignore the ones it does not know. The answers the routes receive (RegistrationResponseJSON,
 * AuthenticationResponseJSON) are the server's own validators (`../schemas.ts`).
 */
import { z } from 'zod';

const base64url = z
  .string()
  .regex(/^[A-Za-z0-9_-]*$/)
  .describe('base64url without padding (RFC 4648 §5)');

const credentialType = z.literal('public-key');
const userVerification = z.enum(['discouraged', 'preferred', 'required']);
const attachment = z.enum(['cross-platform', 'platform']);
const transports = z
  .array(z.enum(['ble', 'cable', 'hybrid', 'internal', 'nfc', 'smart-card', 'usb']))
  .describe('How the client may reach the authenticator');
const hints = z
  .array(z.enum(['hybrid', 'security-key', 'client-device']))
  .describe('Which kind of authenticator the relying party expects (a hint to the browser)');
const timeout = z.number().min(0).describe('Milliseconds the browser may wait for the user');
const extensionInputs = z
  .looseObject({
    appid: z.string().optional(),
    credProps: z.boolean().optional().describe('Ask the browser whether the credential is discoverable'),
    hmacCreateSecret: z.boolean().optional(),
    minPinLength: z.boolean().optional(),
  })
  .describe('Client extension inputs');

const credentialDescriptor = z
  .looseObject({ id: base64url.describe('Credential id'), type: credentialType, transports: transports.optional() })
  .describe('PublicKeyCredentialDescriptorJSON: a credential the browser should use or refuse.');

const authenticatorSelection = z
  .looseObject({
    authenticatorAttachment: attachment.optional(),
    requireResidentKey: z.boolean().optional(),
    residentKey: z.enum(['discouraged', 'preferred', 'required']).optional(),
    userVerification: userVerification.optional(),
  })
  .describe('AuthenticatorSelectionCriteria');

const creationOptions = z
  .looseObject({
    rp: z.looseObject({ name: z.string(), id: z.string().optional() }).describe('The relying party (WEBAUTHN_RP_ID)'),
    user: z
      .looseObject({
        id: base64url.describe('The user handle: opaque, never the account id or the address'),
        name: z.string(),
        displayName: z.string(),
      })
      .describe('PublicKeyCredentialUserEntityJSON'),
    challenge: base64url.describe('32 random bytes; one use, 5 minutes'),
    pubKeyCredParams: z.array(z.looseObject({ alg: z.number().int().describe('COSE algorithm'), type: credentialType })),
    timeout: timeout.optional(),
    excludeCredentials: z.array(credentialDescriptor).optional(),
    authenticatorSelection: authenticatorSelection.optional(),
    hints: hints.optional(),
    attestation: z.enum(['direct', 'enterprise', 'indirect', 'none']).optional(),
    attestationFormats: z
      .array(z.enum(['fido-u2f', 'packed', 'android-safetynet', 'android-key', 'tpm', 'apple', 'none']))
      .optional(),
    extensions: extensionInputs.optional(),
  })
  .describe(
    'PublicKeyCredentialCreationOptionsJSON: pass to `PublicKeyCredential.parseCreationOptionsFromJSON()` (or a library doing the same), then to `navigator.credentials.create({publicKey})`.',
  );

const requestOptions = z
  .looseObject({
    challenge: base64url.describe('32 random bytes; one use, 5 minutes'),
    timeout: timeout.optional(),
    rpId: z.string().optional(),
    allowCredentials: z.array(credentialDescriptor).optional(),
    userVerification: userVerification.optional(),
    hints: hints.optional(),
    extensions: extensionInputs.optional(),
  })
  .describe(
    'PublicKeyCredentialRequestOptionsJSON: pass to `PublicKeyCredential.parseRequestOptionsFromJSON()` (or a library doing the same), then to `navigator.credentials.get({publicKey})`.',
  );

/** Component names of the shapes above, for the OpenAPI document. */
export const WEBAUTHN_OPTIONS = {
  PublicKeyCredentialCreationOptionsJSON: creationOptions,
  PublicKeyCredentialRequestOptionsJSON: requestOptions,
  PublicKeyCredentialDescriptorJSON: credentialDescriptor,
  AuthenticatorSelectionCriteria: authenticatorSelection,
} as const;

