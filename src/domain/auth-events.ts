/**
 * The audit trail's vocabulary (DESIGN.md, "Operations"): what happened, to whom (when known),
 * from where. Never a password, token or session secret — the types below have no place for one.
 */
export const authEventTypes = [
  'registered',
  'login_succeeded',
  'login_failed',
  'login_throttled',
  'mfa_challenged',
  'mfa_succeeded',
  'mfa_failed',
  'logout',
  'reauthenticated',
  'reauth_failed',
  'session_revoked',
  'sessions_revoked',
  'password_changed',
  'password_reset',
  'email_verified',
  'email_change_requested',
  'email_changed',
  'account_deleted',
  'totp_enabled',
  'totp_disabled',
  'recovery_codes_generated',
  'recovery_code_used',
  'new_device',
  'device_forgotten',
  'passkey_added',
  'passkey_removed',
  'passkey_login',
  'passkey_counter_error',
  'password_reset_requested',
  'account_disabled',
  'account_enabled',
  'role_changed',
  'mfa_reset',
] as const;

export type AuthEventType = (typeof authEventTypes)[number];

export interface AuthEvent {
  type: AuthEventType;
  /** Null when the account is unknown (a failed login for an address nobody registered). */
  userId: string | null;
  at: number;
  ip: string;
  userAgent: string;
  /** The session the event concerns (its public id), when there is one. */
  sessionId?: string;
  /** How many sessions ended, for events that end several. */
  count?: number;
  /** Who caused it, when not the account's owner: an administrator, or the command line. */
  actor?: Actor;
}

export type Actor = { role: 'admin'; id: string } | { role: 'cli' };

export interface AuthEventPage {
  events: Array<AuthEvent & { id: string }>;
  /** Pass as `before` for the next (older) page; absent on the last page. */
  next?: string;
}

export interface AuthEventSink {
  record(event: AuthEvent): Promise<void>;
}

export interface AuditLog extends AuthEventSink {
  /** The user's events, newest first. `before` is a cursor from an earlier page. */
  listForUser(userId: string, options: { before?: string; limit: number }): Promise<AuthEventPage>;
  /** Events of every user (or one, or one type), newest first: the administrators' view. */
  list(filter: { userId?: string; type?: AuthEventType; before?: string; limit: number }): Promise<AuthEventPage>;
  /** Removes the user's history (account deletion). */
  forgetUser(userId: string): Promise<void>;
  /** Removes events older than `olderThan` (retention). Returns how many. */
  prune(olderThan: number): Promise<number>;
}
