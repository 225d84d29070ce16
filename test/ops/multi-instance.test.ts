/**
 * Three Latch processes on one PostgreSQL and one Redis (and, separately, sessions in
 * PostgreSQL): a session made on one is honoured and ended on the others with no delay, because
 * nothing about sessions lives in a process's memory.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client, STRONG_PASSWORD, uniqueEmail } from '../support/server.js';
import { createPostgresDatabase, hasPostgres, hasRedis, redisPrefix, REDIS_URL } from '../support/services.js';
import { ensureBuilt, spawnLatch, type LatchProcess } from './latch-process.js';

const deployments = [
  { name: 'sessions in Redis', redis: true, available: hasPostgres && hasRedis },
  { name: 'sessions in PostgreSQL', redis: false, available: hasPostgres },
];

for (const deployment of deployments) {
  describe.skipIf(!deployment.available)(`three instances, ${deployment.name}`, () => {
    let instances: LatchProcess[] = [];
    let cleanup: Array<() => Promise<void>> = [];

    beforeAll(async () => {
      await ensureBuilt();
      const database = await createPostgresDatabase();
      cleanup.push(() => database.drop());
      const env: Record<string, string> = { DATABASE_URL: database.url };
      if (deployment.redis) {
        const keys = redisPrefix();
        cleanup.push(() => keys.cleanup());
        Object.assign(env, { REDIS_URL, REDIS_KEY_PREFIX: keys.prefix });
      }
      // Started together: their migrations race on one empty database and must agree.
      instances = await Promise.all([spawnLatch(env), spawnLatch(env), spawnLatch(env)]);
    });

    afterAll(async () => {
      await Promise.all(instances.map((i) => i.kill()));
      for (const step of cleanup.reverse()) await step();
      cleanup = [];
    });

    /** The same browser, talking to another instance: same cookie jar, other base URL. */
    function via(instance: LatchProcess, browser: Client): Client {
      const client = new Client(instance.url);
      client.cookies = browser.cookies;
      return client;
    }

    it('logs in on A, uses the session on B, revokes it on C: A refuses it on the next request', async () => {
      const [a, b, c] = instances as [LatchProcess, LatchProcess, LatchProcess];
      const email = uniqueEmail('multi');
      const browser = new Client(a.url);
      expect((await browser.post('/api/auth/register', { email, password: STRONG_PASSWORD, name: 'Multi Node' })).status).toBe(201);
      expect((await via(b, browser).get('/api/auth/me')).status).toBe(200);

      const phone = new Client(b.url);
      expect((await phone.post('/api/auth/login', { email, password: STRONG_PASSWORD })).status).toBe(200);
      const listed = await via(c, phone).get('/api/auth/sessions');
      expect(listed.body.sessions).toHaveLength(2);

      const browserSessionId = browser.cookies.get('sid')!.split('.')[0];
      expect((await via(c, phone).request('DELETE', `/api/auth/sessions/${browserSessionId}`)).status).toBe(204);
      for (const instance of [a, b, c]) expect((await via(instance, browser).get('/api/auth/me')).status).toBe(401);
      expect((await via(a, phone).get('/api/auth/me')).status).toBe(200);
    });

    it('a password change on one instance ends the other sessions on all of them at once', async () => {
      const [a, b, c] = instances as [LatchProcess, LatchProcess, LatchProcess];
      const email = uniqueEmail('multi-pw');
      const laptop = new Client(a.url);
      await laptop.post('/api/auth/register', { email, password: STRONG_PASSWORD, name: 'Multi Password' });
      const phone = new Client(c.url);
      await phone.post('/api/auth/login', { email, password: STRONG_PASSWORD });
      expect((await via(b, phone).get('/api/auth/me')).status).toBe(200);

      const change = await via(b, laptop).post('/api/auth/password', { currentPassword: STRONG_PASSWORD, newPassword: 'copper-meadow-falcon-77' });
      expect(change.status).toBe(200);
      for (const instance of [a, b, c]) {
        expect((await via(instance, phone).get('/api/auth/me')).status).toBe(401);
        expect((await via(instance, laptop).get('/api/auth/me')).status).toBe(200);
      }
    });

    it('logout on one instance is seen by every other', async () => {
      const [a, b, c] = instances as [LatchProcess, LatchProcess, LatchProcess];
      const browser = new Client(c.url);
      await browser.post('/api/auth/register', { email: uniqueEmail('multi-out'), password: STRONG_PASSWORD, name: 'Multi Logout' });
      const token = browser.cookies.get('sid')!;
      expect((await via(a, browser).post('/api/auth/logout')).status).toBe(200);
      const replay = new Client(b.url);
      replay.cookies.set('sid', token);
      expect((await replay.get('/api/auth/me')).status).toBe(401);
    });
  });
}
