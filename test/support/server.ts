/**
 * Starts the real server app on a loopback port and talks to it over HTTP, with a minimal
 * cookie jar per simulated browser.
 */
import { mkdtempSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Server } from 'node:http';
import { Writable } from 'node:stream';
import pino from 'pino';
import { createLatch, type Latch, type LatchOptions } from '../../src/latch.js';
import { createHttpServer } from '../../src/http/http-server.js';
import { createServerApp } from '../../src/http/server-app.js';
import type { Clock } from '../../src/domain/ports.js';

export interface TestServer {
  url: string;
  latch: Latch;
  /** Everything the server logged, as JSON lines. */
  logs: string[];
  close(): Promise<void>;
}

/** `listenPort`: a known loopback port (none: any free one), for a PUBLIC_URL that names it. */
/** The in-process servers of this test file, by URL (see `settledAt`). */
const serversByUrl = new Map<string, Latch>();

/**
 * Waits until the server at `url` (started here, in this process) has finished the work it
 * started after its answers so far: a forgot-password request's mail is queued after its 202.
 * A server of another process (or none) is not waited for.
 */
export async function settledAt(url: string): Promise<void> {
  await serversByUrl.get(url)?.settled();
}

export async function startServer({ listenPort = 0, ...options }: LatchOptions & { listenPort?: number }): Promise<TestServer> {
  const logs: string[] = [];
  const sink = new Writable({
    write(chunk, _enc, done) {
      logs.push(String(chunk));
      done();
    },
  });
  // Suites sign up many users from 127.0.0.1: lift the per-IP budgets unless a test sets them.
  // Mails go to a throwaway outbox unless a test points Latch at its SMTP server.
  const generous = {
    registerIpMax: 100_000,
    loginIpMaxFailures: 100_000,
    passkeyOptionsIpMax: 100_000,
    // Race tests queue many logins behind one hash on a loaded machine: admission by expected
    // wait (HASH_MAX_WAIT) is tested on its own (test/ops/hash-admission.test.ts).
    hashMaxWait: 60_000,
    outboxDir: mkdtempSync(join(tmpdir(), 'latch-outbox-')),
    secretsKeyFile: join(mkdtempSync(join(tmpdir(), 'latch-keys-')), 'secrets.key'),
  };
  const latch = await createLatch({ logger: pino({ level: 'debug' }, sink), ...generous, ...options });
  const server: Server = createHttpServer(createServerApp(latch)).listen(listenPort, '127.0.0.1');
  await new Promise<void>((resolve) => server.once('listening', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  serversByUrl.set(url, latch);
  return {
    url,
    latch,
    logs,
    async close() {
      serversByUrl.delete(url);
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await latch.close();
    },
  };
}

/** A clock the test moves by hand. */
export class ManualClock implements Clock {
  constructor(private time = Date.now()) {}
  now(): number {
    return this.time;
  }
  advance(ms: number): void {
    this.time += ms;
  }
}

export interface Reply {
  status: number;
  headers: Headers;
  body: any;
  text: string;
}

/** One browser: remembers the session cookie it is given, sends it back. */
export class Client {
  cookies = new Map<string, string>();

  constructor(readonly baseUrl: string) {}

  async request(method: string, path: string, options: { json?: unknown; body?: string; headers?: Record<string, string> } = {}): Promise<Reply> {
    const headers: Record<string, string> = { ...options.headers };
    if (options.json !== undefined) headers['content-type'] ??= 'application/json';
    const cookie = [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
    if (cookie && headers.cookie === undefined) headers.cookie = cookie;
    const response = await fetch(this.baseUrl + path, {
      method,
      headers,
      body: options.json !== undefined ? JSON.stringify(options.json) : options.body,
      redirect: 'manual',
    });
    for (const line of response.headers.getSetCookie()) {
      const [pair = '', ...attributes] = line.split(';');
      const [name = '', value = ''] = pair.split('=');
      const expired = attributes.some((a) => /expires=Thu, 01 Jan 1970/i.test(a));
      if (expired || value === '') this.cookies.delete(name.trim());
      else this.cookies.set(name.trim(), value.trim());
    }
    const text = await response.text();
    let body: unknown = undefined;
    try {
      body = text ? JSON.parse(text) : undefined;
    } catch {
      body = undefined;
    }
    return { status: response.status, headers: response.headers, body, text };
  }

  get(path: string, headers?: Record<string, string>) {
    return this.request('GET', path, { headers });
  }
  post(path: string, json?: unknown, headers?: Record<string, string>) {
    return this.request('POST', path, { json, headers });
  }
}

export const STRONG_PASSWORD = 'violet-harbor-lantern-42';

let counter = 0;
export function uniqueEmail(label = 'user'): string {
  counter += 1;
  return `${label}.${process.pid}.${Date.now()}.${counter}@example.test`;
}

/** Registers and returns a signed-in client. */
export async function signedUp(baseUrl: string, overrides: { email?: string; name?: string } = {}) {
  const client = new Client(baseUrl);
  const email = overrides.email ?? uniqueEmail();
  const res = await client.post('/api/auth/register', { email, password: STRONG_PASSWORD, name: overrides.name ?? 'Test User' });
  if (res.status !== 201) throw new Error(`register failed: ${res.status} ${res.text}`);
  return { client, email, user: res.body.user };
}
