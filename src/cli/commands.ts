/**
 * The one-shot commands: a Latch built from the environment (like the server's), one call to
 * AdminService (the same rules as the admin API), then close. Each returns the JSON of the
 * admin API's views and the text for people made from that same JSON.
 */
import { networkInterfaces } from 'node:os';
import { configFromEnv } from '../config.js';
import type { Acting, AdminService, AdminUser } from '../domain/admin-service.js';
import { LatchError, UnavailableError } from '../domain/errors.js';
import type { Role } from '../domain/user.js';
import { guarded } from '../adapters/sql/errors.js';
import { toAdminEvent, toAdminUser, toPublicSession } from '../http/views.js';
import { createLatch, type Latch } from '../latch.js';
import type { CommandName } from './args.js';
import { CliFailure } from './failure.js';
import { safe, userPage, usersTable } from './format.js';

export type AdminCommandName = Exclude<CommandName, 'serve' | 'migrate'>;

export interface AdminCommand {
  command: AdminCommandName;
  email: string;
  query?: string;
  reason?: string;
}

export interface Output {
  json: unknown;
  text: string;
}

/** Builds Latch, runs the command, closes Latch. */
export async function runOnce(env: NodeJS.ProcessEnv, command: AdminCommand): Promise<Output> {
  const latch = await openLatch(env);
  try {
    return await runAdminCommand(latch.admin, command);
  } finally {
    // The outcome is known by now; a failing close changes nothing of it.
    await latch.close().catch(() => undefined);
  }
}

/**
 * Latch as the server builds it, logging nothing (stdout is the command's answer). Failures to
 * reach the database come back as UnavailableError, like every later query's.
 */
function openLatch(env: NodeJS.ProcessEnv): Promise<Latch> {
  return guarded(async () => {
    try {
      return await createLatch({ ...configFromEnv(env), logLevel: 'silent' });
    } catch (error) {
      // connectRedis' words (adapters/redis/connection.ts); sorted here first, since its
      // "ECONNREFUSED" would otherwise read as the database's.
      if (error instanceof Error && error.message.startsWith('Cannot connect to Redis')) {
        throw new UnavailableError('session store', { cause: error });
      }
      throw error;
    }
  });
}

async function runAdminCommand(admin: AdminService, command: AdminCommand): Promise<Output> {
  try {
    return await dispatch(admin, command);
  } catch (error) {
    // Also when the account goes between the lookup and the action.
    if (error instanceof LatchError && error.code === 'not_found' && command.email) {
      throw new CliFailure(`no user with the email ${safe(command.email.trim().toLowerCase())}`);
    }
    throw error;
  }
}

async function dispatch(admin: AdminService, { command, email, query, reason }: AdminCommand): Promise<Output> {
  const acting: Acting = { actor: { role: 'cli' }, client: thisMachine() };
  const done = (user: AdminUser, text: string): Output => ({ json: { user: toAdminUser(user) }, text: `${text}\n` });

  if (command === 'users list') {
    const users = (await everyUser(admin, query)).map(toAdminUser);
    return { json: { users }, text: usersTable(users) };
  }
  const user = await admin.byEmail(email);
  const name = safe(user.email);
  switch (command) {
    case 'users show': {
      const page = await admin.show(user.id);
      const json = {
        user: toAdminUser(page.user),
        sessions: page.sessions.map((s) => toPublicSession(s, undefined)),
        events: page.events.map(toAdminEvent),
      };
      return { json, text: userPage(json) };
    }
    case 'users disable':
      return done(await admin.disable(user.id, reason || undefined, acting), `disabled ${name}; every session of the account has ended`);
    case 'users enable':
      return done(await admin.enable(user.id, acting), `enabled ${name}; the account can sign in again`);
    case 'users grant-admin':
      return changeRole(admin, user, 'admin', acting);
    case 'users revoke-admin':
      return changeRole(admin, user, 'user', acting);
    case 'sessions revoke': {
      const revoked = await admin.revokeSessions(user.id, acting);
      return { json: { revoked }, text: `ended ${revoked} session${revoked === 1 ? '' : 's'} of ${name}\n` };
    }
    case 'mfa reset':
      await admin.resetSecondFactors(user.id, acting);
      return done(await admin.byEmail(user.email), `removed every second factor of ${name}; their sessions ended and they were told by mail`);
  }
}

/** A role change ends the account's sessions, so asking for the role it has changes nothing. */
async function changeRole(admin: AdminService, user: AdminUser, role: Role, acting: Acting): Promise<Output> {
  const title = role === 'admin' ? 'an administrator' : 'an ordinary user';
  const name = safe(user.email);
  if (user.role === role) return { json: { user: toAdminUser(user) }, text: `${name} is already ${title}; nothing changed\n` };
  const changed = await admin.setRole(user.id, role, acting);
  return { json: { user: toAdminUser(changed) }, text: `${name} is now ${title}; their sessions ended (they sign in again)\n` };
}

/** Every matching account, page by page (the admin API's pages are at most 100). */
async function everyUser(admin: AdminService, query: string | undefined): Promise<AdminUser[]> {
  const users: AdminUser[] = [];
  let cursor: string | undefined;
  do {
    const page = await admin.list({ ...(query ? { query } : {}), ...(cursor ? { cursor } : {}), limit: 100 });
    users.push(...page.users);
    cursor = page.next;
  } while (cursor);
  return users;
}

/**
 * Where the action came from, for the trail: this machine's first outside address (loopback when
 * it has none). No host or login name: the account's owner reads this trail too.
 */
function thisMachine(): Acting['client'] {
  const outside = Object.values(networkInterfaces())
    .flat()
    .find((address) => address && !address.internal);
  return { ip: outside?.address ?? '127.0.0.1', userAgent: 'latch command line' };
}
