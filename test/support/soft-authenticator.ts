/**
 * A software WebAuthn authenticator for the tests: it plays a browser plus a platform authenticator,
 * turning the option JSON a server sends into the WebAuthn Level 3 response JSON
 * (`PublicKeyCredential.toJSON()`), with real P-256 keys, real ECDSA signatures and a real CBOR
 * attestation object (`fmt: "none"`). Every forgery an attack test needs is a `Tamper` option, so a
 * test says what it breaks and the rest of the response stays honest.
 */
import { createHash, generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto';
import type {
  AuthenticationResponseJSON,
  PublicKeyCredentialCreationOptionsJSON,
  PublicKeyCredentialRequestOptionsJSON,
  RegistrationResponseJSON,
} from '@simplewebauthn/server';

export interface SoftAuthenticatorOptions {
  /** The page's origin the "browser" puts in clientDataJSON, e.g. 'https://latch.test'. */
  origin: string;
  /** The rp id used when the options name none (a browser defaults to the origin's host). */
  rpId: string;
}

export interface SoftAuthenticatorSettings {
  /** Default true: the signature counter goes up by one per assertion. False: always 0 (as synced passkeys do). */
  keepsCounter?: boolean;
  /** Default true: BE and BS set (a synced passkey, "multiDevice"). False: neither (a device-bound key). */
  backedUp?: boolean;
}

export interface SoftCredential {
  /** Credential id, base64url. */
  id: string;
  /** The options' user.id (base64url), returned as userHandle on every assertion: the credential is discoverable. */
  userHandle: string;
  rpId: string;
  /** The stored signature counter (the last value reported when keepsCounter is on). */
  counter: number;
  privateKey: KeyObject;
  publicKey: KeyObject;
}

/** What a test may forge; anything left out is what an honest browser and authenticator would send. */
export interface Tamper {
  /** clientDataJSON.origin (default: the authenticator's origin). */
  origin?: string;
  /** The rp id whose SHA-256 goes in authenticatorData's rpIdHash (default: the options' rp id). */
  rpId?: string;
  /** The UV flag (default true: a platform authenticator always verifies the user). */
  userVerified?: boolean;
  /** The UP flag (default true). */
  userPresent?: boolean;
  /** clientDataJSON.challenge (default: the options' challenge). */
  challenge?: string;
  /** clientDataJSON.type (default 'webauthn.create' / 'webauthn.get'). */
  type?: string;
}

export interface AssertionTamper extends Tamper {
  /** Sign with this credential (even one the options do not allow). */
  credentialId?: string;
  /** The signCount put in authenticatorData; the stored counter is left alone. */
  counter?: number;
  /** Sign with a throwaway key: well-formed DER, wrong key. */
  badSignature?: boolean;
  /** response.userHandle; null leaves it out (default: the credential's user handle). */
  userHandle?: string | null;
}

export interface ClientData {
  type: string;
  challenge: string;
  origin: string;
  crossOrigin?: boolean;
}

// Authenticator data flags, WebAuthn L3 §6.1 "Authenticator Data" (bits 1 and 5 are reserved).
const UP = 0x01;
const UV = 0x04;
const BE = 0x08;
const BS = 0x10;
const AT = 0x40;

/** COSE algorithm ES256 (RFC 9053 §2.1), the only one this authenticator makes. */
const ES256 = -7;

export class SoftAuthenticator {
  readonly credentials: SoftCredential[] = [];
  private readonly keepsCounter: boolean;
  private readonly backedUp: boolean;

  constructor(
    private readonly options: SoftAuthenticatorOptions,
    settings: SoftAuthenticatorSettings = {},
  ) {
    this.keepsCounter = settings.keepsCounter ?? true;
    this.backedUp = settings.backedUp ?? true;
  }

  /**
   * navigator.credentials.create(): makes a new resident P-256 credential for options.user.id.
   * excludeCredentials is deliberately ignored (a real authenticator would refuse with InvalidStateError),
   * so tests can check that the server itself refuses a second registration of the same credential.
   */
  register(options: PublicKeyCredentialCreationOptionsJSON, tamper: Tamper = {}): RegistrationResponseJSON {
    const rpId = this.checkedRpId(options.rp.id);
    // §5.1.3 (create): an empty pubKeyCredParams means ES256 and RS256; otherwise ES256 must be among them.
    if (options.pubKeyCredParams.length > 0 && !options.pubKeyCredParams.some((p) => p.type === 'public-key' && p.alg === ES256)) {
      throw new Error('NotSupportedError: the server does not offer ES256 (COSE -7), the only algorithm this authenticator has');
    }

    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const rawId = randomBytes(32);
    const credential: SoftCredential = {
      id: rawId.toString('base64url'),
      userHandle: options.user.id,
      rpId,
      counter: 0,
      privateKey,
      publicKey,
    };
    this.credentials.push(credential);

    // §6.5.1 "Attested Credential Data": AAGUID (16 bytes; zeros, as with "none" attestation),
    // credentialIdLength (u16 big-endian), credentialId, credentialPublicKey (COSE_Key in CBOR).
    const idLength = Buffer.alloc(2);
    idLength.writeUInt16BE(rawId.length);
    const attested = Buffer.concat([Buffer.alloc(16), idLength, rawId, coseKeyOf(publicKey)]);
    const authData = authenticatorData(tamper.rpId ?? rpId, this.flags(tamper) | AT, this.keepsCounter ? credential.counter : 0, attested);

    // "Generating an Attestation Object" (§6.5) with §8.7 "None Attestation Statement Format": {fmt: "none", attStmt: {}, authData}.
    // Keys in CTAP2 canonical order (shorter first), as authenticators send them.
    const attestationObject = cborEncode(
      new Map<Cbor, Cbor>([
        ['fmt', 'none'],
        ['attStmt', new Map()],
        ['authData', authData],
      ]),
    );

    return {
      id: credential.id,
      rawId: credential.id,
      type: 'public-key',
      response: {
        clientDataJSON: this.clientDataJSON('webauthn.create', options.challenge, tamper),
        attestationObject: attestationObject.toString('base64url'),
        // §5.2.1: getAuthenticatorData(), getPublicKey() (SPKI DER), getPublicKeyAlgorithm(), getTransports().
        authenticatorData: authData.toString('base64url'),
        publicKey: publicKey.export({ format: 'der', type: 'spki' }).toString('base64url'),
        publicKeyAlgorithm: ES256,
        transports: ['internal'],
      },
      authenticatorAttachment: 'platform',
      // The credProps extension (§10.1): a browser answers it when asked; this credential is always resident.
      clientExtensionResults: options.extensions?.credProps ? { credProps: { rk: true } } : {},
    };
  }

  /**
   * navigator.credentials.get(): signs with `tamper.credentialId` if given, else the first credential
   * of options.allowCredentials it holds for the rp id, else (discoverable) the first it holds for the rp id.
   */
  authenticate(options: PublicKeyCredentialRequestOptionsJSON, tamper: AssertionTamper = {}): AuthenticationResponseJSON {
    const rpId = this.checkedRpId(options.rpId);
    const credential = this.pick(rpId, options.allowCredentials, tamper.credentialId);

    if (this.keepsCounter) credential.counter += 1;
    const counter = tamper.counter ?? (this.keepsCounter ? credential.counter : 0);
    const authData = authenticatorData(tamper.rpId ?? rpId, this.flags(tamper), counter);
    const clientDataJSON = this.clientDataJSON('webauthn.get', options.challenge, tamper);

    // §6.3.3 authenticatorGetAssertion: the signature is over authenticatorData || SHA-256(clientDataJSON);
    // for ES256 it is an ASN.1 DER Ecdsa-Sig-Value (§6.5, "Signature Formats"), node:crypto's default.
    const signed = Buffer.concat([authData, sha256(Buffer.from(clientDataJSON, 'base64url'))]);
    const key = tamper.badSignature ? generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey : credential.privateKey;
    const signature = sign('sha256', signed, key);

    const userHandle = tamper.userHandle === undefined ? credential.userHandle : tamper.userHandle;
    return {
      id: credential.id,
      rawId: credential.id,
      type: 'public-key',
      response: {
        clientDataJSON,
        authenticatorData: authData.toString('base64url'),
        signature: signature.toString('base64url'),
        ...(userHandle === null ? {} : { userHandle }),
      },
      authenticatorAttachment: 'platform',
      clientExtensionResults: {},
    };
  }

  /** Sets the stored counter (to replay an old counter value, etc.); the next assertion reports counter + 1. */
  setCounter(credentialId: string, counter: number): void {
    this.find(credentialId).counter = counter;
  }

  private find(credentialId: string): SoftCredential {
    const credential = this.credentials.find((c) => c.id === credentialId);
    if (!credential) throw new Error(`NotAllowedError: this authenticator holds no credential ${credentialId}`);
    return credential;
  }

  private pick(rpId: string, allow: PublicKeyCredentialRequestOptionsJSON['allowCredentials'], credentialId: string | undefined): SoftCredential {
    if (credentialId !== undefined) return this.find(credentialId);
    const mine = this.credentials.filter((c) => c.rpId === rpId);
    const credential =
      allow && allow.length > 0
        ? allow.map((a) => mine.find((c) => c.id === a.id)).find((c) => c !== undefined)
        : mine[0];
    if (!credential) throw new Error(`NotAllowedError: no credential for ${rpId}${allow && allow.length > 0 ? ' among allowCredentials' : ''}`);
    return credential;
  }

  /**
   * A browser refuses an rp id that is neither the origin's host nor a registrable suffix of it
   * (§5.1.3 and §5.1.4.1, the rp id checks). No public-suffix list here: any dot-boundary suffix passes.
   */
  private checkedRpId(fromOptions: string | undefined): string {
    const rpId = fromOptions ?? this.options.rpId;
    const host = new URL(this.options.origin).hostname;
    if (host !== rpId && !host.endsWith(`.${rpId}`)) {
      throw new Error(`SecurityError: rp id ${rpId} is not the host of ${this.options.origin} nor a suffix of it`);
    }
    return rpId;
  }

  private flags(tamper: Tamper): number {
    return (
      ((tamper.userPresent ?? true) ? UP : 0) | ((tamper.userVerified ?? true) ? UV : 0) | (this.backedUp ? BE | BS : 0)
    );
  }

  /** §5.8.1 "Client Data": members in the order of the spec's limited serialization (§5.8.1.1). */
  private clientDataJSON(type: string, challenge: string, tamper: Tamper): string {
    const clientData: ClientData = {
      type: tamper.type ?? type,
      challenge: tamper.challenge ?? challenge,
      origin: tamper.origin ?? this.options.origin,
      crossOrigin: false,
    };
    return Buffer.from(JSON.stringify(clientData), 'utf8').toString('base64url');
  }
}

/** Decodes a response's clientDataJSON. */
export function clientDataOf(response: RegistrationResponseJSON | AuthenticationResponseJSON): ClientData {
  return JSON.parse(Buffer.from(response.response.clientDataJSON, 'base64url').toString('utf8')) as ClientData;
}

/**
 * §6.1 "Authenticator Data": rpIdHash (SHA-256 of the rp id, 32 bytes), flags (1 byte),
 * signCount (u32 big-endian), then attested credential data when AT is set.
 */
function authenticatorData(rpId: string, flags: number, signCount: number, attested?: Buffer): Buffer {
  const head = Buffer.alloc(37);
  sha256(Buffer.from(rpId, 'utf8')).copy(head, 0);
  head[32] = flags;
  head.writeUInt32BE(signCount, 33);
  return attested ? Buffer.concat([head, attested]) : head;
}

/**
 * The public key as a COSE_Key (RFC 9052 §7, RFC 9053 §7.1.1), EC2 on P-256:
 * {1 (kty): 2 (EC2), 3 (alg): -7 (ES256), -1 (crv): 1 (P-256), -2 (x): 32 bytes, -3 (y): 32 bytes},
 * in CTAP2 canonical key order.
 */
export function coseKeyOf(publicKey: KeyObject): Buffer {
  const jwk = publicKey.export({ format: 'jwk' });
  if (jwk.crv !== 'P-256' || !jwk.x || !jwk.y) throw new Error('coseKeyOf: a P-256 public key is needed');
  return cborEncode(
    new Map<Cbor, Cbor>([
      [1, 2],
      [3, ES256],
      [-1, 1],
      [-2, Buffer.from(jwk.x, 'base64url')], // JWK (RFC 7518 §6.2.1.2) pads x and y to the full 32 bytes
      [-3, Buffer.from(jwk.y, 'base64url')],
    ]),
  );
}

function sha256(data: Buffer): Buffer {
  return createHash('sha256').update(data).digest();
}

/** What the CBOR encoder below can write: the subset WebAuthn's structures use. */
export type Cbor = number | string | Uint8Array | Cbor[] | Map<Cbor, Cbor>;

/** A minimal CBOR encoder (RFC 8949 §3): integers, byte and text strings, arrays, maps; definite lengths only. */
export function cborEncode(value: Cbor): Buffer {
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value)) throw new TypeError(`cborEncode: ${value} is not a safe integer`);
    // Major type 0 holds n; major type 1 holds -1 - n (§3.1).
    return value >= 0 ? cborHead(0, value) : cborHead(1, -1 - value);
  }
  if (typeof value === 'string') {
    const bytes = Buffer.from(value, 'utf8');
    return Buffer.concat([cborHead(3, bytes.length), bytes]);
  }
  if (value instanceof Uint8Array) return Buffer.concat([cborHead(2, value.length), value]);
  if (value instanceof Map) {
    const parts = [cborHead(5, value.size)];
    for (const [k, v] of value) parts.push(cborEncode(k), cborEncode(v));
    return Buffer.concat(parts);
  }
  return Buffer.concat([cborHead(4, value.length), ...value.map(cborEncode)]);
}

/** The initial byte(s) of a data item (§3): major type in the top 3 bits, then the shortest argument encoding. */
function cborHead(major: number, argument: number): Buffer {
  const type = major << 5;
  if (argument < 24) return Buffer.from([type | argument]);
  if (argument < 0x100) return Buffer.from([type | 24, argument]);
  if (argument < 0x10000) {
    const head = Buffer.from([type | 25, 0, 0]);
    head.writeUInt16BE(argument, 1);
    return head;
  }
  if (argument < 0x1_0000_0000) {
    const head = Buffer.from([type | 26, 0, 0, 0, 0]);
    head.writeUInt32BE(argument, 1);
    return head;
  }
  const head = Buffer.alloc(9);
  head[0] = type | 27;
  head.writeBigUInt64BE(BigInt(argument), 1);
  return head;
}
