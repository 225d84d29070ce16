/**
 * Text for people: aligned tables and a profile, built from the same JSON views the admin API
 * and `--json` print, so the two outputs cannot disagree. Names and user agents are chosen by
 * users (a user agent by anyone who signs in), so control and bidirectional characters are
 * shown escaped: a crafted name must not move the operator's cursor or recolour the terminal.
 */
import type { toAdminEvent, toAdminUser, toPublicSession } from '../http/views.js';

export type UserView = ReturnType<typeof toAdminUser>;
export type SessionView = ReturnType<typeof toPublicSession>;
export type EventView = ReturnType<typeof toAdminEvent>;

// C0, DEL and C1 controls; bidi embeddings, overrides and isolates; line and paragraph separators.
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u200e\u200f\u2028-\u202e\u2066-\u2069]/g;

export function safe(text: string): string {
  return text.replace(UNSAFE, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

function clip(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

/** `2024-05-01 10:00:00Z`, or `-` for never. */
function when(iso: string | null): string {
  return iso === null ? '-' : `${iso.slice(0, 19).replace('T', ' ')}Z`;
}

/** Aligned columns; `headers` null for a list of name-value pairs. */
export function table(headers: readonly string[] | null, rows: ReadonlyArray<readonly string[]>): string {
  const cells = rows.map((row) => row.map(safe));
  const all = headers ? [headers, ...cells] : cells;
  const widths = (all[0] ?? []).map((_, i) => Math.max(...all.map((row) => row[i]?.length ?? 0)));
  const line = (row: readonly string[]) =>
    row
      .map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return all.map(line).join('\n') + '\n';
}

function status(user: UserView): string {
  if (!user.disabled) return 'active';
  return user.disabledReason ? `disabled: ${user.disabledReason}` : 'disabled';
}

export function usersTable(users: readonly UserView[]): string {
  if (users.length === 0) return 'no users\n';
  return table(
    ['EMAIL', 'NAME', 'ROLE', 'STATUS', '2FA', 'SESSIONS', 'LAST LOGIN', 'CREATED'],
    users.map((u) => [u.email, clip(u.name, 30), u.role, clip(status(u), 30), u.twoFactor ? 'on' : 'off', String(u.sessionCount), when(u.lastLoginAt), when(u.createdAt)]),
  );
}

function byWhom(event: EventView): string {
  if (!event.actor) return 'owner';
  return event.actor.role === 'cli' ? 'cli' : `admin ${event.actor.id}`;
}

export function userPage(page: { user: UserView; sessions: readonly SessionView[]; events: readonly EventView[] }): string {
  const { user, sessions, events } = page;
  const profile = table(
    null,
    [
      ['id', user.id],
      ['email', user.email],
      ['name', user.name],
      ['role', user.role],
      ['status', status(user)],
      ['email verified', user.emailVerified ? 'yes' : 'no'],
      ['two-step', user.twoFactor ? 'on' : 'off'],
      ['last login', when(user.lastLoginAt)],
      ['created', when(user.createdAt)],
    ],
  );
  const sessionPart =
    sessions.length === 0
      ? 'no live sessions\n'
      : table(
          ['SESSION', 'SIGNED IN', 'LAST SEEN', 'EXPIRES', 'AAL', 'IP', 'USER AGENT'],
          sessions.map((s) => [s.id, when(s.createdAt), when(s.lastSeenAt), when(s.expiresAt), s.aal, s.ip, clip(s.userAgent, 50)]),
        );
  const eventPart =
    events.length === 0
      ? 'no events\n'
      : table(
          ['AT', 'EVENT', 'BY', 'IP', 'USER AGENT'],
          events.map((e) => [when(e.at), e.type, byWhom(e), e.ip, clip(e.userAgent, 50)]),
        );
  return `${profile}\nSessions (${sessions.length})\n${sessionPart}\nLatest events (${events.length})\n${eventPart}`;
}
