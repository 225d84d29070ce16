/**
 * The one catalogue of outcomes a client can see. The domain speaks only in these codes;
 * `http/errors.ts` is the single place that turns them into status codes.
 */
export const errorCodes = [
  'invalid_input',
  'weak_password',
  'already_authenticated',
  'invalid_credentials',
  'unauthorized',
  'email_taken',
  'not_found',
  'csrf',
  'invalid_token',
  'email_unverified',
  'reauth_required',
  'unsupported_media_type',
  'payload_too_large',
  'rate_limited',
  'mfa_required',
  'second_factor_required',
  'invalid_code',
  'already_enabled',
  'no_pending_setup',
  'mfa_not_enabled',
  'invalid_passkey',
  'account_disabled',
  'forbidden',
  'self_target',
  'last_admin',
  'unavailable',
  'internal',
] as const;

export type ErrorCode = (typeof errorCodes)[number];

export interface Issue {
  path: string;
  message: string;
}

/** An expected refusal: the request was understood and the answer is "no". */
export class LatchError extends Error {
  override readonly name = 'LatchError';
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly issues?: Issue[],
  ) {
    super(message);
  }
}

/** Too many attempts: try again after `retryAfterMs` (sent as `Retry-After`, in seconds). */
export class RateLimitedError extends LatchError {
  constructor(readonly retryAfterMs: number) {
    super('rate_limited', 'Too many attempts; try again later');
  }
}

/** What can be unavailable; also the `dependency` label of the dependency-error metric. */
export type Dependency = 'database' | 'session store' | 'rate limiter' | 'password hashing';

/**
 * A dependency (database, session store) did not answer in time or is unreachable. Adapters
 * translate their driver's connection errors into this, so callers never see driver types.
 */
export class UnavailableError extends Error {
  override readonly name = 'UnavailableError';
  constructor(
    readonly dependency: Dependency,
    options?: { cause?: unknown },
  ) {
    super(`${dependency} is unavailable`, options);
  }
}

/**
 * A refused request changes nothing (THREATS.md, item 3): runs `work`, and when a dependency
 * refuses it (a 503) gives back first what was counted for it (`giveBack`), as far as the
 * counters still answer; failing to give it back does not hide the outage. Used where an
 * attempt is counted before its secret is judged: nobody evaluated the refused one.
 */
export async function uncountedIfUnavailable<T>(work: () => Promise<T>, giveBack: () => Promise<unknown>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof UnavailableError) await giveBack().catch(() => undefined);
    throw error;
  }
}

/** An administrator disabled the account: said only once its password (or passkey) is proven. */
export function accountDisabled(): LatchError {
  return new LatchError('account_disabled', 'This account is disabled; contact the administrators');
}
