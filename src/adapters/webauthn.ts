/**
 * The WebAuthn ceremonies through @simplewebauthn/server, with the relying party fixed by
 * configuration (WEBAUTHN_RP_ID, WEBAUTHN_ORIGINS; API.md, "Passkeys"). User verification is
 * required, attestation is not asked for, resident (discoverable) keys are required. The
 * library's own counter check is left out on purpose: the domain applies it (passkeys.ts) so
 * that a counter going back is told apart from a bad signature and recorded.
 */
import {
  generateAuthenticationOptions,
  generateRegistrationOptions,
  verifyAuthenticationResponse,
  verifyRegistrationResponse,
  type AuthenticatorTransportFuture,
} from '@simplewebauthn/server';
import { decodeClientDataJSON } from '@simplewebauthn/server/helpers';
import type {
  AuthenticationResponseJSON,
  CreationOptions,
  CredentialDescriptor,
  NewCredential,
  RegistrationResponseJSON,
  RequestOptions,
  WebAuthnCeremonies,
} from '../domain/passkeys.js';

export interface RelyingParty {
  /** Shown by authenticators next to the account. */
  name: string;
  id: string;
  origins: readonly string[];
}

/** How long the browser's prompt stays open (the challenge itself lives 5 minutes). */
const PROMPT_TIMEOUT_MS = 120_000;

export class SimpleWebAuthnCeremonies implements WebAuthnCeremonies {
  constructor(private readonly rp: RelyingParty) {}

  creationOptions(input: { challenge: Buffer; user: { handle: string; name: string; displayName: string }; exclude: CredentialDescriptor[] }): Promise<CreationOptions> {
    return generateRegistrationOptions({
      rpName: this.rp.name,
      rpID: this.rp.id,
      userName: input.user.name,
      userID: new Uint8Array(Buffer.from(input.user.handle, 'base64url')),
      userDisplayName: input.user.displayName,
      challenge: new Uint8Array(input.challenge),
      timeout: PROMPT_TIMEOUT_MS,
      attestationType: 'none',
      excludeCredentials: input.exclude.map(toDescriptor),
      authenticatorSelection: { residentKey: 'required', requireResidentKey: true, userVerification: 'required' },
    });
  }

  requestOptions(input: { challenge: Buffer; allow?: CredentialDescriptor[] }): Promise<RequestOptions> {
    return generateAuthenticationOptions({
      rpID: this.rp.id,
      challenge: new Uint8Array(input.challenge),
      timeout: PROMPT_TIMEOUT_MS,
      userVerification: 'required',
      ...(input.allow ? { allowCredentials: input.allow.map(toDescriptor) } : {}),
    });
  }

  challengeOf(response: RegistrationResponseJSON | AuthenticationResponseJSON): string | null {
    try {
      const { challenge } = decodeClientDataJSON(response.response.clientDataJSON);
      return typeof challenge === 'string' && challenge.length > 0 ? challenge : null;
    } catch {
      return null; // not base64url JSON: answers no challenge
    }
  }

  async verifyRegistration(response: RegistrationResponseJSON, challenge: string): Promise<NewCredential | null> {
    try {
      const result = await verifyRegistrationResponse({
        response,
        expectedChallenge: challenge,
        expectedOrigin: [...this.rp.origins],
        expectedRPID: this.rp.id,
        requireUserVerification: true,
      });
      if (!result.verified || !result.registrationInfo.userVerified) return null;
      const { credential, credentialDeviceType, credentialBackedUp } = result.registrationInfo;
      return {
        credentialId: credential.id,
        publicKey: Buffer.from(credential.publicKey),
        counter: credential.counter,
        transports: credential.transports ?? response.response.transports ?? [],
        backupEligible: credentialDeviceType === 'multiDevice',
        backedUp: credentialBackedUp,
      };
    } catch {
      return null; // malformed, wrong origin or rp id, no user verification, bad attestation
    }
  }

  async verifyAuthentication(
    response: AuthenticationResponseJSON,
    challenge: string,
    passkey: { credentialId: string; publicKey: Buffer; transports: string[] },
  ): Promise<{ counter: number; backedUp: boolean } | null> {
    try {
      const result = await verifyAuthenticationResponse({
        response,
        expectedChallenge: challenge,
        expectedOrigin: [...this.rp.origins],
        expectedRPID: this.rp.id,
        // Counter 0 turns the library's check off; the domain checks it against the stored one.
        credential: { id: passkey.credentialId, publicKey: new Uint8Array(passkey.publicKey), counter: 0, transports: passkey.transports as AuthenticatorTransportFuture[] },
        requireUserVerification: true,
      });
      if (!result.verified || !result.authenticationInfo.userVerified) return null;
      return { counter: result.authenticationInfo.newCounter, backedUp: result.authenticationInfo.credentialBackedUp };
    } catch {
      return null; // malformed, bad signature, wrong origin or rp id, no user verification
    }
  }
}

function toDescriptor(d: CredentialDescriptor): { id: string; transports: AuthenticatorTransportFuture[] } {
  return { id: d.credentialId, transports: d.transports as AuthenticatorTransportFuture[] };
}
