/**
 * The operator's command line (API.md, "Command line") as it is run: the built `bin`
 * (`node dist/cli/main.js`) in a child process, configured only by a clean environment, against
 * the database (and Redis) a really started server uses. Exit codes, `--json` that parses into
 * the admin API's shapes, one-line failures, and the effect of each action seen over HTTP by the
 * account it was done to, with the actor `cli` on its trail.
 */
import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { totpCode } from '../../src/domain/totp.js';
import { describeOnBackends, postgresRedis, sqlite } from '../support/backends.js';
import { killOnExit } from '../support/children.js';
import { Client, signedUp, STRONG_PASSWORD, uniqueEmail, type TestServer } from '../support/server.js';
import { cleanEnv, ensureBuilt, ROOT, withDeadline } from './latch-process.js';

const CLI_JS = join(ROOT, 'dist', 'cli', 'main.js');
const SECRETS_KEY = randomBytes(32).toString('base64');
const ADMIN_USER_FIELDS = ['createdAt', 'disabled', 'email', 'emailVerified', 'id', 'lastLoginAt', 'name', 'role', 'sessionCount', 'twoFactor'];
const SLOW = 180_000;

let cwd: string;

beforeAll(async () => {
  await ensureBuilt();
  if (!existsSync(CLI_JS)) throw new Error(`${CLI_JS} is missing: run npm run build first`);
  // Where a default ./data would land: never the repository.
  cwd = mkdtempSync(join(tmpdir(), 'latch-cli-'));
}, SLOW);

afterAll(() => {
  if (cwd) rmSync(cwd, { recursive: true, force: true });
});

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/** `latch <args>` with only `env` (plus PATH, HOME and LOG_LEVEL=info: the library must stay quiet). */
function latch(env: Record<string, string>, ...args: string[]): Promise<Run> {
  const started = Date.now();
  return new Promise((resolve) => {
    const child = execFile(process.execPath, [CLI_JS, ...args], { cwd, env: cleanEnv({ SECRETS_KEY, ...env }), timeout: 60_000 }, (_error, stdout, stderr) =>
      resolve({ code: child.exitCode, stdout, stderr, ms: Date.now() - started }),
    );
    killOnExit(child);
  });
}

function expectOneLineFailure(run: Run, line: RegExp | string): void {
  expect(run.code, run.stderr).toBe(1);
  expect(run.stdout).toBe('');
  expect(run.stderr.endsWith('\n') && run.stderr.split('\n').length === 2, run.stderr).toBe(true);
  if (typeof line === 'string') expect(run.stderr).toBe(`${line}\n`);
  else expect(run.stderr).toMatch(line);
}

async function signIn(url: string, email: string): Promise<Client> {
  const client = new Client(url);
  const res = await client.post('/api/auth/login', { email, password: STRONG_PASSWORD });
  expect(res.status, res.text).toBe(200);
  expect(res.body.user, res.text).toBeDefined();
  return client;
}

const isSignedIn = async (client: Client) => (await client.get('/api/auth/me')).status === 200;

/** The trail's events the command line caused, oldest first, as the account's owner reads them. */
async function cliEvents(url: string, email: string): Promise<string[]> {
  const res = await (await signIn(url, email)).get('/api/auth/events');
  expect(res.status, res.text).toBe(200);
  const events = res.body.events as Array<{ type: string; actor?: unknown }>;
  const byCli = events.filter((e) => e.actor !== undefined);
  for (const event of byCli) expect(event.actor).toEqual({ role: 'cli' });
  return byCli.map((e) => e.type).reverse();
}

describe('latch: the grammar, help, failures without a database', () => {
  const never = () => ({ DATABASE_URL: `sqlite:${join(cwd, 'never', 'latch.db')}` });

  it('a usage error exits 2 with the problem and a usage line, before touching the database', async () => {
    const cases: Array<[string[], RegExp]> = [
      [[], /^latch: no command given\nusage: latch <command>/],
      [['frobnicate'], /^latch: unknown command 'frobnicate'\nusage: latch <command>/],
      [['users'], /^latch: 'users' needs one of: list, show, .*\nusage: /],
      [['users', 'show'], /^latch: missing <email>\nusage: latch users show <email> \[--json\]\n$/],
      [['users', 'show', 'a@example.test', 'b'], /^latch: unexpected argument 'b'\nusage: latch users show/],
      [['users', 'list', '--bogus'], /^latch: unknown option '--bogus'\nusage: latch users list \[--query <text>\] \[--json\]\n$/],
      [['users', 'list', '--reason', 'x'], /^latch: 'users list' takes no --reason\nusage: latch users list/],
      [['users', 'list', '--query'], /^latch: option '-q, --query <value>' argument missing\nusage: latch users list/],
    ];
    const runs = await Promise.all(cases.map(([args]) => latch(never(), ...args)));
    runs.forEach((run, i) => {
      expect(run.code, run.stderr).toBe(2);
      expect(run.stdout).toBe('');
      expect(run.stderr).toMatch(cases[i]![1]);
    });
    expect(existsSync(join(cwd, 'never'))).toBe(false);
  }, SLOW);

  it('--help and help list every command of API.md on stdout and exit 0', async () => {
    const [general, help, one] = await Promise.all([latch(never(), '--help'), latch(never(), 'help'), latch(never(), 'users', 'disable', '--help')]);
    for (const run of [general, help]) {
      expect(run.code, run.stderr).toBe(0);
      for (const command of ['serve', 'migrate', 'users list [--query <text>]', 'users show <email>', 'users disable <email> [--reason <text>]', 'users enable <email>', 'users grant-admin <email>', 'users revoke-admin <email>', 'sessions revoke <email>', 'mfa reset <email>']) {
        expect(run.stdout).toContain(`latch ${command}`);
      }
    }
    expect(one.code).toBe(0);
    expect(one.stdout).toMatch(/^usage: latch users disable <email> \[--reason <text>\] \[--json\]\n/);
  }, SLOW);

  it('the database unreachable: exit 1 with one line naming where, quickly, and no password', async () => {
    const run = await latch({ DATABASE_URL: 'postgres://postgres:hunter22@127.0.0.1:1/x' }, 'users', 'list', '--json');
    expectOneLineFailure(run, /^latch: database unreachable \(127\.0\.0\.1:1\/x\)/);
    expect(run.stderr).not.toContain('hunter22');
    // Node itself takes a good part of this on a loaded machine; the connection is refused at once.
    expect(run.ms).toBeLessThan(15_000);
  }, SLOW);

  it('a bad variable: exit 1 with one line naming it', async () => {
    const run = await latch({ ...never(), PASSWORD_MIN_LENGTH: '3' }, 'users', 'list');
    expectOneLineFailure(run, /^latch: invalid configuration: PASSWORD_MIN_LENGTH: /);
  }, SLOW);

  it('migrate applies the migrations once; serve is the server, and SIGTERM stops it cleanly', async () => {
    const env = { DATABASE_URL: `sqlite:${join(cwd, 'migrate', 'latch.db')}` };
    const first = await latch(env, 'migrate');
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toMatch(/^applied: 0001_/);
    const again = await latch(env, 'migrate');
    expect(again.stdout).toBe('database is up to date\n');

    const server = spawn(process.execPath, [CLI_JS, 'serve'], { cwd, env: cleanEnv({ ...env, SECRETS_KEY }), stdio: ['ignore', 'pipe', 'pipe'] });
    killOnExit(server);
    const exited = new Promise<number | null>((resolve) => server.once('close', (code) => resolve(code)));
    let stdout = '';
    server.stdout.setEncoding('utf8');
    const url = await withDeadline(
      new Promise<string>((resolve) => {
        server.stdout.on('data', (chunk: string) => {
          stdout += chunk;
          const listening = /"url":"(http:\/\/127\.0\.0\.1:\d+)"[^\n]*"msg":"latch listening"/.exec(stdout);
          if (listening) resolve(listening[1]!);
        });
      }),
      60_000,
      'latch serve listening',
    );
    expect((await new Client(url).get('/api/auth/me')).status).toBe(401);
    server.kill('SIGTERM');
    expect(await withDeadline(exited, 20_000, 'latch serve exit')).toBe(0);
  }, SLOW);
});

describeOnBackends(
  'latch users, sessions, mfa',
  ({ server }) => {
    /** The server's own storage, as the operator's environment names it. */
    const env = (): Record<string, string> => {
      const { config } = server().latch;
      return {
        DATABASE_URL: config.databaseUrl,
        ...(config.redisUrl ? { REDIS_URL: config.redisUrl, REDIS_KEY_PREFIX: config.redisKeyPrefix } : {}),
        OUTBOX_DIR: join(cwd, 'outbox'),
      };
    };
    const run = (...args: string[]) => latch(env(), ...args);
    /** Runs with --json; must succeed with nothing on stderr. */
    const json = async (...args: string[]) => {
      const result = await run(...args, '--json');
      expect(result.code, result.stderr).toBe(0);
      expect(result.stderr).toBe('');
      return JSON.parse(result.stdout);
    };
    const url = () => server().url;

    it('users list and show: --json in the admin API shapes, --query filters, aligned tables for people', async () => {
      const tag = randomBytes(4).toString('hex');
      const ada = await signedUp(url(), { name: `Ada ${tag}` });
      const bob = await signedUp(url(), { name: `Bob ${tag}`, email: uniqueEmail('bob') });

      const [tagged, byEmail, table, page, profile] = await Promise.all([
        json('users', 'list', '--query', tag.toUpperCase()),
        json('users', 'list', '--query', bob.email),
        run('users', 'list'),
        json('users', 'show', ada.email),
        run('users', 'show', ada.email),
      ]);
      expect(tagged.users.map((u: { email: string }) => u.email)).toEqual([bob.email, ada.email]);
      expect(byEmail.users.map((u: { email: string }) => u.email)).toEqual([bob.email]);
      for (const user of tagged.users) expect(Object.keys(user).sort()).toEqual(ADMIN_USER_FIELDS);
      expect(tagged.users[1]).toMatchObject({ id: ada.user.id, name: `Ada ${tag}`, role: 'user', twoFactor: false, disabled: false, sessionCount: 1 });

      expect(page.user).toMatchObject({ id: ada.user.id, email: ada.email, sessionCount: 1 });
      expect(page.sessions).toHaveLength(1);
      expect(page.sessions[0]).toMatchObject({ current: false, aal: 'aal1', methods: ['password'] });
      expect(page.events.map((e: { type: string }) => e.type)).toContain('registered');

      expect(table.code, table.stderr).toBe(0);
      const lines = table.stdout.split('\n');
      expect(lines[0]).toMatch(/^EMAIL +NAME +ROLE +STATUS +2FA +SESSIONS +LAST LOGIN +CREATED$/);
      const adaLine = lines.find((line) => line.startsWith(`${ada.email} `))!;
      expect(adaLine).toMatch(new RegExp(`^${ada.email} +Ada ${tag} +user +active +off +1 +- +\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\dZ$`));
      expect(adaLine.indexOf(' user ') + 1).toBe(lines[0]!.indexOf('ROLE')); // aligned under its header

      expect(profile.code, profile.stderr).toBe(0);
      expect(profile.stdout).toMatch(new RegExp(`^id +${ada.user.id}\nemail +${ada.email}\n`));
      expect(profile.stdout).toContain('\nSessions (1)\nSESSION ');
      expect(profile.stdout).toMatch(/\nLatest events \(\d+\)\nAT +EVENT +BY +IP +USER AGENT\n[^\n]* registered +owner /);
    }, SLOW);

    it('an unknown user: exit 1, one line on stderr, nothing on stdout', async () => {
      const nobody = uniqueEmail('nobody');
      const [show, disable] = await Promise.all([run('users', 'show', nobody), run('users', 'disable', nobody.toUpperCase(), '--json')]);
      expectOneLineFailure(show, `latch: no user with the email ${nobody}`);
      expectOneLineFailure(disable, `latch: no user with the email ${nobody}`);
    }, SLOW);

    it('disable ends the sessions and turns the right password away (403 account_disabled); enable lets it back in', async () => {
      const { client, email } = await signedUp(url());
      const disabled = await json('users', 'disable', email, '--reason', 'left the team');
      expect(disabled.user).toMatchObject({ email, disabled: true, disabledReason: 'left the team', sessionCount: 0 });
      expect((await json('users', 'show', email)).user).toMatchObject({ disabled: true, disabledReason: 'left the team' });
      expect(await isSignedIn(client)).toBe(false);
      const refused = await new Client(url()).post('/api/auth/login', { email, password: STRONG_PASSWORD });
      expect(refused.status, refused.text).toBe(403);
      expect(refused.body.code).toBe('account_disabled');

      const enabled = await run('users', 'enable', email);
      expect(enabled.code, enabled.stderr).toBe(0);
      expect(enabled.stdout).toBe(`enabled ${email}; the account can sign in again\n`);
      expect(await cliEvents(url(), email)).toEqual(['account_disabled', 'account_enabled']);
    }, SLOW);

    it('grant-admin: the account signs in to /api/admin; the last admin cannot be demoted (last_admin)', async () => {
      const ada = await signedUp(url());
      expect((await ada.client.get('/api/admin/users')).status).toBe(403);

      const granted = await json('users', 'grant-admin', ada.email);
      expect(granted.user).toMatchObject({ email: ada.email, role: 'admin', sessionCount: 0 });
      expect(await isSignedIn(ada.client)).toBe(false); // a role change ends the sessions
      const admin = await signIn(url(), ada.email);
      const users = await admin.get('/api/admin/users');
      expect(users.status, users.text).toBe(200);
      expect(users.body.users.map((u: { email: string }) => u.email)).toContain(ada.email);

      expectOneLineFailure(await run('users', 'revoke-admin', ada.email), /^latch: This is the last administrator .*\(last_admin\)\n$/);
      expect((await admin.get('/api/admin/users')).status).toBe(200);

      const bob = await signedUp(url());
      const second = await run('users', 'grant-admin', bob.email);
      expect(second.stdout).toBe(`${bob.email} is now an administrator; their sessions ended (they sign in again)\n`);
      const [again, demoted] = await Promise.all([run('users', 'grant-admin', bob.email), json('users', 'revoke-admin', ada.email)]);
      expect(again.stdout).toBe(`${bob.email} is already an administrator; nothing changed\n`);
      expect(demoted.user).toMatchObject({ role: 'user' });
      expect((await admin.get('/api/admin/users')).status).toBe(401);
      expect(await cliEvents(url(), ada.email)).toEqual(['role_changed', 'role_changed']);
    }, SLOW);

    it('sessions revoke ends every live session of the account', async () => {
      const { client, email } = await signedUp(url());
      const other = await signIn(url(), email);
      expect(await json('sessions', 'revoke', email)).toEqual({ revoked: 2 });
      expect(await isSignedIn(client)).toBe(false);
      expect(await isSignedIn(other)).toBe(false);
      expect(await cliEvents(url(), email)).toEqual(['sessions_revoked']);
    }, SLOW);

    it('mfa reset removes the authenticator app: the password alone signs in again', async () => {
      const { client, email } = await signedUp(url());
      const setup = await client.post('/api/auth/mfa/totp');
      expect(setup.status, setup.text).toBe(200);
      const confirm = await client.post('/api/auth/mfa/totp/confirm', { code: totpCode(setup.body.secret, Date.now()) });
      expect(confirm.status, confirm.text).toBe(200);
      const pending = await new Client(url()).post('/api/auth/login', { email, password: STRONG_PASSWORD });
      expect(pending.body).toMatchObject({ mfaRequired: true });

      const reset = await json('mfa', 'reset', email);
      expect(reset.user).toMatchObject({ email, twoFactor: false, sessionCount: 0 });
      expect(await isSignedIn(client)).toBe(false);
      expect(await cliEvents(url(), email)).toEqual(['mfa_reset']); // signIn found one step enough
    }, SLOW);
  },
  { backends: [sqlite, postgresRedis], latch: () => ({ adminRequireMfa: false, secretsKey: SECRETS_KEY }) },
);
