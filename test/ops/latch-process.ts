/**
 * Runs the built server (`node dist/main.js`) as a real child process, the way it is deployed:
 * configuration from a clean environment (never the test runner's own DATABASE_URL or
 * REDIS_URL), JSON logs on stdout, signals for shutdown. Every child is SIGKILLed when the
 * test process exits, whatever happens.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { killOnExit } from '../support/children.js';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const MAIN_JS = join(ROOT, 'dist', 'main.js');
export const MIGRATE_JS = join(ROOT, 'dist', 'migrate.js');


/** `npm test` builds first; a bare `vitest run` builds here, once, only when dist is missing. */
export async function ensureBuilt(): Promise<void> {
  if (existsSync(MAIN_JS) && existsSync(MIGRATE_JS)) return;
  await new Promise<void>((resolve, reject) => {
    execFile('npm', ['run', 'build'], { cwd: ROOT, timeout: 120_000 }, (error, stdout, stderr) =>
      error ? reject(new Error(`npm run build failed: ${stdout}${stderr}`)) : resolve(),
    );
  });
}

/** Only what a deployment would set; nothing leaks in from the test runner's environment. */
export function cleanEnv(vars: Record<string, string>): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/tmp', HOST: '127.0.0.1', PORT: '0', LOG_LEVEL: 'info', ...vars };
}

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface LatchProcess {
  child: ChildProcess;
  url: string;
  port: number;
  readonly stdout: string;
  readonly stderr: string;
  /** Settles when the process has exited. */
  exited: Promise<Exit>;
  /** Resolves with the first stdout JSON line `accept` takes, or fails at the deadline. */
  waitForLog(accept: (line: Record<string, unknown>) => boolean, timeoutMs?: number): Promise<Record<string, unknown>>;
  /** SIGKILL if still running; waits for the exit. */
  kill(): Promise<void>;
}

function parseLines(text: string): Record<string, unknown>[] {
  const lines: Record<string, unknown>[] = [];
  for (const raw of text.split('\n')) {
    if (!raw.trim()) continue;
    try {
      lines.push(JSON.parse(raw) as Record<string, unknown>);
    } catch {
      // not a log line
    }
  }
  return lines;
}

export function withDeadline<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: nothing within ${ms} ms`)), ms);
  });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}

/** Starts `node dist/main.js` and waits for its `latch listening` line (port from its `url`). */
export async function spawnLatch(env: Record<string, string>, { startTimeoutMs = 20_000 } = {}): Promise<LatchProcess> {
  const child = spawn(process.execPath, [MAIN_JS], { cwd: ROOT, env: cleanEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
  killOnExit(child);
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8');
  child.stderr!.setEncoding('utf8');
  const exited = new Promise<Exit>((resolve) =>
    child.once('close', (code, signal) => {
      resolve({ code, signal });
    }),
  );
  const waiters = new Set<() => void>();
  child.stdout!.on('data', (chunk: string) => {
    stdout += chunk;
    for (const wake of [...waiters]) wake();
  });
  child.stderr!.on('data', (chunk: string) => (stderr += chunk));

  const waitForLog = (accept: (line: Record<string, unknown>) => boolean, timeoutMs = 10_000) =>
    new Promise<Record<string, unknown>>((resolve, reject) => {
      const check = () => {
        const found = parseLines(stdout).find(accept);
        if (found) {
          finish();
          resolve(found);
        }
      };
      const timer = setTimeout(() => {
        finish();
        reject(new Error(`log line not seen within ${timeoutMs} ms; stdout:\n${stdout.slice(-3000)}\nstderr:\n${stderr.slice(-2000)}`));
      }, timeoutMs);
      const onExit = () => {
        setImmediate(() => {
          check();
          if (!waiters.has(check)) return;
          finish();
          reject(new Error(`process exited before the log line; stdout:\n${stdout.slice(-3000)}\nstderr:\n${stderr.slice(-2000)}`));
        });
      };
      const finish = () => {
        clearTimeout(timer);
        waiters.delete(check);
        child.off('close', onExit);
      };
      waiters.add(check);
      child.once('close', onExit);
      check();
    });

  const kill = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
  };

  try {
    const listening = await waitForLog((line) => line.msg === 'latch listening', startTimeoutMs);
    const url = String(listening.url);
    const port = Number(new URL(url).port);
    if (!Number.isInteger(port) || port <= 0) throw new Error(`latch listening reports no real port: ${url}`);
    return {
      child,
      url,
      port,
      get stdout() {
        return stdout;
      },
      get stderr() {
        return stderr;
      },
      exited,
      waitForLog,
      kill,
    };
  } catch (error) {
    await kill();
    throw error;
  }
}

/** Runs a built script to completion (bad configurations, the migration CLI). */
export function runScript(
  script: string,
  env: Record<string, string>,
  timeoutMs = 20_000,
): Promise<Exit & { stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [script], { cwd: ROOT, env: cleanEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
    killOnExit(child);
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (c) => (stdout += String(c)));
    child.stderr!.on('data', (c) => (stderr += String(c)));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${script} did not exit within ${timeoutMs} ms; stdout:\n${stdout}\nstderr:\n${stderr}`));
    }, timeoutMs);
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}
