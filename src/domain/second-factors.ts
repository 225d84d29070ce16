/**
 * Where second factors live (a port; SQL adapter in adapters/sql/second-factor-store.ts).
 * Shaped by the questions two-step sign-in asks; every "use" is atomic, so of many parallel
 * uses of one code exactly one wins.
 */
export interface TotpFactor {
  /** The secret, sealed (SecretSealer); never stored in clear. */
  sealedSecret: string;
  /** False while set up but not yet confirmed with a code. */
  confirmed: boolean;
}

export interface SecondFactorStore {
  totpOf(userId: string): Promise<TotpFactor | null>;
  /** Stores a new unconfirmed secret (replacing an unconfirmed one); false when TOTP is already on. */
  startTotpSetup(userId: string, sealedSecret: string, at: number): Promise<boolean>;
  /**
   * Turns the pending secret on, claiming `step` as used, while the user's credential epoch is
   * still `ifEpoch` (`stale` otherwise); `no_match` when there is none pending, or the pending
   * one is no longer `sealedSecret` (a setup restarted meanwhile).
   */
  confirmTotp(userId: string, step: number, sealedSecret: string, ifEpoch: number): Promise<'confirmed' | 'no_match' | 'stale'>;
  /** Claims a time step of a confirmed secret: true only for a step later than any claimed before. */
  claimTotpStep(userId: string, step: number): Promise<boolean>;
  /** Replaces the sealed form of the confirmed secret (re-encrypted under a new key). */
  resealTotp(userId: string, sealedSecret: string): Promise<void>;
  /** Removes the app (a pending setup too); with `ifEpoch`, only while the epoch is that one. */
  removeTotp(userId: string, ifEpoch?: number): Promise<'removed' | 'none' | 'stale'>;
  /** Replaces the user's recovery codes with these (hashes), atomically. */
  replaceRecoveryCodes(userId: string, hashes: Buffer[], at: number): Promise<void>;
  /** Uses a code up: true for exactly one of many parallel uses. */
  useRecoveryCode(userId: string, hash: Buffer): Promise<boolean>;
  recoveryCodesLeft(userId: string): Promise<number>;
  removeRecoveryCodes(userId: string): Promise<void>;
}

/** Encrypts secrets at rest (AES-256-GCM under SECRETS_KEY), bound to their owner. */
export interface SecretSealer {
  seal(plaintext: string, owner: string): string;
  /** Null when the sealed value was tampered with, belongs to another owner, or to no known key. */
  open(sealed: string, owner: string): string | null;
  /** True when sealed under a previous key (SECRETS_KEY_PREVIOUS): seal it again under the current one. */
  needsReencryption(sealed: string): boolean;
}
