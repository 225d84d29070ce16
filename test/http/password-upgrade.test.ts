/** A hash made with older argon2 parameters is upgraded at the next successful login. */
import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Client, signedUp, startServer, STRONG_PASSWORD } from '../support/server.js';

/** The parameters of an argon2id PHC string (their order is the writer's choice). */
function paramsOf(hash: string): Record<string, number> {
  const match = /^\$argon2id\$v=19\$([^$]+)\$/.exec(hash);
  expect(match, hash).not.toBeNull();
  return Object.fromEntries(match![1]!.split(',').map((kv) => [kv.split('=')[0]!, Number(kv.split('=')[1])]));
}

describe('password hash upgrade', () => {
  const dir = mkdtempSync(join(tmpdir(), 'latch-rehash-'));
  const databaseUrl = `sqlite:${join(dir, 'latch.db')}`;
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const storedHash = (email: string) => {
    const db = new Database(join(dir, 'latch.db'), { readonly: true });
    const row = db.prepare('select password_hash from users where email = ?').get(email) as { password_hash: string };
    db.close();
    return row.password_hash;
  };

  it('re-hashes with the raised parameters after a successful login, not after a failed one', async () => {
    const before = await startServer({ databaseUrl });
    const { email } = await signedUp(before.url);
    await before.close();
    expect(paramsOf(storedHash(email))).toEqual({ m: 19456, t: 2, p: 1 });

    const after = await startServer({ databaseUrl, argon2TimeCost: 3, argon2MemoryCost: 24_576 });
    try {
      const failed = await new Client(after.url).post('/api/auth/login', { email, password: 'wrong-password-here' });
      expect(failed.status).toBe(401);
      expect(paramsOf(storedHash(email))).toEqual({ m: 19456, t: 2, p: 1 });

      const ok = await new Client(after.url).post('/api/auth/login', { email, password: STRONG_PASSWORD });
      expect(ok.status).toBe(200);
      expect(paramsOf(storedHash(email))).toEqual({ m: 24576, t: 3, p: 1 });
      // The upgraded hash still verifies.
      expect((await new Client(after.url).post('/api/auth/login', { email, password: STRONG_PASSWORD })).status).toBe(200);
    } finally {
      await after.close();
    }
  });
});
