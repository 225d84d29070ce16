/**
 * Login throttling (DESIGN.md, "Abuse"). Every attempt is counted *before* the password is
 * checked, atomically in the shared store: 20 parallel guesses evaluate at most the limit and
 * the rest are refused unheard, on any number of instances.
 *
 * - per (account, IP): LOGIN_MAX_FAILURES per window, then refused — the right password too —
 *   until the window ends; a success forgives the pair.
 * - per IP, across accounts (password spraying): a larger daily budget; successes are given back.
 *   An IP the account's owner has signed in from before is counted but never refused by it, so
 *   one noisy address behind a shared NAT cannot lock its neighbours out of their own accounts
 *   (THREATS.md, item 7); guesses there are still held by the pair limit.
 * - per account, across IPs (credential stuffing): a budget per short window, so an attacker
 *   with many IPs slows down — but an IP the owner has signed in from before is exempt, and
 *   anyone else waits at most that short window (unless the account is past the cap below).
 * - per account, consecutive failures (NIST SP 800-63B-4 §3.2.2: at most 100 in a row): see
 *   LOGIN_MAX_CONSECUTIVE_FAILURES.
 *
 * The owner is never locked out: from an IP they signed in from before only the pair limit
 * applies, and a password reset clears the account's counters (clearAccount).
 *
 * IPs are keyed by ipKey (IPv6 by /64), accounts by accountKey: unknown accounts are counted
 * exactly like known ones (the key is the normalized email, which exists either way), and keys
 * hold a digest of the email, never the address.
 */
import { accountKey } from './account-key.js';
import { ipKey } from './client-key.js';
import { uncountedIfUnavailable } from './errors.js';
import type { RateLimiter, ThrottleVerdict } from './ports.js';

/** How long an IP stays "known" for an account after its latest successful login. */
export const KNOWN_IP_MEMORY_MS = 30 * 86_400_000;

/**
 * The cap on consecutive failed logins per account (NIST SP 800-63B-4 §3.2.2: at most 100).
 * Every attempt that reaches the password check counts (one refused by the limits above does not); a success or a
 * password reset ends the run. Past the cap, only IPs the owner has signed in from before are
 * heard (the allowlist technique of the same section), each still under the pair limit; anyone
 * else is refused, the right password too, until the run's window ends: a day from its first
 * counted attempt (fixed windows, as every limiter here), then the count starts over.
 *
 * Why not refuse for one short account window only, like the per-account budget: after it the
 * next 100 guesses would come, and the cap would bound nothing the account budget does not.
 * Why not for ever, as a strict reading of "consecutive" asks: an attacker could then shut an
 * account to every new IP for good at the cost of 100 guesses. A day bounds guessing from new
 * IPs to 100 per window of a day (the default account budget alone, 30 per 5 minutes, allows
 * 8640), and bounds the owner's wait: from an IP they used before they are never refused by
 * it, and a reset ends the run at once.
 * Not bounded by the cap: guesses from an IP the owner used (a shared NAT), 5 per 15 minutes
 * by the pair limit, the price of never locking the owner out there.
 */
export const LOGIN_MAX_CONSECUTIVE_FAILURES = 100;
/** How long a run of failures is remembered (from its first failure) without a success. */
export const CONSECUTIVE_FAILURE_MEMORY_MS = 86_400_000;

export interface LoginLimiters {
  pair: RateLimiter;
  ip: RateLimiter;
  account: RateLimiter;
  /** Marks (account, IP) pairs that have signed in successfully. */
  knownIp: RateLimiter;
  /**
   * Consecutive failures per account: LOGIN_MAX_CONSECUTIVE_FAILURES points over
   * CONSECUTIVE_FAILURE_MEMORY_MS.
   */
  consecutive: RateLimiter;
}

/** An attempt the throttle let through; hand it back to `succeeded` if the password was right. */
export interface LoginTicket {
  allowed: true;
  /** accountKey of the email. */
  account: string;
  /** ipKey of the client IP. */
  ip: string;
  /** The owner signed in from this IP before: the per-IP, per-account and consecutive limits never refuse it. */
  knownIp: boolean;
}

export type LoginGate = LoginTicket | Extract<ThrottleVerdict, { allowed: false }>;

export class LoginThrottle {
  constructor(private readonly limiters: LoginLimiters) {}

  async attempt(email: string, clientIp: string): Promise<LoginGate> {
    const { pair, ip, account, knownIp, consecutive } = this.limiters;
    const accountId = accountKey(email);
    const client = ipKey(clientIp);
    const pairKey = `${accountId}|${client}`;

    // What this attempt has counted so far, given back if the limiter fails half-way (503).
    const counted: Array<() => Promise<void>> = [];
    return uncountedIfUnavailable(
      async () => {
        const byPair = await pair.consume(pairKey);
        if (!byPair.allowed) return byPair;
        counted.push(() => pair.reward(pairKey));
        const known = (await knownIp.peek(pairKey)) > 0;
        // Counted for everyone (a known pair's guesses still spend the IP's budget for the others),
        // refused only from unknown pairs.
        const byIp = await ip.consume(client);
        if (!byIp.allowed && !known) return byIp;
        counted.push(() => ip.reward(client));
        if (!known) {
          const byAccount = await account.consume(accountId);
          if (!byAccount.allowed) return byAccount;
          counted.push(() => account.reward(accountId));
        }
        // Last, so that only attempts that reach the password check count as failures to come.
        const inARow = await consecutive.consume(accountId);
        if (!inARow.allowed && !known) return inARow;
        return { allowed: true, account: accountId, ip: client, knownIp: known } as const;
      },
      () => Promise.allSettled(counted.map((giveBack) => giveBack())),
    );
  }

  /** The password was right: the attempt is given back everywhere it was counted. */
  async succeeded(ticket: LoginTicket): Promise<void> {
    const { pair, ip, account, knownIp, consecutive } = this.limiters;
    const pairKey = `${ticket.account}|${ticket.ip}`;
    await Promise.all([
      pair.reset(pairKey),
      ip.reward(ticket.ip),
      consecutive.reset(ticket.account),
      // From a new IP the attempt counted against the account: give it back.
      ticket.knownIp ? undefined : account.reward(ticket.account),
      // (Re)mark the IP as known: its memory runs from the latest success, not the first. An
      // attempt in that instant meets the limits for a new IP; the next one does not.
      knownIp.reset(pairKey).then(() => knownIp.consume(pairKey)),
    ]);
  }

  /**
   * The password was never judged: a dependency (hashing, the database) refused first and the
   * client got a 503. A refused request changes nothing (THREATS.md, item 3), so the attempt is
   * given back everywhere it was counted: an owner retrying through an outage or a storm is not
   * locked out by attempts nobody evaluated. Guesses are still bounded: each one that reaches a
   * verdict stays counted.
   */
  async unjudged(ticket: LoginTicket): Promise<void> {
    const { pair, ip, account, consecutive } = this.limiters;
    await Promise.all([
      pair.reward(`${ticket.account}|${ticket.ip}`),
      ip.reward(ticket.ip),
      ticket.knownIp ? undefined : account.reward(ticket.account),
      consecutive.reward(ticket.account),
    ]);
  }

  /**
   * A completed password reset: the owner proved control of the mailbox, so the account's
   * counters start over — the per-account budget, the run of consecutive failures and, for the
   * IP the reset came from, the pair. Other pairs are keyed by IPs we do not know here; they
   * end with their short window. No IP becomes known: the link may be opened anywhere.
   */
  async clearAccount(email: string, clientIp?: string): Promise<void> {
    const { account, consecutive, pair } = this.limiters;
    const key = accountKey(email);
    await Promise.all([
      account.reset(key),
      consecutive.reset(key),
      clientIp === undefined ? undefined : pair.reset(`${key}|${ipKey(clientIp)}`),
    ]);
  }
}
