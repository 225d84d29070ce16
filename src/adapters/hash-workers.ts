/**
 * argon2id on worker threads that lower their own CPU priority to nice 19, so that hashing
 * takes only the CPU that request handling leaves idle: during a login storm signed-in traffic
 * keeps its speed, and logins still get every idle cycle. Each worker runs the synchronous
 * binding of @node-rs/argon2: an asynchronous binding would hop to libuv's thread pool, which
 * every module shares and whose threads cannot be told apart to lower theirs. A worker learns its
 * own thread id from /proc/thread-self, which only Linux has; elsewhere the same code runs at
 * normal priority (`onStarted` hears which). Workers start at first use, so an instance that never
 * hashes (the command line, most tests) never starts one.
 */
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import { UnavailableError } from '../domain/errors.js';

/** The worker's code, evaluated as CommonJS; the binding's path comes in `workerData`. */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const argon2 = require(workerData.binding);
let lowered = false;
try {
  const tid = Number(require('node:fs').readlinkSync('/proc/thread-self').split('/').pop());
  require('node:os').setPriority(tid, workerData.nice);
  lowered = true;
} catch {}
parentPort.postMessage({ lowered });
parentPort.on('message', (task) => {
  try {
    const result = task.op === 'hash'
      ? argon2.hashSync(task.password, task.options)
      : argon2.verifySync(task.hash, task.password);
    parentPort.postMessage({ result });
  } catch (error) {
    parentPort.postMessage({ error: String((error && error.message) || error) });
  }
});
`;

/** Niceness of a hashing thread: the lowest priority, below everything else on the machine. */
const HASHING_NICE = 19;
/** @node-rs/argon2's Algorithm.Argon2id. */
const ARGON2ID = 2;

export interface HashOptions {
  memoryCost: number;
  timeCost: number;
  parallelism: number;
}

/** A finished operation, with its seconds from hand-over to answer (a worker's start-up excluded). */
export interface Done<T> {
  result: T;
  seconds: number;
}

type Task = { op: 'hash'; password: string; options: HashOptions & { algorithm: number } } | { op: 'verify'; hash: string; password: string };

interface Slot {
  worker: Worker;
  ready: Promise<void>;
  task?: { resolve(done: Done<unknown>): void; reject(error: Error): void; started?: bigint };
}

/**
 * The pool itself failing (a worker gone, the pool closed) is an outage, never a wrong password:
 * a right password must not be counted as a failure, and a known and an unknown address must
 * get the same answer (503) when it happens.
 */
const unavailable = () => new UnavailableError('password hashing');

export class HashWorkers {
  private readonly slots: Slot[] = [];
  private readonly binding = createRequire(import.meta.url).resolve('@node-rs/argon2');
  private closed = false;
  private announced = false;

  /**
   * At most `size` operations run at once; the caller (Argon2Hasher) queues the rest.
   * `onStarted` hears once, when the first worker is up, whether it lowered its priority.
   */
  constructor(
    private readonly size: number,
    private readonly onStarted?: (lowered: boolean) => void,
  ) {}

  hash(password: string, options: HashOptions): Promise<Done<string>> {
    return this.run({ op: 'hash', password, options: { ...options, algorithm: ARGON2ID } }) as Promise<Done<string>>;
  }

  verify(hash: string, password: string): Promise<Done<boolean>> {
    return this.run({ op: 'verify', hash, password }) as Promise<Done<boolean>>;
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(this.slots.splice(0).map((slot) => slot.worker.terminate()));
  }

  private async run(task: Task): Promise<Done<unknown>> {
    if (this.closed) throw unavailable();
    const slot = this.slots.find((s) => !s.task) ?? (this.slots.length < this.size ? this.spawn() : undefined);
    if (!slot) throw unavailable(); // more at once than workers: the caller's limit was bypassed
    const done = new Promise<Done<unknown>>((resolve, reject) => (slot.task = { resolve, reject }));
    // An operation in flight keeps the process alive (a command awaiting a hash must get it);
    // an idle pool does not (a host that never closes Latch can still exit).
    slot.worker.ref();
    await slot.ready;
    if (slot.task) {
      slot.task.started = process.hrtime.bigint();
      try {
        slot.worker.postMessage(task);
      } catch (error) {
        slot.task.reject(error as Error);
        slot.task = undefined;
        slot.worker.unref();
      }
    }
    return done;
  }

  private spawn(): Slot {
    // The source is CommonJS: a host started with --input-type=module would pass that on to the
    // worker (execArgv is inherited) and have it read as a module, with no `require`.
    const execArgv = process.execArgv.filter((arg) => !arg.startsWith('--input-type'));
    const worker = new Worker(WORKER_SOURCE, { eval: true, execArgv, workerData: { binding: this.binding, nice: HASHING_NICE } });
    let started!: () => void;
    const slot: Slot = { worker, ready: new Promise<void>((resolve) => (started = resolve)) };
    this.slots.push(slot);
    worker.on('message', (m: { lowered?: boolean; result?: unknown; error?: string }) => {
      if (m.lowered !== undefined) {
        if (!this.announced) this.onStarted?.(m.lowered);
        this.announced = true;
        started();
        return;
      }
      const task = slot.task;
      slot.task = undefined;
      worker.unref();
      const seconds = task?.started === undefined ? 0 : Number(process.hrtime.bigint() - task.started) / 1e9;
      // The binding's own refusal (a malformed stored hash): the caller decides what it means.
      if (m.error !== undefined) task?.reject(new Error(m.error));
      else task?.resolve({ result: m.result, seconds });
    });
    // A worker that dies, or whose answer cannot be read, fails its operation as an outage and
    // leaves its place to a new one.
    const gone = () => {
      const index = this.slots.indexOf(slot);
      if (index >= 0) this.slots.splice(index, 1);
      slot.task?.reject(unavailable());
      slot.task = undefined;
      started();
    };
    worker.on('error', gone);
    worker.on('messageerror', () => {
      gone();
      void worker.terminate();
    });
    worker.on('exit', gone);
    // After the listeners: adding a 'message' listener refs the worker's port again, and an
    // unref made before it left every idle pool holding the process open.
    worker.unref();
    return slot;
  }
}
