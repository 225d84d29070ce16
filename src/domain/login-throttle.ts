/**
 * Login throttling (DESIGN.md, "Abuse"). Every attempt is counted *before* the password is
 * checked, atomically in the shared store: 20 parallel guesses evaluate at most the limit and
 * the rest are refused unheard, on any number of instances.
 *
 * - per (account, IP): LOGIN_MAX_FAILURES per window, then refused — the right password too —
 *   until the window ends; a success forgives the pair.
 * - per IP, across accounts (password spraying): a larger daily budget; successes are given back.
 * - per account, across IPs (credential stuffing): a budget per short window, so an attacker
 *   with many IPs slows down — but an IP the owner has signed in from before is exempt, and
 *   anyone else waits at most that short window. The owner is never locked out for longer,
 *   and can always reset the password.
 *
 * Unknown accounts are counted exactly like known ones (the key is the normalized email, which
 * exists either way), and keys hold a digest of the email, never the address.
 */
import { createHash } from 'node:crypto';
import type { RateLimiter, ThrottleVerdict } from './ports.js';

export interface LoginLimiters {
  pair: RateLimiter;
  ip: RateLimiter;
  account: RateLimiter;
  /** Marks (account, IP) pairs that have signed in successfully. */
  knownIp: RateLimiter;
}

const ALLOWED: ThrottleVerdict = { allowed: true };

export class LoginThrottle {
  constructor(private readonly limiters: LoginLimiters) {}

  async attempt(email: string, ip: string): Promise<ThrottleVerdict> {
    const account = accountKey(email);
    const pair = `${account}|${ip}`;
    const byPair = await this.limiters.pair.consume(pair);
    if (!byPair.allowed) return byPair;
    const byIp = await this.limiters.ip.consume(ip);
    if (!byIp.allowed) return byIp;
    if ((await this.limiters.knownIp.peek(pair)) > 0) return ALLOWED;
    return this.limiters.account.consume(account);
  }

  /** The password was right: the attempt is given back everywhere it was counted. */
  async succeeded(email: string, ip: string): Promise<void> {
    const account = accountKey(email);
    const pair = `${account}|${ip}`;
    const known = (await this.limiters.knownIp.peek(pair)) > 0;
    await Promise.all([
      this.limiters.pair.reset(pair),
      this.limiters.ip.reward(ip),
      // From a new IP the attempt counted against the account: give it back, remember the IP.
      ...(known ? [] : [this.limiters.account.reward(account), this.limiters.knownIp.consume(pair)]),
    ]);
  }
}

function accountKey(email: string): string {
  return createHash('sha256').update(email).digest('base64url').slice(0, 22);
}
