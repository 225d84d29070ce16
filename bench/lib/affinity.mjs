// CPU affinity for a measurement that compares two servers answering one client (Linux, taskset).
//
// With the client and its servers free to run on any core, each call's time depends on where
// the scheduler happens to put the three processes: on a 2-core machine a redis-server woken on
// the core the client is still running on waits for it. Unpinned, 201 pairs of a revoke read
// from 0.70x to 1.05x from one quarter of them to the next; pinned, 1.02-1.22x over 13 runs: that
// noise is larger than what the scale phase looks for. So, for that phase only, the client (every
// thread of this process) runs on the first core it may use and the servers on the others.
// Elsewhere, or with a single core, nothing is pinned and the phase says so.
import { execFileSync } from 'node:child_process';

const run = (args) => execFileSync('taskset', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

/** The CPUs `pid` may run on, as taskset's list ("0,1" or "0-3"), or undefined without taskset. */
function affinityOf(pid) {
  try {
    return /:\s*(\S+)\s*$/.exec(run(['-cp', String(pid)]))?.[1];
  } catch {
    return undefined;
  }
}

/** "0-2,5" as [0, 1, 2, 5]. */
function cpusOf(list) {
  return list.split(',').flatMap((part) => {
    const [from, to = from] = part.split('-').map(Number);
    return Array.from({ length: to - from + 1 }, (_, i) => from + i);
  });
}

/**
 * Pins this process to its first allowed CPU and every pid in `serverPids` to the rest, until
 * `restore()`. Returns a line that says what was done.
 */
export function pinClientAndServers(serverPids) {
  const own = process.platform === 'linux' ? affinityOf(process.pid) : undefined;
  const cpus = own ? cpusOf(own) : [];
  if (cpus.length < 2) {
    const why = process.platform !== 'linux' ? `not Linux (${process.platform})` : own ? 'one CPU' : 'taskset not found';
    return { describe: `not pinned: ${why}; where the scheduler puts the client and the servers adds its noise to the figures`, restore() {} };
  }
  const [client, ...servers] = cpus;
  const serverList = servers.join(',');
  try {
    for (const pid of serverPids) run(['-a', '-cp', serverList, String(pid)]);
    run(['-a', '-cp', String(client), String(process.pid)]);
  } catch (error) {
    for (const pid of [...serverPids, process.pid]) {
      try {
        run(['-a', '-cp', own, String(pid)]); // as they were, as far as taskset still can
      } catch {}
    }
    return { describe: `not pinned: taskset failed (${String(error?.stderr ?? error).trim()})`, restore() {} };
  }
  return {
    describe: `client pinned to CPU ${client}, redis-servers to CPU ${serverList} (taskset)`,
    restore() {
      run(['-a', '-cp', own, String(process.pid)]);
    },
  };
}
