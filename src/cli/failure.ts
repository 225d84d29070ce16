/**
 * What went wrong, in one line for the operator (exit 1). Addresses are shown by host only:
 * a DATABASE_URL or REDIS_URL may carry a password, which must not reach a terminal or a log.
 */
import { ConfigError } from '../config.js';
import { LatchError, UnavailableError, type Dependency } from '../domain/errors.js';

/** A failure already worded for the operator (e.g. "no user with the email ..."). */
export class CliFailure extends Error {
  override readonly name = 'CliFailure';
}

const DEFAULT_DATABASE_URL = 'sqlite:./data/latch.db';

export function describeFailure(error: unknown, env: NodeJS.ProcessEnv): string {
  if (error instanceof CliFailure) return error.message;
  if (error instanceof ConfigError) {
    const problems = error.message.split('\n').slice(1).map((line) => line.trim());
    return `invalid configuration: ${problems.join('; ')}`;
  }
  if (error instanceof UnavailableError) {
    const cause = error.cause instanceof Error ? `: ${firstLine(error.cause.message)}` : '';
    return `${error.dependency} unreachable (${where(error.dependency, env)})${cause}`;
  }
  if (error instanceof LatchError) return `${firstLine(error.message)} (${error.code})`;
  return `failed: ${firstLine(error instanceof Error ? error.message : String(error))}`;
}

function where(dependency: Dependency, env: NodeJS.ProcessEnv): string {
  const database = env.DATABASE_URL || DEFAULT_DATABASE_URL;
  // Sessions and rate limits live in Redis when REDIS_URL is set, else in the database.
  const url = dependency === 'database' || !env.REDIS_URL ? database : env.REDIS_URL;
  return hostsOf(url);
}

/** `host:port/db` of a URL, without its credentials; the path of a SQLite file. */
export function hostsOf(url: string): string {
  if (url.startsWith('sqlite:')) return url.slice('sqlite:'.length);
  const [scheme = '', rest = ''] = url.split('://');
  const nodes = scheme === 'redis+cluster' ? rest.split(',').map((node) => `redis://${node.trim()}`) : [url];
  try {
    return nodes.map((node) => {
      const parsed = new URL(node);
      return parsed.host + (scheme.startsWith('postgres') ? parsed.pathname : '');
    }).join(',');
  } catch {
    return `${scheme} address unreadable`;
  }
}

function firstLine(text: string): string {
  return text.split('\n')[0]!.trim();
}
