/**
 * Password hashing on low-priority worker threads (the speed issue, "Storm isolation"): the
 * threads that hash run at nice 19 and no other thread does; at most HASH_CONCURRENCY of them;
 * hashes written by the binding Latch used before (node-argon2, parameters in another order)
 * still verify and are not rewritten for nothing; closing fails what was running, never hangs.
 */
import { execFile } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { Argon2Hasher, needsRehash } from '../../src/adapters/argon2-hasher.js';
import { resolveConfig } from '../../src/config.js';
import { UnavailableError } from '../../src/domain/errors.js';

const config = resolveConfig({});
const params = { memoryCost: config.argon2MemoryCost, timeCost: config.argon2TimeCost, parallelism: config.argon2Parallelism };
const limits = { concurrency: 2, queueLimit: 1000, maxWaitMs: 60_000 };

/** Written by node-argon2 0.45 (m, p, t order) for PASSWORD, at the default cost. */
const EARLIER_HASH = '$argon2id$v=19$m=19456,p=1,t=2$PzTtdTxkk93luUN2eIfpcA$H6dwIyStsD3hAfnfUQ8wE8vgosQOdHpp83OZjMr1S7g';
const PASSWORD = 'correct horse battery staple';

const opened: Argon2Hasher[] = [];
function hasher(l = limits, observer?: ConstructorParameters<typeof Argon2Hasher>[2]): Argon2Hasher {
  const h = new Argon2Hasher(params, l, observer);
  opened.push(h);
  return h;
}
afterEach(async () => {
  await Promise.all(opened.splice(0).map((h) => h.close()));
});

/** Nice value of every thread of this process (field 19 of /proc/self/task/<tid>/stat). */
function threadNices(): number[] {
  return readdirSync('/proc/self/task').map((tid) => {
    const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]);
  });
}

describe('argon2id hashes', { timeout: 30_000 }, () => {
  it('a hash of the earlier binding verifies, is not upgraded for nothing, and refuses a wrong password', async () => {
    const h = hasher();
    expect(await h.verify(EARLIER_HASH, PASSWORD)).toEqual({ ok: true, needsRehash: false });
    expect(await h.verify(EARLIER_HASH, `${PASSWORD}!`)).toEqual({ ok: false });
    const fresh = await h.hash(PASSWORD);
    expect(fresh).toMatch(/^\$argon2id\$v=19\$m=19456,t=2,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$/);
    expect(await h.verify(fresh, PASSWORD)).toEqual({ ok: true, needsRehash: false });
  });

  it('a corrupt or foreign hash is a failed check, never an exception', async () => {
    const h = hasher();
    for (const stored of ['', 'garbage', EARLIER_HASH.replace('argon2id', 'argon2i'), EARLIER_HASH.slice(0, -5)]) {
      expect(await h.verify(stored, PASSWORD)).toEqual({ ok: false });
    }
  });

  it('asks for an upgrade when any parameter, the variant or the version differs', () => {
    expect(needsRehash(EARLIER_HASH, params)).toBe(false);
    expect(needsRehash(EARLIER_HASH, { ...params, memoryCost: 24_576 })).toBe(true);
    expect(needsRehash(EARLIER_HASH, { ...params, timeCost: 3 })).toBe(true);
    expect(needsRehash(EARLIER_HASH, { ...params, parallelism: 2 })).toBe(true);
    expect(needsRehash(EARLIER_HASH.replace('argon2id', 'argon2i'), params)).toBe(true);
    expect(needsRehash(EARLIER_HASH.replace('v=19', 'v=16'), params)).toBe(true);
  });

  it('an operation in flight keeps the process alive; an idle pool left open does not', async () => {
    // The built pool in a process of its own that awaits one hash and never closes the pool
    // (started as a module from the command line: the workers must not inherit --input-type).
    const pool = pathToFileURL(path.resolve('dist/adapters/hash-workers.js')).href;
    const script = `
      import { HashWorkers } from ${JSON.stringify(pool)};
      const workers = new HashWorkers(2);
      const done = await workers.hash('pw', ${JSON.stringify(params)});
      console.log(done.result.startsWith('$argon2id$') ? 'hashed' : 'no hash');`;
    for (const flag of [['--input-type=module'], ['--input-type', 'module']]) {
      const started = performance.now();
      const child = await new Promise<{ code: number | null; stdout: string }>((resolve) => {
        execFile(process.execPath, [...flag, '-e', script], { timeout: 20_000 }, (error, stdout) =>
          resolve({ code: error ? ((error as { code?: number }).code ?? null) : 0, stdout }),
        );
      });
      expect(child.stdout.trim(), flag.join(' ')).toBe('hashed'); // not given up while the hash ran (exit 13)
      expect(child.code).toBe(0); // and then out, with the pool still open
      expect(performance.now() - started).toBeLessThan(15_000);
    }
  });

  it('closing fails the operations still running as an outage instead of leaving them hanging', async () => {
    const h = hasher();
    const running = h.hash(PASSWORD);
    await new Promise((r) => setTimeout(r, 20));
    await h.close();
    await expect(running).rejects.toBeInstanceOf(UnavailableError);
  });

  it('a right password while hashing is down is an outage (503), never a wrong password (THREATS 3, 5)', async () => {
    const h = hasher();
    await h.close();
    await expect(h.verify(EARLIER_HASH, PASSWORD)).rejects.toBeInstanceOf(UnavailableError);
    await expect(h.verifyDummy(PASSWORD)).rejects.toBeInstanceOf(UnavailableError);
  });

  it('the first check after a start costs the same for a known and an unknown address (THREATS 5)', async () => {
    const count = async (check: (h: Argon2Hasher) => Promise<unknown>) => {
      const ops: string[] = [];
      await check(hasher(limits, { measured: (operation) => ops.push(operation) }));
      return ops.sort();
    };
    const known = await count((h) => h.verify(EARLIER_HASH, PASSWORD));
    const unknown = await count((h) => h.verifyDummy(PASSWORD));
    expect(known).toEqual(['hash', 'verify']);
    expect(unknown).toEqual(known);
  });
});

describe.skipIf(process.platform !== 'linux')('hashing priority (Linux)', { timeout: 30_000 }, () => {
  it('hashing runs on HASH_CONCURRENCY threads at nice 19; every other thread keeps its priority', async () => {
    const before = threadNices();
    expect(before.filter((n) => n === 19)).toHaveLength(0);
    const started: boolean[] = [];
    const h = hasher(limits, { measured: () => {}, started: (isolated) => started.push(isolated) });
    const stored = await h.hash(PASSWORD);
    await Promise.all(Array.from({ length: 8 }, () => h.verify(stored, PASSWORD)));
    expect(started).toEqual([true]); // told once (latch.ts logs it), not per worker
    const after = threadNices();
    expect(after.filter((n) => n === 19)).toHaveLength(limits.concurrency);
    expect(after.filter((n) => n !== 19).every((n) => n === before[0])).toBe(true);
    await h.close();
    expect(threadNices().filter((n) => n === 19)).toHaveLength(0);
  });
});
