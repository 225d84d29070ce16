#!/usr/bin/env node
/**
 * `npx latch <command>` (API.md, "Command line"). Exit 0 done, 1 failed (one line on stderr),
 * 2 usage error. `serve` and `migrate` are the server's own entry points; every other command
 * builds Latch from the environment, runs once and exits, whatever timers the library holds.
 * Only the grammar is loaded up front: help and usage errors answer at once, and the library
 * (seconds to load on a busy machine) comes in when a command needs it.
 */
import { helpText, parseCommandLine } from './args.js';

/** The exit code, or undefined while a server (or migration) ends the process itself. */
async function run(argv: readonly string[], env: NodeJS.ProcessEnv): Promise<number | undefined> {
  const parsed = parseCommandLine(argv);
  if (parsed.kind === 'help') {
    process.stdout.write(helpText(parsed.command));
    return 0;
  }
  if (parsed.kind === 'usage') {
    process.stderr.write(`latch: ${parsed.message}\nusage: ${parsed.usage}\n`);
    return 2;
  }
  try {
    // Importing them runs them, exactly as `node dist/main.js` and `npm run migrate` do: the
    // server's signal handling and graceful shutdown, the migration's messages and exit code.
    if (parsed.command === 'serve') {
      await import('../main.js');
      return undefined;
    }
    if (parsed.command === 'migrate') {
      const { configFromEnv, resolveConfig } = await import('../config.js');
      resolveConfig(configFromEnv(env)); // a bad variable in one line, before migrate.js reads it
      await import('../migrate.js');
      return undefined;
    }
    const { runOnce } = await import('./commands.js');
    const output = await runOnce(env, { ...parsed, command: parsed.command });
    process.stdout.write(parsed.json ? `${JSON.stringify(output.json, null, 2)}\n` : output.text);
    return 0;
  } catch (error) {
    const { describeFailure } = await import('./failure.js');
    process.stderr.write(`latch: ${describeFailure(error, env)}\n`);
    return 1;
  }
}

function flushed(stream: NodeJS.WriteStream): Promise<void> {
  return new Promise((resolve) => stream.write('', () => resolve()));
}

const code = await run(process.argv.slice(2), process.env);
if (code !== undefined) {
  await Promise.all([flushed(process.stdout), flushed(process.stderr)]);
  process.exit(code);
}
