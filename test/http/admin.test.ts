/**
 * The administration API (API.md, "Administration"; THREATS.md items 8 and 13), on every
 * backend: who gets in (guests, non-admins, pending and aal1 sessions are refused, and their
 * refused requests change nothing); the directory (search, keyset pages while accounts are
 * added, the user page, the trail with its filters); unknown ids; and `self_target`.
 * The actions themselves are admin-actions.test.ts's, the races admin-races.test.ts's.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { expect, it } from 'vitest';
import { describeOnBackends } from '../support/backends.js';
import { Client, ManualClock, signedUp, STRONG_PASSWORD, uniqueEmail, type Reply } from '../support/server.js';
import {
  addPasskey,
  AdminApi,
  appCodes,
  authenticator,
  CLI,
  everyAdminRequest,
  expectByAdmin,
  expectCode,
  expectSignedIn,
  newAdmin,
  ownTrail,
  passkeySignIn,
  signIn,
  WEBAUTHN,
  type TrailEvent,
} from '../support/admin.js';

const clock = new ManualClock();
const { nextCode, turnOnTotp } = appCodes(clock);

/** Each request of the admin API on `targetId` answers this refusal. */
async function expectEveryRouteRefused(api: AdminApi, targetId: string, status: number, code: string) {
  for (const [name, request] of everyAdminRequest(api, targetId)) {
    const res = await request();
    expect(`${name} ${res.status} ${res.body?.code}`).toBe(`${name} ${status} ${code}`);
    expectCode(res, status, code);
    expect(res.headers.get('cache-control')).toBe('no-store');
  }
}

/** The target was left alone: still signed in, same role, nothing on its trail from an admin. */
async function expectUntouched(target: { client: Client }, role: 'user' | 'admin' = 'user') {
  const me = await target.client.get('/api/auth/me');
  expect(me.status, me.text).toBe(200);
  expect(me.body.user.role).toBe(role);
  const adminEvents = (await ownTrail(target.client)).filter((e) => e.actor?.role === 'admin');
  expect(adminEvents).toEqual([]);
}

describeOnBackends(
  'administration: who gets in (ADMIN_REQUIRE_MFA on)',
  ({ server }) => {
    const url = () => server().url;

    it('a guest gets 401 unauthorized and a non-admin 403 forbidden on every route; neither changes anything', async () => {
      const target = await signedUp(url());
      await expectEveryRouteRefused(new AdminApi(new Client(url())), target.user.id, 401, 'unauthorized');
      const someone = await signedUp(url());
      await expectEveryRouteRefused(new AdminApi(someone.client), target.user.id, 403, 'forbidden');
      // Not even on their own account (a role of admin asked for, among others).
      await expectEveryRouteRefused(new AdminApi(someone.client), someone.user.id, 403, 'forbidden');
      await expectUntouched(target);
      await expectUntouched(someone);
      expectCode(await new Client(url()).get('/api/admin/no-such-route'), 401, 'unauthorized');
    });

    it('an admin signed in with the password alone (aal1) gets 403 second_factor_required everywhere, and changes nothing', async () => {
      const target = await signedUp(url());
      const admin = await newAdmin(url(), server().latch);
      expect((await admin.client.get('/api/auth/me')).body.session).toMatchObject({ aal: 'aal1', methods: ['password'] });
      await expectEveryRouteRefused(admin.api, target.user.id, 403, 'second_factor_required');
      await expectUntouched(target);
      // Another admin as the target: not demoted, disabled or signed out either.
      const other = await newAdmin(url(), server().latch);
      await expectEveryRouteRefused(admin.api, other.id, 403, 'second_factor_required');
      await expectUntouched(other, 'admin');
    });

    it('an admin who turns the app on gets in; half-way through two-step (pending) it is 401 mfa_required', async () => {
      const target = await signedUp(url());
      const admin = await newAdmin(url(), server().latch);
      const secret = await turnOnTotp(admin.client);
      expect((await admin.api.users()).status).toBe(200);

      const pending = new Client(url());
      const first = await pending.post('/api/auth/login', { email: admin.email, password: STRONG_PASSWORD });
      expect(first.body).toEqual({ mfaRequired: true, methods: ['totp', 'recovery_code'] });
      await expectEveryRouteRefused(new AdminApi(pending), target.user.id, 401, 'mfa_required');
      await expectUntouched(target);

      const verified = await pending.post('/api/auth/mfa/verify', { method: 'totp', code: nextCode(secret) });
      expect(verified.status, verified.text).toBe(200);
      const page = await new AdminApi(pending).user(target.user.id);
      expect(page.status, page.text).toBe(200);
      expect(page.body.user.email).toBe(target.email);
    });

    it("an admin's remembered browser (aal1, no second step) is refused until it steps up", async () => {
      const target = await signedUp(url());
      const admin = await newAdmin(url(), server().latch);
      const secret = await turnOnTotp(admin.client);
      const phone = new Client(url());
      await phone.post('/api/auth/login', { email: admin.email, password: STRONG_PASSWORD });
      const verified = await phone.post('/api/auth/mfa/verify', { method: 'totp', code: nextCode(secret), rememberDevice: true });
      expect(verified.status, verified.text).toBe(200);
      expect((await phone.post('/api/auth/logout')).status).toBe(200);

      const again = await phone.post('/api/auth/login', { email: admin.email, password: STRONG_PASSWORD });
      expect(again.body.user?.role).toBe('admin'); // remembered: no second step
      expect((await phone.get('/api/auth/me')).body.session).toMatchObject({ aal: 'aal1', methods: ['password'] });
      await expectEveryRouteRefused(new AdminApi(phone), target.user.id, 403, 'second_factor_required');
      await expectUntouched(target);

      const up = await phone.post('/api/auth/mfa/verify', { method: 'totp', code: nextCode(secret) });
      expect(up.status, up.text).toBe(200);
      expect((await new AdminApi(phone).users()).status).toBe(200);
    });

    it('a passkey (aal2 by itself) gets an admin in, added from the session or signed in with', async () => {
      const device = authenticator();
      const admin = await newAdmin(url(), server().latch);
      await addPasskey(admin.client, device);
      expect((await admin.api.users()).status).toBe(200);

      const { browser, res } = await passkeySignIn(url(), device);
      expect(res.status, res.text).toBe(200);
      expect((await new AdminApi(browser).users()).status).toBe(200);
    });
  },
  { latch: () => ({ clock, loginMaxFailures: 1000, webauthnRpId: WEBAUTHN.rpId, webauthnOrigins: WEBAUTHN.origin }) },
);

/** A tag no other account of the run carries, to search by. */
const newTag = () => `qz${randomBytes(4).toString('hex')}`;

describeOnBackends(
  'administration: the directory (ADMIN_REQUIRE_MFA off)',
  ({ server }) => {
    const url = () => server().url;
    const anAdmin = () => newAdmin(url(), server().latch);

    it('a role granted is a new token: the session from before cannot reach the API; one from before a revoke neither', async () => {
      await anAdmin(); // so that this one is not the last
      const { client, email, user } = await signedUp(url());
      await server().latch.admin.setRole(user.id, 'admin', CLI);
      expectCode(await new AdminApi(client).users(), 401, 'unauthorized');
      const admin = await signIn(url(), email);
      expect((await admin.get('/api/auth/me')).body.user.role).toBe('admin');
      expect((await new AdminApi(admin).users()).status).toBe(200);

      await server().latch.admin.setRole(user.id, 'user', CLI);
      expectCode(await new AdminApi(admin).users(), 401, 'unauthorized');
      expectCode(await new AdminApi(await signIn(url(), email)).users(), 403, 'forbidden');
    });

    it('lists accounts whose email or name contains the query in any case, newest first, as AdminUser', async () => {
      const { api } = await anAdmin();
      const tag = newTag();
      const made = [];
      for (const [email, name] of [
        [`alpha.${tag}@example.test`, 'Alpha One'],
        [uniqueEmail(), `Bravo ${tag.toUpperCase()} Two`],
        [`CHARLIE.${tag.toUpperCase()}@Example.Test`, 'Charlie Three'],
      ] as const) {
        clock.advance(1_000);
        made.push(await signedUp(url(), { email, name }));
      }
      await signedUp(url(), { name: 'Delta Untagged' });
      const [alpha, bravo, charlie] = made as [(typeof made)[0], (typeof made)[0], (typeof made)[0]];

      const all = await api.users({ query: tag.toUpperCase() });
      expect(all.status, all.text).toBe(200);
      expect(all.headers.get('cache-control')).toBe('no-store');
      expect(all.body.users.map((u: { id: string }) => u.id)).toEqual([charlie.user.id, bravo.user.id, alpha.user.id]);
      expect(all.body.next).toBeUndefined();
      expect(all.body.users[2]).toEqual({
        ...alpha.user,
        disabled: false,
        lastLoginAt: null, // signing up is not a sign-in
        sessionCount: 1,
      });
      expect(all.text).not.toMatch(/argon2|password|hash|secret/i);
      expect((await api.users({ query: `  bravo ${tag}  ` })).body.users.map((u: { id: string }) => u.id)).toEqual([bravo.user.id]);
      expect((await api.users({ query: `charlie.${tag}@example` })).body.users.map((u: { id: string }) => u.id)).toEqual([charlie.user.id]);

      clock.advance(1_000);
      await signIn(url(), alpha.email);
      const [signedInAlpha] = (await api.users({ query: `alpha.${tag}` })).body.users;
      expect(signedInAlpha).toMatchObject({ sessionCount: 2, lastLoginAt: new Date(clock.now()).toISOString() });
    });

    it("a query is text: SQL's % and _ match only themselves", async () => {
      const { api } = await anAdmin();
      const tag = newTag();
      const percent = await signedUp(url(), { name: `Per%cent ${tag}` });
      await signedUp(url(), { name: `Perxcent ${tag}` });
      const underscore = await signedUp(url(), { name: `Snake_case ${tag}` });
      await signedUp(url(), { name: `Snakexcase ${tag}` });
      const backslash = await signedUp(url(), { name: `Back\\slash ${tag}` });
      const ids = async (query: string) => (await api.users({ query })).body.users.map((u: { id: string }) => u.id);
      expect(await ids(`per%cent ${tag}`)).toEqual([percent.user.id]);
      expect(await ids(`snake_case ${tag}`)).toEqual([underscore.user.id]);
      expect(await ids(`back\\slash ${tag}`)).toEqual([backslash.user.id]);
      expect(await ids(`%${tag}`)).toEqual([]);
      expect(await ids(`\\`)).toEqual([backslash.user.id]);
    });

    it('a query is case-insensitive beyond ASCII too', async () => {
      const { api } = await anAdmin();
      const tag = newTag();
      const zoe = await signedUp(url(), { name: `Zoë ÅNGSTRÖM ${tag}` });
      expect((await api.users({ query: `ångström ${tag}` })).body.users.map((u: { id: string }) => u.id)).toEqual([zoe.user.id]);
      expect((await api.users({ query: `ZOË` })).body.users.map((u: { id: string }) => u.id)).toContain(zoe.user.id);
    });

    it('limit is 1 to 100; anything else, and a cursor that is not one, is 400 invalid_input', async () => {
      const { api } = await anAdmin();
      for (const limit of ['0', '101', '-1', 'abc', '1.5', '1000']) expectCode(await api.users({ limit }), 400, 'invalid_input');
      expectCode(await api.users({ cursor: 'not a cursor!' }), 400, 'invalid_input');
      expect((await api.users({ limit: 100 })).status).toBe(200);
      const one = await api.users({ limit: 1 });
      expect(one.body.users).toHaveLength(1);
      expect(typeof one.body.next).toBe('string');
    });

    it('cursor pages are newest first with every account exactly once, while accounts are added between pages', async () => {
      const { api } = await anAdmin();
      const tag = newTag();
      const before: Array<{ id: string; createdAt: string }> = [];
      // Groups of accounts created in the same millisecond: the cursor must break ties too.
      for (const size of [1, 3, 1, 2, 2]) {
        clock.advance(1_000);
        for (let i = 0; i < size; i += 1) before.push((await signedUp(url(), { name: `Page ${tag} ${before.length}` })).user);
      }
      const seen: Array<{ id: string; createdAt: string }> = [];
      let cursor: string | undefined;
      for (let page = 0; page < 20; page += 1) {
        const res = await api.users({ query: tag, limit: 2, ...(cursor ? { cursor } : {}) });
        expect(res.status, res.text).toBe(200);
        expect(res.body.users.length).toBeLessThanOrEqual(2);
        seen.push(...res.body.users);
        cursor = res.body.next;
        if (!cursor) break;
        clock.advance(1_000);
        await signedUp(url(), { name: `Page ${tag} added` }); // newer than every page still to come
      }
      expect(cursor).toBeUndefined();
      const ids = seen.map((u) => u.id);
      expect(new Set(ids).size).toBe(ids.length);
      expect(new Set(ids)).toEqual(new Set(before.map((u) => u.id)));
      const times = seen.map((u) => Date.parse(u.createdAt));
      expect(times).toEqual([...times].sort((a, b) => b - a));
    });

    it('the user page: the account, its sessions, and its 20 newest events (the same the user sees)', async () => {
      const { api } = await anAdmin();
      const target = await signedUp(url());
      await new Client(url()).post('/api/auth/login', { email: target.email, password: STRONG_PASSWORD }, { 'user-agent': 'Phone/1.0' });
      for (let i = 0; i < 22; i += 1) {
        clock.advance(1);
        await new Client(url()).post('/api/auth/login', { email: target.email, password: 'not-the-password-at-all' });
      }
      const page = await api.user(target.user.id);
      expect(page.status, page.text).toBe(200);
      expect(page.body.user).toMatchObject({ id: target.user.id, email: target.email, disabled: false, sessionCount: 2, lastLoginAt: expect.any(String) });
      const own = (await target.client.get('/api/auth/sessions')).body.sessions;
      const ids = (sessions: Array<{ id: string }>) => sessions.map((s) => s.id).sort();
      expect(ids(page.body.sessions)).toEqual(ids(own));
      expect(page.body.sessions.every((s: { current: boolean }) => s.current === false)).toBe(true);
      expect(page.body.sessions.map((s: { userAgent: string }) => s.userAgent)).toContain('Phone/1.0');

      expect(page.body.events).toHaveLength(20);
      const key = (e: TrailEvent) => `${e.type} ${e.at}`;
      expect(page.body.events.map(key)).toEqual((await ownTrail(target.client)).slice(0, 20).map(key));
      expect(page.body.events.every((e: TrailEvent) => e.userId === target.user.id)).toBe(true);
    });

    it('the trail of every user: filtered by user and type, newest first, paged by before with nothing twice', async () => {
      const { api } = await anAdmin();
      const target = await signedUp(url());
      const other = await signedUp(url());
      for (const [email, times] of [[target.email, 5], [other.email, 3]] as const) {
        for (let i = 0; i < times; i += 1) {
          clock.advance(1);
          await new Client(url()).post('/api/auth/login', { email, password: 'not-the-password-at-all' });
        }
      }
      const seen: TrailEvent[] = [];
      let before: string | undefined;
      do {
        const res: Reply = await api.events({ userId: target.user.id, type: 'login_failed', limit: 2, ...(before ? { before } : {}) });
        expect(res.status, res.text).toBe(200);
        seen.push(...res.body.events);
        before = res.body.next;
      } while (before);
      expect(seen).toHaveLength(5);
      expect(new Set(seen.map((e) => e.at)).size).toBe(5);
      expect(seen.every((e) => e.userId === target.user.id && e.type === 'login_failed')).toBe(true);
      const times = seen.map((e) => Date.parse(e.at));
      expect(times).toEqual([...times].sort((a, b) => b - a));

      const anyone = (await api.events({ type: 'login_failed', limit: 100 })).body.events as TrailEvent[];
      expect(anyone.filter((e) => e.userId === other.user.id)).toHaveLength(3);
      expect((await api.events({ userId: randomUUID() })).body).toEqual({ events: [] });
      expect((await api.events({ before: '999999999999999999', limit: 1 })).status).toBe(200);
      const refused: Array<Record<string, string | number>> = [{ type: 'no_such_type' }, { userId: 'x' }, { before: 'abc' }, { limit: 0 }, { limit: 101 }];
      for (const bad of refused) {
        expectCode(await api.events(bad), 400, 'invalid_input');
      }
    });

    it('unknown ids answer 404 not_found on every route, also ids that are not UUIDs, and change nothing', async () => {
      const { api } = await anAdmin();
      const bystander = await signedUp(url());
      for (const id of [randomUUID(), 'not-a-uuid', 'x'.repeat(300), bystander.user.id.toUpperCase(), '0']) {
        for (const [name, request] of everyAdminRequest(api, id).filter(([n]) => n.includes(':id'))) {
          const res = await request();
          expect(`${name} ${id} ${res.status} ${res.body?.code}`).toBe(`${name} ${id} 404 not_found`);
          expectCode(res, 404, 'not_found');
        }
      }
      await expectUntouched(bystander);
    });

    it('an admin cannot disable, demote or delete their own account: 409 self_target, and nothing changes', async () => {
      const admin = await anAdmin();
      expectCode(await admin.api.disable(admin.id, { reason: 'me' }), 409, 'self_target');
      expectCode(await admin.api.setRole(admin.id, 'user'), 409, 'self_target');
      expectCode(await admin.api.setRole(admin.id, 'admin'), 409, 'self_target');
      expectCode(await admin.api.remove(admin.id), 409, 'self_target');
      await expectSignedIn([admin.client], true);
      const me = (await admin.api.user(admin.id)).body.user;
      expect(me).toMatchObject({ role: 'admin', disabled: false, sessionCount: 1 });
      expect((await ownTrail(admin.client)).filter((e) => e.actor?.role === 'admin')).toEqual([]);
    });

    it('self_target is answered first, before the body is judged', async () => {
      const admin = await anAdmin();
      expectCode(await admin.api.disable(admin.id, { reason: '' }), 409, 'self_target');
      expectCode(await admin.api.disable(admin.id, { reason: 'x'.repeat(501) }), 409, 'self_target');
      expectCode(await admin.api.setRole(admin.id, 'emperor'), 409, 'self_target');
      expectCode(await admin.client.post(`/api/admin/users/${admin.id}/role`, {}), 409, 'self_target');
      await expectSignedIn([admin.client], true);
    });

    it('a cross-site request is refused 403 csrf, a body that is not JSON 415, and neither changes anything', async () => {
      const { api } = await anAdmin();
      const target = await signedUp(url());
      const crossSite = { 'sec-fetch-site': 'cross-site', origin: 'https://evil.example' };
      expectCode(await api.client.post(`/api/admin/users/${target.user.id}/disable`, {}, crossSite), 403, 'csrf');
      expectCode(await api.client.post(`/api/admin/users/${target.user.id}/role`, { role: 'admin' }, crossSite), 403, 'csrf');
      expectCode(await api.client.request('DELETE', `/api/admin/users/${target.user.id}`, { headers: crossSite }), 403, 'csrf');
      const notJson = { body: JSON.stringify({ role: 'admin' }), headers: { 'content-type': 'text/plain' } };
      expectCode(await api.client.request('POST', `/api/admin/users/${target.user.id}/role`, notJson), 415, 'unsupported_media_type');
      await expectUntouched(target);
    });

    it("the refusal of a bad body changes nothing, and an admin's refused action is not on the trail", async () => {
      const admin = await anAdmin();
      const target = await signedUp(url());
      expectCode(await admin.api.disable(target.user.id, { reason: '' }), 400, 'invalid_input');
      expectCode(await admin.api.disable(target.user.id, { reason: 'bad\u0000reason' }), 400, 'invalid_input');
      expectCode(await admin.api.disable(target.user.id, { reason: 42 }), 400, 'invalid_input');
      expectCode(await admin.api.setRole(target.user.id, 'root'), 400, 'invalid_input');
      await expectUntouched(target);
      // A good one, for contrast: on the target's trail, by this admin.
      expect((await admin.api.revokeSessions(target.user.id)).status).toBe(200);
      expectByAdmin(await ownTrail(await signIn(url(), target.email)), 'sessions_revoked', admin.id);
    });
  },
  { latch: () => ({ clock, adminRequireMfa: false, loginMaxFailures: 1000 }) },
);
