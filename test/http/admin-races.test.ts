/**
 * Administration under races (API.md, "Administration"; THREATS.md items 2, 3 and 8), on every
 * backend: two admins demoting each other at once leave exactly one admin (`last_admin` for the
 * other, which changes nothing), also under 20 parallel attempts; the command line cannot demote
 * the last admin who can sign in; logins with the right password racing a disable, or a
 * demotion, keep no session (or no admin one).
 */
import { expect, it } from 'vitest';
import { describeOnBackends } from '../support/backends.js';
import { Client, ManualClock, signedUp, STRONG_PASSWORD, type Reply, type TestServer } from '../support/server.js';
import { addPasskey, AdminApi, appCodes, authenticator, CLI, expectCode, expectSignedIn, newAdmin, WEBAUTHN } from '../support/admin.js';

const clock = new ManualClock();
const { nextCode, turnOnTotp } = appCodes(clock);
const RACERS = 20;

/** Demotes (command line) every admin but `keep`, so that `last_admin` is about them alone. */
async function onlyAdmins(server: TestServer, keep: string[]): Promise<void> {
  let cursor: string | undefined;
  do {
    const page = await server.latch.admin.list({ limit: 100, ...(cursor ? { cursor } : {}) });
    for (const user of page.users) {
      if (user.role === 'admin' && !keep.includes(user.id)) await server.latch.admin.setRole(user.id, 'user', CLI);
    }
    cursor = page.next;
  } while (cursor);
}

const roleOf = async (server: TestServer, id: string) => (await server.latch.admin.show(id)).user.role;

/**
 * Starts RACERS logins with the right password, lets them read the account, then runs `action`
 * while they are still queued for the hasher (one hash at a time in this suite). Returns each
 * login's answer and browser, and how many read the account before the action (did not answer
 * what a login after it gets: `after`).
 */
async function loginsRacing(url: string, email: string, action: () => Promise<Reply>, after: (res: Reply) => boolean) {
  const logins = Array.from({ length: RACERS }, async () => {
    const client = new Client(url);
    return { client, res: await client.post('/api/auth/login', { email, password: STRONG_PASSWORD }) };
  });
  await new Promise((resolve) => setTimeout(resolve, 100));
  const acted = await action();
  const results = await Promise.all(logins);
  return { acted, results, inFlight: results.filter((r) => !after(r.res)).length };
}

const disabledAnswer = (res: Reply) => res.status === 403;

describeOnBackends(
  'administration races',
  ({ server }) => {
    const url = () => server().url;

    it('two admins demoting each other at once: one 200; the other 409 last_admin (or 401, its session ended first); a 409 changes nothing', async () => {
      // On SQLite one request runs to its end before the next is read, so the second one's
      // session is already gone (401); elsewhere both get past the guard and the rule decides.
      for (let round = 0; round < 3; round += 1) {
        const a = await newAdmin(url(), server().latch);
        const b = await newAdmin(url(), server().latch);
        await onlyAdmins(server(), [a.id, b.id]);
        const [byA, byB] = await Promise.all([a.api.setRole(b.id, 'user'), b.api.setRole(a.id, 'user')]);
        expect([[200, 401], [200, 409]]).toContainEqual([byA.status, byB.status].sort());
        const [winner, loser, refused] = byA.status === 200 ? [a, b, byB] : [b, a, byA];
        if (refused.status === 409) expectCode(refused, 409, 'last_admin');
        else expectCode(refused, 401, 'unauthorized');
        expect(await roleOf(server(), winner.id)).toBe('admin');
        expect(await roleOf(server(), loser.id)).toBe('user');
        // The refused demotion left its target as it was: still an admin, still signed in.
        await expectSignedIn([winner.client], true);
        expect((await winner.api.users()).status).toBe(200);
        await expectSignedIn([loser.client], false);
      }
    });

    it('the rule itself, asked by two admins at once (as two instances would): exactly one demotion, one last_admin', async () => {
      for (let round = 0; round < 5; round += 1) {
        const a = await newAdmin(url(), server().latch);
        const b = await newAdmin(url(), server().latch);
        await onlyAdmins(server(), [a.id, b.id]);
        const as = (id: string) => ({ actor: { role: 'admin' as const, id }, client: CLI.client });
        const outcomes = await Promise.allSettled([
          server().latch.admin.setRole(b.id, 'user', as(a.id)),
          server().latch.admin.setRole(a.id, 'user', as(b.id)),
        ]);
        expect(outcomes.map((o) => o.status).sort()).toEqual(['fulfilled', 'rejected']);
        const rejected = outcomes.find((o) => o.status === 'rejected') as PromiseRejectedResult;
        expect(rejected.reason).toMatchObject({ code: 'last_admin' });
        expect([await roleOf(server(), a.id), await roleOf(server(), b.id)].sort()).toEqual(['admin', 'user']);
      }
    });

    it(`${RACERS} demotions at once, half each way, six times: no 5xx, one side wins every 200, one admin is left`, async () => {
      for (let round = 0; round < 6; round += 1) {
        const a = await newAdmin(url(), server().latch);
        const b = await newAdmin(url(), server().latch);
        await onlyAdmins(server(), [a.id, b.id]);
        const attempts = Array.from({ length: RACERS }, (_, i) => {
          const [actor, target] = i % 2 === 0 ? [a, b] : [b, a];
          return actor.api.setRole(target.id, 'user').then((res) => ({ by: actor.id, res }));
        });
        const results = await Promise.all(attempts);
        for (const { res } of results) {
          expect([200, 401, 409], res.text).toContain(res.status);
          if (res.status === 409) expectCode(res, 409, 'last_admin');
        }
        const winners = new Set(results.filter((r) => r.res.status === 200).map((r) => r.by));
        expect(winners.size).toBe(1);
        const [winner] = [...winners];
        const loser = winner === a.id ? b.id : a.id;
        expect(await roleOf(server(), winner!)).toBe('admin');
        expect(await roleOf(server(), loser)).toBe('user');
      }
    });

    // Not only a demotion takes away the last admin who can sign in: so do a disable and a
    // deletion, and two admins may do them to each other at once as well.
    const mutual = [
      {
        doing: 'disabling',
        act: (api: AdminApi, id: string) => api.disable(id),
        done: 200,
        canSignIn: async (id: string) => (await server().latch.admin.show(id)).user.disabled === null,
      },
      {
        doing: 'deleting',
        act: (api: AdminApi, id: string) => api.remove(id),
        done: 204,
        canSignIn: (id: string) => server().latch.admin.show(id).then(() => true, () => false),
      },
    ];
    for (const { doing, act, done, canSignIn } of mutual) {
      it(`two admins ${doing} each other at once leave one admin who can sign in (409 last_admin for the other)`, async () => {
        for (let round = 0; round < 3; round += 1) {
          const a = await newAdmin(url(), server().latch);
          const b = await newAdmin(url(), server().latch);
          await onlyAdmins(server(), [a.id, b.id]);
          const answers = await Promise.all([act(a.api, b.id), act(b.api, a.id)]);
          expect([[done, 401], [done, 409]]).toContainEqual(answers.map((r) => r.status).sort());
          const refused = answers.find((r) => r.status === 409);
          if (refused) expectCode(refused, 409, 'last_admin');
          expect((await Promise.all([a.id, b.id].map(canSignIn))).filter(Boolean)).toHaveLength(1);
        }
      });
    }

    it(`${RACERS} passkey sign-ins racing a second-factor reset: none keeps a session`, async () => {
      const { api } = await newAdmin(url(), server().latch);
      const { client, user } = await signedUp(url());
      const device = authenticator();
      await addPasskey(client, device);
      const ready = await Promise.all(
        Array.from({ length: RACERS }, async () => {
          const browser = new Client(url());
          const options = await browser.post('/api/auth/passkeys/login/options');
          return { browser, response: device.authenticate(options.body) };
        }),
      );
      const signIns = ready.map(({ browser, response }) => browser.post('/api/auth/passkeys/login', { response }).then((res) => ({ browser, res })));
      const reset = await api.resetMfa(user.id);
      expect(reset.status, reset.text).toBe(204);
      for (const { browser, res } of await Promise.all(signIns)) {
        expect([200, 401], res.text).toContain(res.status);
        await expectSignedIn([browser], false);
      }
      expect((await api.user(user.id)).body.sessions).toEqual([]);
    });

    it('the command line cannot demote the last admin who can sign in: a disabled admin does not count', async () => {
      const a = await newAdmin(url(), server().latch);
      const b = await newAdmin(url(), server().latch);
      await onlyAdmins(server(), [a.id, b.id]);
      expect((await a.api.disable(b.id, { reason: 'on leave' })).status).toBe(200);
      await expect(server().latch.admin.setRole(a.id, 'user', CLI)).rejects.toMatchObject({ code: 'last_admin' });
      expect(await roleOf(server(), a.id)).toBe('admin');
      await expectSignedIn([a.client], true);
      // Demoting the disabled one is fine: the one who can sign in stays.
      expect((await a.api.setRole(b.id, 'user')).status).toBe(200);
      await expect(server().latch.admin.setRole(a.id, 'user', CLI)).rejects.toMatchObject({ code: 'last_admin' });
    });

    it(`${RACERS} logins with the right password racing a disable: none keeps a working session`, async () => {
      const { api } = await newAdmin(url(), server().latch);
      const { email, user } = await signedUp(url());
      const { acted, results, inFlight } = await loginsRacing(url(), email, () => api.disable(user.id), disabledAnswer);
      expect(acted.status, acted.text).toBe(200);
      expect(inFlight).toBeGreaterThan(0);
      for (const { client, res } of results) {
        expect([200, 401, 403], res.text).toContain(res.status);
        if (res.status === 403) expectCode(res, 403, 'account_disabled');
        await expectSignedIn([client], false);
      }
      expect((await api.user(user.id)).body).toMatchObject({ user: { sessionCount: 0 }, sessions: [] });
      expectCode(await new Client(url()).post('/api/auth/login', { email, password: STRONG_PASSWORD }), 403, 'account_disabled');
    });

    it(`${RACERS} password steps of a two-step account racing a disable: no pending session can finish`, async () => {
      const { api } = await newAdmin(url(), server().latch);
      const { client, email, user } = await signedUp(url());
      const secret = await turnOnTotp(client);
      const { acted, results, inFlight } = await loginsRacing(url(), email, () => api.disable(user.id), disabledAnswer);
      expect(acted.status, acted.text).toBe(200);
      expect(inFlight).toBeGreaterThan(0);
      for (const { client: browser, res } of results) {
        expect([200, 401, 403], res.text).toContain(res.status);
        if (res.status !== 200) continue;
        expect(res.body.mfaRequired).toBe(true);
        expectCode(await browser.post('/api/auth/mfa/verify', { method: 'totp', code: nextCode(secret) }), 401, 'mfa_required');
      }
      expect((await api.user(user.id)).body.sessions).toEqual([]);
    });

    it(`${RACERS} logins of an admin racing their demotion: no session that survives is an admin's`, async () => {
      const { api } = await newAdmin(url(), server().latch);
      const target = await newAdmin(url(), server().latch);
      // A login after the demotion is a plain user's: 200, and its session says so.
      const demote = () => api.setRole(target.id, 'user');
      const { acted, results, inFlight } = await loginsRacing(url(), target.email, demote, (res) => res.body?.user?.role === 'user');
      expect(acted.status, acted.text).toBe(200);
      expect(inFlight).toBeGreaterThan(0);
      for (const { client, res } of results) {
        expect([200, 401], res.text).toContain(res.status);
        if (res.status !== 200) continue;
        const me = await client.get('/api/auth/me');
        if (me.status === 401) continue;
        expect(me.body.user.role).toBe('user');
        expectCode(await new AdminApi(client).users(), 403, 'forbidden');
      }
    });
  },
  // One hash at a time: racing logins queue behind each other with the account already read.
  {
    latch: () => ({
      clock,
      adminRequireMfa: false,
      loginMaxFailures: 1000,
      hashConcurrency: 1,
      webauthnRpId: WEBAUTHN.rpId,
      webauthnOrigins: WEBAUTHN.origin,
    }),
  },
);
