/**
 * Where the key that encrypts secrets at rest comes from. SECRETS_KEY wins (production requires
 * it, see config.ts). Outside production a key is kept in SECRETS_KEY_FILE, generated on first
 * start, so a laptop works without setup and keeps reading what it wrote after a restart.
 */
import { randomBytes } from 'node:crypto';
import { linkSync, mkdirSync, readFileSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { ConfigError, decodeSecretsKey, type Config } from '../config.js';

export function loadSecretsKey(config: Pick<Config, 'secretsKey' | 'secretsKeyFile'>): Buffer {
  if (config.secretsKey) return config.secretsKey;
  const path = config.secretsKeyFile;
  createIfMissing(path);
  // Windows has no such mode bits; Node reports every file there as 0666.
  if (process.platform !== 'win32' && (statSync(path).mode & 0o077) !== 0) {
    throw new ConfigError(
      `SECRETS_KEY_FILE: ${path} is readable or writable by group or others; make it owner-only (chmod 600) or set SECRETS_KEY`,
    );
  }
  const key = decodeSecretsKey(readFileSync(path, 'utf8'));
  if (key === null) {
    // Never replaced by a new key: whatever was encrypted under the old one would be lost.
    throw new ConfigError(`SECRETS_KEY_FILE: ${path} does not hold a 32-byte base64 key; restore it from a backup, or set SECRETS_KEY`);
  }
  return key;
}

/**
 * Writes a fresh key beside the target and links it into place: the link either creates the
 * file whole or fails because it exists, so two processes starting at once (tests, a dev
 * server and a migration) agree on one key and neither reads a half-written file.
 */
function createIfMissing(path: string): void {
  try {
    statSync(path);
    return;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const temporary = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  writeFileSync(temporary, `${randomBytes(32).toString('base64')}\n`, { mode: 0o600, flag: 'wx' });
  try {
    linkSync(temporary, path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  } finally {
    unlinkSync(temporary);
  }
}
