/**
 * NODE_ENV=production: `/metrics` is served only behind METRICS_TOKEN. Without a token it is
 * absent (404 `not_found`, the same answer as any unknown path), so a deployment that forgot
 * the token does not publish its login and session counts to the internet. Outside production
 * it stays open without a token, for a local Prometheus.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LatchOptions } from '../../src/latch.js';
import { Client, startServer, type TestServer } from '../support/server.js';

const TOKEN = 'metrics-token-0123456789';

describe('production mode', () => {
  let dir: string;
  const servers: TestServer[] = [];

  /** A production configuration that passes every start check; no mail is sent here. */
  const start = async (options: LatchOptions) => {
    const server = await startServer({
      databaseUrl: `sqlite:${join(dir, `latch-${servers.length}.db`)}`,
      publicUrl: 'https://auth.example.test',
      smtpUrl: 'smtp://127.0.0.1:1',
      secretsKey: Buffer.alloc(32, 1).toString('base64'),
      ...options,
    });
    servers.push(server);
    return server;
  };

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'latch-production-'));
  });

  afterAll(async () => {
    await Promise.all(servers.map((server) => server.close()));
    rmSync(dir, { recursive: true, force: true });
  });

  it('answers /metrics with 404 not_found without METRICS_TOKEN, exactly like an unknown path', async () => {
    const server = await start({ nodeEnv: 'production' });
    const client = new Client(server.url);
    const metrics = await client.get('/metrics');
    const unknown = await client.get('/no-such-page');
    expect(metrics.status).toBe(404);
    expect(metrics.body).toEqual({ error: 'Not found', code: 'not_found' });
    expect(metrics.text).toBe(unknown.text);
    expect(metrics.headers.get('cache-control')).toBe(unknown.headers.get('cache-control'));
    expect(metrics.headers.get('www-authenticate')).toBeNull();
    // A guessed bearer token changes nothing: there is no token to match.
    expect((await client.get('/metrics', { authorization: `Bearer ${TOKEN}` })).status).toBe(404);
  });

  it('serves /metrics behind the bearer token when METRICS_TOKEN is set', async () => {
    const server = await start({ nodeEnv: 'production', metricsToken: TOKEN });
    const client = new Client(server.url);
    expect((await client.get('/metrics')).status).toBe(401);
    const res = await client.get('/metrics', { authorization: `Bearer ${TOKEN}` });
    expect(res.status).toBe(200);
    expect(res.text).toContain('# TYPE');
  });

  it('keeps /metrics open without a token outside production', async () => {
    const server = await start({ nodeEnv: 'development', publicUrl: 'http://localhost:3000', smtpUrl: undefined });
    const res = await new Client(server.url).get('/metrics');
    expect(res.status).toBe(200);
    expect(res.text).toContain('# TYPE');
  });
});
