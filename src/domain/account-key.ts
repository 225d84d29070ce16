/**
 * The key a limit counts an account under: a digest, so the limiter store (Redis, or a SQL
 * table) never holds the address or the id itself. Callers pass a normalized email or a user
 * id, never raw input, so that spellings of one address share one counter.
 */
import { createHash } from 'node:crypto';

export function accountKey(value: string): string {
  return createHash('sha256').update(value).digest('base64url').slice(0, 22);
}
