/**
 * Adding and removing second factors (an authenticator app, passkeys), one rule for all of them
 * (API.md, "Two-step sign-in"):
 *
 * - Turning two-step on (the first factor) or off (the last one removed) is a credential change:
 *   the current session is rotated, every other session, mailed link and remembered device ends.
 *   The first factor brings a fresh set of recovery codes; the last one takes them away.
 * - Adding or removing a factor while others remain ends remembered devices only.
 * - A session that has just proven the factor it added goes on under a NEW id with the factor
 *   added to its methods (aal2): no token lives across a change of privilege.
 *
 * A factor is written only while the session's epoch holds, and BEFORE two-step flips (see
 * `add`, `remove`). A factor added by a session that was ended before its change landed (the
 * owner signing out everywhere, or ending that one session, while a thief's enrolment ran) is
 * withdrawn: a refused request changes nothing (THREATS.md, item 3), and a thief's factor does
 * not outlive the sign-out that was meant to end the thief.
 */
import type { AuthMethod } from './assurance.js';
import type { Authenticated } from './auth-service.js';
import { signedOutMeanwhile, type CredentialChanges } from './credential-change.js';
import type { Devices } from './devices.js';
import { greetingName, type MailComposer, type Mailer, type SecondFactorName } from './mails.js';
import type { PasskeyStore } from './passkeys.js';
import type { Clock, Random, SessionStore } from './ports.js';
import { hashRecoveryCode, newRecoveryCodes, normalizeRecoveryCode } from './recovery-codes.js';
import type { SecondFactorStore } from './second-factors.js';
import type { ClientInfo, IssuedSession, SessionIssuer } from './session-issuer.js';
import type { User } from './user.js';

/** The second steps a password sign-in may be followed by, in the order pages offer them. */
export type SecondStepMethod = 'totp' | 'passkey' | 'recovery_code';

export interface FactorLifecycleDeps {
  factors: SecondFactorStore;
  passkeys: Pick<PasskeyStore, 'countByUser'>;
  changes: CredentialChanges;
  sessions: SessionStore;
  issuer: SessionIssuer;
  devices: Pick<Devices, 'untrustAll'>;
  mailer: Mailer;
  mails: MailComposer;
  clock: Clock;
  random: Random;
}

export class FactorLifecycle {
  constructor(private readonly deps: FactorLifecycleDeps) {}

  /** The second steps a password sign-in of this account must be followed by (none: one step). */
  async methodsFor(userId: string): Promise<SecondStepMethod[]> {
    const [totp, passkeys] = await Promise.all([this.deps.factors.totpOf(userId), this.deps.passkeys.countByUser(userId)]);
    const methods: SecondStepMethod[] = [];
    if (totp?.confirmed) methods.push('totp');
    if (passkeys > 0) methods.push('passkey');
    return methods.length > 0 ? [...methods, 'recovery_code'] : [];
  }

  async isOn(userId: string): Promise<boolean> {
    return (await this.methodsFor(userId)).length > 0;
  }

  /**
   * Adds the factor `write` stores, which this session has just proven. `write` stores it only
   * while the user's epoch is still the session's (`stale`: the session was ended meanwhile, and
   * nothing is written). Returns the session's successor, and recovery codes when this was the
   * account's first factor.
   *
   * The factor is written BEFORE two-step is turned on (an atomic flip of the account's flag
   * with the epoch bump): a password login that looked for factors before the write holds a
   * session of the old epoch, which the flip ends; one that looks after it finds the factor.
   * Of two first factors added at once, exactly one flips the flag; the other finds its
   * session rotated away and is taken back (`withdraw`).
   */
  async add(
    auth: Authenticated,
    factor: SecondFactorName,
    client: ClientInfo,
    write: (ifEpoch: number) => Promise<'written' | 'stale'>,
    unwrite: () => Promise<void>,
  ): Promise<{ issued: IssuedSession; recoveryCodes?: string[] }> {
    const proven: AuthMethod[] = [factor];
    const userId = auth.user.id;
    if ((await write(auth.session.epoch)) === 'stale') throw signedOutMeanwhile();
    const current = { session: auth.session, client, proven: { methods: proven } };
    const turned = await this.deps.changes.apply(userId, { twoFactor: true }, { current });
    if (turned.ok) {
      // The flip landed under the session's epoch, but the session itself may have been ended
      // (that one session revoked, a logout): then the factor and the flip are taken back.
      if (!turned.issued) return this.withdraw(auth, factor, unwrite, true);
      const recoveryCodes = await this.newRecoveryCodeSet(userId);
      await this.deps.mailer.send(this.deps.mails.twoStepChangedNotice(turned.user.email, greetingName(turned.user), 'on'));
      return { issued: turned.issued, recoveryCodes };
    }
    if (turned.reason !== 'unchanged') return this.withdraw(auth, factor, unwrite, false); // another change ended the session
    // Two-step was on already: the same sign-in goes on under a new id, with the factor.
    const issued = await this.successor(auth, client, proven);
    if (!issued) return this.withdraw(auth, factor, unwrite, false);
    await this.deps.devices.untrustAll(userId);
    await this.deps.mailer.send(this.deps.mails.factorChangedNotice(auth.user.email, greetingName(auth.user), { factor, action: 'added' }));
    return { issued };
  }

  /**
   * The session that added a factor was ended before the addition completed: the factor goes
   * again (`unwrite`). A passkey signs in on its own, so a sign-in it made in the meantime ends
   * too (an epoch bump), as does everything under a flip of two-step that this addition made
   * and that nothing else now holds. A TOTP app alone could not sign anyone in (two-step was
   * not on for it), so taking it back is enough.
   */
  private async withdraw(auth: Authenticated, factor: SecondFactorName, unwrite: () => Promise<void>, turnedOn: boolean): Promise<never> {
    const userId = auth.user.id;
    await unwrite();
    if (turnedOn || factor === 'passkey') {
      const off = turnedOn && !(await this.isOn(userId));
      const undone = await this.deps.changes.apply(userId, off ? { twoFactor: false } : {});
      if (!undone.ok && undone.reason === 'unchanged') await this.deps.changes.apply(userId, {}); // turned off meanwhile: still end what began
    }
    throw signedOutMeanwhile();
  }

  /**
   * Removes the factor `write` removes (while the epoch is the session's, like `add`). When it
   * was the last, two-step goes off (a credential change) and the session's successor is
   * returned. The factor goes BEFORE the flag flips: a sign-in that found it before holds a
   * session of the old epoch, which the flip ends. Of two last factors removed at once, the
   * later removal sees none left, so one of them turns two-step off.
   */
  async remove(
    auth: Authenticated,
    factor: SecondFactorName,
    client: ClientInfo,
    write: (ifEpoch: number) => Promise<'removed' | 'none' | 'stale'>,
  ): Promise<{ removed: boolean; issued?: IssuedSession }> {
    const userId = auth.user.id;
    const written = await write(auth.session.epoch);
    if (written === 'stale') throw signedOutMeanwhile();
    if (written === 'none') return { removed: false };
    if (await this.isOn(userId)) {
      await this.deps.devices.untrustAll(userId);
      await this.deps.mailer.send(this.deps.mails.factorChangedNotice(auth.user.email, greetingName(auth.user), { factor, action: 'removed' }));
      return { removed: true };
    }
    const turned = await this.turnOff(auth, client);
    if (turned === 'unchanged') return { removed: true }; // a parallel removal turned it off
    await this.deps.factors.removeRecoveryCodes(userId); // the last factor went: nothing to recover
    await this.deps.mailer.send(this.deps.mails.twoStepChangedNotice(turned.user.email, greetingName(turned.user), 'off'));
    return turned.issued ? { removed: true, issued: turned.issued } : { removed: true };
  }

  /**
   * Turns two-step off after the last factor went: a credential change, from this session
   * (rotated) while it holds; when another change ended it meanwhile, the flip still happens
   * (the factor is already gone) and ends every session.
   */
  private async turnOff(auth: Authenticated, client: ClientInfo): Promise<'unchanged' | { user: User; issued?: IssuedSession }> {
    const { changes } = this.deps;
    let changed = await changes.apply(auth.user.id, { twoFactor: false }, { current: { session: auth.session, client } });
    if (!changed.ok && changed.reason === 'stale') changed = await changes.apply(auth.user.id, { twoFactor: false });
    if (!changed.ok) {
      if (changed.reason === 'unchanged') return 'unchanged';
      throw signedOutMeanwhile(); // the account is gone
    }
    return changed.issued ? { user: changed.user, issued: changed.issued } : { user: changed.user };
  }

  /** A new set of recovery codes, replacing every older one. */
  async newRecoveryCodeSet(userId: string): Promise<string[]> {
    const codes = newRecoveryCodes(this.deps.random);
    const hashes = codes.map((code) => hashRecoveryCode(normalizeRecoveryCode(code)!));
    await this.deps.factors.replaceRecoveryCodes(userId, hashes, this.deps.clock.now());
    return codes;
  }

  /** The same sign-in under a new id, with `proven` added to its methods; null when it was ended meanwhile. */
  private async successor(auth: Authenticated, client: ClientInfo, proven: AuthMethod[]): Promise<IssuedSession | null> {
    const { sessions, issuer } = this.deps;
    // Only a session that still exists is replaced: one ended meanwhile stays ended.
    return (await sessions.delete(auth.session.id)) ? issuer.rotate(auth.session, auth.user, auth.session.epoch, client, { methods: proven }) : null;
  }
}
