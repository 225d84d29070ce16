/**
 * THREATS.md item 1 when the session store fails halfway: a reset commits in PostgreSQL, then
 * Redis (reached through a TCP proxy the test cuts) does not answer, so the old sessions
 * cannot be ended at once. The reset answers 503; nothing of the old epoch can be used while
 * Redis is down; and once it is back, the pending end of those sessions is retried in the
 * background, so the thief's session dies within moments, without anyone signing in again.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { smtpForFile, SUBJECT } from '../support/mailbox.js';
import { createPostgresDatabase, hasPostgres, hasRedis, redisPrefix, REDIS_URL } from '../support/services.js';
import { Client, signedUp, startServer, STRONG_PASSWORD, type TestServer } from '../support/server.js';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy.js';

const NEW_PASSWORD = 'owner-new-secret-55q';

describe.skipIf(!hasPostgres || !hasRedis)('a credential change whose Redis step fails (PostgreSQL + Redis through a proxy)', () => {
  const box = smtpForFile();
  let proxy: TcpProxy;
  let server: TestServer;
  let cleanup: () => Promise<void>;

  beforeAll(async () => {
    const target = new URL(REDIS_URL);
    proxy = await startTcpProxy({ host: target.hostname, port: Number(target.port || 6379) });
    const database = await createPostgresDatabase();
    const keys = redisPrefix();
    cleanup = async () => {
      await keys.cleanup();
      await database.drop();
    };
    server = await startServer({
      databaseUrl: database.url,
      redisUrl: `redis://127.0.0.1:${proxy.port}`,
      redisKeyPrefix: keys.prefix,
      smtpUrl: box.smtp.url,
      mailRetryDelays: [100, 200],
      dependencyTimeout: '500ms',
    });
  });

  afterAll(async () => {
    await server?.close();
    await proxy?.close();
    await cleanup?.();
  });

  it('the thief session dies once Redis is back, though the reset could not end it at once', async () => {
    const { email } = await signedUp(server.url);
    const thief = new Client(server.url);
    expect((await thief.post('/api/auth/login', { email, password: STRONG_PASSWORD })).status).toBe(200);
    const token = await box.tokenFrom(email, SUBJECT.reset, () => new Client(server.url).post('/api/auth/password/forgot', { email }));

    await proxy.cut();
    const reset = await new Client(server.url).post('/api/auth/password/reset', { token, password: NEW_PASSWORD });
    expect(reset.status, reset.text).toBe(503); // committed in PostgreSQL; Redis did not answer
    expect((await thief.get('/api/auth/me')).status).toBe(503); // nothing of the old epoch works meanwhile
    await proxy.restore();

    const deadline = Date.now() + 3_000;
    let status = 0;
    do {
      status = (await thief.get('/api/auth/me')).status;
      if (status === 401) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    } while (Date.now() < deadline);
    expect(status).toBe(401);
    expect((await new Client(server.url).post('/api/auth/login', { email, password: NEW_PASSWORD })).status).toBe(200);
    expect(server.logs.join('')).toContain('ending the sessions of a changed credential succeeded after retrying');
  });
});
