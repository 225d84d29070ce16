/**
 * Two-step sign-in (API.md, "Two-step sign-in"; DESIGN.md, "Factors and assurance"): turning
 * an authenticator app on and off, recovery codes, and finishing a pending sign-in.
 *
 * - A pending session can only finish the second step. Each of its wrong codes is counted
 *   (the 5th ends it), and so is every wrong code of the account, across pending sessions and
 *   instances (10 per 15 minutes): logging in again buys no more guesses.
 * - A time step accepted once is never accepted again, a recovery code works once: both are
 *   claimed atomically by the store, so of many parallel uses exactly one wins.
 * - Finishing the step issues a NEW session (aal2) and ends the pending one; turning two-step
 *   on or off is a credential change (every other session, mailed link and login in flight
 *   ends), and the session that did it goes on with the factor added to its proofs.
 */
import { assuranceOf } from './assurance.js';
import type { Devices } from './devices.js';
import type { AuthEventSink, AuthEventType } from './auth-events.js';
import type { Authenticated } from './auth-service.js';
import { LatchError, RateLimitedError } from './errors.js';
import type { FactorLifecycle, SecondStepMethod } from './factor-lifecycle.js';
import { greetingName, type MailComposer, type Mailer } from './mails.js';
import type { AuthenticationResponseJSON } from './passkeys.js';
import type { PasswordProofs } from './password-proof.js';
import type { Clock, Random, RateLimiter, SessionStore } from './ports.js';
import { hashRecoveryCode, normalizeRecoveryCode } from './recovery-codes.js';
import type { SecondFactorStore, SecretSealer } from './second-factors.js';
import type { ClientInfo, IssuedSession, SessionIssuer } from './session-issuer.js';
import { matchTotp, newTotpSecret, type TotpSetup } from './totp.js';

/** Wrong codes one pending session may try; the last of them ends it. */
export const PENDING_MAX_FAILURES = 5;

export type { SecondStepMethod } from './factor-lifecycle.js';

/** What a second step offers: a code (app or recovery), or a passkey's signed answer. */
export type SecondStepInput =
  | { method: 'totp' | 'recovery_code'; code: string; rememberDevice?: boolean }
  | { method: 'passkey'; response: AuthenticationResponseJSON; rememberDevice?: boolean };

/** Checks a passkey's answer to this session's second-step challenge (PasskeyService). */
export interface PasskeySecondStep {
  verifySecondStep(userId: string, sessionId: string, response: AuthenticationResponseJSON, client: ClientInfo): Promise<boolean>;
  /** Whether the user still has the passkey with this credential id. */
  holds(userId: string, credentialId: string): Promise<boolean>;
}

export interface TwoStepDeps {
  sessions: SessionStore;
  factors: SecondFactorStore;
  sealer: SecretSealer;
  issuer: SessionIssuer;
  lifecycle: FactorLifecycle;
  passkeys: PasskeySecondStep;
  proofs: PasswordProofs;
  events: AuthEventSink;
  mailer: Mailer;
  mails: MailComposer;
  clock: Clock;
  random: Random;
  /** Wrong second factors per account, shared by every instance (10 per 15 minutes). */
  accountFailures: RateLimiter;
  /** Wrong codes per pending session (PENDING_MAX_FAILURES over its lifetime). */
  pendingFailures: RateLimiter;
  /** One point per session for a few seconds: a lock, so one second step runs at a time. */
  oneAtATime: RateLimiter;
  /** Shown by authenticator apps next to the account (PUBLIC_URL's host). */
  issuerName: string;
  devices: Pick<Devices, 'signedIn' | 'untrustAll'>;
}

export interface TwoStepStatus {
  totp: boolean;
  recoveryCodesLeft: number;
}

export class TwoStepService {
  constructor(private readonly deps: TwoStepDeps) {}

  /** The second factors a password sign-in of this account must be followed by (none: one step). */
  methodsFor(userId: string): Promise<SecondStepMethod[]> {
    return this.deps.lifecycle.methodsFor(userId);
  }

  async status(userId: string): Promise<TwoStepStatus> {
    const [totp, recoveryCodesLeft] = await Promise.all([this.deps.factors.totpOf(userId), this.deps.factors.recoveryCodesLeft(userId)]);
    return { totp: totp?.confirmed ?? false, recoveryCodesLeft };
  }

  /** A new secret, pending until confirmed with a code from the app. */
  async startTotp(auth: Authenticated): Promise<TotpSetup> {
    const { proofs, random, sealer, factors, clock, issuerName } = this.deps;
    await proofs.requireRecent(auth, 'set up an authenticator app');
    const setup = newTotpSecret(random, issuerName, auth.user.email);
    if (!(await factors.startTotpSetup(auth.user.id, sealer.seal(setup.secret, totpOwner(auth.user.id)), clock.now()))) {
      throw new LatchError('already_enabled', 'An authenticator app is already set up; turn it off first to replace it');
    }
    return setup;
  }

  /**
   * Turns the app on with a first code from it: a credential change, the current session goes
   * on as aal2 (password + totp), and the first factor brings a set of recovery codes.
   */
  async confirmTotp(auth: Authenticated, code: string, client: ClientInfo): Promise<{ issued: IssuedSession; recoveryCodes?: string[] }> {
    const { factors, sealer, clock, proofs, lifecycle } = this.deps;
    await proofs.requireRecent(auth, 'set up an authenticator app');
    const userId = auth.user.id;
    const pending = await factors.totpOf(userId);
    if (!pending || pending.confirmed) throw new LatchError('no_pending_setup', 'Start the authenticator app setup first');
    await this.countAccountAttempt(userId);
    const secret = sealer.open(pending.sealedSecret, totpOwner(userId));
    const step = secret === null ? null : matchTotp(secret, code, clock.now());
    if (step === null) {
      await this.record('mfa_failed', userId, client, auth.session.id);
      throw invalidCode();
    }
    await this.deps.accountFailures.reward(userId);
    // Only the very secret the code was checked against is turned on (a setup restarted
    // meanwhile is not confirmed by a code from the old one).
    const added = await lifecycle.add(auth, 'totp', client, async (ifEpoch) => {
      const confirmed = await factors.confirmTotp(userId, step, pending.sealedSecret, ifEpoch);
      if (confirmed === 'no_match') throw invalidCode();
      return confirmed === 'stale' ? 'stale' : 'written';
    }, async () => void (await factors.removeTotp(userId)));
    await this.record('totp_enabled', userId, client, added.issued.session.id);
    return added;
  }

  /** Turns the app off (the password again); with no factor left, two-step is off. */
  async disableTotp(auth: Authenticated, password: string, client: ClientInfo): Promise<IssuedSession | undefined> {
    const { proofs, factors, lifecycle } = this.deps;
    await proofs.requireRecent(auth, 'turn off two-step sign-in');
    await proofs.prove(auth, password, client);
    const userId = auth.user.id;
    if (!(await factors.totpOf(userId))?.confirmed) throw new LatchError('not_found', 'No authenticator app is set up');
    const { removed, issued } = await lifecycle.remove(auth, 'totp', client, (ifEpoch) => factors.removeTotp(userId, ifEpoch));
    if (!removed) throw new LatchError('not_found', 'No authenticator app is set up');
    await this.record('totp_disabled', userId, client, issued?.session.id ?? auth.session.id);
    return issued;
  }

  /** A new set of recovery codes; every older code stops working. */
  async regenerateRecoveryCodes(auth: Authenticated, client: ClientInfo): Promise<string[]> {
    await this.deps.proofs.requireRecent(auth, 'make new recovery codes');
    if ((await this.methodsFor(auth.user.id)).length === 0) {
      throw new LatchError('mfa_not_enabled', 'Turn on two-step sign-in first');
    }
    const codes = await this.deps.lifecycle.newRecoveryCodeSet(auth.user.id);
    await this.record('recovery_codes_generated', auth.user.id, client, auth.session.id);
    return codes;
  }

  /**
   * Finishes a pending sign-in, or steps up a remembered device's aal1 session: either way a
   * NEW session (aal2) replaces the one that asked. `rememberDevice` marks this browser so that
   * a password sign-in from it skips the step (MFA_REMEMBER_DEVICE).
   */
  async verify(
    asking: Authenticated,
    input: SecondStepInput,
    client: ClientInfo,
  ): Promise<{ issued: IssuedSession; device: string }> {
    const { session, user } = asking;
    if (!session.pending) {
      if (assuranceOf(session.methods) === 'aal2') throw new LatchError('invalid_input', 'This session already proved a second factor');
      if ((await this.methodsFor(user.id)).length === 0) throw new LatchError('mfa_not_enabled', 'Two-step sign-in is not on for this account');
    }
    // One second step at a time per session: two parallel requests with two good codes would
    // otherwise both claim their factor (a recovery code gone for nothing) while only one can
    // finish. A parallel one is refused before it is counted or checked.
    const turn = await this.deps.oneAtATime.consume(session.id);
    if (!turn.allowed) throw new RateLimitedError(turn.retryAfterMs);
    try {
      return await this.finish(asking, input, client);
    } finally {
      await this.deps.oneAtATime.reset(session.id);
    }
  }

  private async finish(
    asking: Authenticated,
    input: SecondStepInput,
    client: ClientInfo,
  ): Promise<{ issued: IssuedSession; device: string }> {
    const { sessions, pendingFailures, issuer } = this.deps;
    const { session, user } = asking;
    const attempt = await pendingFailures.consume(session.id);
    if (!attempt.allowed) {
      await sessions.delete(session.id);
      throw mfaRequired();
    }
    await this.countAccountAttempt(user.id);
    const ok = await this.check(user.id, session.id, input, client);
    if (!ok) {
      await this.record('mfa_failed', user.id, client, session.id);
      if ((await pendingFailures.peek(session.id)) >= PENDING_MAX_FAILURES) await sessions.delete(session.id);
      throw invalidCode();
    }
    await this.deps.accountFailures.reward(user.id);
    // Only one request may finish this session: the one that ends it.
    if (!(await sessions.delete(session.id))) throw mfaRequired();
    const issued = session.pending
      ? await issuer.issue(user, session.epoch, { rememberMe: session.rememberMe, methods: ['password', input.method] }, client)
      : await issuer.rotate(session, user, session.epoch, client, { methods: [input.method] }); // a step-up: same sign-in, one more proof
    if (!issued) throw mfaRequired(); // a credential change landed meanwhile: start again
    await this.record('mfa_succeeded', user.id, client, issued.session.id);
    if (input.method === 'recovery_code') {
      await this.record('recovery_code_used', user.id, client, issued.session.id);
      const left = await this.deps.factors.recoveryCodesLeft(user.id);
      await this.deps.mailer.send(this.deps.mails.recoveryCodeUsedNotice(user.email, greetingName(user), left));
    }
    const remember = input.rememberDevice ? { epoch: session.epoch } : undefined;
    const device = await this.deps.devices.signedIn(user, client.device, client, { sessionId: issued.session.id, ...(remember ? { remember } : {}) });
    // The factor may have been removed while the trust was being written; its removal ends
    // trust after it deletes the factor, so looking again after writing closes the gap.
    if (remember && !(await this.factorStillThere(user.id, input))) await this.deps.devices.untrustAll(user.id);
    return { issued, device: device.token };
  }

  private async factorStillThere(userId: string, input: SecondStepInput): Promise<boolean> {
    switch (input.method) {
      case 'totp':
        return (await this.deps.factors.totpOf(userId))?.confirmed ?? false;
      case 'passkey':
        return this.deps.passkeys.holds(userId, input.response.id);
      case 'recovery_code':
        return this.deps.lifecycle.isOn(userId);
    }
  }

  /** Wrong codes count per account before any is checked: parallel guesses see the limit. */
  private async countAccountAttempt(userId: string): Promise<void> {
    const verdict = await this.deps.accountFailures.consume(userId);
    if (!verdict.allowed) throw new RateLimitedError(verdict.retryAfterMs);
  }

  private check(userId: string, sessionId: string, input: SecondStepInput, client: ClientInfo): Promise<boolean> {
    switch (input.method) {
      case 'totp':
        return this.claimTotp(userId, input.code);
      case 'recovery_code':
        return this.useRecoveryCode(userId, input.code);
      case 'passkey':
        return this.deps.passkeys.verifySecondStep(userId, sessionId, input.response, client);
    }
  }

  private async claimTotp(userId: string, code: string): Promise<boolean> {
    const { factors, sealer, clock } = this.deps;
    const factor = await factors.totpOf(userId);
    const secret = factor?.confirmed ? sealer.open(factor.sealedSecret, totpOwner(userId)) : null;
    const step = secret === null ? null : matchTotp(secret, code, clock.now());
    if (step === null || !(await factors.claimTotpStep(userId, step))) return false;
    // Key rotation: a secret still sealed under a previous SECRETS_KEY moves to the current one.
    if (sealer.needsReencryption(factor!.sealedSecret)) await factors.resealTotp(userId, sealer.seal(secret!, totpOwner(userId)));
    return true;
  }

  private async useRecoveryCode(userId: string, typed: string): Promise<boolean> {
    const canonical = normalizeRecoveryCode(typed);
    return canonical !== null && (await this.deps.factors.useRecoveryCode(userId, hashRecoveryCode(canonical)));
  }

  private record(type: AuthEventType, userId: string, client: ClientInfo, sessionId: string): Promise<void> {
    return this.deps.events.record({ type, userId, at: this.deps.clock.now(), ip: client.ip, userAgent: client.userAgent, sessionId });
  }
}

function invalidCode(): LatchError {
  return new LatchError('invalid_code', 'That code is not right, or was already used');
}

function mfaRequired(): LatchError {
  return new LatchError('mfa_required', 'Sign in again: this second step has ended');
}

/** A sealed TOTP secret is bound to its purpose and owner: it opens in no other row or use. */
function totpOwner(userId: string): string {
  return `totp:${userId}`;
}
