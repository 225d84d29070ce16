/**
 * Versioned migrations, in code so they ship inside the build. Never edit a released one:
 * add the next. Column types differ by dialect only where they must (bytes).
 */
import { Migrator, type Kysely, type Migration, type MigrationProvider } from 'kysely';
import type { Dialect } from './schema.js';

function migrations(dialect: Dialect): Record<string, Migration> {
  const bytes = dialect === 'postgres' ? 'bytea' : 'blob';
  return {
    '0001_users_and_sessions': {
      async up(db: Kysely<any>) {
        await db.schema
          .createTable('users')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('email', 'text', (c) => c.notNull())
          .addColumn('name', 'text', (c) => c.notNull())
          .addColumn('password_hash', 'text', (c) => c.notNull())
          .addColumn('email_verified', 'integer', (c) => c.notNull().defaultTo(0))
          .addColumn('created_at', 'bigint', (c) => c.notNull())
          .execute();
        // The one guard against two accounts for one address, also under concurrent sign-ups.
        await db.schema.createIndex('users_email_unique').on('users').column('email').unique().execute();

        await db.schema
          .createTable('sessions')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('user_id', 'text', (c) => c.notNull().references('users.id').onDelete('cascade'))
          .addColumn('secret_hash', bytes, (c) => c.notNull())
          .addColumn('created_at', 'bigint', (c) => c.notNull())
          .addColumn('last_seen_at', 'bigint', (c) => c.notNull())
          .addColumn('expires_at', 'bigint', (c) => c.notNull())
          .addColumn('remember_me', 'integer', (c) => c.notNull())
          .addColumn('authenticated_at', 'bigint', (c) => c.notNull())
          .addColumn('ip', 'text', (c) => c.notNull())
          .addColumn('user_agent', 'text', (c) => c.notNull())
          .execute();
        await db.schema.createIndex('sessions_user_id').on('sessions').column('user_id').execute();
        await db.schema.createIndex('sessions_expires_at').on('sessions').column('expires_at').execute();
      },
    },
    // rate-limiter-flexible's table shape (it is told the table exists): key, points, expire ms.
    '0002_rate_limits': {
      async up(db: Kysely<any>) {
        await db.schema
          .createTable('latch_rate_limits')
          .addColumn('key', dialect === 'postgres' ? 'varchar(255)' : 'text', (c) => c.primaryKey())
          .addColumn('points', 'integer', (c) => c.notNull().defaultTo(0))
          .addColumn('expire', 'bigint')
          .execute();
        await db.schema.createIndex('latch_rate_limits_expire').on('latch_rate_limits').column('expire').execute();
      },
    },
    // The audit trail. No foreign key to users: `account_deleted` outlives the account.
    '0003_auth_events': {
      async up(db: Kysely<any>) {
        await db.schema
          .createTable('auth_events')
          .addColumn('id', dialect === 'postgres' ? 'bigserial' : 'integer', (c) =>
            dialect === 'postgres' ? c.primaryKey() : c.primaryKey().autoIncrement(),
          )
          .addColumn('user_id', 'text')
          .addColumn('type', 'text', (c) => c.notNull())
          .addColumn('at', 'bigint', (c) => c.notNull())
          .addColumn('ip', 'text', (c) => c.notNull())
          .addColumn('user_agent', 'text', (c) => c.notNull())
          .addColumn('session_id', 'text')
          .addColumn('count', 'integer')
          .execute();
        await db.schema.createIndex('auth_events_user').on('auth_events').columns(['user_id', 'id']).execute();
        await db.schema.createIndex('auth_events_at').on('auth_events').column('at').execute();
      },
    },
    '0004_one_time_tokens': {
      async up(db: Kysely<any>) {
        await db.schema
          .createTable('one_time_tokens')
          .addColumn('token_hash', bytes, (c) => c.primaryKey())
          .addColumn('user_id', 'text', (c) => c.notNull().references('users.id').onDelete('cascade'))
          .addColumn('purpose', 'text', (c) => c.notNull())
          .addColumn('email', 'text', (c) => c.notNull())
          .addColumn('expires_at', 'bigint', (c) => c.notNull())
          .execute();
        await db.schema.createIndex('one_time_tokens_user').on('one_time_tokens').columns(['user_id', 'purpose']).execute();
      },
    },
    // The credential epoch (DESIGN.md, "Credentials change"): bumped by every credential change;
    // a session or mailed token carries the epoch it was issued under and dies when it moves on.
    '0005_credential_epoch': {
      async up(db: Kysely<any>) {
        await db.schema.alterTable('users').addColumn('credential_epoch', 'integer', (c) => c.notNull().defaultTo(0)).execute();
        await db.schema.alterTable('sessions').addColumn('epoch', 'integer', (c) => c.notNull().defaultTo(0)).execute();
        await db.schema.alterTable('one_time_tokens').addColumn('epoch', 'integer', (c) => c.notNull().defaultTo(0)).execute();
      },
    },
    // How each session was proven, in order (comma-separated `AuthMethod`s); sessions made
    // before this were all password sign-ins.
    '0006_session_methods': {
      async up(db: Kysely<any>) {
        await db.schema.alterTable('sessions').addColumn('methods', 'text', (c) => c.notNull().defaultTo('password')).execute();
      },
    },
    // Two-step sign-in: pending sessions, authenticator-app secrets (sealed), recovery codes
    // (SHA-256 of each). Both factor tables go with the user.
    '0007_two_step': {
      async up(db: Kysely<any>) {
        await db.schema.alterTable('sessions').addColumn('pending', 'integer', (c) => c.notNull().defaultTo(0)).execute();
        await db.schema
          .createTable('totp_factors')
          .addColumn('user_id', 'text', (c) => c.primaryKey().references('users.id').onDelete('cascade'))
          .addColumn('sealed_secret', 'text', (c) => c.notNull())
          .addColumn('confirmed', 'integer', (c) => c.notNull().defaultTo(0))
          .addColumn('last_step', 'bigint', (c) => c.notNull().defaultTo(-1))
          .addColumn('created_at', 'bigint', (c) => c.notNull())
          .execute();
        await db.schema
          .createTable('recovery_codes')
          .addColumn('code_hash', bytes, (c) => c.primaryKey())
          .addColumn('user_id', 'text', (c) => c.notNull().references('users.id').onDelete('cascade'))
          .addColumn('created_at', 'bigint', (c) => c.notNull())
          .execute();
        await db.schema.createIndex('recovery_codes_user').on('recovery_codes').column('user_id').execute();
      },
    },
    // Browsers that completed a sign-in, per account (the device cookie, stored as SHA-256),
    // and whether a password sign-in from them may skip the second step.
    '0008_devices': {
      async up(db: Kysely<any>) {
        await db.schema
          .createTable('devices')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('user_id', 'text', (c) => c.notNull().references('users.id').onDelete('cascade'))
          .addColumn('device_hash', bytes, (c) => c.notNull())
          .addColumn('first_seen_at', 'bigint', (c) => c.notNull())
          .addColumn('last_seen_at', 'bigint', (c) => c.notNull())
          .addColumn('user_agent', 'text', (c) => c.notNull())
          .addColumn('ip', 'text', (c) => c.notNull())
          .addColumn('trusted_until', 'bigint')
          .addColumn('trust_epoch', 'integer')
          .execute();
        await db.schema.createIndex('devices_user_device').on('devices').columns(['user_id', 'device_hash']).unique().execute();
      },
    },
    // Passkeys: the public key and signature counter of each credential, the opaque user handle
    // authenticators store instead of the user id, and (when sessions live in SQL) the
    // WebAuthn challenges waiting for their one use (SHA-256 of each, no FK: they may be a
    // guest's).
    '0009_passkeys': {
      async up(db: Kysely<any>) {
        await db.schema
          .createTable('passkeys')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('user_id', 'text', (c) => c.notNull().references('users.id').onDelete('cascade'))
          .addColumn('credential_id', 'text', (c) => c.notNull().unique())
          .addColumn('public_key', bytes, (c) => c.notNull())
          .addColumn('counter', 'bigint', (c) => c.notNull())
          .addColumn('transports', 'text', (c) => c.notNull())
          .addColumn('backup_eligible', 'integer', (c) => c.notNull())
          .addColumn('backed_up', 'integer', (c) => c.notNull())
          .addColumn('name', 'text', (c) => c.notNull())
          .addColumn('created_at', 'bigint', (c) => c.notNull())
          .addColumn('last_used_at', 'bigint')
          .execute();
        await db.schema.createIndex('passkeys_user').on('passkeys').column('user_id').execute();
        await db.schema
          .createTable('passkey_user_handles')
          .addColumn('user_id', 'text', (c) => c.primaryKey().references('users.id').onDelete('cascade'))
          .addColumn('handle', 'text', (c) => c.notNull().unique())
          .execute();
        await db.schema
          .createTable('webauthn_challenges')
          .addColumn('challenge_hash', bytes, (c) => c.primaryKey())
          .addColumn('purpose', 'text', (c) => c.notNull())
          .addColumn('session_id', 'text')
          .addColumn('expires_at', 'bigint', (c) => c.notNull())
          .execute();
        await db.schema.createIndex('webauthn_challenges_expires').on('webauthn_challenges').column('expires_at').execute();
      },
    },
    // Administration: a role and a disabled state on each account, whether it has two-step on
    // (kept with the epoch bump that turns it on or off, so answers need no extra query), and
    // who caused an event when it was not the account's owner.
    '0010_administration': {
      async up(db: Kysely<any>) {
        await db.schema.alterTable('users').addColumn('role', 'text', (c) => c.notNull().defaultTo('user')).execute();
        await db.schema.alterTable('users').addColumn('two_factor', 'integer', (c) => c.notNull().defaultTo(0)).execute();
        await db.schema.alterTable('users').addColumn('disabled_at', 'bigint').execute();
        await db.schema.alterTable('users').addColumn('disabled_reason', 'text').execute();
        await db.schema.alterTable('users').addColumn('disabled_by', 'text').execute();
        await db
          .updateTable('users')
          .set({ two_factor: 1 })
          .where((eb) =>
            eb.or([
              eb.exists(eb.selectFrom('totp_factors').select('user_id').whereRef('totp_factors.user_id', '=', 'users.id').where('confirmed', '=', 1)),
              eb.exists(eb.selectFrom('passkeys').select('user_id').whereRef('passkeys.user_id', '=', 'users.id')),
            ]),
          )
          .execute();
        await db.schema.createIndex('users_role').on('users').column('role').execute();
        await db.schema.createIndex('users_created').on('users').columns(['created_at', 'id']).execute();
        await db.schema.alterTable('auth_events').addColumn('actor_id', 'text').execute();
        await db.schema.alterTable('auth_events').addColumn('actor_role', 'text').execute();
        await db.schema.createIndex('auth_events_type').on('auth_events').columns(['type', 'id']).execute();
      },
    },
    // The durable mail outbox: a mail is written with the token it carries and delivered by
    // whichever instance claims it first.
    '0011_mail_outbox': {
      async up(db: Kysely<any>) {
        await db.schema
          .createTable('mail_outbox')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('recipient', 'text', (c) => c.notNull())
          .addColumn('subject', 'text', (c) => c.notNull())
          .addColumn('body_text', 'text', (c) => c.notNull())
          .addColumn('body_html', 'text', (c) => c.notNull())
          .addColumn('link', 'text')
          .addColumn('status', 'text', (c) => c.notNull())
          .addColumn('attempts', 'integer', (c) => c.notNull())
          .addColumn('next_attempt_at', 'bigint', (c) => c.notNull())
          .addColumn('claim', 'text')
          .addColumn('claimed_until', 'bigint')
          .addColumn('created_at', 'bigint', (c) => c.notNull())
          .addColumn('last_error', 'text')
          .execute();
        await db.schema.createIndex('mail_outbox_due').on('mail_outbox').columns(['status', 'next_attempt_at']).execute();
      },
    },
  };
}

class InCodeMigrations implements MigrationProvider {
  constructor(private readonly dialect: Dialect) {}
  async getMigrations(): Promise<Record<string, Migration>> {
    return migrations(this.dialect);
  }
}

export async function migrateToLatest(db: Kysely<any>, dialect: Dialect): Promise<string[]> {
  const migrator = new Migrator({
    db,
    provider: new InCodeMigrations(dialect),
    migrationTableName: 'latch_migrations',
    migrationLockTableName: 'latch_migrations_lock',
  });
  const { error, results } = await migrator.migrateToLatest();
  if (error) throw error instanceof Error ? error : new Error(String(error));
  return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
}
