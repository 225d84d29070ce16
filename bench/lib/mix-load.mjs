// A mixed load of signed-in users on Latch: GET /api/auth/me, GET /api/auth/sessions, logins
// paired with logouts, failed logins. Every bench user is one browser: it keeps its device cookie
// and at least one live session cookie; a session cookie answered 401 is dropped, and a user left
// without one signs in again ("relogin", not paced: a client whose session ended). Logins add a
// session, logouts end the oldest session a login added, so sessions per user stay bounded.
//
// Two ways to run it: closed loop (`runClosed`: n workers, each sending the next request when the
// last one answered: the maximum rate) and open loop (`start(rate)`: requests sent on a schedule
// whatever the answers, so a slow server shows as latency, not as a lower rate).
import http from 'node:http';
import { performance } from 'node:perf_hooks';
import { BenchError } from './common.mjs';

export const ROUTES = ['me', 'sessions', 'login', 'logout', 'failed'];
export const DEFAULT_MIX = { me: 93.5, sessions: 4, login: 1, logout: 1, failed: 0.5 };
const TIMEOUT_MS = 10_000;

/** "me=90,sessions=5,..." (percentages or any weights; missing routes keep their default). */
export function parseMix(raw) {
  const mix = { ...DEFAULT_MIX };
  for (const part of (raw ?? '').split(',').map((p) => p.trim()).filter(Boolean)) {
    const [name, value] = part.split('=');
    if (!ROUTES.includes(name) || !(Number(value) >= 0)) throw new BenchError(`SOAK_MIX: "${part}"; routes are ${ROUTES.join(', ')}`);
    mix[name] = Number(value);
  }
  return mix;
}

/** The `name=value` of the session and device cookies a response sets. */
export function cookiesOf(res) {
  const found = {};
  for (const line of res.headers['set-cookie'] ?? []) {
    const m = /^((?:__Host-)?(sid|did))=([^;]*)/.exec(line);
    if (m && m[3]) found[m[2]] = `${m[1]}=${m[3]}`;
  }
  return found;
}

// Sockets enough for every request in flight: many clients, none waiting behind another's slow answer.
const agent = new http.Agent({ keepAlive: true, maxSockets: 2_000, maxFreeSockets: 256 });

/**
 * One request; resolves with `{ status, res }`, the body drained. Without an answer, `status` is
 * the error's code (ECONNREFUSED, timeout, ...). A keep-alive socket the server closed just as it
 * was reused (ECONNRESET on a reused socket) is retried once on a new connection, as browsers do
 * (not on another pooled socket: it may be just as old). A retry that fails too is counted under
 * its code with "+retry" (e.g. ECONNRESET+retry), so the table tells the two apart.
 */
export function send(baseUrl, method, path, { cookie, body, origin } = {}, retried = false) {
  return new Promise((resolve) => {
    const headers = {};
    if (cookie) headers.cookie = cookie;
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (origin && method !== 'GET') headers.origin = origin;
    const failed = (err) => `${err.code ?? 'error'}${retried ? '+retry' : ''}`;
    const req = http.request(`${baseUrl}${path}`, { method, headers, agent: retried ? false : agent, timeout: TIMEOUT_MS }, (res) => {
      res.on('end', () => resolve({ status: res.statusCode, res }));
      res.on('error', (err) => resolve({ status: failed(err) }));
      res.resume();
    });
    req.on('timeout', () => req.destroy(Object.assign(new Error('timeout'), { code: 'timeout' })));
    req.on('error', (err) => {
      if (req.reusedSocket && err.code === 'ECONNRESET' && !retried) resolve(send(baseUrl, method, path, { cookie, body, origin }, true));
      else resolve({ status: failed(err) });
    });
    req.end(body === undefined ? undefined : JSON.stringify(body));
  });
}

/**
 * users: [{ email, password, sid, did }] (a registered session and device cookie each).
 * `listen(fn)` calls fn({ route, status, sentAt, doneAt }) (performance.now() ms) per answer.
 */
export function createMix({ baseUrl, origin, users, mix }) {
  const routes = ROUTES.filter((r) => mix[r] > 0);
  const total = routes.reduce((s, r) => s + mix[r], 0);
  if (total <= 0) throw new BenchError('SOAK_MIX: every weight is 0');
  const credit = Object.fromEntries(routes.map((r) => [r, 0]));
  /** Smooth weighted round robin: exact proportions, evenly interleaved. */
  const nextRoute = () => {
    let best;
    for (const r of routes) {
      credit[r] += mix[r];
      if (best === undefined || credit[r] > credit[best]) best = r;
    }
    credit[best] -= total;
    return best;
  };

  const live = []; // { user, cookie, index }
  const extras = []; // sessions added by paced logins, oldest first
  const relogins = [];
  let reloginsRunning = 0;
  let nextUser = 0;
  const listeners = new Set();
  let window = emptyWindow();
  let inFlight = 0;
  let missedTotal = 0;

  for (const user of users) {
    user.sessions = 0;
    addLive(user, user.sid);
  }

  function addLive(user, cookie) {
    const entry = { user, cookie, index: live.length };
    live.push(entry);
    user.sessions++;
    return entry;
  }
  function drop(entry) {
    if (entry.index < 0) return;
    const last = live.pop();
    if (last !== entry) {
      live[entry.index] = last;
      last.index = entry.index;
    }
    entry.index = -1;
    const e = extras.indexOf(entry);
    if (e >= 0) extras.splice(e, 1);
    if (--entry.user.sessions === 0) {
      relogins.push(entry.user);
      pumpRelogins();
    }
  }
  function pumpRelogins() {
    while (reloginsRunning < 2 && relogins.length > 0) {
      const user = relogins.shift();
      reloginsRunning++;
      login(user, 'relogin')
        .then((entry) => {
          if (!entry) relogins.push(user); // tried again after the others (the server may be down)
        })
        .finally(() => {
          reloginsRunning--;
          setTimeout(pumpRelogins, relogins.includes(user) ? 200 : 0);
        });
    }
  }

  async function timed(route, method, path, options) {
    const sentAt = performance.now();
    inFlight++;
    const answer = await send(baseUrl, method, path, { ...options, origin });
    inFlight--;
    const doneAt = performance.now();
    record(route, answer.status, doneAt - sentAt);
    for (const fn of listeners) fn({ route, status: answer.status, sentAt, doneAt });
    return answer;
  }
  function record(route, status, ms) {
    const w = (window.routes[route] ??= { n: 0, statuses: {} });
    w.n++;
    w.statuses[status] = (w.statuses[status] ?? 0) + 1;
    if (status === 200 && (route === 'me' || route === 'sessions')) window[`${route}Ms`].push(ms);
  }

  async function login(user, route) {
    const { status, res } = await timed(route, 'POST', '/api/auth/login', {
      cookie: user.did,
      body: { email: user.email, password: user.password },
    });
    if (status !== 200) return undefined;
    const set = cookiesOf(res);
    if (set.did) user.did = set.did;
    return set.sid ? addLive(user, set.sid) : undefined;
  }

  async function run(route) {
    switch (route) {
      case 'me':
      case 'sessions': {
        if (live.length === 0) {
          window.skipped++;
          return;
        }
        const entry = live[Math.floor(Math.random() * live.length)];
        const { status } = await timed(route, 'GET', route === 'me' ? '/api/auth/me' : '/api/auth/sessions', { cookie: entry.cookie });
        if (status === 401) drop(entry);
        return;
      }
      case 'login': {
        const entry = await login(users[nextUser++ % users.length], 'login');
        if (entry) extras.push(entry);
        return;
      }
      case 'logout': {
        const entry = extras[0];
        if (!entry) return run('me'); // nothing a login added is left to end
        drop(entry);
        await timed('logout', 'POST', '/api/auth/logout', { cookie: entry.cookie });
        return;
      }
      case 'failed': {
        const i = nextUser++;
        const email = i % 2 === 0 ? users[i % users.length].email : `nobody-${i % 20}@example.com`;
        await timed('failed', 'POST', '/api/auth/login', { body: { email, password: 'not-the-right-password-at-all' } });
        return;
      }
    }
  }

  let timer;
  return {
    /** Open loop at `rate` requests/s until stop(); requests past 2,000 in flight are counted as missed. */
    start(rate) {
      clearInterval(timer);
      const t0 = performance.now();
      let issued = 0;
      timer = setInterval(() => {
        const due = Math.floor(((performance.now() - t0) * rate) / 1000);
        for (; issued < due; issued++) {
          if (inFlight >= 2_000) {
            window.missed++;
            missedTotal++;
          }
          else run(nextRoute());
        }
      }, 5);
    },
    stop() {
      clearInterval(timer);
    },
    /** Closed loop: `connections` workers for `ms`; resolves when all have stopped. */
    async runClosed(connections, ms) {
      const end = performance.now() + ms;
      const worker = async () => {
        while (performance.now() < end) await run(nextRoute());
      };
      await Promise.all(Array.from({ length: connections }, worker));
    },
    /** What was answered since the last call: per route count and statuses, 200 latencies of /me and /sessions. */
    takeWindow() {
      const w = window;
      window = emptyWindow();
      w.ms = performance.now() - w.since;
      return w;
    },
    listen(fn) {
      listeners.add(fn);
      return () => listeners.delete(fn);
    },
    get sessions() {
      return live.length;
    },
    /** Requests sent and not answered yet. */
    get inFlight() {
      return inFlight;
    },
    /** Requests the open loop did not send (too many in flight), since the start. */
    get missed() {
      return missedTotal;
    },
  };
}

function emptyWindow() {
  return { since: performance.now(), routes: {}, meMs: [], sessionsMs: [], skipped: 0, missed: 0 };
}

/** Registers `n` users (two at a time: hashing is CPU-bound), with their cookies. */
export async function registerMixUsers(baseUrl, origin, n, emailOf, password) {
  const users = [];
  let next = 0;
  const worker = async () => {
    while (next < n) {
      const i = next++;
      const email = emailOf(i);
      const { status, res } = await send(baseUrl, 'POST', '/api/auth/register', { origin, body: { email, password, name: `Soak User ${i}` } });
      const set = status === 201 ? cookiesOf(res) : {};
      if (!set.sid) throw new BenchError(`register ${email}: HTTP ${status}${status === 201 ? ', no session cookie' : ''}`);
      users[i] = { email, password, sid: set.sid, did: set.did };
    }
  };
  await Promise.all([worker(), worker()]);
  return users;
}

export const percentile = (sorted, p) => (sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]);
export const median = (values) => percentile([...values].sort((a, b) => a - b), 50);

/** Least-squares slope of y over x. */
export function slope(points) {
  const n = points.length;
  if (n < 2) return NaN;
  const mx = points.reduce((s, p) => s + p.x, 0) / n;
  const my = points.reduce((s, p) => s + p.y, 0) / n;
  const sxx = points.reduce((s, p) => s + (p.x - mx) ** 2, 0);
  return sxx === 0 ? NaN : points.reduce((s, p) => s + (p.x - mx) * (p.y - my), 0) / sxx;
}
