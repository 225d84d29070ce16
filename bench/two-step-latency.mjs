// Sign-in latency with and without a second factor, on the built Latch (SQLite in a temporary
// directory, default argon2id cost), one request at a time from one client:
//   one-step   POST /login for an account without two-step
//   two-step   POST /login (password step, answers mfaRequired) + POST /mfa/verify (TOTP code)
// Each two-step account signs in once (a TOTP time step works once per account).
//
//   npm run build && node bench/two-step-latency.mjs        (BENCH_SAMPLES, default 30)
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createLatch } from '../dist/latch.js';
import { createServerApp } from '../dist/http/server-app.js';
import { totpCode } from '../dist/domain/totp.js';

const SAMPLES = Number(process.env.BENCH_SAMPLES ?? 30);
const PASSWORD = 'violet-harbor-lantern-42';
const dir = mkdtempSync(path.join(tmpdir(), 'latch-2fa-bench-'));
const latch = await createLatch({
  databaseUrl: `sqlite:${path.join(dir, 'latch.db')}`,
  outboxDir: path.join(dir, 'outbox'),
  secretsKeyFile: path.join(dir, 'secrets.key'),
  logLevel: 'warn',
  registerIpMax: 1_000_000,
  loginMaxFailures: 1000,
  loginIpMaxFailures: 1_000_000,
  mailIpMax: 1_000_000,
});
const server = createServerApp(latch).listen(0, '127.0.0.1');
await new Promise((resolve) => server.once('listening', resolve));
const base = `http://127.0.0.1:${server.address().port}`;

async function post(pathname, body, cookie) {
  const res = await fetch(base + pathname, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(cookie ? { cookie } : {}) },
    body: JSON.stringify(body),
  });
  const sid = res.headers.getSetCookie().map((c) => /^sid=([^;]+)/.exec(c)?.[1]).find(Boolean);
  return { status: res.status, json: await res.json().catch(() => null), cookie: sid ? `sid=${sid}` : cookie };
}

async function account(n, withTotp) {
  const email = `bench.${withTotp ? 'two' : 'one'}.${n}@example.test`;
  const reg = await post('/api/auth/register', { email, password: PASSWORD, name: 'Bench User' });
  if (!withTotp) return { email };
  const setup = await post('/api/auth/mfa/totp', {}, reg.cookie);
  const confirm = await post('/api/auth/mfa/totp/confirm', { code: totpCode(setup.json.secret, Date.now() - 30_000) }, reg.cookie);
  if (confirm.status !== 200) throw new Error(`confirm failed: ${confirm.status}`);
  return { email, secret: setup.json.secret };
}

const ms = (start) => Number(process.hrtime.bigint() - start) / 1e6;
const stats = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const pick = (q) => s[Math.min(s.length - 1, Math.floor(q * s.length))];
  return `p50 ${pick(0.5).toFixed(1)} ms  p90 ${pick(0.9).toFixed(1)} ms  mean ${(s.reduce((a, b) => a + b, 0) / s.length).toFixed(1)} ms`;
};

try {
  const one = [];
  const two = { password: [], verify: [], total: [] };
  for (let i = 0; i < SAMPLES; i++) {
    const plain = await account(i, false);
    let t = process.hrtime.bigint();
    const res = await post('/api/auth/login', { email: plain.email, password: PASSWORD });
    one.push(ms(t));
    if (res.status !== 200 || !res.json.user) throw new Error(`one-step login: ${res.status}`);

    const guarded = await account(i, true);
    t = process.hrtime.bigint();
    const first = await post('/api/auth/login', { email: guarded.email, password: PASSWORD });
    const passwordStep = ms(t);
    if (!first.json?.mfaRequired) throw new Error(`two-step login: ${first.status}`);
    const t2 = process.hrtime.bigint();
    const second = await post('/api/auth/mfa/verify', { method: 'totp', code: totpCode(guarded.secret, Date.now() + 30_000) }, first.cookie);
    if (second.status !== 200) throw new Error(`verify: ${second.status} ${JSON.stringify(second.json)}`);
    two.password.push(passwordStep);
    two.verify.push(ms(t2));
    two.total.push(passwordStep + ms(t2));
  }
  console.log(`sign-in latency, ${SAMPLES} samples each, SQLite, argon2id m=19456 t=2 p=1, one client`);
  console.log(`one-step  POST /login                 ${stats(one)}`);
  console.log(`two-step  POST /login (password step) ${stats(two.password)}`);
  console.log(`two-step  POST /mfa/verify (TOTP)     ${stats(two.verify)}`);
  console.log(`two-step  both requests               ${stats(two.total)}`);
} finally {
  server.close();
  await latch.close();
  rmSync(dir, { recursive: true, force: true });
}
