/**
 * What a signed-in user does with the account (AccountService), the password proofs it asks
 * for (PasswordProofs), and how a credential change ends what was derived from the old state
 * (CredentialChanges), at the domain level.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Authenticated } from '../../src/domain/auth-service.js';
import { client, PASSWORD, REAUTH_WINDOW, refusal, world, type World } from '../support/domain-world.js';

let w: World;
let ada: Authenticated;
beforeEach(async () => {
  w = await world();
  ada = await w.member('ada@example.test');
});
afterEach(() => w.close());

const NEW_PASSWORD = 'copper-meadow-falcon-77';
const live = (userId: string) => w.sessions.listByUser(userId, w.clock.now());
const login = (password = PASSWORD) => w.auth.login({ email: 'ada@example.test', password, rememberMe: false }, client);

describe('sessions', () => {
  it('lists the live ones and ends one of the owner’s own, recording which', async () => {
    const other = await w.signIn('ada@example.test');
    expect((await w.account.listSessions(ada.user.id)).map((s) => s.id).sort()).toEqual([ada.session.id, other.session.id].sort());
    await w.account.revokeSession(ada, other.session.id, client);
    expect(await w.sessions.find(other.session.id)).toBeNull();
    expect(w.events.events.at(-1)).toMatchObject({ type: 'session_revoked', userId: ada.user.id, sessionId: other.session.id });
    expect(w.events.events.at(-1)!.count).toBeUndefined();
  });

  it('answers another user’s session like no session, and leaves it alone', async () => {
    const bob = await w.member();
    expect((await refusal(w.account.revokeSession(ada, bob.session.id, client))).code).toBe('not_found');
    expect((await refusal(w.account.revokeSession(ada, 'no-such-session', client))).code).toBe('not_found');
    expect(await w.sessions.find(bob.session.id)).not.toBeNull();
  });

  it('signing out everywhere else ends every other session and renews this one', async () => {
    await w.signIn('ada@example.test');
    await w.signIn('ada@example.test');
    const { count, issued } = await w.account.revokeOtherSessions(ada, client);
    expect(count).toBe(2);
    expect(issued.session.id).not.toBe(ada.session.id);
    expect((await live(ada.user.id)).map((s) => s.id)).toEqual([issued.session.id]);
    expect(w.events.events.at(-1)).toMatchObject({ type: 'sessions_revoked', sessionId: issued.session.id, count: 2 });
  });

  it('signing out everywhere from a session ended meanwhile is refused', async () => {
    await w.sessions.delete(ada.session.id);
    expect((await refusal(w.account.revokeOtherSessions(ada, client))).code).toBe('unauthorized');
    await w.changes.apply(ada.user.id, {});
    expect((await refusal(w.account.revokeOtherSessions(ada, client))).code).toBe('unauthorized');
  });
});

describe('proving the password again', () => {
  it('records the proof on the session', async () => {
    w.clock.advance(60_000);
    const session = await w.account.reauthenticate(ada, PASSWORD, client);
    expect(session.authenticatedAt).toBe(w.clock.now());
    expect(session.id).toBe(ada.session.id);
    expect((await w.sessions.find(ada.session.id))?.session.authenticatedAt).toBe(w.clock.now());
    expect(w.events.events.at(-1)).toMatchObject({ type: 'reauthenticated', sessionId: ada.session.id });
    expect(await w.reauthAttempts.peek(ada.user.id)).toBe(0);
  });

  it('counts wrong passwords per account, records them, and refuses past the limit whatever the password', async () => {
    for (let i = 0; i < 5; i++) {
      expect((await refusal(w.account.reauthenticate(ada, 'wrong-password-entirely', client))).code).toBe('invalid_credentials');
    }
    expect(w.events.events.at(-1)).toMatchObject({ type: 'reauth_failed', userId: ada.user.id, sessionId: ada.session.id, ip: client.ip });
    expect((await refusal(w.account.reauthenticate(ada, PASSWORD, client))).code).toBe('rate_limited');
    await w.proofs.forgive(ada.user.id);
    await w.account.reauthenticate(ada, PASSWORD, client);
  });

  it('is recent for REAUTH_WINDOW exactly', async () => {
    w.clock.advance(REAUTH_WINDOW);
    await w.proofs.requireRecent(ada, 'test');
    w.clock.advance(1);
    const error = await refusal(w.proofs.requireRecent(ada, 'do this'));
    expect(error.code).toBe('reauth_required');
    expect(error.message).toContain('to do this');
  });

  it('of an account that is gone, refuses', async () => {
    await w.users.delete(ada.user.id);
    expect((await refusal(w.proofs.prove(ada, PASSWORD, client))).code).toBe('unauthorized');
  });
});

describe('the security activity', () => {
  it('pages the owner’s events, 20 by default, between 1 and 100', async () => {
    for (let i = 0; i < 110; i++) await w.account.reauthenticate(ada, PASSWORD, client);
    expect((await w.account.listEvents(ada, {})).events).toHaveLength(20);
    expect((await w.account.listEvents(ada, { limit: 0 })).events).toHaveLength(1);
    expect((await w.account.listEvents(ada, { limit: 500 })).events).toHaveLength(100);
    const first = await w.account.listEvents(ada, { limit: 5 });
    const next = await w.account.listEvents(ada, { limit: 5, before: first.next! });
    expect(next.events[0]!.id).not.toBe(first.events[0]!.id);
    expect(next.events).toHaveLength(5);
  });
});

describe('changing the password', () => {
  it('is a credential change: this session renewed with a fresh proof, the others ended, the owner told', async () => {
    const other = await w.signIn('ada@example.test');
    w.clock.advance(60_000);
    const issued = await w.account.changePassword(ada, { currentPassword: PASSWORD, newPassword: NEW_PASSWORD }, client);
    expect(issued.session.id).not.toBe(ada.session.id);
    expect(issued.session.authenticatedAt).toBe(w.clock.now());
    expect(await w.sessions.find(other.session.id)).toBeNull();
    expect(w.events.events.at(-1)).toMatchObject({ type: 'password_changed', sessionId: issued.session.id, count: 1 });
    expect(w.passwordNotices).toEqual([ada.user.id]);
    expect((await refusal(login())).code).toBe('invalid_credentials');
    expect((await login(NEW_PASSWORD)).kind).toBe('signed_in');
  });

  it('asks for the current password and a strong new one', async () => {
    expect((await refusal(w.account.changePassword(ada, { currentPassword: 'not-it-at-all-123', newPassword: NEW_PASSWORD }, client))).code).toBe('invalid_credentials');
    expect((await refusal(w.account.changePassword(ada, { currentPassword: PASSWORD, newPassword: 'short' }, client))).code).toBe('weak_password');
    expect((await refusal(w.account.changePassword(ada, { currentPassword: PASSWORD, newPassword: 'ada@example.test-ada@example.test' }, client))).code).toBe('weak_password');
    expect((await login()).kind).toBe('signed_in');
  });

  it('from a session ended meanwhile, changes it but issues nothing', async () => {
    await w.sessions.delete(ada.session.id);
    expect((await refusal(w.account.changePassword(ada, { currentPassword: PASSWORD, newPassword: NEW_PASSWORD }, client))).code).toBe('unauthorized');
    expect(w.passwordNotices).toEqual([ada.user.id]);
    expect(w.events.events.at(-1)).toMatchObject({ type: 'password_changed', sessionId: ada.session.id });
    expect((await login(NEW_PASSWORD)).kind).toBe('signed_in');
  });

  it('after another change moved the epoch on, changes nothing', async () => {
    await w.changes.apply(ada.user.id, {});
    expect((await refusal(w.account.changePassword(ada, { currentPassword: PASSWORD, newPassword: NEW_PASSWORD }, client))).code).toBe('unauthorized');
    expect(w.passwordNotices).toEqual([]);
    expect((await login()).kind).toBe('signed_in');
  });
});

describe('deleting the account', () => {
  it('asks for a recent session and the password, then removes the account and its history', async () => {
    await w.account.reauthenticate(ada, PASSWORD, client);
    expect((await refusal(w.account.deleteAccount(ada, 'not-it-at-all-123', client))).code).toBe('invalid_credentials');
    w.clock.advance(REAUTH_WINDOW + 1);
    expect((await refusal(w.account.deleteAccount(ada, PASSWORD, client))).code).toBe('reauth_required');
    const fresh = await w.signIn('ada@example.test');
    const learned: number[] = [];
    const deleteByUser = w.sessions.deleteByUser.bind(w.sessions);
    w.sessions.deleteByUser = async (userId, options) => {
      learned.push(options.epoch);
      return deleteByUser(userId, options);
    };
    const epoch = (await w.users.findById(ada.user.id))!.credentialEpoch;
    await w.account.deleteAccount(fresh, PASSWORD, client);
    expect(learned).toEqual([epoch + 1]);
    expect(await w.users.findById(ada.user.id)).toBeNull();
    expect(await live(ada.user.id)).toEqual([]);
    expect(w.events.events.at(-1)).toMatchObject({ type: 'account_deleted', userId: ada.user.id, sessionId: fresh.session.id });
    expect(w.events.events.at(-1)!.actor).toBeUndefined();
    const trail = await w.audit.listForUser(ada.user.id, { limit: 100 });
    expect(trail.events.map((e) => e.type)).toEqual(['account_deleted']);
  });

  it('the last admin may delete their own account; nobody else may delete it', async () => {
    const root = await w.member('root@example.test', 'admin');
    expect((await refusal(w.account.remove(root.user.id, client, { actor: { role: 'cli' } }))).code).toBe('last_admin');
    expect(await w.account.remove(root.user.id, client, { sessionId: root.session.id })).toBe(true);
    expect(await w.account.remove(root.user.id, client, {})).toBe(false);
  });
});

describe('a credential change', () => {
  it('revokes mailed links and ends every session of the old epoch', async () => {
    const other = await w.signIn('ada@example.test');
    const changed = await w.changes.apply(ada.user.id, { passwordHash: await w.hasher.hash(NEW_PASSWORD) });
    expect(changed).toMatchObject({ ok: true, ended: 2 });
    expect(changed.ok && changed.issued).toBeFalsy();
    expect(w.revokedTokens).toEqual([ada.user.id]);
    expect(await w.sessions.find(other.session.id)).toBeNull();
  });

  it('answers a refusal as it is, and changes nothing', async () => {
    expect(await w.changes.apply('no-such-user', {})).toEqual({ ok: false, reason: 'not_found' });
    expect(await w.changes.apply(ada.user.id, {}, { ifEpoch: ada.session.epoch + 5 })).toEqual({ ok: false, reason: 'stale' });
    expect(w.revokedTokens).toEqual([]);
  });

  it('to the address tells the session store, and keeps the caller signed in', async () => {
    const refreshed: string[] = [];
    const refresh = w.sessions.refreshUser.bind(w.sessions);
    w.sessions.refreshUser = async (user) => {
      refreshed.push(user.email);
      await refresh(user);
    };
    const changed = await w.changes.apply(ada.user.id, { email: 'lovelace@example.test' }, { current: { session: ada.session, client } });
    expect(changed.ok && changed.issued?.user.email).toBe('lovelace@example.test');
    expect(refreshed).toEqual(['lovelace@example.test']);
    await w.changes.apply(ada.user.id, {});
    expect(refreshed).toEqual(['lovelace@example.test']);
  });

  it('when the session store fails after the change committed, retries ending the old sessions', async () => {
    const other = await w.signIn('ada@example.test');
    const deleteByUser = w.sessions.deleteByUser.bind(w.sessions);
    const refreshUser = w.sessions.refreshUser.bind(w.sessions);
    const refreshed: string[] = [];
    let down = true;
    w.sessions.deleteByUser = async (...args) => {
      if (down) throw new Error('store down');
      return deleteByUser(...args);
    };
    w.sessions.refreshUser = async (user) => {
      refreshed.push(user.email);
      await refreshUser(user);
    };
    await expect(w.changes.apply(ada.user.id, { email: 'lovelace@example.test' })).rejects.toThrow('store down');
    expect(w.retried).toHaveLength(1);
    expect(refreshed).toEqual([]);
    down = false;
    const learned: number[] = [];
    const working = w.sessions.deleteByUser;
    w.sessions.deleteByUser = async (userId, options) => {
      learned.push(options.epoch);
      return working(userId, options);
    };
    await w.retried[0]!();
    expect(learned).toEqual([(await w.users.findById(ada.user.id))!.credentialEpoch]);
    expect(refreshed).toEqual(['lovelace@example.test']);
    expect(await w.sessions.find(other.session.id)).toBeNull();
    expect((await w.users.findById(ada.user.id))?.email).toBe('lovelace@example.test');
  });

  it('a failed retry without an address change refreshes nothing', async () => {
    const refreshed: string[] = [];
    w.sessions.refreshUser = async (user) => void refreshed.push(user.email);
    const deleteByUser = w.sessions.deleteByUser.bind(w.sessions);
    let calls = 0;
    w.sessions.deleteByUser = async (...args) => {
      if (calls++ === 0) throw new Error('store down');
      return deleteByUser(...args);
    };
    await expect(w.changes.apply(ada.user.id, {})).rejects.toThrow('store down');
    await w.retried[0]!();
    expect(refreshed).toEqual([]);
    expect(await live(ada.user.id)).toEqual([]);
  });
});
