/**
 * A refused request changes nothing (THREATS.md, item 3): when hashing, the database or the
 * limiter itself refuses before a password is judged (503), the attempt that was counted is given
 * back — for sign-in (every login limit, known and unknown addresses alike), re-authentication
 * and registration — and a login shed because hashing is full is never counted at all,
 * while every attempt that reached a verdict stays counted. A right password whose hash upgrade
 * is refused still signs in.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { UnavailableError } from '../../src/domain/errors.js';
import { ipKey } from '../../src/domain/client-key.js';
import { client, PASSWORD, refusal, world, type World } from '../support/domain-world.js';

let w: World;
beforeEach(async () => {
  w = await world();
});
afterEach(() => w.close());

/** The 503 of a dependency that refused: the rejection, checked to be an outage. */
async function outage(promise: Promise<unknown>): Promise<void> {
  const outcome = await promise.then(
    () => new Error('expected an outage, got success'),
    (error: unknown) => error,
  );
  expect(outcome).toBeInstanceOf(UnavailableError);
}

const login = (email: string, password: string) => w.auth.login({ email, password, rememberMe: false }, client);

/** Every counter a login attempt touches, for this address and the test client's IP. */
async function loginCounters(email: string) {
  const { accountKey } = await import('../../src/domain/account-key.js');
  const account = accountKey(email);
  const ip = ipKey(client.ip);
  const { pair, ip: byIp, account: byAccount, consecutive } = w.loginLimits;
  return {
    pair: await pair.peek(`${account}|${ip}`),
    ip: await byIp.peek(ip),
    account: await byAccount.peek(account),
    consecutive: await consecutive.peek(account),
  };
}

describe('attempts refused before a verdict are not counted', () => {
  it('a login answered 503 by hashing gives its attempt back, for a known address and an unknown one', async () => {
    await w.member('ada@example.test');
    for (const email of ['ada@example.test', 'nobody@example.test']) {
      const before = await loginCounters(email);
      w.hasher.unavailable = true;
      for (let i = 0; i < 8; i++) await outage(login(email, 'wrong-password-entirely'));
      w.hasher.unavailable = false;
      expect(await loginCounters(email)).toEqual(before);
    }
    // Past the pair limit of refusals, the owner's right password still signs in.
    expect((await login('ada@example.test', PASSWORD)).kind).toBe('signed_in');
  });

  it('a login shed while hashing is full counts nothing, looks at no account and records nothing, for a known address and an unknown one', async () => {
    await w.member('ada@example.test');
    const looked: string[] = [];
    const findByEmail = w.users.findByEmail.bind(w.users);
    w.users.findByEmail = async (email) => {
      looked.push(email);
      return findByEmail(email);
    };
    const eventsBefore = w.events.events.length;
    const hashedBefore = w.hasher.calls.length;
    for (const email of ['ada@example.test', 'nobody@example.test']) {
      const before = await loginCounters(email);
      w.hasher.full = true;
      for (let i = 0; i < 8; i++) await outage(login(email, i % 2 ? PASSWORD : 'wrong-password-entirely'));
      w.hasher.full = false;
      expect(await loginCounters(email)).toEqual(before);
    }
    expect(looked).toEqual([]);
    expect(w.events.events.length).toBe(eventsBefore);
    expect(w.hasher.calls.length).toBe(hashedBefore);
    expect((await login('ada@example.test', PASSWORD)).kind).toBe('signed_in');
  });

  it('attempts that reached a verdict stay counted around the refused ones', async () => {
    await w.member('ada@example.test');
    for (let i = 0; i < 4; i++) expect((await refusal(login('ada@example.test', 'wrong-password-entirely'))).code).toBe('invalid_credentials');
    w.hasher.unavailable = true;
    await outage(login('ada@example.test', 'wrong-password-entirely'));
    w.hasher.unavailable = false;
    expect((await loginCounters('ada@example.test')).pair).toBe(4);
    expect((await refusal(login('ada@example.test', 'wrong-password-entirely'))).code).toBe('invalid_credentials');
    expect((await refusal(login('ada@example.test', PASSWORD))).code).toBe('rate_limited'); // the 6th verdict
  });

  it('a re-authentication answered 503 does not count against the owner', async () => {
    const ada = await w.member('ada@example.test');
    w.hasher.unavailable = true;
    for (let i = 0; i < 8; i++) await outage(w.account.reauthenticate(ada, PASSWORD, client));
    w.hasher.unavailable = false;
    expect(await w.reauthAttempts.peek(ada.user.id)).toBe(0);
    await w.account.reauthenticate(ada, PASSWORD, client);
  });

  it('a registration answered 503 does not use up the address budget, and creates nothing', async () => {
    const before = await w.registrationLimit.peek(ipKey(client.ip));
    w.hasher.unavailable = true;
    const input = { email: 'grace@example.test', password: PASSWORD, name: 'Grace Hopper' };
    await outage(w.auth.register(input, client));
    w.hasher.unavailable = false;
    expect(await w.registrationLimit.peek(ipKey(client.ip))).toBe(before);
    expect(await w.users.findByEmail('grace@example.test')).toBeNull();
  });

  it('a registration the database refuses (503) does not use up the address budget either', async () => {
    const before = await w.registrationLimit.peek(ipKey(client.ip));
    const create = w.users.create.bind(w.users);
    w.users.create = async () => {
      throw new UnavailableError('database');
    };
    await outage(w.auth.register({ email: 'grace@example.test', password: PASSWORD, name: 'Grace Hopper' }, client));
    w.users.create = create;
    expect(await w.registrationLimit.peek(ipKey(client.ip))).toBe(before);
  });

  it('a limiter failing half-way through the count gives back what it had counted', async () => {
    await w.member('ada@example.test');
    const before = await loginCounters('ada@example.test');
    const consume = w.loginLimits.account.consume.bind(w.loginLimits.account);
    w.loginLimits.account.consume = async () => {
      throw new UnavailableError('rate limiter');
    };
    await outage(login('ada@example.test', 'wrong-password-entirely')); // pair and IP counted, then the failure
    w.loginLimits.account.consume = consume;
    expect(await loginCounters('ada@example.test')).toEqual(before);
  });

  it('a right password whose hash upgrade is refused still signs in, and the upgrade waits for the next one', async () => {
    await w.member('ada@example.test');
    const stored = (await w.users.findByEmail('ada@example.test'))!.passwordHash;
    w.hasher.version = 2; // raised parameters: the next success upgrades the hash
    const hash = w.hasher.hash.bind(w.hasher);
    w.hasher.hash = async () => {
      throw new UnavailableError('password hashing');
    };
    expect((await login('ada@example.test', PASSWORD)).kind).toBe('signed_in');
    expect((await w.users.findByEmail('ada@example.test'))!.passwordHash).toBe(stored);
    w.hasher.hash = hash;
    expect((await login('ada@example.test', PASSWORD)).kind).toBe('signed_in');
    expect((await w.users.findByEmail('ada@example.test'))!.passwordHash).not.toBe(stored);
  });
});
