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
 * The session step goes FIRST, conditional on the session's epoch, and the factor is written
 * after it: a request whose session was ended meanwhile (a sign-out everywhere while it ran)
 * changes nothing (THREATS.md, item 3).
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
   * Adds the factor `write` stores, which this session has just proven. Returns the session's
   * successor, and recovery codes when this was the account's first factor.
   */
  async add(
    auth: Authenticated,
    factor: SecondFactorName,
    client: ClientInfo,
    write: () => Promise<void>,
  ): Promise<{ issued: IssuedSession; recoveryCodes?: string[] }> {
    const proven: AuthMethod[] = [factor];
    const userId = auth.user.id;
    if (!(await this.isOn(userId))) {
      const changed = await this.deps.changes.apply(userId, {}, { current: { session: auth.session, client, proven: { methods: proven } } });
      if (!changed.ok || !changed.issued) throw signedOutMeanwhile();
      await write();
      const recoveryCodes = await this.newRecoveryCodeSet(userId);
      this.deps.mailer.send(this.deps.mails.twoStepChangedNotice(changed.user.email, greetingName(changed.user), 'on'));
      return { issued: changed.issued, recoveryCodes };
    }
    const issued = await this.rotate(auth, client, proven);
    await write();
    await this.deps.devices.untrustAll(userId);
    this.deps.mailer.send(this.deps.mails.factorChangedNotice(auth.user.email, greetingName(auth.user), { factor, action: 'added' }));
    return { issued };
  }

  /**
   * Removes the factor `write` removes (`write` answers false when there was none). Returns the
   * session's successor when two-step went off (a credential change), else nothing.
   */
  async remove(
    auth: Authenticated,
    factor: SecondFactorName,
    client: ClientInfo,
    write: () => Promise<boolean>,
  ): Promise<{ removed: boolean; issued?: IssuedSession }> {
    const userId = auth.user.id;
    const before = await this.methodsFor(userId);
    const last = before.filter((m) => m !== 'recovery_code').length === 1 && (factor !== 'passkey' || (await this.deps.passkeys.countByUser(userId)) === 1);
    if (!last) {
      if (!(await write())) return { removed: false };
      await this.deps.devices.untrustAll(userId);
      this.deps.mailer.send(this.deps.mails.factorChangedNotice(auth.user.email, greetingName(auth.user), { factor, action: 'removed' }));
      return { removed: true };
    }
    const changed = await this.deps.changes.apply(userId, {}, { current: { session: auth.session, client } });
    if (!changed.ok || !changed.issued) throw signedOutMeanwhile();
    const removed = await write();
    await this.deps.factors.removeRecoveryCodes(userId); // the last factor went: nothing to recover
    this.deps.mailer.send(this.deps.mails.twoStepChangedNotice(changed.user.email, greetingName(changed.user), 'off'));
    return { removed, issued: changed.issued };
  }

  /** A new set of recovery codes, replacing every older one. */
  async newRecoveryCodeSet(userId: string): Promise<string[]> {
    const codes = newRecoveryCodes(this.deps.random);
    const hashes = codes.map((code) => hashRecoveryCode(normalizeRecoveryCode(code)!));
    await this.deps.factors.replaceRecoveryCodes(userId, hashes, this.deps.clock.now());
    return codes;
  }

  /** The same sign-in under a new id, with `proven` added to its methods. */
  private async rotate(auth: Authenticated, client: ClientInfo, proven: AuthMethod[]): Promise<IssuedSession> {
    const { sessions, issuer } = this.deps;
    // Only a session that still exists is replaced: one ended meanwhile stays ended.
    const issued = (await sessions.delete(auth.session.id)) ? await issuer.rotate(auth.session, auth.user, auth.session.epoch, client, { methods: proven }) : null;
    if (!issued) throw signedOutMeanwhile();
    return issued;
  }
}
