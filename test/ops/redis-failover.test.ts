/**
 * The cluster issue: "A failover test stops a master: after the replica takes over, existing
 * sessions (written before the test's WAIT for replication) still work and new logins
 * succeed, with no restart of Latch."
 *
 * This file runs its OWN 6-node cluster (ports 7311–7316 or the next free block), so killing a
 * master here never disturbs the run's shared cluster. Users live in SQLite, sessions in the
 * cluster. Latch is never restarted.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClient } from 'redis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseToken, slotTagOfSessionId } from '../../src/domain/session-token.js';
import { hasClusterBinaries, nodeCommand, startCluster, type RedisCluster } from '../support/redis-cluster.js';
import { Client, signedUp, startServer, STRONG_PASSWORD, type TestServer } from '../support/server.js';
import { timed, unhandledErrors, until } from './helpers.js';

const PREFIX = 'latch-failover:';
const USERS = 9;

interface SignedIn {
  client: Client;
  email: string;
  sessionId: string;
  /** The port of the master that held the session when it was written. */
  master: number;
}

function sessionIdOf(client: Client): string {
  for (const value of client.cookies.values()) {
    const token = parseToken(decodeURIComponent(value));
    if (token) return token.id;
  }
  throw new Error(`no session cookie in ${JSON.stringify([...client.cookies.keys()])}`);
}

describe.skipIf(!hasClusterBinaries)('Redis Cluster failover (own 6-node cluster, SQLite users)', () => {
  let dir: string;
  let cluster: RedisCluster | undefined;
  let server: TestServer | undefined;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'latch-ops-failover-'));
    cluster = await startCluster({ basePort: 7311 });
    server = await startServer({ databaseUrl: `sqlite:${join(dir, 'latch.db')}`, redisUrl: cluster.url, redisKeyPrefix: PREFIX });
  });

  afterAll(async () => {
    try {
      await server?.close();
    } finally {
      await cluster?.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('keeps existing sessions and accepts new logins after a master is killed and its replica promoted', async () => {
    const c = cluster!;
    const s = server!;

    // Several users: their session keys spread over the three masters.
    const users: SignedIn[] = [];
    for (let i = 0; i < USERS; i++) {
      const { client, email } = await signedUp(s.url);
      const sessionId = sessionIdOf(client);
      const master = await c.masterForKey(`{${slotTagOfSessionId(sessionId)}}`);
      users.push({ client, email, sessionId, master });
    }
    const masters = [...new Set(users.map((u) => u.master))];
    expect(masters.length, 'sessions should land on more than one master').toBeGreaterThan(1);

    // WAIT only covers the calling connection's own writes, so each master first gets a write
    // of ours in a session's slot; once a replica acknowledges it, it also holds every write
    // Latch made to that master before (one ordered replication stream).
    for (const master of masters) {
      const tag = slotTagOfSessionId(users.find((u) => u.master === master)!.sessionId);
      const client = createClient({ socket: { host: '127.0.0.1', port: master } });
      await client.connect();
      try {
        await client.set(`${PREFIX}{${tag}}:failover-barrier`, '1');
        const acked = await client.sendCommand(['WAIT', '1', '2000']);
        expect(acked, `replicas of master ${master} acknowledging the sessions`).toBeGreaterThanOrEqual(1);
      } finally {
        client.destroy();
      }
    }
    for (const u of users) expect((await u.client.get('/api/auth/me')).status).toBe(200);

    // Kill the master holding the most sessions.
    const victim = masters.sort((a, b) => users.filter((u) => u.master === b).length - users.filter((u) => u.master === a).length)[0]!;
    const onVictim = users.filter((u) => u.master === victim);
    const topology = await c.topology();
    const victimId = topology.find((n) => n.port === victim)!.id;
    const replicaOfVictim = topology.find((n) => n.masterId === victimId)!.port;

    // While the cluster fails over, requests get 200 or the documented 503, never a 500 or a hang.
    let probing = true;
    const probeReplies: Array<{ status: number; ms: number }> = [];
    const probe = (async () => {
      while (probing) {
        const reply = await timed(() => onVictim[0]!.client.get('/api/auth/me'));
        probeReplies.push({ status: reply.value.status, ms: reply.ms });
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    })();

    const killedAt = performance.now();
    await c.killNode(victim);
    try {
      await c.waitUntilHealthy(30_000);
    } finally {
      probing = false;
      await probe;
    }
    const failoverMs = Math.round(performance.now() - killedAt);
    const promoted = await c.masterForKey(`{${slotTagOfSessionId(onVictim[0]!.sessionId)}}`);
    expect(promoted).toBe(replicaOfVictim);
    expect(await nodeCommand<string>(promoted, ['ROLE']).then((r) => r[0])).toBe('master');

    // The first request may still need Latch to learn the new topology; allow it a moment.
    const first = await until('GET /me on a session of the killed master', () => onVictim[0]!.client.get('/api/auth/me'), (r) => r.status === 200, {
      timeoutMs: 5_000,
    });

    // Every existing session works, on the promoted replica and on the untouched masters.
    for (const u of users) {
      const me = await u.client.get('/api/auth/me');
      expect(me.status, `session of ${u.email} (was on ${u.master})`).toBe(200);
      expect(me.body.user.email).toBe(u.email);
    }

    // New logins succeed (sessions are written, including to the promoted master) and work.
    for (const u of users) {
      const fresh = new Client(s.url);
      const login = await fresh.post('/api/auth/login', { email: u.email, password: STRONG_PASSWORD });
      expect(login.status, `login of ${u.email}: ${login.text}`).toBe(200);
      expect((await fresh.get('/api/auth/me')).status).toBe(200);
    }
    const newcomer = await signedUp(s.url);
    expect((await newcomer.client.get('/api/auth/me')).status).toBe(200);

    for (const reply of probeReplies) expect([200, 503]).toContain(reply.status);
    expect(unhandledErrors(s.logs)).toEqual([]);
    const statuses = probeReplies.map((r) => r.status);
    console.info(
      `[redis failover] killed master ${victim} (${onVictim.length}/${users.length} sessions), replica ${replicaOfVictim} promoted and cluster ok after ${failoverMs} ms; ` +
        `first /me 200 after ${first.ms} ms more; during failover: ${statuses.filter((x) => x === 200).length}x 200, ${statuses.filter((x) => x === 503).length}x 503, slowest ${Math.max(0, ...probeReplies.map((r) => r.ms))} ms`,
    );
  });
});
