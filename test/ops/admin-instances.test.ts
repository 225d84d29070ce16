/**
 * Administration across three Latch processes on one PostgreSQL (sessions in Redis, or in
 * PostgreSQL): what an admin does on one instance holds on the others at the very next request,
 * because no instance keeps anything about sessions, roles or disabled accounts in memory. The
 * first admin is made the command line's way, by a fourth Latch on the same stores.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client, startServer, STRONG_PASSWORD, uniqueEmail, type TestServer } from '../support/server.js';
import { createPostgresDatabase, hasPostgres, hasRedis, redisPrefix, REDIS_URL } from '../support/services.js';
import { AdminApi, CLI, expectCode } from '../support/admin.js';
import { ensureBuilt, spawnLatch, type LatchProcess } from './latch-process.js';

const deployments = [
  { name: 'sessions in Redis', redis: true, available: hasPostgres && hasRedis },
  { name: 'sessions in PostgreSQL', redis: false, available: hasPostgres },
];

for (const deployment of deployments) {
  describe.skipIf(!deployment.available)(`administration across three instances, ${deployment.name}`, () => {
    let instances: LatchProcess[] = [];
    /** The operator's command line: another Latch on the same database and Redis. */
    let operator: TestServer;
    const cleanup: Array<() => Promise<void>> = [];

    beforeAll(async () => {
      await ensureBuilt();
      const database = await createPostgresDatabase();
      cleanup.push(() => database.drop());
      const env: Record<string, string> = { DATABASE_URL: database.url, ADMIN_REQUIRE_MFA: 'false' };
      if (deployment.redis) {
        const keys = redisPrefix();
        cleanup.push(() => keys.cleanup());
        Object.assign(env, { REDIS_URL, REDIS_KEY_PREFIX: keys.prefix });
      }
      instances = await Promise.all([spawnLatch(env), spawnLatch(env), spawnLatch(env)]);
      operator = await startServer({
        databaseUrl: database.url,
        ...(deployment.redis ? { redisUrl: REDIS_URL, redisKeyPrefix: env.REDIS_KEY_PREFIX } : {}),
      });
    });

    afterAll(async () => {
      await Promise.all(instances.map((i) => i.kill()));
      await operator?.close();
      for (const step of cleanup.reverse()) await step();
    });

    /** One browser (one cookie jar) talking to `instance`. */
    const at = (instance: LatchProcess, browser: Client) => Object.assign(new Client(instance.url), { cookies: browser.cookies });
    const register = async (instance: LatchProcess, name: string) => {
      const browser = new Client(instance.url);
      const email = uniqueEmail('instances');
      const res = await browser.post('/api/auth/register', { email, password: STRONG_PASSWORD, name });
      expect(res.status, res.text).toBe(201);
      return { browser, email, id: res.body.user.id as string };
    };
    const login = async (instance: LatchProcess, email: string) => {
      const browser = new Client(instance.url);
      expect((await browser.post('/api/auth/login', { email, password: STRONG_PASSWORD })).status).toBe(200);
      return browser;
    };
    /** An administrator signed in on `instance`. */
    const adminOn = async (instance: LatchProcess) => {
      const { email, id } = await register(instance, 'Instance Admin');
      await operator.latch.admin.setRole(id, 'admin', CLI);
      const browser = await login(instance, email);
      return { browser, id, api: new AdminApi(browser) };
    };

    it('a user signed in on B, disabled by an admin on A: their next request on C gets 401 at once', async () => {
      const [a, b, c] = instances as [LatchProcess, LatchProcess, LatchProcess];
      const admin = await adminOn(a);
      const user = await register(b, 'Instance User');
      const phone = await login(c, user.email);
      expect((await at(c, user.browser).get('/api/auth/me')).status).toBe(200);

      const disabled = await admin.api.disable(user.id, { reason: 'compromised' });
      expect(disabled.status, disabled.text).toBe(200);
      for (const instance of [c, b, a]) {
        expectCode(await at(instance, user.browser).get('/api/auth/me'), 401, 'unauthorized');
        expectCode(await at(instance, phone).get('/api/auth/sessions'), 401, 'unauthorized');
      }
      expectCode(await new Client(c.url).post('/api/auth/login', { email: user.email, password: STRONG_PASSWORD }), 403, 'account_disabled');
      expect((await new AdminApi(at(b, admin.browser)).user(user.id)).body).toMatchObject({ user: { disabled: true, sessionCount: 0 }, sessions: [] });

      expect((await new AdminApi(at(c, admin.browser)).enable(user.id)).status).toBe(200);
      expect((await at(b, await login(a, user.email)).get('/api/auth/me')).status).toBe(200);
      expectCode(await at(b, user.browser).get('/api/auth/me'), 401, 'unauthorized'); // the old session stays ended
    });

    it("an admin demoted on A loses the admin API on B and C at once; sessions an admin ends on C are gone on A and B", async () => {
      const [a, b, c] = instances as [LatchProcess, LatchProcess, LatchProcess];
      const admin = await adminOn(a);
      const other = await adminOn(b);
      expect((await new AdminApi(at(c, other.browser)).users()).status).toBe(200);
      expect((await admin.api.setRole(other.id, 'user')).status).toBe(200);
      for (const instance of [b, c]) expectCode(await new AdminApi(at(instance, other.browser)).users(), 401, 'unauthorized');

      const user = await register(a, 'Instance Sessions');
      const phone = await login(b, user.email);
      const revoked = await new AdminApi(at(c, admin.browser)).revokeSessions(user.id);
      expect(revoked.body).toEqual({ revoked: 2 });
      expectCode(await at(a, user.browser).get('/api/auth/me'), 401, 'unauthorized');
      expectCode(await at(b, phone).get('/api/auth/me'), 401, 'unauthorized');
    });
  });
}
