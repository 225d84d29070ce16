/**
 * "Prove the password" for a signed-in user, in one place: re-authentication, password change,
 * email change and account deletion all come through here (THREATS.md, item 6). A stolen
 * cookie must not become an unlimited password oracle, so every check is counted per account
 * before the password is verified (atomically, in the shared limiter: parallel guesses from any
 * number of instances evaluate at most the limit), a wrong one is recorded on the audit trail,
 * and past the limit the answer is 429 whatever the password.
 */
import type { AuthEventSink } from './auth-events.js';
import { assuranceOf } from './assurance.js';
import type { Authenticated } from './auth-service.js';
import type { Credentials } from './credentials.js';
import { LatchError, RateLimitedError, uncountedIfUnavailable } from './errors.js';
import type { Clock, RateLimiter, UserRepository } from './ports.js';
import type { ClientInfo } from './session-issuer.js';
import type { UserWithPassword } from './user.js';

export interface PasswordProofDeps {
  users: UserRepository;
  credentials: Credentials;
  /** Password checks per account (shared by every instance). */
  attempts: RateLimiter;
  events: AuthEventSink;
  clock: Clock;
  /** How recent a password proof must be for sensitive actions (REAUTH_WINDOW). */
  reauthWindowMs: number;
  /** Whether the account has two-step sign-in on. */
  secondFactorOn(userId: string): Promise<boolean>;
}

export class PasswordProofs {
  constructor(private readonly deps: PasswordProofDeps) {}

  /**
   * Refuses unless the session proved the password within REAUTH_WINDOW, and, for an account
   * with two-step sign-in on, proved a second factor too: a remembered device's aal1 session
   * must step up (POST /mfa/verify) before sensitive actions (API.md, "Two-step sign-in").
   */
  async requireRecent(auth: Authenticated, action: string): Promise<void> {
    if (assuranceOf(auth.session.methods) === 'aal1' && (await this.deps.secondFactorOn(auth.user.id))) {
      throw new LatchError('second_factor_required', `Confirm it is you with your second factor to ${action}`);
    }
    if (this.deps.clock.now() - auth.session.authenticatedAt > this.deps.reauthWindowMs) {
      throw new LatchError('reauth_required', `Confirm your password again (re-authenticate) to ${action}`);
    }
  }

  /** The account, when `password` is its password; otherwise a refusal that was counted. */
  async prove(auth: Authenticated, password: string, client: ClientInfo): Promise<UserWithPassword> {
    const { users, credentials, attempts, events, clock } = this.deps;
    const gate = await attempts.consume(auth.user.id);
    if (!gate.allowed) throw new RateLimitedError(gate.retryAfterMs);
    // A dependency refusing before the password is judged (503): the check does not count.
    const { account, proven } = await uncountedIfUnavailable(
      async () => {
        const found = await users.findById(auth.user.id);
        return { account: found, proven: found !== null && (await credentials.verify(found, password)) };
      },
      () => attempts.reward(auth.user.id),
    );
    if (!account) throw new LatchError('unauthorized', 'Authentication required');
    if (!proven) {
      await events.record({
        type: 'reauth_failed',
        userId: account.id,
        at: clock.now(),
        ip: client.ip,
        userAgent: client.userAgent,
        sessionId: auth.session.id,
      });
      throw new LatchError('invalid_credentials', 'Password is incorrect');
    }
    // The owner proved it: the check does not count against them.
    await attempts.reward(auth.user.id);
    return account;
  }

  /** A completed reset proved control of the mailbox: the count starts over. */
  forgive(userId: string): Promise<void> {
    return this.deps.attempts.reset(userId);
  }
}
