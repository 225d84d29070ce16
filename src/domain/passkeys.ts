/**
 * Passkeys (API.md, "Passkeys (WebAuthn)"): what is kept of each credential, and the ports the
 * passkey rules speak through. The WebAuthn ceremonies themselves (CBOR, signatures, origins)
 * are a well-kept library's business, behind `WebAuthnCeremonies` (adapters/webauthn.ts).
 */
import type {
  AuthenticationResponseJSON,
  PublicKeyCredentialCreationOptionsJSON,
  PublicKeyCredentialRequestOptionsJSON,
  RegistrationResponseJSON,
} from '@simplewebauthn/server';

export type { AuthenticationResponseJSON, RegistrationResponseJSON };
export type CreationOptions = PublicKeyCredentialCreationOptionsJSON;
export type RequestOptions = PublicKeyCredentialRequestOptionsJSON;

export interface Passkey extends NewCredential {
  /** The public handle of the passkey (never the credential id). */
  id: string;
  userId: string;
  name: string;
  createdAt: number;
  lastUsedAt: number | null;
}

export interface PasskeyStore {
  listByUser(userId: string): Promise<Passkey[]>;
  countByUser(userId: string): Promise<number>;
  findByCredentialId(credentialId: string): Promise<Passkey | null>;
  /**
   * Adds it while the owner's credential epoch is still `ifEpoch` (`stale` otherwise: the
   * session that asked was ended meanwhile); `duplicate` when the credential id is registered
   * already (to anyone).
   */
  add(passkey: Passkey, ifEpoch: number): Promise<'added' | 'duplicate' | 'stale'>;
  rename(userId: string, id: string, name: string): Promise<Passkey | null>;
  /** Removes it; with `ifEpoch`, only while the owner's credential epoch is still that one. */
  remove(userId: string, id: string, ifEpoch?: number): Promise<'removed' | 'none' | 'stale'>;
  /** Every passkey of the user (an administrator's second-factor reset). */
  removeAll(userId: string): Promise<void>;
  /**
   * Records a use: only while the passkey exists and its counter is still `seenCounter`, so of
   * two uses racing with one counter value one wins. False otherwise.
   */
  recordUse(id: string, seenCounter: number, use: { counter: number; backedUp: boolean; at: number }): Promise<boolean>;
  /** The user's WebAuthn user handle, made with `fresh` on first use (opaque, never the user id). */
  userHandleOf(userId: string, fresh: () => string): Promise<string>;
  userIdByHandle(handle: string): Promise<string | null>;
}

/**
 * What a challenge was issued for: a registration and a second step are bound to the session
 * that asked; a guest's sign-in to nothing but itself.
 */
export type ChallengeBinding =
  | { purpose: 'register'; sessionId: string }
  | { purpose: 'second_step'; sessionId: string }
  | { purpose: 'login' };

export interface ChallengeStore {
  put(challenge: string, binding: ChallengeBinding, ttlMs: number): Promise<void>;
  /** Takes the challenge out (its first use, whatever follows): exactly one of parallel takes gets it. */
  take(challenge: string): Promise<ChallengeBinding | null>;
}

export interface CredentialDescriptor {
  credentialId: string;
  transports: string[];
}

/** What a verified registration yields. */
export interface NewCredential {
  /** The authenticator's credential id, base64url. */
  credentialId: string;
  /** COSE public key. */
  publicKey: Buffer;
  /** The signature counter last seen (0: the authenticator keeps none). */
  counter: number;
  transports: string[];
  backupEligible: boolean;
  backedUp: boolean;
}

/** The WebAuthn ceremonies, with the relying party's id and origins fixed by configuration. */
export interface WebAuthnCeremonies {
  creationOptions(input: {
    challenge: Buffer;
    user: { handle: string; name: string; displayName: string };
    exclude: CredentialDescriptor[];
  }): Promise<CreationOptions>;
  requestOptions(input: { challenge: Buffer; allow?: CredentialDescriptor[] }): Promise<RequestOptions>;
  /** The challenge a response claims to answer (base64url), or null when it names none. */
  challengeOf(response: RegistrationResponseJSON | AuthenticationResponseJSON): string | null;
  /** The new credential, or null when the response is not a valid, user-verified answer to `challenge`. */
  verifyRegistration(response: RegistrationResponseJSON, challenge: string): Promise<NewCredential | null>;
  /**
   * The authenticator's new counter and backup state, or null unless the response is a valid,
   * user-verified signature by `passkey` over `challenge`. Counter rules are the caller's.
   */
  verifyAuthentication(
    response: AuthenticationResponseJSON,
    challenge: string,
    passkey: Pick<Passkey, 'credentialId' | 'publicKey' | 'transports'>,
  ): Promise<{ counter: number; backedUp: boolean } | null>;
}

/** How a passkey appears in answers (API.md, "Objects"). */
export interface PublicPasskey {
  id: string;
  name: string;
  createdAt: string;
  lastUsedAt: string | null;
  backedUp: boolean;
}

export function publicPasskey(passkey: Passkey): PublicPasskey {
  return {
    id: passkey.id,
    name: passkey.name,
    createdAt: new Date(passkey.createdAt).toISOString(),
    lastUsedAt: passkey.lastUsedAt === null ? null : new Date(passkey.lastUsedAt).toISOString(),
    backedUp: passkey.backedUp,
  };
}

/**
 * A signature counter that did not move forward, when the authenticator keeps one (WebAuthn
 * §6.1.1): a sign that the credential's key was copied. Both 0: it keeps none.
 */
export function counterWentBack(stored: number, received: number): boolean {
  return (stored > 0 || received > 0) && received <= stored;
}
