/**
 * Child processes the tests start (servers, Latch itself) must not outlive the test process,
 * whatever happens: each is SIGKILLed at exit unless it has already gone.
 */
import type { ChildProcess } from 'node:child_process';

const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of live) {
    try {
      child.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
});

/** Kills `child` when the test process exits, unless it closed first. */
export function killOnExit(child: ChildProcess): void {
  live.add(child);
  child.once('close', () => live.delete(child));
}
