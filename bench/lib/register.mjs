// Registering the bench users (with retry on registration limits) and checking their cookies.
import { BenchError, PASSWORD, runId, sleep } from './common.mjs';

export const benchEmail = (tag, i) => `bench-${runId}-${tag}${i}@example.com`;

/** Registration answers 429 (per-IP registration limits), over every registerUsers call. */
export const registerThrottling = { refused: 0, waitedMs: 0 };
const REGISTER_THROTTLE_BUDGET_MS = 180_000;

export async function registerUsers(baseUrl, n, tag) {
  const cookies = [];
  /** devices[i]: user i's device cookie ("did=..."), when the server set one. */
  const devices = [];
  cookies.devices = devices;
  const register = async (i) => {
    let res;
    let body;
    for (;;) {
      res = await fetch(`${baseUrl}/api/auth/register`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ email: benchEmail(tag, i), password: PASSWORD, name: `Bench User ${i}` }),
        signal: AbortSignal.timeout(15_000),
      });
      body = await res.text();
      if (res.status !== 429) break;
      // A per-IP registration limit: wait as told (or a second), within an overall budget.
      registerThrottling.refused++;
      const retryAfter = Number(res.headers.get('retry-after'));
      const waitMs = Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter * 1000 : 1_000;
      if (registerThrottling.waitedMs + waitMs > REGISTER_THROTTLE_BUDGET_MS) {
        throw new BenchError(
          `register user ${i}: HTTP 429 (registration limit; Retry-After ${res.headers.get('retry-after') ?? 'absent'}) after ` +
            `${registerThrottling.refused} refusals and ${(registerThrottling.waitedMs / 1000).toFixed(0)}s of waiting ` +
            `(budget ${REGISTER_THROTTLE_BUDGET_MS / 1000}s): ${body.slice(0, 300)}`,
        );
      }
      registerThrottling.waitedMs += waitMs;
      await sleep(waitMs);
    }
    if (res.status !== 201) throw new BenchError(`register user ${i}: HTTP ${res.status} ${body.slice(0, 300)}`);
    const sid = res.headers
      .getSetCookie()
      .map((line) => /^sid=([^;]+)/.exec(line)?.[1])
      .find(Boolean);
    if (!sid) throw new BenchError(`register user ${i}: no sid cookie in ${JSON.stringify(res.headers.getSetCookie())}`);
    // The browser's device cookie, for logins that come back from the same browser.
    const did = res.headers.getSetCookie().map((line) => /^((?:__Host-)?did=[^;]+)/.exec(line)?.[1]).find(Boolean);
    if (did) devices[i] = did;
    return `sid=${sid}`;
  };
  // Argon2 hashing is CPU-bound: a small pool keeps both cores busy without piling up.
  let next = 0;
  const worker = async () => {
    while (next < n) {
      const i = next++;
      cookies[i] = await register(i);
    }
  };
  await Promise.all(Array.from({ length: 2 }, worker));
  return cookies;
}

export async function checkCookies(baseUrl, cookies) {
  for (const cookie of cookies) {
    const res = await fetch(`${baseUrl}/api/auth/me`, { headers: { cookie }, signal: AbortSignal.timeout(5_000) });
    const body = await res.text();
    if (res.status !== 200) throw new BenchError(`GET /api/auth/me with a fresh cookie: HTTP ${res.status} ${body.slice(0, 300)}`);
  }
}
