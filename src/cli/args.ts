/**
 * The command line's grammar (API.md, "Command line"): `latch <command> [<email>] [flags]`,
 * parsed with node:util's parseArgs. Anything it cannot read is a usage error (exit 2), told
 * in one line with the usage of the command meant, never guessed at.
 */
import { parseArgs } from 'node:util';

export type CommandName =
  | 'serve'
  | 'migrate'
  | 'users list'
  | 'users show'
  | 'users disable'
  | 'users enable'
  | 'users grant-admin'
  | 'users revoke-admin'
  | 'sessions revoke'
  | 'mfa reset';

type Flag = 'json' | 'query' | 'reason';

interface CommandSpec {
  name: CommandName;
  /** Takes one `<email>`. */
  email: boolean;
  flags: readonly Flag[];
  usage: string;
  summary: string;
}

export const commands: readonly CommandSpec[] = [
  { name: 'serve', email: false, flags: [], usage: 'latch serve', summary: 'run the server (configuration from the environment)' },
  { name: 'migrate', email: false, flags: [], usage: 'latch migrate', summary: 'apply pending database migrations' },
  { name: 'users list', email: false, flags: ['query', 'json'], usage: 'latch users list [--query <text>] [--json]', summary: 'accounts whose email or name contains the text, newest first' },
  { name: 'users show', email: true, flags: ['json'], usage: 'latch users show <email> [--json]', summary: 'an account, its sessions and its latest events' },
  { name: 'users disable', email: true, flags: ['reason', 'json'], usage: 'latch users disable <email> [--reason <text>] [--json]', summary: 'stop an account from signing in; its sessions end' },
  { name: 'users enable', email: true, flags: ['json'], usage: 'latch users enable <email> [--json]', summary: 'let a disabled account sign in again' },
  { name: 'users grant-admin', email: true, flags: ['json'], usage: 'latch users grant-admin <email> [--json]', summary: 'make the account an administrator' },
  { name: 'users revoke-admin', email: true, flags: ['json'], usage: 'latch users revoke-admin <email> [--json]', summary: 'make the administrator an ordinary user' },
  { name: 'sessions revoke', email: true, flags: ['json'], usage: 'latch sessions revoke <email> [--json]', summary: 'end every session of the account' },
  { name: 'mfa reset', email: true, flags: ['json'], usage: 'latch mfa reset <email> [--json]', summary: 'remove every second factor of the account' },
];

export type Parsed =
  | { kind: 'help'; command?: CommandName }
  | { kind: 'usage'; message: string; usage: string }
  | { kind: 'command'; command: CommandName; email: string; json: boolean; query?: string; reason?: string };

const GENERAL_USAGE = 'latch <command> [<email>] [flags]   (latch --help lists the commands)';

const options = {
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
  query: { type: 'string', short: 'q' },
  reason: { type: 'string' },
} as const;

export function parseCommandLine(argv: readonly string[]): Parsed {
  let values: { json?: boolean; help?: boolean; query?: string; reason?: string };
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({ args: [...argv], options, allowPositionals: true, strict: true }));
  } catch (error) {
    // node's messages run on ("To specify a positional argument..."); the first sentence says it.
    const [first = 'cannot read the arguments'] = (error as Error).message.split(/\.\s|\n/);
    const meant = findCommand(argv.filter((word) => !word.startsWith('-')));
    return { kind: 'usage', message: first.charAt(0).toLowerCase() + first.slice(1), usage: meant?.usage ?? GENERAL_USAGE };
  }

  const helpWanted = values.help === true || positionals[0] === 'help';
  const words = positionals[0] === 'help' ? positionals.slice(1) : positionals;
  const spec = findCommand(words);
  if (helpWanted) return spec ? { kind: 'help', command: spec.name } : { kind: 'help' };
  if (words.length === 0) return { kind: 'usage', message: 'no command given', usage: GENERAL_USAGE };
  if (!spec) {
    const actions = commands.filter((c) => c.name.startsWith(`${words[0]} `)).map((c) => c.name.split(' ')[1]);
    const message = actions.length === 0 || words.length > 1 ? `unknown command '${words.slice(0, 2).join(' ')}'` : `'${words[0]}' needs one of: ${actions.join(', ')}`;
    return { kind: 'usage', message, usage: GENERAL_USAGE };
  }

  const rest = words.slice(spec.name.split(' ').length);
  const usage = (message: string): Parsed => ({ kind: 'usage', message, usage: spec.usage });
  if (spec.email && rest.length === 0) return usage('missing <email>');
  const extra = rest[spec.email ? 1 : 0];
  if (extra !== undefined) return usage(`unexpected argument '${extra}'`);
  const stray = (['json', 'query', 'reason'] as const).find((flag) => values[flag] !== undefined && !spec.flags.includes(flag));
  if (stray) return usage(`'${spec.name}' takes no --${stray}`);

  return {
    kind: 'command',
    command: spec.name,
    email: rest[0] ?? '',
    json: values.json === true,
    ...(values.query !== undefined ? { query: values.query } : {}),
    ...(values.reason !== undefined ? { reason: values.reason } : {}),
  };
}

/** The command the leading words name (one word, or a group and an action). */
function findCommand(words: readonly string[]): CommandSpec | undefined {
  return commands.find((c) => c.name === words[0] || c.name === `${words[0]} ${words[1]}`);
}

export function helpText(command?: CommandName): string {
  const spec = commands.find((c) => c.name === command);
  if (spec) return `usage: ${spec.usage}\n\n${spec.summary}.\n`;
  const width = Math.max(...commands.map((c) => c.usage.length));
  const lines = commands.map((c) => `  ${c.usage.padEnd(width)}  ${c.summary}`);
  return [
    `usage: ${GENERAL_USAGE}`,
    '',
    'Commands:',
    ...lines,
    '',
    'Configuration comes from the environment, as for the server (DATABASE_URL, REDIS_URL, ...).',
    '--json prints JSON for scripts instead of tables. Actions are recorded on the user\'s trail',
    'with the actor "cli". Exit status: 0 done, 1 failed (one line on stderr), 2 usage error.',
    '',
  ].join('\n');
}
