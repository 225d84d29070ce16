/**
 * The software authenticator the passkey tests use, checked against the real verifier
 * (@simplewebauthn/server) with no server in between: its honest answers verify, and each forgery
 * it offers is refused for the reason it stands for.
 */
import { createPublicKey } from 'node:crypto';
import {
  generateAuthenticationOptions,
  generateRegistrationOptions,
  verifyAuthenticationResponse,
  verifyRegistrationResponse,
  type AuthenticationResponseJSON,
  type PublicKeyCredentialCreationOptionsJSON,
  type RegistrationResponseJSON,
  type WebAuthnCredential,
} from '@simplewebauthn/server';
import { describe, expect, it } from 'vitest';
import {
  cborEncode,
  clientDataOf,
  coseKeyOf,
  SoftAuthenticator,
  type AssertionTamper,
  type Cbor,
  type SoftAuthenticatorSettings,
  type Tamper,
} from '../support/soft-authenticator.js';

const rpID = 'latch.test';
const origin = 'https://latch.test';
const userID = new TextEncoder().encode('user-ada');

function registrationOptions(): Promise<PublicKeyCredentialCreationOptionsJSON> {
  return generateRegistrationOptions({
    rpName: 'Latch',
    rpID,
    userName: 'ada@example.com',
    userID,
    attestationType: 'none',
    authenticatorSelection: { residentKey: 'required', userVerification: 'required' },
  });
}

function verifyRegistration(response: RegistrationResponseJSON, options: PublicKeyCredentialCreationOptionsJSON) {
  return verifyRegistrationResponse({
    response,
    expectedChallenge: options.challenge,
    expectedOrigin: origin,
    expectedRPID: rpID,
    requireUserVerification: true,
  });
}

/** An authenticator holding one credential the library accepted, and that credential as a server would store it. */
async function registered(settings?: SoftAuthenticatorSettings) {
  const authenticator = new SoftAuthenticator({ origin, rpId: rpID }, settings);
  const options = await registrationOptions();
  const response = authenticator.register(options);
  const verification = await verifyRegistration(response, options);
  if (!verification.verified || !verification.registrationInfo) throw new Error('registration did not verify');
  return { authenticator, options, response, verification, info: verification.registrationInfo, credential: verification.registrationInfo.credential };
}

/** A discoverable (usernameless) sign-in: no allowCredentials unless given. */
async function signIn(
  authenticator: SoftAuthenticator,
  credential: WebAuthnCredential,
  tamper?: AssertionTamper,
  allowCredentials?: { id: string }[],
) {
  const options = await generateAuthenticationOptions({ rpID, userVerification: 'required', allowCredentials });
  const response: AuthenticationResponseJSON = authenticator.authenticate(options, tamper);
  const verify = () =>
    verifyAuthenticationResponse({
      response,
      expectedChallenge: options.challenge,
      expectedOrigin: origin,
      expectedRPID: rpID,
      credential,
      requireUserVerification: true,
    });
  return { options, response, verify };
}

describe('SoftAuthenticator registration', () => {
  it('makes a response the library verifies, with the public key and credential id it holds', async () => {
    const { authenticator, options, response, info, credential } = await registered();
    const [held] = authenticator.credentials;
    if (!held) throw new Error('no credential held');

    expect(info.fmt).toBe('none');
    expect(info.aaguid).toBe('00000000-0000-0000-0000-000000000000');
    expect(info.userVerified).toBe(true);
    expect(info.credentialDeviceType).toBe('multiDevice'); // BE set
    expect(info.credentialBackedUp).toBe(true); // BS set
    expect(info.origin).toBe(origin);
    expect(info.rpID).toBe(rpID);

    expect(credential.id).toBe(held.id);
    expect(response.id).toBe(held.id);
    expect(credential.counter).toBe(0);
    expect(Buffer.from(credential.publicKey)).toEqual(coseKeyOf(held.publicKey));
    // The SPKI in response.publicKey is the same key.
    const spki = createPublicKey({ key: Buffer.from(response.response.publicKey ?? '', 'base64url'), format: 'der', type: 'spki' });
    expect(spki.equals(held.publicKey)).toBe(true);

    expect(held.userHandle).toBe(options.user.id);
    expect(held.rpId).toBe(rpID);
    expect(response.response.publicKeyAlgorithm).toBe(-7);
    expect(response.response.transports).toEqual(['internal']);
    expect(response.authenticatorAttachment).toBe('platform');
    expect(response.clientExtensionResults).toEqual({ credProps: { rk: true } }); // the library always asks for credProps
    expect(clientDataOf(response)).toEqual({ type: 'webauthn.create', challenge: options.challenge, origin, crossOrigin: false });
  });

  it('a device-bound key (backedUp: false) registers as singleDevice, not backed up', async () => {
    const { info } = await registered({ backedUp: false });
    expect(info.credentialDeviceType).toBe('singleDevice');
    expect(info.credentialBackedUp).toBe(false);
  });

  const refusals: [string, Tamper, RegExp][] = [
    ['another origin', { origin: 'https://evil.test' }, /origin "https:\/\/evil.test"/],
    ['another rp id', { rpId: 'evil.test' }, /Unexpected RP ID hash/],
    ['no user verification', { userVerified: false }, /User verification was required/],
    ['no user presence', { userPresent: false }, /User presence was required/],
    ['another challenge', { challenge: Buffer.from('another challenge').toString('base64url') }, /challenge/],
    ['webauthn.get client data', { type: 'webauthn.get' }, /response type/],
  ];
  for (const [what, tamper, reason] of refusals) {
    it(`is refused with ${what}`, async () => {
      const authenticator = new SoftAuthenticator({ origin, rpId: rpID });
      const options = await registrationOptions();
      await expect(verifyRegistration(authenticator.register(options, tamper), options)).rejects.toThrow(reason);
    });
  }

  it('refuses, as a browser would, an rp id outside its origin and options without ES256', async () => {
    const authenticator = new SoftAuthenticator({ origin, rpId: rpID });
    const options = await registrationOptions();
    expect(() => authenticator.register({ ...options, rp: { ...options.rp, id: 'evil.test' } })).toThrow(/SecurityError/);
    expect(() => authenticator.register({ ...options, pubKeyCredParams: [{ type: 'public-key', alg: -257 }] })).toThrow(/NotSupportedError/);
    // A subdomain origin may use its parent as rp id.
    const sub = new SoftAuthenticator({ origin: 'https://app.latch.test', rpId: rpID });
    expect(clientDataOf(sub.register(options)).origin).toBe('https://app.latch.test');
    expect(authenticator.credentials).toHaveLength(0);
  });
});

describe('SoftAuthenticator authentication', () => {
  it('signs assertions the library verifies with the registered key, the counter going up each time', async () => {
    const { authenticator, options: creation, credential } = await registered();
    let stored = credential;
    for (const expected of [1, 2, 3]) {
      const { response, verify } = await signIn(authenticator, stored);
      const result = await verify();
      expect(result.verified).toBe(true);
      expect(result.authenticationInfo.newCounter).toBe(expected);
      expect(result.authenticationInfo.userVerified).toBe(true);
      expect(response.id).toBe(credential.id);
      expect(response.response.userHandle).toBe(creation.user.id); // discoverable: always returned
      expect(clientDataOf(response).type).toBe('webauthn.get');
      stored = { ...stored, counter: result.authenticationInfo.newCounter };
    }
    expect(authenticator.credentials[0]?.counter).toBe(3);
  });

  it('with keepsCounter: false, reports counter 0 every time, which the library accepts against a stored 0', async () => {
    const { authenticator, credential } = await registered({ keepsCounter: false });
    for (let i = 0; i < 3; i++) {
      const result = await (await signIn(authenticator, credential)).verify();
      expect(result.verified).toBe(true);
      expect(result.authenticationInfo.newCounter).toBe(0);
    }
  });

  it('picks the allowed credential, or the one asked for, and refuses when it holds none', async () => {
    const { authenticator, credential } = await registered();
    const second = authenticator.register(await registrationOptions());
    const allowed = await signIn(authenticator, credential, undefined, [{ id: second.id }]);
    expect(allowed.response.id).toBe(second.id);
    const discoverable = await signIn(authenticator, credential);
    expect(discoverable.response.id).toBe(credential.id); // the first held for the rp id
    const chosen = await signIn(authenticator, credential, { credentialId: second.id }, [{ id: credential.id }]);
    expect(chosen.response.id).toBe(second.id);

    const options = await generateAuthenticationOptions({ rpID, allowCredentials: [{ id: 'AAAA' }] });
    expect(() => authenticator.authenticate(options)).toThrow(/NotAllowedError/);
    expect(() => authenticator.authenticate(options, { credentialId: 'AAAA' })).toThrow(/NotAllowedError/);
    expect(() => new SoftAuthenticator({ origin, rpId: rpID }).authenticate(options)).toThrow(/NotAllowedError/);
  });

  it('userHandle can be replaced or left out', async () => {
    const { authenticator, credential } = await registered();
    expect((await signIn(authenticator, credential, { userHandle: 'b3RoZXI' })).response.response.userHandle).toBe('b3RoZXI');
    expect('userHandle' in (await signIn(authenticator, credential, { userHandle: null })).response.response).toBe(false);
  });

  const refusals: [string, AssertionTamper, RegExp][] = [
    ['another origin', { origin: 'https://evil.test' }, /origin "https:\/\/evil.test"/],
    ['another rp id', { rpId: 'evil.test' }, /Unexpected RP ID hash/],
    ['no user verification', { userVerified: false }, /User verification required/],
    ['no user presence', { userPresent: false }, /User not present/],
    ['another challenge', { challenge: Buffer.from('another challenge').toString('base64url') }, /challenge/],
    ['webauthn.create client data', { type: 'webauthn.create' }, /response type/],
  ];
  for (const [what, tamper, reason] of refusals) {
    it(`is refused with ${what}`, async () => {
      const { authenticator, credential } = await registered();
      await expect((await signIn(authenticator, credential, tamper)).verify()).rejects.toThrow(reason);
    });
  }

  it('a bad signature does not verify (the library answers verified: false rather than throwing)', async () => {
    const { authenticator, credential } = await registered();
    const result = await (await signIn(authenticator, credential, { badSignature: true })).verify();
    expect(result.verified).toBe(false);
  });

  it('a counter that goes backwards, or stays put, is refused', async () => {
    const { authenticator, credential } = await registered();
    const stored = { ...credential, counter: 5 };
    authenticator.setCounter(credential.id, 2); // the authenticator now reports 3
    await expect((await signIn(authenticator, stored)).verify()).rejects.toThrow(/counter value 3 was lower than expected 5/);
    await expect((await signIn(authenticator, stored, { counter: 5 })).verify()).rejects.toThrow(/counter/); // equal is refused too
    expect((await (await signIn(authenticator, stored, { counter: 6 })).verify()).verified).toBe(true);
    // A counter of 0 once the server has seen a non-zero one is refused as well.
    await expect((await signIn(authenticator, stored, { counter: 0 })).verify()).rejects.toThrow(/counter/);
  });

  it('the library leaves to the server: response.id against the stored credential, and userHandle', async () => {
    const { authenticator, credential } = await registered();
    const other = authenticator.register(await registrationOptions());
    // Signed by the first credential, but claiming the other's id and another user's handle: still verified,
    // because verifyAuthenticationResponse only uses the `credential` it is given. The server must look the
    // credential up by response.id and check the user handle names its owner.
    const { response } = await signIn(authenticator, credential, { userHandle: 'c29tZW9uZS1lbHNl' });
    const forged = { ...response, id: other.id, rawId: other.id };
    const result = await verifyAuthenticationResponse({
      response: forged,
      expectedChallenge: clientDataOf(response).challenge,
      expectedOrigin: origin,
      expectedRPID: rpID,
      credential,
      requireUserVerification: true,
    });
    expect(result.verified).toBe(true);
    expect(result.authenticationInfo.credentialID).toBe(credential.id); // echoes the stored id, not response.id
  });
});

describe('cborEncode', () => {
  // RFC 8949 Appendix A examples (the subset this encoder supports).
  const vectors: [Cbor, string][] = [
    [0, '00'],
    [23, '17'],
    [24, '1818'],
    [100, '1864'],
    [1000, '1903e8'],
    [1000000, '1a000f4240'],
    [1000000000000, '1b000000e8d4a51000'],
    [-1, '20'],
    [-10, '29'],
    [-100, '3863'],
    [-1000, '3903e7'],
    [new Uint8Array(), '40'],
    [new Uint8Array([1, 2, 3, 4]), '4401020304'],
    ['', '60'],
    ['a', '6161'],
    ['IETF', '6449455446'],
    ['\u00fc', '62c3bc'],
    [[], '80'],
    [[1, 2, 3], '83010203'],
    [[1, [2, 3], [4, 5]], '8301820203820405'],
    [Array.from({ length: 25 }, (_, i) => i + 1), '98190102030405060708090a0b0c0d0e0f101112131415161718181819'],
    [new Map(), 'a0'],
    [new Map<Cbor, Cbor>([[1, 2], [3, 4]]), 'a201020304'],
    [new Map<Cbor, Cbor>([['a', 1], ['b', [2, 3]]]), 'a26161016162820203'],
  ];
  for (const [value, hex] of vectors) {
    it(`encodes ${hex}`, () => expect(cborEncode(value).toString('hex')).toBe(hex));
  }
  it('refuses what it cannot encode', () => {
    expect(() => cborEncode(1.5)).toThrow(TypeError);
  });
});
