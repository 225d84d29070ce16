/**
 * AdminService's rules at the domain level: what an administrator (or the command line) does
 * to someone else's account, what each action ends, and what lands on the owner's trail.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Acting } from '../../src/domain/admin-service.js';
import type { Authenticated } from '../../src/domain/auth-service.js';
import { client, refusal, world, type World } from '../support/domain-world.js';

let w: World;
let root: Authenticated;
let ada: Authenticated;
let asRoot: Acting;
const cli: Acting = { actor: { role: 'cli' }, client: { ip: '127.0.0.1', userAgent: 'latch-cli' } };

beforeEach(async () => {
  w = await world();
  root = await w.member('root@example.test', 'admin');
  ada = await w.member('ada@example.test');
  asRoot = { actor: { role: 'admin', id: root.user.id }, client };
});
afterEach(() => w.close());

const live = (userId: string) => w.sessions.listByUser(userId, w.clock.now());

describe('looking at accounts', () => {
  it('lists accounts with their live session counts, passing the cursor on', async () => {
    await w.signIn('ada@example.test');
    const all = await w.admin.list({ limit: 10 });
    expect(all.next).toBeUndefined();
    expect('next' in all).toBe(false);
    const byEmail = new Map(all.users.map((u) => [u.email, u]));
    expect(byEmail.get('ada@example.test')?.sessionCount).toBe(2);
    expect(byEmail.get('root@example.test')?.sessionCount).toBe(1);
    const first = await w.admin.list({ limit: 1 });
    expect(first.users).toHaveLength(1);
    expect(first.next).toEqual(expect.any(String));
    const rest = await w.admin.list({ limit: 1, cursor: first.next! });
    expect(rest.users[0]!.id).not.toBe(first.users[0]!.id);
    expect((await w.admin.list({ limit: 10, query: 'ada@' })).users.map((u) => u.email)).toEqual(['ada@example.test']);
  });

  it('shows one account with its sessions and newest events', async () => {
    for (let i = 0; i < 25; i++) await w.account.reauthenticate(ada, 'violet-harbor-lantern-42', client);
    const shown = await w.admin.show(ada.user.id);
    expect(shown.user).toMatchObject({ id: ada.user.id, email: 'ada@example.test', sessionCount: 1, disabled: null });
    expect(shown.sessions.map((s) => s.id)).toEqual([ada.session.id]);
    expect(shown.events).toHaveLength(20);
    expect(shown.events.every((e) => e.userId === ada.user.id)).toBe(true);
    expect((await refusal(w.admin.show('no-such-user'))).code).toBe('not_found');
  });

  it('finds an account by its address as typed', async () => {
    expect((await w.admin.byEmail('  ADA@example.test ')).id).toBe(ada.user.id);
    expect((await w.admin.byEmail('ada@example.test')).sessionCount).toBe(1);
    expect((await refusal(w.admin.byEmail('nobody@example.test'))).code).toBe('not_found');
  });

  it('passes event filters to the audit log', async () => {
    await w.admin.revokeSessions(ada.user.id, asRoot);
    const page = await w.admin.events({ type: 'sessions_revoked', limit: 5 });
    expect(page.events.map((e) => e.userId)).toEqual([ada.user.id]);
  });
});

describe('disabling and enabling', () => {
  it('disables: every session ends, the trail says who and how many', async () => {
    await w.signIn('ada@example.test');
    w.clock.advance(1000);
    const disabled = await w.admin.disable(ada.user.id, 'spam', asRoot);
    expect(disabled.disabled).toEqual({ at: w.clock.now(), reason: 'spam', by: root.user.id });
    expect(disabled.sessionCount).toBe(0);
    expect(await live(ada.user.id)).toEqual([]);
    expect(w.revokedTokens).toContain(ada.user.id);
    expect(w.events.events.at(-1)).toMatchObject({ type: 'account_disabled', userId: ada.user.id, count: 2, actor: asRoot.actor, ip: client.ip, at: w.clock.now() });
    expect((await refusal(w.auth.login({ email: 'ada@example.test', password: 'violet-harbor-lantern-42', rememberMe: false }, client))).code).toBe('account_disabled');
  });

  it('by the command line, without a reason', async () => {
    const disabled = await w.admin.disable(ada.user.id, undefined, cli);
    expect(disabled.disabled).toMatchObject({ reason: null, by: 'cli' });
  });

  it('refuses the admin’s own account, the last admin and nobody', async () => {
    const events = w.events.events.length;
    const self = await refusal(w.admin.disable(root.user.id, undefined, asRoot));
    expect(self.code).toBe('self_target');
    expect(self.message).toContain('disable your own account');
    expect((await refusal(w.admin.disable(root.user.id, undefined, cli))).code).toBe('last_admin');
    expect((await refusal(w.admin.disable('no-such-user', undefined, cli))).code).toBe('not_found');
    expect(w.events.events.length).toBe(events);
  });

  it('enables a disabled account once; an enabled one is left as it is, unrecorded', async () => {
    const before = w.events.events.length;
    expect((await w.admin.enable(ada.user.id, asRoot)).disabled).toBeNull();
    expect(w.events.events.length).toBe(before);
    await w.admin.disable(ada.user.id, 'spam', asRoot);
    const enabled = await w.admin.enable(ada.user.id, asRoot);
    expect(enabled.disabled).toBeNull();
    expect(enabled.sessionCount).toBe(0);
    expect(w.events.events.at(-1)).toMatchObject({ type: 'account_enabled', userId: ada.user.id, actor: asRoot.actor });
    expect(w.events.events.at(-1)!.count).toBeUndefined();
    expect((await w.auth.login({ email: 'ada@example.test', password: 'violet-harbor-lantern-42', rememberMe: false }, client)).kind).toBe('signed_in');
    expect((await refusal(w.admin.enable('no-such-user', asRoot))).code).toBe('not_found');
  });
});

describe('sessions, resets and roles', () => {
  it('ends every session and says how many', async () => {
    await w.signIn('ada@example.test');
    expect(await w.admin.revokeSessions(ada.user.id, asRoot)).toBe(2);
    expect(await live(ada.user.id)).toEqual([]);
    expect(w.events.events.at(-1)).toMatchObject({ type: 'sessions_revoked', userId: ada.user.id, count: 2, actor: asRoot.actor });
    expect((await refusal(w.admin.revokeSessions('no-such-user', asRoot))).code).toBe('not_found');
  });

  it('sends a reset link, except to a disabled account or nobody', async () => {
    await w.admin.sendPasswordReset(ada.user.id, asRoot);
    expect(w.resetLinks).toEqual([ada.user.id]);
    expect((await refusal(w.admin.sendPasswordReset('no-such-user', asRoot))).code).toBe('not_found');
    await w.admin.disable(ada.user.id, undefined, asRoot);
    expect((await refusal(w.admin.sendPasswordReset(ada.user.id, asRoot))).code).toBe('account_disabled');
    expect(w.resetLinks).toEqual([ada.user.id]);
  });

  it('resets every second factor: two-step off, everything ended, the owner told', async () => {
    const { auth } = await w.withApp(ada);
    const { auth: stepped } = await w.withPasskey(auth);
    await w.admin.resetSecondFactors(ada.user.id, asRoot);
    expect(await w.lifecycle.methodsFor(ada.user.id)).toEqual([]);
    expect(await w.factors.totpOf(ada.user.id)).toBeNull();
    expect(await w.passkeyStore.countByUser(ada.user.id)).toBe(0);
    expect(await w.factors.recoveryCodesLeft(ada.user.id)).toBe(0);
    expect((await w.users.findById(ada.user.id))?.twoFactor).toBe(false);
    expect(await w.sessions.find(stepped.session.id)).toBeNull();
    expect(w.events.events.at(-1)).toMatchObject({ type: 'mfa_reset', userId: ada.user.id, count: 1, actor: asRoot.actor });
    expect(w.mailer.sent.at(-1)).toMatchObject({ to: 'ada@example.test', subject: 'Your second factors were reset' });
  });

  it('resetting an account without factors still ends its sessions', async () => {
    await w.admin.resetSecondFactors(ada.user.id, cli);
    expect(await live(ada.user.id)).toEqual([]);
    expect(w.events.events.at(-1)).toMatchObject({ type: 'mfa_reset', count: 1 });
    expect((await refusal(w.admin.resetSecondFactors('no-such-user', cli))).code).toBe('not_found');
  });

  it('changes a role, ending the sessions; the same role changes nothing', async () => {
    const same = await w.admin.setRole(ada.user.id, 'user', asRoot);
    expect(same).toMatchObject({ role: 'user', sessionCount: 1 });
    const promoted = await w.admin.setRole(ada.user.id, 'admin', asRoot);
    expect(promoted).toMatchObject({ role: 'admin', sessionCount: 0 });
    expect(w.events.events.at(-1)).toMatchObject({ type: 'role_changed', userId: ada.user.id, count: 1, actor: asRoot.actor });
    expect(w.events.types(ada.user.id).filter((t) => t === 'role_changed')).toHaveLength(1);
    expect((await refusal(w.admin.setRole(root.user.id, 'user', asRoot))).message).toContain('change the role of your own account');
    expect((await w.admin.setRole(root.user.id, 'user', cli)).role).toBe('user');
    expect((await refusal(w.admin.setRole(ada.user.id, 'user', cli))).code).toBe('last_admin');
    expect((await refusal(w.admin.setRole('no-such-user', 'admin', cli))).code).toBe('not_found');
  });

  it('removes an account, never the admin’s own or the last admin', async () => {
    const self = await refusal(w.admin.remove(root.user.id, asRoot));
    expect(self.code).toBe('self_target');
    expect(self.message).toContain('delete your own account');
    expect((await refusal(w.admin.remove(root.user.id, cli))).code).toBe('last_admin');
    await w.admin.remove(ada.user.id, asRoot);
    expect(await w.users.findById(ada.user.id)).toBeNull();
    expect(w.events.events.at(-1)).toMatchObject({ type: 'account_deleted', userId: ada.user.id, actor: asRoot.actor });
    expect((await refusal(w.admin.remove(ada.user.id, asRoot))).code).toBe('not_found');
  });
});
