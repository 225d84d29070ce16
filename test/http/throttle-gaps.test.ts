/**
 * Gaps in login throttling (THREATS.md, items 6 and 7): cheap IPv6 identities, one noisy NAT
 * address locking out its neighbours, and an unbounded run of failures on one account. Client
 * IPs are set through X-Forwarded-For with TRUST_PROXY=loopback.
 */
import { expect, it } from 'vitest';
import { describeOnBackends } from '../support/backends.js';
import { Client, signedUp, STRONG_PASSWORD, uniqueEmail, type Reply } from '../support/server.js';

const WRONG = 'not-the-password-123';
const IP_BUDGET = 6;
const DAY_SECONDS = 86_400;

const login = (url: string, email: string, password: string, ip: string) =>
  new Client(url).post('/api/auth/login', { email, password }, { 'x-forwarded-for': ip });

function expectThrottled(res: Reply, maxRetryAfterSeconds: number) {
  expect(res.status).toBe(429);
  expect(res.body).toMatchObject({ code: 'rate_limited' });
  expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
  expect(Number(res.headers.get('retry-after'))).toBeLessThanOrEqual(maxRetryAfterSeconds);
}

describeOnBackends(
  'login throttling gaps',
  ({ server }) => {
    const url = () => server().url;

    it('counts every address of one IPv6 /64 as one client, and the next /64 as another', async () => {
      // Spraying from two addresses of one /64 spends one per-IP budget.
      for (let i = 0; i < IP_BUDGET; i++) {
        const ip = i % 2 ? '2001:db8:1:2::1' : '2001:db8:1:2::ffff';
        expect((await login(url(), uniqueEmail('spray'), WRONG, ip)).status).toBe(401);
      }
      expectThrottled(await login(url(), uniqueEmail('spray'), WRONG, '2001:db8:1:2:aaaa:bbbb:cccc:dddd'), DAY_SECONDS);
      expectThrottled(await login(url(), uniqueEmail('spray'), WRONG, '2001:0DB8:0001:0002::1'), DAY_SECONDS);
      // The neighbouring /64 is another host.
      expect((await login(url(), uniqueEmail('spray'), WRONG, '2001:db8:1:3::1')).status).toBe(401);
    });

    it('counts an (account, IPv6 /64) pair once, whichever address of the /64 guesses', async () => {
      const { email } = await signedUp(url());
      for (let i = 0; i < 5; i++) expect((await login(url(), email, WRONG, `2001:db8:a:1::${i + 1}`)).status).toBe(401);
      expectThrottled(await login(url(), email, STRONG_PASSWORD, '2001:db8:a:1::99'), 15 * 60);
      expect((await login(url(), email, STRONG_PASSWORD, '2001:db8:a:2::1')).status).toBe(200);
    });

    it('counts an IPv4-mapped IPv6 address as its IPv4', async () => {
      for (let i = 0; i < IP_BUDGET; i++) {
        const ip = i % 2 ? '192.0.2.77' : '::ffff:192.0.2.77';
        expect((await login(url(), uniqueEmail('spray'), WRONG, ip)).status).toBe(401);
      }
      expectThrottled(await login(url(), uniqueEmail('spray'), WRONG, '192.0.2.77'), DAY_SECONDS);
    });

    it('a noisy NAT address past its daily budget still lets in an owner who signed in from it before', async () => {
      const nat = '203.0.113.50';
      const { email } = await signedUp(url());
      const { email: neighbour } = await signedUp(url());
      expect((await login(url(), email, STRONG_PASSWORD, nat)).status).toBe(200); // nat becomes known for email
      // Someone behind the same address sprays until its daily budget is spent.
      for (let i = 0; i < IP_BUDGET; i++) expect((await login(url(), uniqueEmail('spray'), WRONG, nat)).status).toBe(401);
      expectThrottled(await login(url(), uniqueEmail('spray'), WRONG, nat), DAY_SECONDS);

      // The owner, from an address they used before, with the right password: in (and again).
      expect((await login(url(), email, STRONG_PASSWORD, nat)).status).toBe(200);
      expect((await login(url(), email, STRONG_PASSWORD, nat)).status).toBe(200);
      // An account never signed in from there stays behind the per-IP limit, right password or not.
      expectThrottled(await login(url(), neighbour, STRONG_PASSWORD, nat), DAY_SECONDS);
      expectThrottled(await login(url(), neighbour, WRONG, nat), DAY_SECONDS);
      // Guesses on the owner's account from the NAT are still counted: the pair limit holds for everyone.
      for (let i = 0; i < 5; i++) expect((await login(url(), email, WRONG, nat)).status).toBe(401);
      expectThrottled(await login(url(), email, STRONG_PASSWORD, nat), 15 * 60);
    });

    it('after 100 failures in a row on an account, only IPs its owner signed in from are heard, until a success', async () => {
      const { email } = await signedUp(url());
      const home = '198.18.0.1';
      expect((await login(url(), email, STRONG_PASSWORD, home)).status).toBe(200);
      // 100 wrong guesses from 20 addresses, 5 each (the pair limit), a few addresses at a time.
      const guessFrom = async (ip: string) => {
        for (let i = 0; i < 5; i++) expect((await login(url(), email, WRONG, ip)).status).toBe(401);
      };
      for (let batch = 0; batch < 5; batch++) {
        await Promise.all(Array.from({ length: 4 }, (_, i) => guessFrom(`198.18.1.${batch * 4 + i + 1}`)));
      }
      // The 101st attempt from an address the owner never used is refused, right password too.
      expectThrottled(await login(url(), email, STRONG_PASSWORD, '198.18.2.1'), DAY_SECONDS);
      expectThrottled(await login(url(), email, WRONG, '198.18.2.2'), DAY_SECONDS);
      // The owner from home is not locked out, and a success ends the run of failures.
      expect((await login(url(), email, STRONG_PASSWORD, home)).status).toBe(200);
      expect((await login(url(), email, STRONG_PASSWORD, '198.18.2.1')).status).toBe(200);
    });
  },
  {
    latch: () => ({
      trustProxy: 'loopback',
      loginIpMaxFailures: IP_BUDGET,
      // Lifted so that the per-account window does not hide the cap on consecutive failures.
      loginAccountMaxFailures: 1000,
    }),
  },
);
