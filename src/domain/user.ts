export type Role = 'user' | 'admin';

/** The public view of an account. Never carries a password hash. */
export interface User {
  id: string;
  email: string;
  name: string;
  emailVerified: boolean;
  /** Milliseconds since the epoch. */
  createdAt: number;
  role: Role;
  /** True while the account has a second factor (an authenticator app or a passkey). */
  twoFactor: boolean;
}

/** Why and since when an administrator (or the command line) disabled an account. */
export interface Disabled {
  at: number;
  reason: string | null;
  /** The admin's user id, or `cli`. */
  by: string;
}

/** An account as the credential checks read it. */
export interface UserWithPassword extends User {
  passwordHash: string;
  /** Null while the account may sign in. */
  disabled: Disabled | null;
  /**
   * The credential epoch (DESIGN.md, "Credentials change"): bumped by every credential change.
   * A login reads it with the password hash and its session is accepted only while it holds.
   */
  credentialEpoch: number;
}

export const EMAIL_MAX_LENGTH = 254;
export const NAME_MIN_LENGTH = 2;
export const NAME_MAX_LENGTH = 100;

/** Emails are compared and stored trimmed and lower-cased (API.md, "Conventions"). */
export function normalizeEmail(email: string): string {
  return email.trim().toLowerCase();
}

export function normalizeName(name: string): string {
  return name.trim();
}

export function publicUser(user: User): User {
  const { id, email, name, emailVerified, createdAt, role, twoFactor } = user;
  return { id, email, name, emailVerified, createdAt, role, twoFactor };
}
