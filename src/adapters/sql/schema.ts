/** Table shapes as Kysely sees them. Times are epoch milliseconds; booleans are 0/1. */
import type { Generated } from 'kysely';

export interface UsersTable {
  id: string;
  email: string;
  name: string;
  password_hash: string;
  email_verified: number;
  created_at: number;
  credential_epoch: Generated<number>;
  role: Generated<string>;
  two_factor: Generated<number>;
  disabled_at: number | null;
  disabled_reason: string | null;
  disabled_by: string | null;
}

export interface SessionsTable {
  id: string;
  user_id: string;
  secret_hash: Buffer;
  created_at: number;
  last_seen_at: number;
  expires_at: number;
  remember_me: number;
  authenticated_at: number;
  ip: string;
  user_agent: string;
  epoch: number;
  /** Comma-separated AuthMethods, in order. */
  methods: string;
  pending: number;
}

export interface TotpFactorsTable {
  user_id: string;
  sealed_secret: string;
  confirmed: number;
  /** The last time step accepted (-1: none yet). */
  last_step: number;
  created_at: number;
}

export interface DevicesTable {
  id: string;
  user_id: string;
  device_hash: Buffer;
  first_seen_at: number;
  last_seen_at: number;
  user_agent: string;
  ip: string;
  trusted_until: number | null;
  trust_epoch: number | null;
}

export interface RecoveryCodesTable {
  code_hash: Buffer;
  user_id: string;
  created_at: number;
}

export interface MigrationsTable {
  name: string;
  timestamp: Generated<string>;
}

export interface AuthEventsTable {
  id: Generated<number>;
  user_id: string | null;
  type: string;
  at: number;
  ip: string;
  user_agent: string;
  session_id: string | null;
  count: number | null;
  actor_id: string | null;
  actor_role: string | null;
}

export interface OneTimeTokensTable {
  token_hash: Buffer;
  user_id: string;
  purpose: string;
  email: string;
  expires_at: number;
  epoch: number;
}

/** Mails waiting for delivery (the durable outbox); a row goes once its mail is sent. */
export interface MailOutboxTable {
  id: string;
  recipient: string;
  /** Emptied with the body when the mail fails for good: nothing readable is kept. */
  subject: string;
  body_text: string;
  body_html: string;
  link: string | null;
  /** 'pending' or 'failed' (given up after the last retry). */
  status: string;
  attempts: number;
  next_attempt_at: number;
  /** Who holds the row while delivering it, and until when (a crashed holder's lease runs out). */
  claim: string | null;
  claimed_until: number | null;
  created_at: number;
  last_error: string | null;
}

export interface PasskeysTable {
  id: string;
  user_id: string;
  credential_id: string;
  public_key: Buffer;
  counter: number;
  transports: string;
  backup_eligible: number;
  backed_up: number;
  name: string;
  created_at: number;
  last_used_at: number | null;
}

export interface PasskeyUserHandlesTable {
  user_id: string;
  handle: string;
}

export interface WebAuthnChallengesTable {
  challenge_hash: Buffer;
  purpose: string;
  session_id: string | null;
  expires_at: number;
}

export interface Database {
  users: UsersTable;
  sessions: SessionsTable;
  auth_events: AuthEventsTable;
  one_time_tokens: OneTimeTokensTable;
  totp_factors: TotpFactorsTable;
  recovery_codes: RecoveryCodesTable;
  devices: DevicesTable;
  passkeys: PasskeysTable;
  passkey_user_handles: PasskeyUserHandlesTable;
  webauthn_challenges: WebAuthnChallengesTable;
  mail_outbox: MailOutboxTable;
}

export type Dialect = 'sqlite' | 'postgres';
