/** Password proofs, shared by login, re-authentication, password change and account deletion. */
import { UnavailableError } from './errors.js';
import { normalizePassword } from './password-policy.js';
import type { PasswordHasher, UserRepository } from './ports.js';
import type { UserWithPassword } from './user.js';

export class Credentials {
  constructor(
    private readonly users: UserRepository,
    private readonly hasher: PasswordHasher,
  ) {}

  /**
   * True when `password` is the account's. A hash made with older parameters is replaced
   * right after a successful check: the plaintext is at hand only now.
   */
  async verify(account: UserWithPassword, password: string): Promise<boolean> {
    const normalized = normalizePassword(password);
    const verdict = await this.hasher.verify(account.passwordHash, normalized);
    if (!verdict.ok) return false;
    if (verdict.needsRehash) await this.upgrade(account, normalized);
    return true;
  }

  /**
   * Only over the very hash just checked: a reset that landed meanwhile must not be undone.
   * Hashing or the database refusing (busy, down) leaves the old hash for the next successful
   * check: the password is proven, and the upgrade is not worth failing the sign-in over.
   */
  private async upgrade(account: UserWithPassword, normalized: string): Promise<void> {
    try {
      await this.users.updatePasswordHash(account.id, await this.hasher.hash(normalized), account.passwordHash);
    } catch (error) {
      if (!(error instanceof UnavailableError)) throw error;
    }
  }

  /**
   * Refuses at once, as hashing itself would, while hashing takes no more checks: under a storm a
   * shed login then costs the request thread a parse and an answer instead of a throttle count
   * and its give-back and an account lookup. No account is looked at for it.
   */
  shedWhileFull(): void {
    if (!this.hasher.admitsNow()) throw new UnavailableError('password hashing');
  }

  /** The same work as `verify`, for accounts that do not exist. */
  async burn(password: string): Promise<void> {
    await this.hasher.verifyDummy(normalizePassword(password));
  }

  /** Hashes `password` after the same NFKC normalisation `verify` applies. */
  hash(password: string): Promise<string> {
    return this.hasher.hash(normalizePassword(password));
  }
}
