/**
 * What administrators do to someone else's account (API.md, "Administration"; THREATS.md items
 * 1, 5 and 13), on every backend, each through the owner's own eyes: disabling ends every
 * session and mailed link, a disabled account's right password (or passkey) is told apart only
 * once proven, forgot-password mails it nothing; enabling brings back sign-in, not sessions;
 * ending sessions, a mailed reset link outside the mail budget, a second-factor reset, a role
 * change, deletion; and every action on the target's trail with its actor.
 */
import { expect, it } from 'vitest';
import { describeOnBackends } from '../support/backends.js';
import { smtpForFile, SUBJECT, type Subject } from '../support/mailbox.js';
import { Client, ManualClock, signedUp, STRONG_PASSWORD, type Reply } from '../support/server.js';
import {
  addPasskey,
  AdminApi,
  appCodes,
  authenticator,
  CLI,
  expectByAdmin,
  expectCode,
  expectSignedIn,
  newAdmin,
  ownTrail,
  passkeySignIn,
  signIn,
  WEBAUTHN,
} from '../support/admin.js';

const clock = new ManualClock();
const { nextCode, turnOnTotp } = appCodes(clock);
const box = smtpForFile();
const NEW_PASSWORD = 'copper-meadow-falcon-77';
const WRONG_PASSWORD = 'not-the-password-at-all';
const FACTORS_RESET = 'Your second factors were reset' as Subject;

const setsSession = (res: Reply) => res.headers.getSetCookie().some((line) => /^(__Host-)?sid=[^;\s]+/.test(line.trim()));

/** Status, body and headers (but the date) of a login: what an attacker compares. */
async function loginAnswer(url: string, email: string, password: string) {
  const res = await new Client(url).post('/api/auth/login', { email, password });
  return { status: res.status, text: res.text, headers: [...res.headers].filter(([name]) => name !== 'date') };
}

describeOnBackends(
  'administration: actions on an account',
  ({ server }) => {
    const url = () => server().url;
    /** A target signed in on two browsers (signed up on one, signed in on a phone). */
    async function target() {
      const account = await signedUp(url());
      return { ...account, id: account.user.id as string, phone: await signIn(url(), account.email) };
    }

    it('disabling ends every session and every mailed link at once, and shows the reason', async () => {
      const { api, id: adminId } = await newAdmin(url(), server().latch);
      const { email } = { email: `disable.${Date.now()}@example.test` };
      const verifyToken = await box.tokenFrom(email, SUBJECT.verify, () => signedUp(url(), { email }));
      const account = await signIn(url(), email);
      const phone = await signIn(url(), email);
      const id = (await account.get('/api/auth/me')).body.user.id as string;
      const resetToken = await box.tokenFrom(email, SUBJECT.reset, () => new Client(url()).post('/api/auth/password/forgot', { email }));

      const res = await api.disable(id, { reason: 'Sending spam' });
      expect(res.status, res.text).toBe(200);
      expect(res.body.user).toMatchObject({ id, email, disabled: true, disabledReason: 'Sending spam', sessionCount: 0 });
      await expectSignedIn([account, phone], false);
      expectCode(await new Client(url()).post('/api/auth/password/reset', { token: resetToken, password: NEW_PASSWORD }), 400, 'invalid_token');
      expectCode(await new Client(url()).post('/api/auth/email/verify', { token: verifyToken }), 400, 'invalid_token');
      expect((await api.user(id)).body.user).toMatchObject({ disabled: true, disabledReason: 'Sending spam' });
      expect((await api.users({ query: email })).body.users).toEqual([expect.objectContaining({ id, disabled: true })]);
      const trail = (await api.events({ userId: id, type: 'account_disabled' })).body.events;
      expect(trail).toEqual([expect.objectContaining({ type: 'account_disabled', userId: id, actor: { id: adminId, role: 'admin' } })]);
    });

    it('a disabled account: the right password answers 403 account_disabled, a wrong one byte for byte what any wrong one gets', async () => {
      const { api } = await newAdmin(url(), server().latch);
      const disabled = await target();
      const enabled = await signedUp(url());
      expect((await api.disable(disabled.id)).status).toBe(200);

      const right = await new Client(url()).post('/api/auth/login', { email: disabled.email, password: STRONG_PASSWORD });
      expectCode(right, 403, 'account_disabled');
      expect(setsSession(right)).toBe(false);
      const wrong = await loginAnswer(url(), disabled.email, WRONG_PASSWORD);
      expect(wrong.status).toBe(401);
      expect(wrong).toEqual(await loginAnswer(url(), enabled.email, WRONG_PASSWORD));
      expect(wrong).toEqual(await loginAnswer(url(), `nobody.${Date.now()}@example.test`, WRONG_PASSWORD));
    });

    it('forgot-password answers a disabled account 202 like any other, and mails it nothing', async () => {
      const { api } = await newAdmin(url(), server().latch);
      const disabled = await target();
      const enabled = await signedUp(url());
      expect((await api.disable(disabled.id)).status).toBe(200);
      const forgot = (email: string) => new Client(url()).post('/api/auth/password/forgot', { email });
      const [toDisabled, toEnabled] = [await forgot(disabled.email), await forgot(enabled.email)];
      expect(toDisabled.status).toBe(202);
      expect(toDisabled.text).toBe(toEnabled.text);
      await box.sentinel(url());
      expect(box.to(disabled.email, SUBJECT.reset)).toEqual([]);
      expect(box.to(enabled.email, SUBJECT.reset)).toHaveLength(1);
    });

    it("a disabled account's passkey answers 403 account_disabled and signs nobody in; enabled, it works again", async () => {
      const { api } = await newAdmin(url(), server().latch);
      const owner = await target();
      const device = authenticator();
      await addPasskey(owner.client, device);
      expect((await api.disable(owner.id)).status).toBe(200);
      const refused = await passkeySignIn(url(), device);
      expectCode(refused.res, 403, 'account_disabled');
      expect(setsSession(refused.res)).toBe(false);
      await expectSignedIn([refused.browser], false);

      expect((await api.enable(owner.id)).status).toBe(200);
      const again = await passkeySignIn(url(), device);
      expect(again.res.status, again.res.text).toBe(200);
      await expectSignedIn([again.browser], true);
    });

    it('a browser remembered before a disable asks for the second step again once the account is enabled', async () => {
      const { api } = await newAdmin(url(), server().latch);
      const account = await target();
      const secret = await turnOnTotp(account.client);
      const phone = new Client(url());
      await phone.post('/api/auth/login', { email: account.email, password: STRONG_PASSWORD });
      const verified = await phone.post('/api/auth/mfa/verify', { method: 'totp', code: nextCode(secret), rememberDevice: true });
      expect(verified.status, verified.text).toBe(200);
      expect((await phone.post('/api/auth/logout')).status).toBe(200);
      expect((await phone.post('/api/auth/login', { email: account.email, password: STRONG_PASSWORD })).body.user).toBeDefined();
      expect((await phone.post('/api/auth/logout')).status).toBe(200);

      expect((await api.disable(account.id)).status).toBe(200);
      expect((await api.enable(account.id)).status).toBe(200);
      const again = await phone.post('/api/auth/login', { email: account.email, password: STRONG_PASSWORD });
      expect(again.status, again.text).toBe(200);
      expect(again.body).toEqual({ mfaRequired: true, methods: ['totp', 'recovery_code'] });
    });

    it('enabling lets the account sign in again; the sessions it had stay ended', async () => {
      const { api, id: adminId } = await newAdmin(url(), server().latch);
      const account = await target();
      expect((await api.disable(account.id, { reason: 'Looking into it' })).status).toBe(200);
      const res = await api.enable(account.id);
      expect(res.status, res.text).toBe(200);
      expect(res.body.user).toMatchObject({ id: account.id, disabled: false, sessionCount: 0 });
      expect(res.body.user).not.toHaveProperty('disabledReason');
      await expectSignedIn([account.client, account.phone], false);
      const back = await signIn(url(), account.email);
      const trail = await ownTrail(back);
      expectByAdmin(trail, 'account_enabled', adminId);
      expectByAdmin(trail, 'account_disabled', adminId);
    });

    it('ending the sessions answers {revoked: n}: every one stops at once; signing in again works', async () => {
      const { api, id: adminId } = await newAdmin(url(), server().latch);
      const account = await target();
      const third = await signIn(url(), account.email);
      const res = await api.revokeSessions(account.id);
      expect(res.status, res.text).toBe(200);
      expect(res.body).toEqual({ revoked: 3 });
      await expectSignedIn([account.client, account.phone, third], false);
      expect((await api.revokeSessions(account.id)).body).toEqual({ revoked: 0 });
      expectByAdmin(await ownTrail(await signIn(url(), account.email)), 'sessions_revoked', adminId);
    });

    it("a reset link from an admin is mailed even past the account's mail budget, and works", async () => {
      const { api, id: adminId } = await newAdmin(url(), server().latch);
      const account = await target();
      const forgot = () => new Client(url()).post('/api/auth/password/forgot', { email: account.email });
      for (let i = 0; i < 4; i += 1) expect((await forgot()).status).toBe(202);
      await box.sentinel(url());
      const budgetSpent = box.to(account.email, SUBJECT.reset).length;
      expect((await forgot()).status).toBe(202);
      await box.sentinel(url());
      expect(box.to(account.email, SUBJECT.reset)).toHaveLength(budgetSpent); // the budget is spent

      const token = await box.tokenFrom(account.email, SUBJECT.reset, async () => {
        const res = await api.passwordReset(account.id);
        expect(res.status, res.text).toBe(202);
      });
      const reset = await new Client(url()).post('/api/auth/password/reset', { token, password: NEW_PASSWORD });
      expect(reset.status, reset.text).toBe(200);
      await expectSignedIn([account.client, account.phone], false);
      expectByAdmin(await ownTrail(await signIn(url(), account.email, NEW_PASSWORD)), 'password_reset_requested', adminId);
    });

    it("links an admin has mailed do not use up the owner's own mail budget", async () => {
      const { api } = await newAdmin(url(), server().latch);
      const account = await target(); // its verification mail is one of its 3
      for (let i = 0; i < 3; i += 1) expect((await api.passwordReset(account.id)).status).toBe(202);
      await box.tokenFrom(account.email, SUBJECT.reset, () => new Client(url()).post('/api/auth/password/forgot', { email: account.email }));
    });

    it('a second-factor reset: app, passkeys and codes gone, sessions end (a pending one too), the owner is told, a password alone signs in', async () => {
      const { api, id: adminId } = await newAdmin(url(), server().latch);
      const account = await target();
      const secret = await turnOnTotp(account.client);
      const device = authenticator();
      await addPasskey(account.client, device);
      const pending = new Client(url());
      expect((await pending.post('/api/auth/login', { email: account.email, password: STRONG_PASSWORD })).body.mfaRequired).toBe(true);
      expect((await api.user(account.id)).body.user.twoFactor).toBe(true);

      const notice = box.upcoming(account.email, FACTORS_RESET);
      const res = await api.resetMfa(account.id);
      expect(res.status, res.text).toBe(204);
      await notice();
      await expectSignedIn([account.client], false);
      expectCode(await pending.post('/api/auth/mfa/verify', { method: 'totp', code: nextCode(secret) }), 401, 'mfa_required');
      expect((await api.user(account.id)).body.user).toMatchObject({ twoFactor: false, sessionCount: 0 });

      const back = new Client(url());
      const login = await back.post('/api/auth/login', { email: account.email, password: STRONG_PASSWORD });
      expect(login.status, login.text).toBe(200);
      expect(login.body.user).toMatchObject({ id: account.id, twoFactor: false });
      expect((await back.get('/api/auth/mfa')).body).toEqual({ totp: false, passkeys: [], recoveryCodesLeft: 0 });
      expectCode((await passkeySignIn(url(), device)).res, 401, 'invalid_credentials');
      expectByAdmin(await ownTrail(back), 'mfa_reset', adminId);
    });

    it('a second-factor reset of an account that has none is a 204 too, not a 404', async () => {
      const { api } = await newAdmin(url(), server().latch);
      const account = await target();
      const res = await api.resetMfa(account.id);
      expect(res.status, res.text).toBe(204);
    });

    it("a role change ends the target's sessions; signed in again, /me and the admin API follow the new role", async () => {
      const { api, id: adminId } = await newAdmin(url(), server().latch);
      const account = await target();
      const promoted = await api.setRole(account.id, 'admin');
      expect(promoted.status, promoted.text).toBe(200);
      expect(promoted.body.user).toMatchObject({ id: account.id, role: 'admin', sessionCount: 0 });
      await expectSignedIn([account.client, account.phone], false);
      const asAdmin = await signIn(url(), account.email);
      expect((await asAdmin.get('/api/auth/me')).body.user.role).toBe('admin');
      expect((await new AdminApi(asAdmin).users()).status).toBe(200);

      const demoted = await api.setRole(account.id, 'user');
      expect(demoted.status, demoted.text).toBe(200);
      expect(demoted.body.user.role).toBe('user');
      await expectSignedIn([asAdmin], false);
      const asUser = await signIn(url(), account.email);
      expect((await asUser.get('/api/auth/me')).body.user.role).toBe('user');
      expectCode(await new AdminApi(asUser).users(), 403, 'forbidden');
      const changes = (await ownTrail(asUser)).filter((e) => e.type === 'role_changed');
      expect(changes.map((e) => e.actor)).toEqual([{ id: adminId, role: 'admin' }, { id: adminId, role: 'admin' }]);
    });

    it('deleting an account: 204, its sessions and sign-in gone, 404 after; the deletion stays on the trail with its actor', async () => {
      const { api, id: adminId } = await newAdmin(url(), server().latch);
      const account = await target();
      const res = await api.remove(account.id);
      expect(res.status, res.text).toBe(204);
      await expectSignedIn([account.client, account.phone], false);
      expectCode(await new Client(url()).post('/api/auth/login', { email: account.email, password: STRONG_PASSWORD }), 401, 'invalid_credentials');
      expectCode(await api.user(account.id), 404, 'not_found');
      expectCode(await api.remove(account.id), 404, 'not_found');
      expect((await api.users({ query: account.email })).body.users).toEqual([]);
      const trail = (await api.events({ userId: account.id })).body.events;
      expect(trail).toEqual([expect.objectContaining({ type: 'account_deleted', userId: account.id, actor: { id: adminId, role: 'admin' } })]);
    });

    it("every action lands on the target's own trail with the admin as actor; the command line's with its own", async () => {
      const { api, id: adminId } = await newAdmin(url(), server().latch);
      const account = await target();
      await turnOnTotp(account.client);
      const actions: Array<[string, () => Promise<Reply>]> = [
        ['account_disabled', () => api.disable(account.id, { reason: 'audit' })],
        ['account_enabled', () => api.enable(account.id)],
        ['sessions_revoked', () => api.revokeSessions(account.id)],
        ['password_reset_requested', () => api.passwordReset(account.id)],
        ['mfa_reset', () => api.resetMfa(account.id)],
        ['role_changed', () => api.setRole(account.id, 'admin')],
      ];
      for (const [, act] of actions) expect((await act()).status).toBeLessThan(300);
      await server().latch.admin.setRole(account.id, 'user', CLI);

      const own = await ownTrail(await signIn(url(), account.email));
      const byAdmin = own.filter((e) => e.actor !== undefined && e.actor.role === 'admin');
      expect(byAdmin.map((e) => e.type).reverse()).toEqual(actions.map(([type]) => type));
      for (const event of byAdmin) expect(event.actor).toEqual({ id: adminId, role: 'admin' });
      expect(own[own.findIndex((e) => e.type === 'role_changed')]?.actor).toEqual({ role: 'cli' });
      const seenByAdmins = (await api.events({ userId: account.id, limit: 100 })).body.events;
      expect(seenByAdmins.filter((e: { actor?: unknown }) => e.actor !== undefined)).toHaveLength(actions.length + 1);
    });
  },
  {
    latch: () => ({
      clock,
      adminRequireMfa: false,
      smtpUrl: box.smtp.url,
      mailIpMax: 1_000_000,
      mailRetryDelays: [100, 200],
      loginMaxFailures: 1000,
      webauthnRpId: WEBAUTHN.rpId,
      webauthnOrigins: WEBAUTHN.origin,
    }),
  },
);
