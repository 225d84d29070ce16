/**
 * What a stolen database or Redis dump gives an attacker: no session secret and no password,
 * only SHA-256 digests of the secrets and argon2id hashes (README, "Security model").
 */
import Database from 'better-sqlite3';
import { simpleParser } from 'mailparser';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { expect, it } from 'vitest';
import { describeOnBackends } from '../support/backends.js';
import { dumpRedis } from '../support/services.js';
import { Client, signedUp, STRONG_PASSWORD } from '../support/server.js';

/** Buffers reach a JSON replacer already as {type:'Buffer', data}; show them as hex. */
function bytesAsHex(_key: string, value: unknown): unknown {
  const v = value as { type?: string; data?: number[] } | null;
  return v?.type === 'Buffer' && Array.isArray(v.data) ? Buffer.from(v.data).toString('hex') : value;
}

async function dumpSql(databaseUrl: string): Promise<string> {
  const tables = ['users', 'sessions', 'one_time_tokens'];
  if (databaseUrl.startsWith('sqlite:')) {
    const db = new Database(databaseUrl.slice('sqlite:'.length), { readonly: true });
    const rows = tables.flatMap((t) => db.prepare(`select * from ${t}`).all());
    db.close();
    return JSON.stringify(rows, bytesAsHex);
  }
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  let dump = '';
  for (const t of tables) dump += JSON.stringify((await client.query(`select * from ${t}`)).rows, bytesAsHex);
  await client.end();
  return dump;
}

describeOnBackends('secrets at rest', ({ server }) => {
  it('stores only a hash of the session secret and an argon2id hash of the password', async () => {
    const { client, email } = await signedUp(server().url);
    const login = new Client(server().url);
    await login.post('/api/auth/login', { email, password: STRONG_PASSWORD, rememberMe: true });
    const { config } = server().latch;

    let dump = await dumpSql(config.databaseUrl);
    if (config.redisUrl) dump += await dumpRedis(config.redisKeyPrefix, config.redisUrl);
    expect(dump).toMatch(/\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
    expect(dump).not.toContain(STRONG_PASSWORD);

    for (const c of [client, login]) {
      const [id, secret] = c.cookies.get('sid')!.split('.') as [string, string];
      expect(dump).toContain(id); // the lookup half is stored, so the session can be found
      const raw = Buffer.from(secret, 'base64url');
      for (const form of [secret, raw.toString('hex'), raw.toString('base64')]) expect(dump).not.toContain(form);
      const digest = createHash('sha256').update(secret).digest().subarray(0, 16); // 128-bit digest
      expect(dump.includes(digest.toString('hex')) || dump.includes(digest.toString('base64url'))).toBe(true);
    }
  });

  it('keeps only SHA-256 of a mailed one-time token, never the token itself', async () => {
    const { email } = await signedUp(server().url);
    const { outboxDir, databaseUrl } = server().latch.config;
    const before = existsSync(outboxDir) ? readdirSync(outboxDir).length : 0;
    expect((await new Client(server().url).post('/api/auth/password/forgot', { email })).status).toBe(202);

    // The mail goes out in the background: wait for it in the development outbox.
    let token: string | undefined;
    for (let i = 0; i < 100 && token === undefined; i++) {
      const files = existsSync(outboxDir) ? readdirSync(outboxDir).sort() : [];
      for (const file of files.slice(before)) {
        const mail = await simpleParser(readFileSync(join(outboxDir, file)));
        if (mail.subject === 'Reset your password') token = /token=([A-Za-z0-9_-]{43})/.exec(mail.text ?? '')?.[1];
      }
      if (token === undefined) await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(token).toBeDefined();

    const dump = await dumpSql(databaseUrl);
    expect(dump).not.toContain(token!);
    expect(dump).not.toContain(Buffer.from(token!, 'base64url').toString('hex'));
    expect(dump).toContain(createHash('sha256').update(token!).digest('hex'));
  });
});
