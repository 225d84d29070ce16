/** NIST SP 800-63B-4 assurance levels from a session's proofs (API.md, `Session.aal`). */
import { describe, expect, it } from 'vitest';
import { assuranceOf, type AuthMethod } from '../../src/domain/assurance.js';

describe('assuranceOf', () => {
  const cases: Array<[AuthMethod[], 'aal1' | 'aal2']> = [
    [['password'], 'aal1'],
    [['password', 'totp'], 'aal2'],
    [['password', 'recovery_code'], 'aal2'],
    [['passkey'], 'aal2'], // a passkey verifies its user: a multi-factor authenticator
    [['totp'], 'aal1'], // one factor, whichever it is
    [['recovery_code'], 'aal1'],
    [['totp', 'recovery_code'], 'aal1'], // two of the same kind (something you have) are one factor
  ];
  for (const [methods, aal] of cases) {
    it(`${methods.join(' + ')} is ${aal}`, () => expect(assuranceOf(methods)).toBe(aal));
  }
});
