/** The audit trail in the SQL database (always, whichever store holds the sessions). */
import type { Kysely, Selectable } from 'kysely';
import type { AuditLog, AuthEvent, AuthEventPage, AuthEventType } from '../../domain/auth-events.js';
import type { AuthEventsTable, Database } from './schema.js';
import { guarded } from './errors.js';

export class SqlAuditLog implements AuditLog {
  constructor(private readonly db: Kysely<Database>) {}

  record(event: AuthEvent): Promise<void> {
    return guarded(async () => {
      await this.db
        .insertInto('auth_events')
        .values({
          user_id: event.userId,
          type: event.type,
          at: event.at,
          ip: event.ip,
          user_agent: event.userAgent,
          session_id: event.sessionId ?? null,
          count: event.count ?? null,
          actor_id: event.actor?.role === 'admin' ? event.actor.id : null,
          actor_role: event.actor?.role ?? null,
        })
        .execute();
    });
  }

  listForUser(userId: string, options: { before?: string; limit: number }): Promise<AuthEventPage> {
    return guarded(async () => {
      let query = this.db
        .selectFrom('auth_events')
        .selectAll()
        .where('user_id', '=', userId)
        .orderBy('id', 'desc')
        .limit(options.limit + 1);
      const before = options.before === undefined ? undefined : Number(options.before);
      if (before !== undefined) query = query.where('id', '<', before);
      const rows = await query.execute();
      const page = rows.slice(0, options.limit);
      const events = page.map(toEvent);
      const last = page.at(-1);
      return rows.length > options.limit && last ? { events, next: String(last.id) } : { events };
    });
  }

  list(filter: { userId?: string; type?: AuthEventType; before?: string; limit: number }): Promise<AuthEventPage> {
    return guarded(async () => {
      let query = this.db.selectFrom('auth_events').selectAll().orderBy('id', 'desc').limit(filter.limit + 1);
      if (filter.userId !== undefined) query = query.where('user_id', '=', filter.userId);
      if (filter.type !== undefined) query = query.where('type', '=', filter.type);
      if (filter.before !== undefined) query = query.where('id', '<', Number(filter.before));
      const rows = await query.execute();
      const page = rows.slice(0, filter.limit);
      const last = page.at(-1);
      const events = page.map(toEvent);
      return rows.length > filter.limit && last ? { events, next: String(last.id) } : { events };
    });
  }

  forgetUser(userId: string): Promise<void> {
    return guarded(async () => {
      await this.db.deleteFrom('auth_events').where('user_id', '=', userId).execute();
    });
  }

  prune(olderThan: number): Promise<number> {
    return guarded(async () => {
      const result = await this.db.deleteFrom('auth_events').where('at', '<', olderThan).executeTakeFirst();
      return Number(result.numDeletedRows);
    });
  }
}

function toEvent(row: Selectable<AuthEventsTable>): AuthEvent & { id: string } {
  return {
    id: String(row.id),
    type: row.type as AuthEventType,
    userId: row.user_id,
    at: Number(row.at),
    ip: row.ip,
    userAgent: row.user_agent,
    ...(row.session_id !== null ? { sessionId: row.session_id } : {}),
    ...(row.count !== null ? { count: Number(row.count) } : {}),
    ...(row.actor_role === 'cli' ? { actor: { role: 'cli' as const } } : {}),
    ...(row.actor_role === 'admin' && row.actor_id !== null ? { actor: { role: 'admin' as const, id: row.actor_id } } : {}),
  };
}
