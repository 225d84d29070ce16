/**
 * argon2id on worker threads that lower their own CPU priority (nice 19), so that hashing only
 * takes CPU that request handling leaves idle: during a login storm, signed-in traffic keeps its
 * speed, and logins still get every idle cycle (the speed issue, "Storm isolation"). Each worker
 * runs the synchronous binding of @node-rs/argon2 (no hop to libuv's shared pool, whose threads
 * cannot be told apart to renice them) and reads its own thread id from /proc/thread-self: a
 * Linux-only step. Elsewhere the same code runs at normal priority.
 */
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

/** The worker's code, evaluated as CommonJS; the binding's path comes in `workerData`. */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const argon2 = require(workerData.binding);
let lowered = false;
try {
  const tid = Number(require('node:fs').readlinkSync('/proc/thread-self').split('/').pop());
  require('node:os').setPriority(tid, 19);
  lowered = true;
} catch {}
parentPort.postMessage({ lowered });
parentPort.on('message', (task) => {
  try {
    const result = task.op === 'hash' ? argon2.hashSync(task.password, task.options) : argon2.verifySync(task.hash, task.password);
    parentPort.postMessage({ id: task.id, result });
  } catch (error) {
    parentPort.postMessage({ id: task.id, error: String((error && error.message) || error) });
  }
});
`;

export interface HashTaskOptions {
  memoryCost: number;
  timeCost: number;
  parallelism: number;
}

type Task = { op: 'hash'; password: string; options: HashTaskOptions & { algorithm: number } } | { op: 'verify'; hash: string; password: string };

interface Slot {
  worker: Worker;
  busy: boolean;
}

/** @node-rs/argon2's Algorithm.Argon2id. */
const ARGON2ID = 2;

export class HashWorkers {
  private readonly slots: Slot[] = [];
  private readonly pending = new Map<number, { resolve(value: unknown): void; reject(error: Error): void; slot: Slot }>();
  private nextId = 0;
  private closed = false;
  /** Whether the workers' priority was lowered (false off Linux, or where it is not allowed). */
  lowered: Promise<boolean>;

  constructor(size: number) {
    const binding = createRequire(import.meta.url).resolve('@node-rs/argon2');
    const ready: Array<Promise<boolean>> = [];
    for (let i = 0; i < size; i += 1) ready.push(this.spawn(binding));
    this.lowered = Promise.all(ready).then((all) => all.every(Boolean));
  }

  hash(password: string, options: HashTaskOptions): Promise<string> {
    return this.run({ op: 'hash', password, options: { ...options, algorithm: ARGON2ID } }) as Promise<string>;
  }

  verify(hash: string, password: string): Promise<boolean> {
    return this.run({ op: 'verify', hash, password }) as Promise<boolean>;
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(this.slots.map((slot) => slot.worker.terminate()));
  }

  /** The caller (Argon2Hasher) never runs more tasks at once than there are workers. */
  private run(task: Task): Promise<unknown> {
    const slot = this.slots.find((s) => !s.busy);
    if (!slot) return Promise.reject(new Error('no idle hashing worker'));
    slot.busy = true;
    const id = (this.nextId += 1);
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject, slot });
      slot.worker.postMessage({ id, ...task });
    });
  }

  private spawn(binding: string): Promise<boolean> {
    const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { binding } });
    worker.unref(); // an idle pool never keeps the process alive
    const slot: Slot = { worker, busy: false };
    this.slots.push(slot);
    const lowered = new Promise<boolean>((resolve) => worker.once('message', (m: { lowered: boolean }) => resolve(m.lowered)));
    worker.on('message', (m: { id?: number; result?: unknown; error?: string }) => {
      if (m.id === undefined) return;
      const waiting = this.pending.get(m.id);
      if (!waiting) return;
      this.pending.delete(m.id);
      waiting.slot.busy = false;
      if (m.error !== undefined) waiting.reject(new Error(m.error));
      else waiting.resolve(m.result);
    });
    worker.on('error', (error) => this.replace(slot, binding, error));
    worker.on('exit', (code) => {
      if (!this.closed) this.replace(slot, binding, new Error(`hashing worker exited (${code})`));
    });
    return lowered;
  }

  /** A worker that died fails its task and is replaced. */
  private replace(slot: Slot, binding: string, error: Error): void {
    const index = this.slots.indexOf(slot);
    if (index < 0) return;
    this.slots.splice(index, 1);
    for (const [id, waiting] of this.pending) {
      if (waiting.slot === slot) {
        this.pending.delete(id);
        waiting.reject(error);
      }
    }
    if (!this.closed) void this.spawn(binding);
  }
}
