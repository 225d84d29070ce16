/** The JSON shapes of API.md's `User` and `Session` objects. */
import { assuranceOf } from '../domain/assurance.js';
import type { AdminUser } from '../domain/admin-service.js';
import type { AuthEvent } from '../domain/auth-events.js';
import type { DeviceRecord } from '../domain/devices.js';
import type { SessionRecord } from '../domain/session.js';
import type { User } from '../domain/user.js';

export function toPublicUser(user: User) {
  return {
    id: user.id,
    email: user.email,
    name: user.name,
    emailVerified: user.emailVerified,
    createdAt: new Date(user.createdAt).toISOString(),
    role: user.role,
    twoFactor: user.twoFactor,
  };
}

/** `id` is the public handle; the secret half of the cookie never leaves the store. */
export function toPublicSession(session: SessionRecord, currentSessionId: string | undefined) {
  return {
    id: session.id,
    current: session.id === currentSessionId,
    createdAt: new Date(session.createdAt).toISOString(),
    lastSeenAt: new Date(session.lastSeenAt).toISOString(),
    expiresAt: new Date(session.expiresAt).toISOString(),
    rememberMe: session.rememberMe,
    ip: session.ip,
    userAgent: session.userAgent,
    aal: assuranceOf(session.methods),
    methods: session.methods,
  };
}

/** A browser that signed in to the account; `trusted` while "remember this device" holds. */
export function toPublicDevice(device: DeviceRecord, currentId: string | undefined, now: number) {
  const trusted = device.trustedUntil !== null && device.trustedUntil > now;
  return {
    id: device.id,
    current: device.id === currentId,
    firstSeenAt: new Date(device.firstSeenAt).toISOString(),
    lastSeenAt: new Date(device.lastSeenAt).toISOString(),
    userAgent: device.userAgent,
    ip: device.ip,
    trusted,
    ...(trusted ? { trustedUntil: new Date(device.trustedUntil!).toISOString() } : {}),
  };
}

/** An audit event as its owner sees it: what, when, from where. */
export function toPublicEvent(event: AuthEvent) {
  return {
    type: event.type,
    at: new Date(event.at).toISOString(),
    ip: event.ip,
    userAgent: event.userAgent,
    ...(event.sessionId === undefined ? {} : { sessionId: event.sessionId }),
    ...(event.actor === undefined ? {} : { actor: event.actor }),
  };
}

/** An account as administrators see it (API.md, "Administration"). */
export function toAdminUser(user: AdminUser) {
  return {
    ...toPublicUser(user),
    disabled: user.disabled !== null,
    ...(user.disabled?.reason ? { disabledReason: user.disabled.reason } : {}),
    lastLoginAt: user.lastLoginAt === null ? null : new Date(user.lastLoginAt).toISOString(),
    sessionCount: user.sessionCount,
  };
}

/** An event of any user, for the administrators' trail. */
export function toAdminEvent(event: AuthEvent) {
  return { ...toPublicEvent(event), userId: event.userId };
}
