/**
 * Where the secrets key comes from outside production: SECRETS_KEY when set, else a file that
 * is generated once (owner-only) and reused, and refused when others can read it or it is not
 * a key.
 */
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadSecretsKey } from '../../src/adapters/secrets-key.js';
import { ConfigError, resolveConfig } from '../../src/config.js';

const mode = (path: string) => statSync(path).mode & 0o777;

describe.skipIf(process.platform === 'win32')('loadSecretsKey', () => {
  let dir: string;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'latch-secrets-key-'));
  });

  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('generates a 32-byte key into a new owner-only file and directory, then reuses it', () => {
    const file = join(dir, 'data', 'secrets.key');
    const config = resolveConfig({ secretsKeyFile: file });
    const key = loadSecretsKey(config);
    expect(key).toHaveLength(32);
    expect(mode(file)).toBe(0o600);
    expect(mode(join(dir, 'data'))).toBe(0o700);
    expect(Buffer.from(readFileSync(file, 'utf8').trim(), 'base64')).toEqual(key);
    expect(loadSecretsKey(config)).toEqual(key);
    expect(loadSecretsKey(resolveConfig({ secretsKeyFile: file }))).toEqual(key);
  });

  it('leaves no temporary file behind', () => {
    const file = join(dir, 'secrets.key');
    loadSecretsKey(resolveConfig({ secretsKeyFile: file }));
    expect(existsSync(file)).toBe(true);
    expect(readdirSync(dir)).toEqual(['secrets.key']);
  });

  it('reads a key an operator put there', () => {
    const file = join(dir, 'secrets.key');
    const key = Buffer.alloc(32, 9);
    writeFileSync(file, `${key.toString('base64url')}\n`, { mode: 0o600 });
    expect(loadSecretsKey(resolveConfig({ secretsKeyFile: file }))).toEqual(key);
  });

  it.each([0o644, 0o640, 0o604, 0o660])('refuses a file with mode %o, naming the variable and the file', (bits) => {
    const file = join(dir, 'secrets.key');
    loadSecretsKey(resolveConfig({ secretsKeyFile: file }));
    chmodSync(file, bits);
    expect(() => loadSecretsKey(resolveConfig({ secretsKeyFile: file }))).toThrow(ConfigError);
    expect(() => loadSecretsKey(resolveConfig({ secretsKeyFile: file }))).toThrow(/SECRETS_KEY_FILE: .*secrets\.key.*chmod 600/);
  });

  it.each([
    ['empty', ''],
    ['too short', Buffer.alloc(16, 1).toString('base64')],
    ['not base64', 'this is not a key at all, not even close'],
  ])('refuses a %s file and does not replace it', (_, content) => {
    const file = join(dir, 'secrets.key');
    writeFileSync(file, content, { mode: 0o600 });
    expect(() => loadSecretsKey(resolveConfig({ secretsKeyFile: file }))).toThrow(/SECRETS_KEY_FILE: .*does not hold a 32-byte base64 key/);
    expect(readFileSync(file, 'utf8')).toBe(content);
  });

  it('prefers SECRETS_KEY and then never touches the file', () => {
    const file = join(dir, 'secrets.key');
    const key = Buffer.alloc(32, 3);
    expect(loadSecretsKey(resolveConfig({ secretsKey: key.toString('base64'), secretsKeyFile: file }))).toEqual(key);
    expect(existsSync(file)).toBe(false);
    // Not even a bad file stops a start that has SECRETS_KEY.
    writeFileSync(file, 'garbage', { mode: 0o644 });
    expect(loadSecretsKey(resolveConfig({ secretsKey: key.toString('base64'), secretsKeyFile: file }))).toEqual(key);
  });
});
