/** The public view of an account. Never carries a password hash. */
export interface User {
  id: string;
  email: string;
  name: string;
  emailVerified: boolean;
  /** Milliseconds since the epoch. */
  createdAt: number;
}

/** An account as the credential checks read it. */
export interface UserWithPassword extends User {
  passwordHash: string;
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
  const { id, email, name, emailVerified, createdAt } = user;
  return { id, email, name, emailVerified, createdAt };
}
