// The Redis session store on its own, against a private redis-server (never the shared one):
//   memory  bytes of Redis memory per session, every key the store writes counted
//   scale   listByUser / deleteByUser (a 10- and a 1,000-session user) on a store holding ~1M sessions vs on an empty store
// Driven by bench/run.mjs, which starts and stops the private server. The store is the built
// one (dist/), used directly, the way Latch uses it.
import { randomBytes, randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { pinClientAndServers } from './lib/affinity.mjs';

const DAY_MS = 86_400_000;
/** High enough that the per-user cap never ends a session of the 1,000-session user. */
const KEEP_AT_MOST = 10_000;
const MEMORY_TARGET_BYTES = 320;
const BROWSER_UA =
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36 Edg/126.0.2592.87';
/** The same 120-character user agent for every session. */
export const USER_AGENT = BROWSER_UA.padEnd(120, ' ').slice(0, 120);

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const random = { bytes: (n) => randomBytes(n), uuid: () => randomUUID() };

async function loadStoreModules() {
  const [{ connectRedis }, { RedisSessionStore }, { newSessionCredentials }] = await Promise.all([
    import('../dist/adapters/redis/connection.js'),
    import('../dist/adapters/redis/session-store.js'),
    import('../dist/domain/session-token.js'),
  ]);
  return { connectRedis, RedisSessionStore, newSessionCredentials };
}

/**
 * A store over the private server at `url`, plus what the phases need around it. `admin` is a
 * plain node-redis client to the same private server (INFO, FLUSHALL, SCAN, MEMORY USAGE).
 */
async function openStore(url, admin, fail) {
  const { connectRedis, RedisSessionStore, newSessionCredentials } = await loadStoreModules();
  const conn = await connectRedis(url, { timeoutMs: 30_000, onError: () => {} });
  const store = new RedisSessionStore(conn, 'latch:');

  let userSeq = 0;
  const newUser = () => {
    const n = userSeq++;
    return {
      id: randomUUID(),
      email: `bench.user.${String(n).padStart(7, '0')}@example.com`,
      name: `Bench User ${n}`,
      emailVerified: false,
      createdAt: Date.now(),
    };
  };
  let ipSeq = 0;
  const insert = async (user) => {
    const now = Date.now();
    const creds = newSessionCredentials(random, user.id);
    const n = ipSeq++;
    const session = {
      id: creds.id,
      userId: user.id,
      secretHash: creds.secretHash,
      createdAt: now,
      lastSeenAt: now,
      expiresAt: now + DAY_MS,
      rememberMe: false,
      authenticatedAt: now,
      ip: `198.51.${(n >> 8) & 255}.${(n & 255) || 1}`,
      userAgent: USER_AGENT,
      epoch: 0,
      methods: ['password'],
      pending: false,
    };
    await store.insert(session, user, { keepAtMost: KEEP_AT_MOST });
    return session.id;
  };
  /** Runs `total` tasks with `concurrency` in flight; task(i) for i in [0, total). */
  const pool = async (total, concurrency, task) => {
    let next = 0;
    const worker = async () => {
      while (next < total) await task(next++);
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, total) }, worker));
  };
  const sessionsFor = async (user, n, concurrency = 100) => {
    const ids = [];
    await pool(n, concurrency, async () => ids.push(await insert(user)));
    return ids;
  };
  const usedMemory = async () => {
    const info = await admin.info('memory');
    const m = /^used_memory:(\d+)/m.exec(info);
    if (!m) fail(`INFO memory has no used_memory: ${info.slice(0, 200)}`);
    return Number(m[1]);
  };
  const flush = async () => {
    await admin.flushAll('SYNC');
  };
  return { store, conn, newUser, insert, pool, sessionsFor, usedMemory, flush };
}

/** "latch:{tag}:i:<id>", "latch:{tag}<session id>": the hash tag and long ids folded. */
function keyShape(key) {
  return key
    .replace(/\{[^}]*\}[A-Za-z0-9_-]{8,}$/, '{tag}<session id>')
    .replace(/\{[^}]*\}/g, '{tag}')
    .split(':')
    .map((part) => (part.length >= 8 && !part.includes('<') ? '<id>' : part))
    .join(':');
}

/** Every key on the (private) server, grouped by shape and type, with MEMORY USAGE summed. */
async function keyCensus(admin) {
  const groups = new Map();
  let total = 0;
  for await (const batch of admin.scanIterator({ COUNT: 1000 })) {
    const keys = Array.isArray(batch) ? batch : [batch];
    const details = await Promise.all(
      keys.map(async (key) => {
        const [type, bytes] = await Promise.all([
          admin.type(key),
          admin.sendCommand(['MEMORY', 'USAGE', key, 'SAMPLES', '0']),
        ]);
        return { key, type, bytes: Number(bytes ?? 0) };
      }),
    );
    for (const d of details) {
      const id = `${keyShape(d.key)}\t${d.type}`;
      const g = groups.get(id) ?? { shape: keyShape(d.key), type: d.type, count: 0, bytes: 0, sample: d.key };
      g.count += 1;
      g.bytes += d.bytes;
      groups.set(id, g);
      total += 1;
    }
  }
  return { total, groups: [...groups.values()].sort((a, b) => b.count - a.count || a.shape.localeCompare(b.shape)) };
}

// ---------------------------------------------------------------------------------------------

export async function memoryPhase({ url, admin, table, fail, sessions = 20_000, perUser = 10 }) {
  const s = await openStore(url, admin, fail);
  try {
    const users = Math.ceil(sessions / perUser);
    console.log(`Memory per session: ${sessions} sessions over ${users} users (${perUser} each) on a private redis-server`);
    console.log(`  user agent ${USER_AGENT.length} chars, IPv4, rememberMe false, expiry 1 day`);

    // Load the scripts and let the allocator settle before the baseline.
    await s.insert(s.newUser());
    await s.flush();
    await sleep(500);
    const before = await s.usedMemory();

    const t0 = performance.now();
    const userList = Array.from({ length: users }, () => s.newUser());
    let sampleId;
    await s.pool(sessions, 100, async (i) => {
      const id = await s.insert(userList[Math.floor(i / perUser)]);
      sampleId ??= id;
    });
    const loadMs = performance.now() - t0;
    await sleep(1_000);
    const after = await s.usedMemory();

    // Sanity: the store lists what was inserted.
    const listed = await s.store.listByUser(userList[0].id, Date.now());
    if (listed.length !== perUser) fail(`memory phase: listByUser returned ${listed.length} sessions, expected ${perUser}`);

    const census = await keyCensus(admin);
    const perSession = (after - before) / sessions;
    const sampleKeys = [];
    for await (const batch of admin.scanIterator({ MATCH: `*${sampleId}*`, COUNT: 1000 })) {
      sampleKeys.push(...(Array.isArray(batch) ? batch : [batch]));
    }
    const sampleUsage = sampleKeys.length
      ? await Promise.all(sampleKeys.map(async (k) => `${k} = ${await admin.sendCommand(['MEMORY', 'USAGE', k, 'SAMPLES', '0'])} bytes`))
      : ['n/a (no key is named after the session id)'];

    console.log(`  inserted in ${(loadMs / 1000).toFixed(1)}s; ${census.total} keys on the server`);
    console.log('');
    console.log(
      table(census.groups, [
        { title: 'key shape', get: (g) => g.shape },
        { title: 'type', get: (g) => g.type },
        { title: 'keys', get: (g) => g.count },
        { title: 'MEMORY USAGE total', get: (g) => g.bytes },
        { title: 'per key', get: (g) => (g.bytes / g.count).toFixed(0) },
        { title: 'per session', get: (g) => (g.bytes / sessions).toFixed(1) },
      ]),
    );
    console.log('');
    console.log(`  MEMORY USAGE of one session key: ${sampleUsage.join('; ')}`);
    console.log(`  used_memory before ${before}, after ${after} (+${after - before} bytes, 1s settle)`);
    console.log(
      `  bytes per session (all Latch keys, used_memory delta / ${sessions}) = ${perSession.toFixed(1)}   ` +
        `target <= ${MEMORY_TARGET_BYTES}   ${perSession <= MEMORY_TARGET_BYTES ? 'MET' : 'NOT MET'}`,
    );
    return { perSession };
  } finally {
    await s.conn.close();
  }
}

// ---------------------------------------------------------------------------------------------

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

/** Untimed pairs before each operation's timed ones: code paths compiled, scripts loaded. */
const WARMUP_PAIRS = 5;
/** Timed pairs of the 1,000-session operations, whose runs (and restores) take milliseconds. */
const heavyPairsOf = (pairs) => Math.max(11, Math.round(pairs / 5));

/** Redis logs every command with its own execution time (µs) from here on; the log is emptied. */
async function logEveryCommand(admin) {
  await admin.sendCommand(['CONFIG', 'SET', 'slowlog-log-slower-than', '0']);
  await admin.sendCommand(['CONFIG', 'SET', 'slowlog-max-len', '1000000']);
  await admin.sendCommand(['SLOWLOG', 'RESET']);
}

/** Redis' own time (µs) of each logged call of the script `sha`; the log is emptied. */
async function scriptTimes(admin, sha) {
  const entries = await admin.sendCommand(['SLOWLOG', 'GET', '-1']);
  await admin.sendCommand(['SLOWLOG', 'RESET']);
  return entries
    .filter(([, , , args]) => String(args[0]).toUpperCase() === 'EVALSHA' && String(args[1]) === sha)
    .map(([, , micros]) => Number(micros));
}

/**
 * Both stores answer the same operation one right after the other, in an order swapped from one
 * pair to the next, so that the machine's drift falls on both alike: on a shared virtual machine
 * a 0.3 ms call moves by half within seconds, and measured in turns of 11 runs instead, one run's
 * turns read from 0.55x to 2.34x. `restore` (untimed) puts a side back as it was before each pair.
 * Beside the client's time, Redis' own time for each timed call is read from its SLOWLOG: what
 * the store's size can change is in there, without the round trip and the client's event loop.
 */
async function pairedRuns(sides, { pairs, sha, op, restore, fail, label }) {
  for (const side of sides) side.times = [];
  for (let r = 0; r < WARMUP_PAIRS + pairs; r++) {
    if (r === WARMUP_PAIRS) for (const side of sides) await side.admin.sendCommand(['SLOWLOG', 'RESET']);
    if (restore && r > 0) for (const side of sides) await restore(side);
    for (const side of r % 2 === 0 ? sides : [...sides].reverse()) {
      const t0 = performance.now();
      await op(side);
      if (r >= WARMUP_PAIRS) side.times.push(performance.now() - t0);
    }
  }
  const result = {};
  for (const side of sides) {
    const redisMicros = await scriptTimes(side.admin, sha);
    if (redisMicros.length !== pairs) fail(`${label}: the ${side.name} store's SLOWLOG holds ${redisMicros.length} calls of the script, expected ${pairs}`);
    result[side.name] = { ms: median(side.times), min: Math.min(...side.times), max: Math.max(...side.times), redisMicros: median(redisMicros), times: side.times };
  }
  return { pairs, ...result, ratio: result.loaded.ms / result.empty.ms, redisRatio: result.loaded.redisMicros / result.empty.redisMicros };
}

/** The loaded/empty ratio of medians over each quarter of the pairs: how steady the figure is. */
function quarterRatios({ loaded, empty }) {
  const n = loaded.times.length;
  return [0, 1, 2, 3].map((q) => {
    const [from, to] = [Math.floor((q * n) / 4), Math.floor(((q + 1) * n) / 4)];
    return median(loaded.times.slice(from, to)) / median(empty.times.slice(from, to));
  });
}

/** listByUser and deleteByUser (10 and 1,000 sessions) on both stores, pair by pair. */
async function measureOps(sides, { pairs, heavySessions, shas, fail }) {
  for (const side of sides) {
    for (const [user, expected] of [[side.small, 10], [side.heavy, heavySessions]]) {
      const got = await side.s.store.listByUser(user.id, Date.now());
      if (got.length !== expected) fail(`${side.name} store: listByUser returned ${got.length} sessions, expected ${expected}`);
    }
  }
  const listing = (user, n) =>
    pairedRuns(sides, { pairs: n, sha: shas.list, fail, label: 'listByUser', op: (side) => side.s.store.listByUser(side[user].id, Date.now()) });
  const deleting = (user, count, n) =>
    pairedRuns(sides, {
      pairs: n,
      sha: shas.delete,
      fail,
      label: 'deleteByUser',
      restore: (side) => side.s.sessionsFor(side[user], count),
      op: async (side) => {
        const ended = await side.s.store.deleteByUser(side[user].id, { epoch: 0 });
        if (ended !== count) fail(`${side.name} store: deleteByUser ended ${ended} sessions, expected ${count}`);
      },
    });
  const heavyPairs = heavyPairsOf(pairs);
  return {
    list10: await listing('small', pairs),
    del10: await deleting('small', 10, pairs),
    list1k: await listing('heavy', heavyPairs),
    del1k: await deleting('heavy', heavySessions, heavyPairs),
  };
}

/** `url`/`admin`: the redis-server to load; `emptyUrl`/`emptyAdmin`: another one, kept empty. */
export async function scalePhase({ url, admin, emptyUrl, emptyAdmin, table, fail, sessions, perUser = 10, heavySessions = 1_000, pairs = 201, concurrency = 300 }) {
  const s = await openStore(url, admin, fail);
  const e = await openStore(emptyUrl, emptyAdmin, fail);
  try {
    const users = Math.ceil(sessions / perUser);
    console.log(
      `Scale: ${sessions} sessions over ${users} users (${perUser} each) + one user with ${heavySessions} sessions, ` +
        `private redis-server, against an empty one; ${concurrency} inserts in flight; ` +
        `both stores timed pair by pair, in alternating order: ${pairs} pairs (${heavyPairsOf(pairs)} for the ` +
        `${heavySessions}-session user), each operation after ${WARMUP_PAIRS} untimed`,
    );
    await s.flush();
    await s.insert(s.newUser()); // loads the scripts
    await s.flush();
    const before = await s.usedMemory();

    const userList = Array.from({ length: users }, () => s.newUser());
    const t0 = performance.now();
    let lastReport = t0;
    let done = 0;
    await s.pool(sessions, concurrency, async (i) => {
      await s.insert(userList[Math.floor(i / perUser)]);
      done++;
      if (process.stdout.isTTY && performance.now() - lastReport > 2_000) {
        lastReport = performance.now();
        process.stdout.write(`\r  loading... ${done}/${sessions}`);
      }
    });
    const loadMs = performance.now() - t0;
    if (process.stdout.isTTY) process.stdout.write('\r');
    const heavy = s.newUser();
    await s.sessionsFor(heavy, heavySessions);
    const dbsize = await admin.dbSize();
    const loadedMemory = await s.usedMemory();
    console.log(
      `  loaded ${sessions} sessions in ${(loadMs / 1000).toFixed(1)}s (${Math.round(sessions / (loadMs / 1000))} inserts/s); ` +
        `${dbsize} keys, used_memory ${(loadedMemory / 2 ** 20).toFixed(0)} MiB ` +
        `(${((loadedMemory - before) / (sessions + heavySessions)).toFixed(0)} bytes/session)`,
    );

    const sides = [
      { name: 'loaded', s, admin, small: userList[Math.floor(users / 2)], heavy },
      { name: 'empty', s: e, admin: emptyAdmin, small: e.newUser(), heavy: e.newUser() },
    ];
    await e.insert(e.newUser()); // loads the scripts
    await e.flush();
    await e.sessionsFor(sides[1].small, 10);
    await e.sessionsFor(sides[1].heavy, heavySessions);
    const emptyDbsize = await emptyAdmin.dbSize();
    for (const side of sides) await logEveryCommand(side.admin);
    const pids = await Promise.all(sides.map(async (side) => Number(/process_id:(\d+)/.exec(await side.admin.info('server'))?.[1])));
    const pinning = pinClientAndServers(pids);
    console.log(`  ${pinning.describe}`);
    const { listSessions, deleteUserSessions } = await import('../dist/adapters/redis/session-scripts.js');
    let ops;
    try {
      ops = await measureOps(sides, { pairs, heavySessions, shas: { list: listSessions.sha1, delete: deleteUserSessions.sha1 }, fail });
    } finally {
      pinning.restore();
    }
    await s.flush();
    await e.flush();

    const rows = [
      { op: 'listByUser, 10-session user', key: 'list10' },
      { op: 'deleteByUser, 10-session user', key: 'del10' },
      { op: `listByUser, ${heavySessions}-session user`, key: 'list1k' },
      { op: `deleteByUser, ${heavySessions}-session user`, key: 'del1k' },
    ].map((row) => ({ ...row, ...ops[row.key] }));
    const range = (t) => `${t.min.toFixed(2)}-${t.max.toFixed(2)}`;
    console.log('');
    console.log(
      table(rows, [
        { title: 'operation (median)', get: (r) => r.op },
        { title: 'pairs', get: (r) => r.pairs },
        { title: `loaded (${dbsize} keys) ms`, get: (r) => r.loaded.ms.toFixed(3) },
        { title: 'min-max', get: (r) => range(r.loaded) },
        { title: `empty (${emptyDbsize} keys) ms`, get: (r) => r.empty.ms.toFixed(3) },
        { title: 'min-max', get: (r) => range(r.empty) },
        { title: 'loaded/empty', get: (r) => `${r.ratio.toFixed(2)}x` },
        { title: 'in Redis µs loaded/empty', get: (r) => `${r.loaded.redisMicros}/${r.empty.redisMicros} = ${r.redisRatio.toFixed(2)}x` },
      ]),
    );
    // The speed issue's goal: a 10-session user's list and revoke stay within 1.2x of an empty store.
    const worst = Math.max(ops.list10.ratio, ops.del10.ratio);
    console.log('');
    for (const [what, op] of [['list', ops.list10], ['revoke', ops.del10]]) {
      console.log(`  10-session ${what}, loaded/empty over each quarter of the pairs: ${quarterRatios(op).map((r) => r.toFixed(2)).join(' ')}`);
    }
    console.log(`10-session user, list and revoke: loaded/empty at most ${worst.toFixed(2)}x   target <= 1.2x   ${worst <= 1.2 ? 'MET' : 'NOT MET'}`);
    return { loadMs, ops };
  } finally {
    await s.conn.close();
    await e.conn.close();
  }
}
