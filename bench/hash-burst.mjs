// Hashing admission under a burst (the speed issue, "Bursts"): N logins' argon2id verifies
// arriving at once (BENCH_BURST, default 50), on the built hasher at Latch's default cost and
// HASH_CONCURRENCY = cores. Rows: the old fixed rule (2 running + 32 waiting: refuse the rest)
// and expected-wait admission (HASH_MAX_WAIT, default 2 s; HASH_QUEUE_LIMIT 1000 as a memory
// ceiling), three runs each, printing refused answers and the wait of the last one served.
//
//   npm run bench:burst
import { availableParallelism } from 'node:os';
import { Argon2Hasher } from '../dist/adapters/argon2-hasher.js';
import { resolveConfig } from '../dist/config.js';

const N = Number(process.env.BENCH_BURST ?? 50);
const config = resolveConfig({});
const params = { memoryCost: config.argon2MemoryCost, timeCost: config.argon2TimeCost, parallelism: config.argon2Parallelism };
const concurrency = config.hashConcurrency;
const rules = [
  ['fixed count (32 waiting)', { concurrency, queueLimit: 32, maxWaitMs: Number.POSITIVE_INFINITY }],
  [`expected wait (<= ${config.hashMaxWait} ms)`, { concurrency, queueLimit: config.hashQueueLimit, maxWaitMs: config.hashMaxWait }],
];

async function burst(hasher, hash) {
  const started = performance.now();
  const served = [];
  const outcomes = await Promise.allSettled(Array.from({ length: N }, () => hasher.verify(hash, 'pw').then(() => served.push(performance.now() - started))));
  served.sort((a, b) => a - b);
  return { refused: outcomes.filter((o) => o.status === 'rejected').length, p50: served[Math.floor(served.length / 2)] ?? 0, last: served.at(-1) ?? 0 };
}

console.log(`machine: ${availableParallelism()} cores; HASH_CONCURRENCY ${concurrency}; argon2id m=${params.memoryCost} t=${params.timeCost} p=${params.parallelism}; ${N} logins at once`);
for (const [name, limits] of rules) {
  const hasher = new Argon2Hasher(params, limits);
  const hash = await hasher.hash('pw');
  await burst(hasher, hash); // warm-up: the hash time is measured
  for (let run = 1; run <= 3; run += 1) {
    const r = await burst(hasher, hash);
    console.log(`${name.padEnd(30)} run ${run}: refused ${String(r.refused).padStart(3)} of ${N} (${((100 * r.refused) / N).toFixed(0)} %), served p50 ${r.p50.toFixed(0)} ms, last served ${r.last.toFixed(0)} ms`);
  }
  await hasher.close(); // its workers' message ports would keep the process alive
}
