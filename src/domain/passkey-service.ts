/**
 * Passkeys (API.md, "Passkeys (WebAuthn)"): adding, naming and removing them, signing in with
 * one instead of a password, and answering a second step with one.
 *
 * - Every challenge is 32 random bytes, kept server-side for 5 minutes and taken out by its
 *   first use, successful or not (THREATS.md, item 9): of 20 parallel uses of one signed answer
 *   exactly one finds its challenge. A registration or second-step challenge works only for the
 *   session that asked; a sign-in challenge for nobody else's purpose.
 * - User verification is required at every ceremony: a passkey is something you have AND
 *   something you are or know, so a passkey sign-in is aal2 (DESIGN.md, "Factors and assurance").
 * - Whatever was wrong with an answer (unknown credential, bad signature, wrong origin or rp id,
 *   no user verification, unknown, used or expired challenge) reads the same: 401
 *   `invalid_credentials` (400 `invalid_passkey` at registration), and nothing is created.
 * - A signature counter that does not move forward is refused and recorded
 *   (`passkey_counter_error`): the key was probably copied.
 */
import { assuranceOf } from './assurance.js';
import type { AuthEventSink, AuthEventType } from './auth-events.js';
import type { Authenticated } from './auth-service.js';
import { ipKey } from './client-key.js';
import type { Devices } from './devices.js';
import { accountDisabled, LatchError, RateLimitedError } from './errors.js';
import type { FactorLifecycle } from './factor-lifecycle.js';
import {
  counterWentBack,
  type AuthenticationResponseJSON,
  type ChallengeBinding,
  type ChallengeStore,
  type CreationOptions,
  type Passkey,
  type PasskeyStore,
  type RegistrationResponseJSON,
  type RequestOptions,
  type WebAuthnCeremonies,
} from './passkeys.js';
import type { PasswordProofs } from './password-proof.js';
import type { Clock, Random, RateLimiter, UserRepository } from './ports.js';
import type { ClientInfo, IssuedSession, SessionIssuer } from './session-issuer.js';
import { publicUser } from './user.js';

/** WebAuthn challenges: 32 random bytes (API.md), alive 5 minutes. */
const CHALLENGE_BYTES = 32;
export const CHALLENGE_TTL_MS = 5 * 60_000;
/** The WebAuthn user handle: opaque random bytes (at most 64, WebAuthn §5.4.3), never the user id. */
const USER_HANDLE_BYTES = 32;
export const PASSKEY_NAME_MAX = 64;

export interface PasskeyServiceDeps {
  passkeys: PasskeyStore;
  challenges: ChallengeStore;
  ceremonies: WebAuthnCeremonies;
  lifecycle: FactorLifecycle;
  proofs: PasswordProofs;
  users: UserRepository;
  issuer: SessionIssuer;
  devices: Pick<Devices, 'signedIn'>;
  events: AuthEventSink;
  clock: Clock;
  random: Random;
  /** Challenges asked for per client IP (guests) or per session: each is a stored record. */
  optionsCount: RateLimiter;
  /** REQUIRE_EMAIL_VERIFICATION: no session until the address is verified, whatever the proof. */
  requireEmailVerification: boolean;
}

export class PasskeyService {
  constructor(private readonly deps: PasskeyServiceDeps) {}

  list(userId: string): Promise<Passkey[]> {
    return this.deps.passkeys.listByUser(userId);
  }

  /** Creation options for a new passkey of the signed-in user (recent re-auth). */
  async registrationOptions(auth: Authenticated): Promise<CreationOptions> {
    const { proofs, passkeys, ceremonies, random } = this.deps;
    await proofs.requireRecent(auth, 'add a passkey');
    await this.countOptions(auth.session.id);
    const [handle, existing] = await Promise.all([
      passkeys.userHandleOf(auth.user.id, () => random.bytes(USER_HANDLE_BYTES).toString('base64url')),
      passkeys.listByUser(auth.user.id),
    ]);
    const challenge = await this.newChallenge({ purpose: 'register', sessionId: auth.session.id });
    return ceremonies.creationOptions({
      challenge,
      user: { handle, name: auth.user.email, displayName: auth.user.name },
      exclude: existing.map(descriptor),
    });
  }

  /**
   * Stores the new passkey: proven just now with user verification, it is a second factor this
   * session has shown, so the session goes on under a new id as aal2 (FactorLifecycle).
   */
  async register(
    auth: Authenticated,
    input: { response: RegistrationResponseJSON; name?: string },
    client: ClientInfo,
  ): Promise<{ passkey: Passkey; issued: IssuedSession; recoveryCodes?: string[] }> {
    const { proofs, ceremonies, passkeys, lifecycle, clock, random } = this.deps;
    await proofs.requireRecent(auth, 'add a passkey');
    const challenge = await this.takeChallenge(input.response, { purpose: 'register', sessionId: auth.session.id });
    const credential = challenge === null ? null : await ceremonies.verifyRegistration(input.response, challenge);
    if (!credential) throw invalidPasskey();
    if (await passkeys.findByCredentialId(credential.credentialId)) throw invalidPasskey();
    const at = clock.now();
    const passkey: Passkey = {
      id: random.uuid(),
      userId: auth.user.id,
      ...credential,
      name: input.name ?? defaultName(at),
      createdAt: at,
      lastUsedAt: null,
    };
    const added = await lifecycle.add(auth, 'passkey', client, async (ifEpoch) => {
      const stored = await passkeys.add(passkey, ifEpoch);
      if (stored === 'duplicate') throw invalidPasskey();
      return stored === 'stale' ? 'stale' : 'written';
    }, async () => void (await passkeys.remove(auth.user.id, passkey.id)));
    await this.record('passkey_added', auth.user.id, client, added.issued.session.id);
    return { passkey, ...added };
  }

  async rename(auth: Authenticated, id: string, name: string): Promise<Passkey> {
    const renamed = await this.deps.passkeys.rename(auth.user.id, id, name);
    if (!renamed) throw notFound();
    return renamed;
  }

  /** Removes one of the user's passkeys (recent re-auth); the last factor takes two-step with it. */
  async remove(auth: Authenticated, id: string, client: ClientInfo): Promise<IssuedSession | undefined> {
    const { proofs, passkeys, lifecycle } = this.deps;
    await proofs.requireRecent(auth, 'remove a passkey');
    if (!(await passkeys.listByUser(auth.user.id)).some((p) => p.id === id)) throw notFound();
    const { removed, issued } = await lifecycle.remove(auth, 'passkey', client, (ifEpoch) => passkeys.remove(auth.user.id, id, ifEpoch));
    if (!removed) throw notFound(); // removed meanwhile by a parallel request
    await this.record('passkey_removed', auth.user.id, client, issued?.session.id ?? auth.session.id);
    return issued;
  }

  /**
   * Request options: for a guest, discoverable (the authenticator says whose passkey it is);
   * for a session finishing or stepping up a second step, that user's passkeys only.
   */
  async signInOptions(asking: Authenticated | undefined, client: ClientInfo): Promise<RequestOptions> {
    // A signed-in session may only ask to step up: aal1, of an account with two-step on.
    if (asking && !asking.session.pending && (assuranceOf(asking.session.methods) === 'aal2' || !(await this.deps.lifecycle.isOn(asking.user.id)))) {
      throw new LatchError('already_authenticated', 'Already signed in; log out first');
    }
    // Guests are counted per client IP; a session that proved the password, per session, so a
    // noisy neighbour behind the same NAT cannot lock its owner out (THREATS.md, item 7).
    await this.countOptions(asking ? asking.session.id : ipKey(client.ip));
    if (!asking) return this.deps.ceremonies.requestOptions({ challenge: await this.newChallenge({ purpose: 'login' }) });
    const allow = (await this.deps.passkeys.listByUser(asking.user.id)).map(descriptor);
    const challenge = await this.newChallenge({ purpose: 'second_step', sessionId: asking.session.id });
    return this.deps.ceremonies.requestOptions({ challenge, allow });
  }

  /** A passwordless sign-in: a NEW session, aal2, proven by the passkey alone. */
  async signIn(
    input: { response: AuthenticationResponseJSON; rememberMe: boolean },
    client: ClientInfo,
  ): Promise<{ issued: IssuedSession; device: string }> {
    const { users, issuer, devices } = this.deps;
    const challenge = await this.takeChallenge(input.response, { purpose: 'login' });
    const passkey = challenge === null ? null : await this.deps.passkeys.findByCredentialId(input.response.id);
    // A discoverable credential names its user; it must be the passkey's owner.
    const handleOk = passkey !== null && (await this.handleMatches(passkey.userId, input.response.response.userHandle));
    const account = handleOk ? await users.findById(passkey.userId) : null;
    if (!account || !(await this.verifyUse(passkey!, input.response, challenge!, client))) {
      await this.record('login_failed', passkey?.userId ?? null, client);
      throw invalidCredentials();
    }
    if (account.disabled) {
      await this.record('login_failed', account.id, client);
      throw accountDisabled();
    }
    if (this.deps.requireEmailVerification && !account.emailVerified) {
      throw new LatchError('email_unverified', 'Verify your email address first: follow the link we mailed you');
    }
    // The epoch read before the signature was checked: a credential change that lands
    // meanwhile (reset, sign-out everywhere, deletion) refuses this session (THREATS.md, item 2).
    const user = publicUser(account);
    const issued = await issuer.issue(user, account.credentialEpoch, { rememberMe: input.rememberMe, methods: ['passkey'] }, client);
    if (!issued) {
      await this.record('login_failed', account.id, client);
      throw invalidCredentials();
    }
    await this.record('passkey_login', account.id, client, issued.session.id);
    const device = await devices.signedIn(user, client.device, client, { sessionId: issued.session.id });
    return { issued, device: device.token };
  }

  /** A passkey's answer to the challenge this (pending or aal1) session asked for. */
  async verifySecondStep(userId: string, sessionId: string, response: AuthenticationResponseJSON, client: ClientInfo): Promise<boolean> {
    const challenge = await this.takeChallenge(response, { purpose: 'second_step', sessionId });
    if (challenge === null) return false;
    const passkey = await this.deps.passkeys.findByCredentialId(response.id);
    if (!passkey || passkey.userId !== userId) return false;
    return this.verifyUse(passkey, response, challenge, client);
  }

  async holds(userId: string, credentialId: string): Promise<boolean> {
    return (await this.deps.passkeys.findByCredentialId(credentialId))?.userId === userId;
  }

  /** Signature, user verification and counter; the use is recorded only when all hold. */
  private async verifyUse(passkey: Passkey, response: AuthenticationResponseJSON, challenge: string, client: ClientInfo): Promise<boolean> {
    const { ceremonies, passkeys, clock } = this.deps;
    const verified = await ceremonies.verifyAuthentication(response, challenge, passkey);
    if (!verified) return false;
    if (counterWentBack(passkey.counter, verified.counter)) {
      await this.record('passkey_counter_error', passkey.userId, client);
      return false;
    }
    return passkeys.recordUse(passkey.id, passkey.counter, { counter: verified.counter, backedUp: verified.backedUp, at: clock.now() });
  }

  private async handleMatches(userId: string, userHandle: string | undefined): Promise<boolean> {
    if (userHandle === undefined) return true; // not discoverable: the credential id alone names it
    return (await this.deps.passkeys.userIdByHandle(userHandle)) === userId;
  }

  private async newChallenge(binding: ChallengeBinding): Promise<Buffer> {
    const challenge = this.deps.random.bytes(CHALLENGE_BYTES);
    await this.deps.challenges.put(challenge.toString('base64url'), binding, CHALLENGE_TTL_MS);
    return challenge;
  }

  /**
   * Takes out the challenge the response answers (gone whatever follows), or null unless it was
   * issued for `expected`: the same purpose and, where bound, the same session.
   */
  private async takeChallenge(response: RegistrationResponseJSON | AuthenticationResponseJSON, expected: ChallengeBinding): Promise<string | null> {
    const challenge = this.deps.ceremonies.challengeOf(response);
    if (challenge === null) return null;
    const binding = await this.deps.challenges.take(challenge);
    if (!binding || binding.purpose !== expected.purpose) return null;
    if ('sessionId' in expected && (!('sessionId' in binding) || binding.sessionId !== expected.sessionId)) return null;
    return challenge;
  }

  private async countOptions(key: string): Promise<void> {
    const verdict = await this.deps.optionsCount.consume(key);
    if (!verdict.allowed) throw new RateLimitedError(verdict.retryAfterMs);
  }

  private record(type: AuthEventType, userId: string | null, client: ClientInfo, sessionId?: string): Promise<void> {
    const event = { type, userId, at: this.deps.clock.now(), ip: client.ip, userAgent: client.userAgent };
    return this.deps.events.record(sessionId === undefined ? event : { ...event, sessionId });
  }
}

function descriptor(passkey: Passkey): { credentialId: string; transports: string[] } {
  return { credentialId: passkey.credentialId, transports: passkey.transports };
}

function defaultName(at: number): string {
  return `Passkey added ${new Date(at).toISOString().slice(0, 10)}`;
}

function invalidPasskey(): LatchError {
  return new LatchError('invalid_passkey', 'That passkey could not be added; try again');
}

function invalidCredentials(): LatchError {
  return new LatchError('invalid_credentials', 'That passkey was not accepted');
}

function notFound(): LatchError {
  return new LatchError('not_found', 'No such passkey');
}
