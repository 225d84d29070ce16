// Child processes: start, stop, wait until ready; free ports; CPU accounting from /proc.
import { spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { BenchError, STARTUP_TIMEOUT_MS, STOP_TIMEOUT_MS, children, root, sleep } from './common.mjs';

/** `stdoutFile`: the child's stdout goes to that file (its request log), not through this process. */
export function startChild(name, args, env, command = process.execPath, { stdoutFile } = {}) {
  const stdoutFd = stdoutFile === undefined ? undefined : openSync(stdoutFile, 'a');
  const child = spawn(command, args, {
    cwd: root,
    env: { ...process.env, ...env },
    stdio: ['ignore', stdoutFd ?? 'pipe', 'pipe'],
  });
  if (stdoutFd !== undefined) closeSync(stdoutFd);
  const state = { name, child, output: '', exited: false, exitCode: null, signal: null };
  const keep = (chunk) => {
    state.output = (state.output + chunk.toString()).slice(-16_384);
  };
  child.stdout?.on('data', keep);
  child.stderr.on('data', keep);
  state.exitPromise = new Promise((resolve) => {
    child.on('exit', (code, signal) => {
      state.exited = true;
      state.exitCode = code;
      state.signal = signal;
      children.delete(state);
      resolve();
    });
  });
  child.on('error', (err) => {
    state.output += `\nspawn error: ${err.message}`;
  });
  children.add(state);
  return state;
}

export async function stopChild(state) {
  if (state.exited) return;
  state.child.kill('SIGTERM');
  const timer = setTimeout(() => state.child.kill('SIGKILL'), STOP_TIMEOUT_MS);
  await state.exitPromise;
  clearTimeout(timer);
}

export function childReport(state) {
  const out = state.output.trim();
  return out ? `\n--- ${state.name} output (tail) ---\n${out}\n---` : `\n(${state.name} printed nothing)`;
}

export async function waitReady(state, url) {
  const deadline = Date.now() + STARTUP_TIMEOUT_MS;
  let last = 'no answer yet';
  while (Date.now() < deadline) {
    if (state.exited) {
      throw new BenchError(
        `${state.name} exited during startup (code ${state.exitCode}, signal ${state.signal})${childReport(state)}`,
      );
    }
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(2_000) });
      await res.arrayBuffer();
      if (res.status === 200) return;
      last = `HTTP ${res.status}`;
    } catch (err) {
      last = err.cause?.code ?? err.message;
    }
    await sleep(100);
  }
  throw new BenchError(`${state.name} not ready within ${STARTUP_TIMEOUT_MS} ms (${url}: ${last})${childReport(state)}`);
}

export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/** CPU time (ms) a process has used so far, from /proc (Linux); undefined elsewhere. */
export function cpuMsOf(pid, tid) {
  try {
    // /proc/<pid>/task/<pid>/stat is the main thread alone (the one that serves requests).
    const stat = readFileSync(tid === undefined ? `/proc/${pid}/stat` : `/proc/${pid}/task/${tid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS;
  } catch {
    return undefined;
  }
}
export const CLOCK_TICKS = 100; // USER_HZ on Linux

/** CPU time (ms) the whole machine has been busy, from /proc/stat (Linux); undefined elsewhere. */
export function machineBusyMs() {
  try {
    const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1, 8).map(Number);
    const [user, nice, system, , , irq, softirq] = fields;
    return ((user + nice + system + irq + softirq) * 1000) / CLOCK_TICKS;
  } catch {
    return undefined;
  }
}

/** CPU time (ms) this process (the bench, its load generator) has used so far. */
export const benchCpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};
