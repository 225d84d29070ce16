/**
 * Shared by the administration suites (test/http/admin*.test.ts, test/ops/admin-instances.test.ts):
 * making an administrator the command line's way, an admin API client, and the checks the
 * suites make on refusals and on the target's trail.
 */
import { expect } from 'vitest';
import type { Acting } from '../../src/domain/admin-service.js';
import { totpCode } from '../../src/domain/totp.js';
import type { Latch } from '../../src/latch.js';
import { Client, signedUp, STRONG_PASSWORD, type ManualClock, type Reply } from './server.js';
import { SoftAuthenticator } from './soft-authenticator.js';

/** The command line's way of acting (API.md, "Command line"). */
export const CLI: Acting = { actor: { role: 'cli' }, client: { ip: '127.0.0.1', userAgent: 'test' } };

/** Exactly Latch's error shape with this status and code (`issues` for validation errors). */
export function expectCode(res: Reply, status: number, code: string): void {
  expect(res.status, res.text).toBe(status);
  if (code === 'invalid_input') expect(res.body).toEqual({ error: expect.any(String), code, issues: expect.any(Array) });
  else expect(res.body).toEqual({ error: expect.any(String), code });
}

/** The passkey settings of the admin suites (server options `webauthnRpId`, `webauthnOrigins`). */
export const WEBAUTHN = { rpId: 'latch.test', origin: 'https://latch.test' } as const;
export const authenticator = () => new SoftAuthenticator(WEBAUTHN);

/** Adds a passkey on `device` from `client`'s (recently proven) session. */
export async function addPasskey(client: Client, device: SoftAuthenticator): Promise<void> {
  const options = await client.post('/api/auth/passkeys/register/options');
  expect(options.status, options.text).toBe(200);
  const added = await client.post('/api/auth/passkeys/register', { response: device.register(options.body) });
  expect(added.status, added.text).toBe(201);
}

/** A guest's passwordless sign-in with `device`: the answer, and the browser it was made in. */
export async function passkeySignIn(url: string, device: SoftAuthenticator): Promise<{ browser: Client; res: Reply }> {
  const browser = new Client(url);
  const options = await browser.post('/api/auth/passkeys/login/options');
  expect(options.status, options.text).toBe(200);
  return { browser, res: await browser.post('/api/auth/passkeys/login', { response: device.authenticate(options.body) }) };
}

/** TOTP against the server's manual clock: each code is of a later time step than the last. */
export function appCodes(clock: ManualClock) {
  const STEP = 30_000;
  const nextCode = (secret: string) => {
    clock.advance(STEP);
    return totpCode(secret, clock.now());
  };
  /** Turns the app on from `client`'s (recently proven) session, which goes on as aal2. */
  const turnOnTotp = async (client: Client): Promise<string> => {
    const setup = await client.post('/api/auth/mfa/totp');
    expect(setup.status, setup.text).toBe(200);
    const confirm = await client.post('/api/auth/mfa/totp/confirm', { code: nextCode(setup.body.secret) });
    expect(confirm.status, confirm.text).toBe(200);
    return setup.body.secret as string;
  };
  return { nextCode, turnOnTotp };
}

/** A new browser signed in with the password (fails unless the answer is a 200). */
export async function signIn(url: string, email: string, password = STRONG_PASSWORD): Promise<Client> {
  const client = new Client(url);
  const res = await client.post('/api/auth/login', { email, password });
  expect(res.status, res.text).toBe(200);
  return client;
}

export const isSignedIn = async (client: Client): Promise<boolean> => {
  const res = await client.get('/api/auth/me');
  expect([200, 401], res.text).toContain(res.status);
  return res.status === 200;
};

/** Every browser still signed in, or none. */
export async function expectSignedIn(clients: Client[], expected: boolean): Promise<void> {
  for (const client of clients) expect(await isSignedIn(client)).toBe(expected);
}

/**
 * A new account made an administrator by the command line, signed in again with its password
 * (the role change ended the sessions it had).
 */
export async function newAdmin(url: string, latch: Latch) {
  const { email, user } = await signedUp(url, { name: 'Ada Admin' });
  await latch.admin.setRole(user.id, 'admin', CLI);
  const client = await signIn(url, email);
  return { client, email, id: user.id as string, api: new AdminApi(client) };
}

/** The administration API (API.md, "Administration") as one browser calls it. */
export class AdminApi {
  constructor(readonly client: Client) {}

  users(params: Record<string, string | number> = {}): Promise<Reply> {
    return this.client.get(`/api/admin/users${query(params)}`);
  }
  user(id: string): Promise<Reply> {
    return this.client.get(`/api/admin/users/${id}`);
  }
  disable(id: string, body: unknown = {}): Promise<Reply> {
    return this.client.post(`/api/admin/users/${id}/disable`, body);
  }
  enable(id: string): Promise<Reply> {
    return this.client.post(`/api/admin/users/${id}/enable`);
  }
  revokeSessions(id: string): Promise<Reply> {
    return this.client.request('DELETE', `/api/admin/users/${id}/sessions`);
  }
  passwordReset(id: string): Promise<Reply> {
    return this.client.post(`/api/admin/users/${id}/password-reset`);
  }
  resetMfa(id: string): Promise<Reply> {
    return this.client.request('DELETE', `/api/admin/users/${id}/mfa`);
  }
  setRole(id: string, role: unknown): Promise<Reply> {
    return this.client.post(`/api/admin/users/${id}/role`, { role });
  }
  remove(id: string): Promise<Reply> {
    return this.client.request('DELETE', `/api/admin/users/${id}`);
  }
  events(params: Record<string, string | number> = {}): Promise<Reply> {
    return this.client.get(`/api/admin/events${query(params)}`);
  }
}

function query(params: Record<string, string | number>): string {
  const search = new URLSearchParams(Object.entries(params).map(([k, v]): [string, string] => [k, String(v)]));
  return search.size ? `?${search}` : '';
}

/** Every request of the admin API, on `id`: for checking a guard refuses each one alike. */
export function everyAdminRequest(api: AdminApi, id: string): Array<[string, () => Promise<Reply>]> {
  return [
    ['GET /users', () => api.users()],
    ['GET /users/:id', () => api.user(id)],
    ['POST /users/:id/disable', () => api.disable(id, { reason: 'refused' })],
    ['POST /users/:id/enable', () => api.enable(id)],
    ['DELETE /users/:id/sessions', () => api.revokeSessions(id)],
    ['POST /users/:id/password-reset', () => api.passwordReset(id)],
    ['DELETE /users/:id/mfa', () => api.resetMfa(id)],
    ['POST /users/:id/role', () => api.setRole(id, 'admin')],
    ['DELETE /users/:id', () => api.remove(id)],
    ['GET /events', () => api.events()],
  ];
}

export interface TrailEvent {
  type: string;
  at: string;
  actor?: { id?: string; role: string };
  userId?: string;
}

/** The user's own trail, as the user sees it (`GET /api/auth/events`). */
export async function ownTrail(client: Client): Promise<TrailEvent[]> {
  const res = await client.get('/api/auth/events?limit=100');
  expect(res.status, res.text).toBe(200);
  return res.body.events;
}

/** The newest event of `type` in `events` was caused by this administrator. */
export function expectByAdmin(events: TrailEvent[], type: string, adminId: string): void {
  const event = events.find((e) => e.type === type);
  expect(event, `${type} in ${JSON.stringify(events.map((e) => e.type))}`).toBeDefined();
  expect(event!.actor).toEqual({ id: adminId, role: 'admin' });
}
