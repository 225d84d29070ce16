/**
 * One Kysely code path over two dialects: better-sqlite3 for the embedded default and pg for
 * PostgreSQL. Timeouts are short and explicit so an unreachable database fails a request in
 * about two seconds instead of hanging it.
 */
import SqliteDatabase from 'better-sqlite3';
import { Kysely, PostgresDialect, SqliteDialect } from 'kysely';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import pg from 'pg';
import type { Database, Dialect } from './schema.js';

/** The driver underneath, for libraries that take one (rate limiting). */
export type SqlDriver = { dialect: 'sqlite'; database: SqliteDatabase.Database } | { dialect: 'postgres'; pool: pg.Pool };

export interface SqlDatabase {
  db: Kysely<Database>;
  dialect: Dialect;
  driver: SqlDriver;
  close(): Promise<void>;
}

export interface SqlOptions {
  /** Per-query and per-connect timeout (PostgreSQL). */
  timeoutMs: number;
  /** Called when an idle pooled connection fails, which must never crash the process. */
  onPoolError?: (error: Error) => void;
}

const INT8_OID = 20;

export function openDatabase(url: string, options: SqlOptions): SqlDatabase {
  if (url.startsWith('sqlite:')) return openSqlite(url.slice('sqlite:'.length));
  if (/^postgres(ql)?:\/\//.test(url)) return openPostgres(url, options);
  throw new Error(`Unsupported DATABASE_URL scheme: ${url.split(':')[0]}`);
}

function openSqlite(path: string): SqlDatabase {
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
  const database = new SqliteDatabase(path);
  // WAL lets readers proceed during a write; the busy timeout rides out short write locks.
  database.pragma('journal_mode = WAL');
  database.pragma('busy_timeout = 2000');
  database.pragma('foreign_keys = ON');
  database.defaultSafeIntegers(false);
  // SQLite's lower() folds ASCII only; searches fold names like "ÅNGSTRÖM" with this instead.
  database.function('latch_fold', { deterministic: true }, (value: unknown) =>
    typeof value === 'string' ? foldForSearch(value) : value,
  );
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database }) });
  return wrap(db, { dialect: 'sqlite', database });
}

function openPostgres(url: string, options: SqlOptions): SqlDatabase {
  const pool = new pg.Pool({
    connectionString: url,
    max: 10,
    connectionTimeoutMillis: options.timeoutMs,
    query_timeout: options.timeoutMs,
    idleTimeoutMillis: 30_000,
    // Epoch-millisecond bigints fit a JS number exactly; parse them as numbers for this pool
    // only, leaving the process-wide pg type parsers alone (Latch may share a process).
    types: {
      getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
        oid === INT8_OID ? Number : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
    },
  });
  pool.on('error', (error) => options.onPoolError?.(error));
  // pg emits 'error' on a checked-out client whose connection drops; unheard, that would
  // crash the process. The query in flight already receives the error (-> 503) and the
  // pool discards the client, so listening is all that is needed.
  pool.on('connect', (client) => client.on('error', () => {}));
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  return wrap(db, { dialect: 'postgres', pool });
}

function wrap(db: Kysely<Database>, driver: SqlDriver): SqlDatabase {
  return {
    db,
    dialect: driver.dialect,
    driver,
    close: () => db.destroy(),
  };
}

/** How the administrators' search compares names and addresses (both sides folded alike). */
export function foldForSearch(value: string): string {
  return value.normalize('NFKC').toLowerCase();
}
