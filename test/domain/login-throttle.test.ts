/**
 * LoginThrottle on in-memory limiters and a manual clock: the parts that need time to pass
 * (the known-IP memory, the run of failures) or that no HTTP route reaches yet (clearAccount).
 * The limits as they hold against the real app and stores: test/http/abuse.test.ts and
 * test/http/throttle-gaps.test.ts.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { KNOWN_IP_MEMORY_MS, LoginThrottle, type LoginGate, type LoginTicket } from '../../src/domain/login-throttle.js';
import { InMemoryRateLimiter, ManualClock } from '../support/fakes.js';

const MINUTE = 60_000;
const DAY = 1440 * MINUTE;
const EMAIL = 'ada@example.com';
const HOME = '203.0.113.9';
const ACCOUNT_LIMIT = 3;
const CAP = 20;

let clock: ManualClock;
let throttle: LoginThrottle;
let ipCounter = 0;
const elsewhere = () => `198.51.100.${++ipCounter}`;

beforeEach(() => {
  clock = new ManualClock();
  throttle = new LoginThrottle({
    pair: new InMemoryRateLimiter(5, 15 * MINUTE, clock),
    ip: new InMemoryRateLimiter(100, DAY, clock),
    account: new InMemoryRateLimiter(ACCOUNT_LIMIT, 5 * MINUTE, clock),
    knownIp: new InMemoryRateLimiter(1, KNOWN_IP_MEMORY_MS, clock),
    consecutive: new InMemoryRateLimiter(CAP, DAY, clock),
  });
});

function ticket(gate: LoginGate): LoginTicket {
  if (!gate.allowed) throw new Error(`expected the attempt to be let through, refused for ${gate.retryAfterMs} ms`);
  return gate;
}

async function signIn(email: string, ip: string): Promise<void> {
  await throttle.succeeded(ticket(await throttle.attempt(email, ip)));
}

/** Spends the account's budget for IPs its owner never used. */
async function stuff(email: string, times = ACCOUNT_LIMIT): Promise<void> {
  for (let i = 0; i < times; i++) ticket(await throttle.attempt(email, elsewhere()));
}

/** Wrong guesses from IPs the owner never used, one per account window, so that only the cap can refuse. */
async function failInARow(email: string, times: number): Promise<void> {
  for (let i = 0; i < times; i++) {
    ticket(await throttle.attempt(email, elsewhere()));
    clock.advance(5 * MINUTE);
  }
}

describe('LoginThrottle', () => {
  it('tells on each attempt whether the owner signed in from that IP before', async () => {
    expect(ticket(await throttle.attempt(EMAIL, HOME)).knownIp).toBe(false);
    await signIn(EMAIL, HOME);
    expect(ticket(await throttle.attempt(EMAIL, HOME)).knownIp).toBe(true);
    expect(ticket(await throttle.attempt('bob@example.com', HOME)).knownIp).toBe(false);
    // One IPv6 host is its /64: any address in it is the same known client.
    await signIn(EMAIL, '2001:db8:1:2::1');
    expect(ticket(await throttle.attempt(EMAIL, '2001:db8:1:2:aaaa::9')).knownIp).toBe(true);
    expect(ticket(await throttle.attempt(EMAIL, '2001:db8:1:3::1')).knownIp).toBe(false);
  });

  it('remembers a known IP from its latest success, not its first', async () => {
    await signIn(EMAIL, HOME);
    clock.advance(20 * DAY);
    await signIn(EMAIL, HOME);
    clock.advance(20 * DAY); // 40 days after the first success, 20 after the latest
    await stuff(EMAIL);
    expect((await throttle.attempt(EMAIL, elsewhere())).allowed).toBe(false);
    const fromHome = ticket(await throttle.attempt(EMAIL, HOME));
    expect(fromHome.knownIp).toBe(true);
    // And it does forget: a month after the latest success, home is a stranger again.
    clock.advance(KNOWN_IP_MEMORY_MS);
    await stuff(EMAIL);
    expect((await throttle.attempt(EMAIL, HOME)).allowed).toBe(false);
  });

  it('a password reset clears the account budget, the run of failures and the pair it came from', async () => {
    await signIn(EMAIL, HOME);
    for (let i = 0; i < 5; i++) ticket(await throttle.attempt(EMAIL, HOME));
    expect((await throttle.attempt(EMAIL, HOME)).allowed).toBe(false); // pair limit
    await stuff(EMAIL);
    expect((await throttle.attempt(EMAIL, elsewhere())).allowed).toBe(false); // account limit

    await throttle.clearAccount(EMAIL, HOME);
    expect(ticket(await throttle.attempt(EMAIL, elsewhere())).knownIp).toBe(false); // a reset marks no IP known
    expect((await throttle.attempt(EMAIL, HOME)).allowed).toBe(true);
  });

  it('a password reset ends a run of failures past the cap', async () => {
    await failInARow(EMAIL, CAP);
    expect((await throttle.attempt(EMAIL, elsewhere())).allowed).toBe(false);
    await throttle.clearAccount(EMAIL);
    expect((await throttle.attempt(EMAIL, elsewhere())).allowed).toBe(true);
    // Someone else's account is not touched.
    await failInARow('bob@example.com', CAP);
    await throttle.clearAccount(EMAIL);
    expect((await throttle.attempt('bob@example.com', elsewhere())).allowed).toBe(false);
  });

  describe('the cap on consecutive failures', () => {
    it('past the cap hears only known IPs, for at most a day, and a success ends the run', async () => {
      await signIn(EMAIL, HOME);
      await failInARow(EMAIL, CAP);
      const refused = await throttle.attempt(EMAIL, elsewhere());
      expect(refused).toMatchObject({ allowed: false });
      expect(refused.allowed ? 0 : refused.retryAfterMs).toBeLessThanOrEqual(DAY);
      // The owner from home is heard — only the pair limit holds there — and ends the run.
      await signIn(EMAIL, HOME);
      expect((await throttle.attempt(EMAIL, elsewhere())).allowed).toBe(true);
    });

    it('is not a lockout for ever: the run is forgotten a day after it began', async () => {
      await failInARow(EMAIL, CAP);
      expect((await throttle.attempt(EMAIL, elsewhere())).allowed).toBe(false);
      clock.advance(DAY);
      expect((await throttle.attempt(EMAIL, elsewhere())).allowed).toBe(true);
    });

    it('counts only attempts that reached the password check', async () => {
      await stuff(EMAIL); // 3 in the run
      for (let i = 0; i < 30; i++) expect((await throttle.attempt(EMAIL, elsewhere())).allowed).toBe(false); // account limit: not in the run
      clock.advance(5 * MINUTE);
      await failInARow(EMAIL, CAP - ACCOUNT_LIMIT); // the cap, not past it
      expect((await throttle.attempt(EMAIL, elsewhere())).allowed).toBe(false);
    });
  });
});
