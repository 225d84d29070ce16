/**
 * Devices at the domain level: the device cookie recognises a browser (new sign-in alerts) and,
 * when the owner asked, lets a password sign-in skip the second step, bound to the credential
 * epoch and to MFA_REMEMBER_DEVICE. It never authenticates by itself.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ClientInfo } from '../../src/domain/auth-service.js';
import { Devices } from '../../src/domain/devices.js';
import type { User } from '../../src/domain/user.js';
import { client, REMEMBER_DEVICE, world, type World, type WorldOptions } from '../support/domain-world.js';
import { cryptoRandom } from '../support/fakes.js';

let w: World;
let ada: User;
const token = (c: string) => c.repeat(43);
const firefox: ClientInfo = { ip: '192.0.2.44', userAgent: 'Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0' };

async function setUp(options: WorldOptions = {}) {
  w = await world(options);
  ada = (await w.member('ada@example.test')).user;
  await w.users.markEmailVerified(ada.id, ada.email);
  ada = { ...ada, emailVerified: true };
}
beforeEach(() => setUp());
afterEach(() => w.close());

const signedIn = (device: string | undefined, options: { remember?: { epoch: number }; quiet?: boolean } = {}, from: ClientInfo = firefox) =>
  w.devices.signedIn(ada, device, from, { sessionId: 'session-1', ...options });

describe('a sign-in from a browser', () => {
  it('new to the account: recorded, and the owner alerted with where and when', async () => {
    const first = await signedIn(undefined);
    expect(first.isNew).toBe(true);
    expect(first.token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(w.events.events.at(-1)).toMatchObject({ type: 'new_device', userId: ada.id, sessionId: 'session-1', ip: firefox.ip, userAgent: firefox.userAgent, at: w.clock.now() });
    const alert = w.mailer.sent.at(-1)!;
    expect(alert).toMatchObject({ to: 'ada@example.test', subject: 'New sign-in to your account' });
    expect(alert.text).toContain('Hello Ada Lovelace,');
    expect(alert.text).toContain('Firefox on Linux, from 192.0.2.44');
    expect(alert.text).not.toContain(firefox.userAgent);
    expect(alert.text).toContain(new Date(w.clock.now()).toUTCString());
    const again = await signedIn(first.token);
    expect(again).toEqual({ token: first.token, isNew: false });
    expect(w.mailer.sent).toHaveLength(1);
  });

  it('keeps a well-formed cookie, replaces one that is not', async () => {
    expect((await signedIn(token('a'))).token).toBe(token('a'));
    const bad = await signedIn('a'.repeat(42) + '!');
    expect(bad.token).not.toContain('!');
    expect(bad.token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect((await signedIn('a'.repeat(44))).token).not.toBe('a'.repeat(44));
  });

  it('creating the account is quiet', async () => {
    const events = w.events.events.length;
    const quiet = await signedIn(token('q'), { quiet: true });
    expect(quiet.isNew).toBe(true);
    expect(w.events.events.length).toBe(events);
    expect(w.mailer.sent).toEqual([]);
  });

  it('without NEW_DEVICE_ALERTS is recorded but not mailed', async () => {
    await w.close();
    await setUp({ alerts: false });
    await signedIn(token('b'));
    expect(w.events.types(ada.id)).toContain('new_device');
    expect(w.mailer.sent).toEqual([]);
  });
});

describe('remembering a browser', () => {
  it('trusts a token the server has just made, bound to the epoch, for MFA_REMEMBER_DEVICE', async () => {
    const planted = token('p');
    const remembered = await signedIn(planted, { remember: { epoch: 0 } });
    expect(remembered.token).not.toBe(planted);
    expect(await w.devices.isRemembered(ada.id, planted, 0)).toBe(false);
    expect(await w.devices.isRemembered(ada.id, remembered.token, 0)).toBe(true);
    expect(await w.devices.isRemembered(ada.id, remembered.token, 1)).toBe(false);
    expect(await w.devices.isRemembered('someone-else', remembered.token, 0)).toBe(false);
    expect(await w.devices.isRemembered(ada.id, undefined, 0)).toBe(false);
    expect(await w.devices.isRemembered(ada.id, remembered.token.slice(1) + '*', 0)).toBe(false);
    const record = (await w.devices.list(ada.id)).find((d) => d.ip === firefox.ip);
    expect(record).toMatchObject({ trustedUntil: w.clock.now() + REMEMBER_DEVICE, trustEpoch: 0, ip: firefox.ip, userAgent: firefox.userAgent });
    w.clock.advance(REMEMBER_DEVICE - 1);
    expect(await w.devices.isRemembered(ada.id, remembered.token, 0)).toBe(true);
    w.clock.advance(1);
    expect(await w.devices.isRemembered(ada.id, remembered.token, 0)).toBe(false);
  });

  it('ends for every browser of the account at once, the browsers still known', async () => {
    const one = await signedIn(undefined, { remember: { epoch: 0 } });
    const two = await signedIn(undefined, { remember: { epoch: 0 } });
    await w.devices.untrustAll(ada.id);
    expect(await w.devices.isRemembered(ada.id, one.token, 0)).toBe(false);
    expect(await w.devices.isRemembered(ada.id, two.token, 0)).toBe(false);
    expect((await signedIn(two.token)).isNew).toBe(false);
  });

  it('given earlier, no longer counts once MFA_REMEMBER_DEVICE is 0', async () => {
    const remembered = await signedIn(undefined, { remember: { epoch: 0 } });
    const off = new Devices({ store: w.deviceStore, events: w.events, mailer: w.mailer, mails: w.mails, clock: w.clock, random: cryptoRandom, rememberForMs: 0, alerts: true });
    expect(await w.devices.isRemembered(ada.id, remembered.token, 0)).toBe(true);
    expect(await off.isRemembered(ada.id, remembered.token, 0)).toBe(false);
  });

  it('is off with MFA_REMEMBER_DEVICE=0: the cookie is kept and trusts nothing', async () => {
    await w.close();
    await setUp({ rememberForMs: 0 });
    const kept = await signedIn(token('k'), { remember: { epoch: 0 } });
    expect(kept.token).toBe(token('k'));
    expect((await w.devices.list(ada.id)).every((d) => d.trustedUntil === null)).toBe(true);
    expect(await w.devices.isRemembered(ada.id, kept.token, 0)).toBe(false);
  });
});

describe('the owner’s list of browsers', () => {
  it('marks this browser, and forgets one on request', async () => {
    const mine = await signedIn(token('m'));
    await signedIn(token('n'), {}, client);
    expect((await w.devices.list(ada.id)).length).toBeGreaterThanOrEqual(2);
    const current = await w.devices.current(ada.id, mine.token);
    expect(current).toMatchObject({ userId: ada.id, ip: firefox.ip });
    expect(await w.devices.current(ada.id, undefined)).toBeNull();
    expect(await w.devices.current(ada.id, 'short')).toBeNull();
    expect(await w.devices.current(ada.id, token('z'))).toBeNull();
    expect(await w.devices.forget(ada.id, current!.id, client, 'session-9')).toBe(true);
    expect(w.events.events.at(-1)).toMatchObject({ type: 'device_forgotten', userId: ada.id, sessionId: 'session-9', ip: client.ip, userAgent: client.userAgent });
    const events = w.events.events.length;
    expect(await w.devices.forget(ada.id, current!.id, client, 'session-9')).toBe(false);
    expect(w.events.events.length).toBe(events);
    expect(await w.devices.current(ada.id, mine.token)).toBeNull();
  });
});
