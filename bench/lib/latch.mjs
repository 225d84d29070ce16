// Latch under test (`node dist/main.js`): its env, starting it, measuring /me on it, and the
// throttling limits raised for every Latch the bench starts.
import { readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { BenchError, dbName, redisPrefix, root, state } from './common.mjs';
import { checkCookies, registerUsers } from './register.mjs';
import { measure } from './load.mjs';
import { childReport, freePort, startChild, stopChild, waitReady } from './process.mjs';
import { databaseUrlFor } from './services.mjs';

/** Latch (`node dist/main.js`) on the bench database and `latchRedisUrl`, ready. */
/** `logToFile: false` keeps stdout piped to this process (the soak reads it as it comes). */
export async function startLatch(label, latchRedisUrl, extraEnv = {}, { logToFile = true } = {}) {
  const port = await freePort();
  const baseUrl = `http://127.0.0.1:${port}`;
  const nodeArgs = (process.env.BENCH_NODE_ARGS ?? '').split(/\s+/).filter(Boolean);
  // The request log stays on (LOG_LEVEL=info, one line per request, as deployed) and goes to a
  // file, as it would to a log collector, rather than through the bench process.
  const logFile = logToFile ? path.join(os.tmpdir(), `latch-bench-${process.pid}-${port}.log`) : undefined;
  const latch = startChild(
    `${label} (node dist/main.js)`,
    [...nodeArgs, 'dist/main.js'],
    { ...latchBaseEnv(latchRedisUrl), PORT: String(port), ...extraEnv },
    process.execPath,
    { stdoutFile: logFile },
  );
  latch.logFile = logFile;
  console.log(`Starting ${label} on ${baseUrl} ...`);
  await waitReady(latch, `${baseUrl}/readyz`);
  return { latch, baseUrl };
}

/** Stops Latch; reports its request log's size and any warning in it, then removes the file. */
export async function stopLatch(latch, label) {
  await stopChild(latch);
  const text = readFileSync(latch.logFile, 'utf8');
  rmSync(latch.logFile, { force: true });
  const lines = text.split('\n').filter(Boolean);
  const warnings = lines.filter((line) => !line.includes('"level":30'));
  console.log(`  ${label}: request log ${lines.length} lines, ${(text.length / 1e6).toFixed(1)} MB (LOG_LEVEL=info, to a file)`);
  if (warnings.length) console.log(`  note: ${warnings.length} lines above info, the last: ${warnings.at(-1)}`);
  if (latch.output.trim()) console.log(`  note: ${label} printed on stderr:${childReport(latch)}`);
}

export function latchBaseEnv(latchRedisUrl) {
  return {
    DATABASE_URL: databaseUrlFor(dbName),
    REDIS_URL: latchRedisUrl,
    REDIS_KEY_PREFIX: redisPrefix,
    HOST: '127.0.0.1',
    LOG_LEVEL: 'info',
    NODE_ENV: 'development',
  };
}

/** Starts Latch on `latchRedisUrl`, registers users, measures /me, stops it. */
export async function measureLatch(label, latchRedisUrl, tag, opts, extraEnv) {
  const { latch, baseUrl } = await startLatch(label, latchRedisUrl, extraEnv);
  const t0 = Date.now();
  const cookies = await registerUsers(baseUrl, opts.users, tag);
  await checkCookies(baseUrl, cookies);
  console.log(`  registered ${cookies.length} users in ${((Date.now() - t0) / 1000).toFixed(1)}s; each cookie answers 200 on /me`);
  const result = await measure(label, latch, baseUrl, cookies, opts);
  if (latch.exited) throw new BenchError(`${label} exited during the run${childReport(latch)}`);
  await stopLatch(latch, label);
  return { result, cookies };
}

/** Throttle limits the storm must not measure (LOGIN_* / REGISTER_* counts), and the rest. */
const THROTTLE_ENV = /^(LOGIN|REGISTER|REGISTRATION|SIGNUP|SIGN_UP)_[A-Z0-9_]*(MAX|LIMIT|FAILURES|ATTEMPTS|BURST|POINTS|REQUESTS)[A-Z0-9_]*$/;
const HASH_ENV = /^(HASH|HASHING|HASHER|ARGON2)_[A-Z0-9_]*(CONCURRENCY|QUEUE)[A-Z0-9_]*$/;
const OTHER_LIMIT_ENV = /^(LOGIN|REGISTER|REGISTRATION|SIGNUP|SIGN_UP)_|THROTTL|RATE_LIMIT|LOCKOUT/;

export async function loadConfigModule() {
  try {
    return await import(pathToFileURL(path.join(root, 'dist/config.js')).href);
  } catch {
    return undefined;
  }
}

/**
 * Env raising each throttling limit that src/config.ts declares (as read when the bench runs),
 * to the largest value the built config accepts: every Latch the bench starts gets it, so that
 * registering the bench users and the login storm are not refused. Hashing bounds stay as they are.
 */
export async function throttleLimitEnv(configModule) {
  const source = readFileSync(path.join(root, 'src/config.ts'), 'utf8');
  const block = /const ENV_NAMES[^=]*=\s*\{([\s\S]*?)\};/.exec(source)?.[1] ?? source;
  const names = new Map(); // env name -> config key
  for (const m of block.matchAll(/\b(\w+)\s*:\s*['"]([A-Z][A-Z0-9_]*)['"]/g)) names.set(m[2], m[1]);
  const base = latchBaseEnv(state.redisUrl);
  const valid = (env) => {
    if (!configModule) return true;
    try {
      configModule.resolveConfig(configModule.configFromEnv(env));
      return true;
    } catch {
      return false;
    }
  };
  const env = {};
  const notes = [];
  const hashing = [];
  const unchanged = [];
  for (const [name, key] of names) {
    if (HASH_ENV.test(name)) {
      hashing.push(key);
      continue;
    }
    if (!THROTTLE_ENV.test(name)) {
      if (OTHER_LIMIT_ENV.test(name)) unchanged.push(name);
      continue;
    }
    const bounds = new RegExp(`\\b${key}\\s*:\\s*integer\\(\\s*([\\d_]+)\\s*,\\s*([\\d_]+)\\s*\\)`).exec(source);
    const declaredMax = bounds ? Number(bounds[2].replaceAll('_', '')) : undefined;
    const candidates = [declaredMax, 1_000_000_000, 1_000_000, 100_000, 10_000, 1_000].filter((v) => v !== undefined);
    const value = candidates.find((v) => valid({ ...base, ...env, [name]: String(v) }));
    if (value === undefined) notes.push(`${name}: no large value accepted by the config, left at its default`);
    else env[name] = String(value);
  }
  if (unchanged.length > 0) notes.push(`left at their defaults: ${unchanged.join(', ')}`);
  let hashingNote;
  if (hashing.length > 0) {
    let resolved = {};
    try {
      resolved = configModule?.resolveConfig(configModule.configFromEnv({ ...base, ...env })) ?? {};
    } catch {
      // shown without values
    }
    const shown = hashing.map((key) => {
      const name = [...names].find(([, k]) => k === key)[0];
      return resolved[key] === undefined ? name : `${name}=${resolved[key]}`;
    });
    hashingNote = `hashing bound left at Latch's defaults (part of what is measured): ${shown.join(' ')}`;
  }
  if (!valid({ ...base, ...env })) throw new BenchError(`the throttling env is refused by dist/config.js: ${JSON.stringify(env)}`);
  return { env, notes, hashingNote, valid, checked: configModule !== undefined };
}

export const envText = (env) => Object.entries(env).map(([k, v]) => `${k}=${v}`).join(' ');
