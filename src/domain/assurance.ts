/**
 * How a session was proven (DESIGN.md, "Factors and assurance"; API.md, `Session`). A session
 * records its proofs in order (`methods`); its assurance level follows from them and is never
 * stored apart, so the two cannot disagree. NIST SP 800-63B-4: aal2 needs two distinct factors
 * (a password and a one-time code or recovery code), or one multi-factor authenticator: a
 * passkey, which verifies its user.
 */
export const authMethods = ['password', 'totp', 'recovery_code', 'passkey'] as const;
export type AuthMethod = (typeof authMethods)[number];
export type Aal = 'aal1' | 'aal2';

const SECOND_FACTORS: ReadonlySet<AuthMethod> = new Set(['totp', 'recovery_code']);

export function assuranceOf(methods: readonly AuthMethod[]): Aal {
  if (methods.includes('passkey')) return 'aal2';
  return methods.includes('password') && methods.some((m) => SECOND_FACTORS.has(m)) ? 'aal2' : 'aal1';
}
