import pg from 'pg';
import { it } from 'vitest';
import { createPostgresDatabase, POSTGRES_URL } from '../support/services.js';
import { signedUp, startServer } from '../support/server.js';
import { startTcpProxy, throughProxy } from '../support/tcp-proxy.js';

it('debug', async () => {
  const origEmit = pg.Client.prototype.emit;
  (pg.Client.prototype as any).emit = function (this: any, event: string, ...args: any[]) {
    if (event === 'error') console.log('CLIENT ERROR emit; listeners=', this.listenerCount('error'), 'connecting', this._connecting, 'connected', this._connected, 'queryable', this._queryable, 'activeQuery', !!this.activeQuery, 'release?', typeof this.release, args[0]?.message, new Error().stack);
    if (event === 'end') console.log('CLIENT END; error listeners=', this.listenerCount('error'));
    return origEmit.call(this, event, ...args);
  };
  const database = await createPostgresDatabase();
  const t = new URL(POSTGRES_URL);
  const proxy = await startTcpProxy({ host: t.hostname, port: Number(t.port) });
  const server = await startServer({ databaseUrl: throughProxy(database.url, proxy) });
  const { client } = await signedUp(server.url);
  console.log('me', (await client.get('/api/auth/me')).status, 'conns', proxy.connections);
  await proxy.cut();
  console.log('me-cut', (await client.get('/api/auth/me')).status);
  console.log('ready-cut', (await client.get('/readyz')).status);
  await new Promise((r) => setTimeout(r, 300));
  console.log('restore');
  await proxy.restore();
  console.log('ready', (await client.get('/readyz')).status);
  console.log('me', (await client.get('/api/auth/me')).status);
  await new Promise((r) => setTimeout(r, 300));
  console.log('after');
  await server.close(); await proxy.close(); await database.drop();
});
