/**
 * A login refused with 503 because hashing could not take it (the admission bound) changes
 * nothing (THREATS.md, item 3): the throttle's counters, kept in the real backend, get the
 * attempt back, so exactly LOGIN_MAX_FAILURES judged failures per (account, IP) come before the
 * 429 however many 503s came between — for a known and an unknown address alike (item 5) —
 * and the judged ones are never given back (item 6). HASH_CONCURRENCY=1 with HASH_MAX_WAIT=1ms
 * makes any queue a refusal.
 */
import { afterEach, expect, it, vi } from 'vitest';
import { HashWorkers } from '../../src/adapters/hash-workers.js';
import { SqlUserRepository } from '../../src/adapters/sql/user-repository.js';
import { allBackends, describeOnBackends } from '../support/backends.js';
import { Client, signedUp, uniqueEmail, type Reply } from '../support/server.js';

const WRONG = 'not-the-password-123';
const LOGIN_MAX_FAILURES = 5;
let ipCounter = 1;
const freshIp = () => `203.0.113.${ipCounter++ % 250}`;

/** The parts of an answer a client sees, minus the clock. */
function observable(res: Reply) {
  const headers = [...res.headers].filter(([name]) => name !== 'date');
  return { status: res.status, headers, text: res.text };
}

describeOnBackends(
  'logins refused by hashing',
  ({ server }) => {
    const url = () => server().url;
    const login = (email: string, ip: string) => new Client(url()).post('/api/auth/login', { email, password: WRONG }, { 'x-forwarded-for': ip });
    afterEach(() => {
      vi.restoreAllMocks();
    });

    it('while the only hashing slot is taken, logins are shed before any account is looked up: the same answer, byte for byte, for a known and an unknown address', async () => {
      const { email } = await signedUp(url());
      // Hashing has measured one check once one is judged (the slot may still be busy at first).
      let judged = await login(email, freshIp());
      for (let i = 0; i < 100 && judged.status === 503; i++) {
        await new Promise((resolve) => setTimeout(resolve, 20));
        judged = await login(email, freshIp());
      }
      expect(judged.status, judged.text).toBe(401);
      // The next check holds the only slot until released.
      let release!: () => void;
      const held = new Promise<void>((resolve) => (release = resolve));
      let reached!: () => void;
      const inHasher = new Promise<void>((resolve) => (reached = resolve));
      const verify = HashWorkers.prototype.verify;
      vi.spyOn(HashWorkers.prototype, 'verify').mockImplementation(async function (this: HashWorkers, ...args) {
        reached();
        await held;
        return verify.apply(this, args);
      });
      const first = login(email, freshIp());
      await inHasher;

      const lookups = vi.spyOn(SqlUserRepository.prototype, 'findByEmail');
      const known = await login(email, freshIp());
      const unknown = await login(uniqueEmail('nobody'), freshIp());
      release();
      expect((await first).status).toBe(401);

      expect(known.status, known.text).toBe(503);
      expect(known.body.code).toBe('unavailable');
      expect(observable(unknown)).toEqual(observable(known));
      expect(lookups).not.toHaveBeenCalled();
    });

    it.each([['a known address'], ['an unknown address']])('are not counted against %s: five judged failures, then 429', async (which) => {
      const email = which === 'a known address' ? (await signedUp(url())).email : uniqueEmail('nobody');
      const ip = freshIp();
      // A burst, no larger than the limit (all of it is counted at once, before any answer): one
      // is hashed at a time, the queue behind it is refused.
      const burst = await Promise.all(Array.from({ length: LOGIN_MAX_FAILURES }, () => login(email, ip)));
      const statuses = burst.map((r) => r.status);
      expect(statuses.filter((s) => s === 503).length, String(statuses)).toBeGreaterThan(0);
      expect(statuses.every((s) => s === 401 || s === 503), String(statuses)).toBe(true);
      let judged = statuses.filter((s) => s === 401).length;
      // Then one at a time until the throttle answers: only judged failures were counted.
      for (let i = 0; i < 100 && judged < LOGIN_MAX_FAILURES + 1; i++) {
        const res = await login(email, ip);
        if (res.status === 429) break;
        expect([401, 503]).toContain(res.status);
        if (res.status === 401) judged += 1;
        else await new Promise((resolve) => setTimeout(resolve, 50)); // the slot is busy or resting
      }
      expect(judged).toBe(LOGIN_MAX_FAILURES);
      expect((await login(email, ip)).status).toBe(429);
    });
  },
  { backends: allBackends, latch: () => ({ trustProxy: 'loopback', hashConcurrency: 1, hashMaxWait: 1 }) },
);
