/**
 * Devices and new sign-in alerts (API.md, "Devices and new sign-in alerts"). A browser carries
 * a device cookie: 256 random bits, stored only as SHA-256, bound to each account that
 * completed a sign-in from it. It never authenticates anything by itself; it only says "this
 * browser has signed in to this account before" (so the owner is not alerted again) and, when
 * the owner asked to remember it, lets a password sign-in skip the second step (aal1).
 *
 * Trust is bound to the credential epoch it was given under: any credential change (password,
 * reset, address, a factor turned on or off) ends it without touching the devices table.
 */
import { createHash } from 'node:crypto';
import type { AuthEventSink } from './auth-events.js';
import { greetingName, type MailComposer, type Mailer } from './mails.js';
import type { Clock, Random } from './ports.js';
import type { ClientInfo } from './session-issuer.js';
import type { User } from './user.js';

export interface DeviceRecord {
  id: string;
  userId: string;
  firstSeenAt: number;
  lastSeenAt: number;
  userAgent: string;
  ip: string;
  /** Until when a password sign-in from it skips the second step (null: not remembered). */
  trustedUntil: number | null;
  /** The credential epoch the trust was given under. */
  trustEpoch: number | null;
}

export interface DeviceStore {
  /** Records a completed sign-in; `isNew` when this browser had not signed in to the account before. */
  recordSignIn(userId: string, deviceHash: Buffer, id: string, at: number, client: ClientInfo): Promise<{ isNew: boolean }>;
  find(userId: string, deviceHash: Buffer): Promise<DeviceRecord | null>;
  /** Trusts the device, under a new token hash (`newHash`) from now on. */
  trust(userId: string, deviceHash: Buffer, newHash: Buffer, until: number, epoch: number): Promise<void>;
  listByUser(userId: string): Promise<DeviceRecord[]>;
  /** Ends every remembered device of the user; the devices stay known (no new-device alerts). */
  untrustAll(userId: string): Promise<void>;
  /** Forgets one device of the user (its trust with it); false when there is no such device. */
  forget(userId: string, id: string): Promise<boolean>;
}

export interface DevicesDeps {
  store: DeviceStore;
  events: AuthEventSink;
  mailer: Mailer;
  mails: MailComposer;
  clock: Clock;
  random: Random;
  /** MFA_REMEMBER_DEVICE; 0: "remember this device" is off. */
  rememberForMs: number;
  /** NEW_DEVICE_ALERTS. */
  alerts: boolean;
}

const TOKEN_BYTES = 32;
const TOKEN = /^[A-Za-z0-9_-]{43}$/;

export class Devices {
  constructor(private readonly deps: DevicesDeps) {}

  /**
   * A completed sign-in from the browser holding `token` (or none yet). Returns the token the
   * browser should keep (a new one when it had none or an unusable one). A browser new to the
   * account is recorded as `new_device` and, with NEW_DEVICE_ALERTS, mailed to the owner
   * (`quiet` for the browser that created the account: there is nobody to warn).
   */
  async signedIn(
    user: User,
    token: string | undefined,
    client: ClientInfo,
    options: { sessionId: string; remember?: { epoch: number }; quiet?: boolean },
  ): Promise<{ token: string; isNew: boolean }> {
    const { store, clock, random, events, mailer, mails, alerts, rememberForMs } = this.deps;
    const fresh = () => random.bytes(TOKEN_BYTES).toString('base64url');
    let kept = token !== undefined && TOKEN.test(token) ? token : fresh();
    const hash = hashDeviceToken(kept);
    const at = clock.now();
    const { isNew } = await store.recordSignIn(user.id, hash, random.uuid(), at, client);
    if (options.remember && rememberForMs > 0) {
      // Trust goes with a value the server has just made, never one the browser brought: a
      // cookie planted in the browser before (a shared computer, a sibling host without the
      // __Host- prefix) must not become a key that skips the second step.
      kept = fresh();
      await store.trust(user.id, hash, hashDeviceToken(kept), at + rememberForMs, options.remember.epoch);
    }
    if (isNew && !options.quiet) {
      await events.record({ type: 'new_device', userId: user.id, at, ip: client.ip, userAgent: client.userAgent, sessionId: options.sessionId });
      if (alerts) await mailer.send(mails.newSignInNotice(user.email, greetingName(user), { at, ip: client.ip, userAgent: client.userAgent }));
    }
    return { token: kept, isNew };
  }

  /** Whether a password sign-in from this browser may skip the second step. */
  async isRemembered(userId: string, token: string | undefined, epoch: number): Promise<boolean> {
    if (this.deps.rememberForMs <= 0 || token === undefined || !TOKEN.test(token)) return false;
    const device = await this.deps.store.find(userId, hashDeviceToken(token));
    return device !== null && device.trustEpoch === epoch && (device.trustedUntil ?? 0) > this.deps.clock.now();
  }

  list(userId: string): Promise<DeviceRecord[]> {
    return this.deps.store.listByUser(userId);
  }

  /** The device's record, for marking "this browser" in a list. */
  async current(userId: string, token: string | undefined): Promise<DeviceRecord | null> {
    return token !== undefined && TOKEN.test(token) ? this.deps.store.find(userId, hashDeviceToken(token)) : null;
  }

  /**
   * A second factor was added or removed while two-step stays on: no browser skips the step on
   * the strength of the old set of factors (API.md, "Two-step sign-in").
   */
  untrustAll(userId: string): Promise<void> {
    return this.deps.store.untrustAll(userId);
  }

  async forget(userId: string, id: string, client: ClientInfo, sessionId: string): Promise<boolean> {
    const forgotten = await this.deps.store.forget(userId, id);
    if (forgotten) {
      const { clock, events } = this.deps;
      await events.record({ type: 'device_forgotten', userId, at: clock.now(), ip: client.ip, userAgent: client.userAgent, sessionId });
    }
    return forgotten;
  }
}

function hashDeviceToken(token: string): Buffer {
  return createHash('sha256').update(token).digest();
}
