/**
 * createHttpServer (http-server.ts): requests and responses arrive already built as Express's
 * own objects, so Express' per-request prototype swap changes nothing, and an Express app
 * answers through it exactly as through `app.listen`. (Every in-process server of the HTTP
 * suites runs on it too: test/support/server.ts.)
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import express, { type Express } from 'express';
import { afterEach, describe, expect, it } from 'vitest';
import { createHttpServer } from '../../src/http/http-server.js';

let server: Server | undefined;
afterEach(async () => {
  if (server) await stop(server);
});

async function stop(running: Server): Promise<void> {
  running.closeAllConnections();
  await new Promise((resolve) => running.close(resolve));
  server = undefined;
}

function sampleApp(): Express {
  const app = express();
  app.disable('x-powered-by');
  app.get('/echo/:name', (req, res) => {
    res.cookie('seen', req.params.name, { httpOnly: true, sameSite: 'lax' });
    res.status(201).json({ name: req.params.name, agent: req.get('user-agent'), path: req.path, query: req.query });
  });
  app.post('/body', express.json(), (req, res) => void res.json({ got: req.body }));
  return app;
}

/** Starts `server`; returns its URL and what each request's and response's prototype was on arrival. */
async function start(made: Server): Promise<{ url: string; arrived: Array<{ req: object | null; res: object | null }> }> {
  const arrived: Array<{ req: object | null; res: object | null }> = [];
  // Runs before the app (the first 'request' listener): what Node built, before Express saw it.
  made.prependListener('request', (req: IncomingMessage, res: ServerResponse) => {
    arrived.push({ req: Object.getPrototypeOf(req), res: Object.getPrototypeOf(res) });
  });
  server = made.listen(0, '127.0.0.1');
  await new Promise((resolve) => made.once('listening', resolve));
  return { url: `http://127.0.0.1:${(made.address() as AddressInfo).port}`, arrived };
}

describe('createHttpServer', () => {
  it("builds every request and response with the app's own prototypes", async () => {
    const app = sampleApp();
    const { url, arrived } = await start(createHttpServer(app));
    await fetch(`${url}/echo/a`);
    await fetch(`${url}/echo/b`);
    expect(arrived).toHaveLength(2);
    for (const { req, res } of arrived) {
      expect(req).toBe(app.request);
      expect(res).toBe(app.response);
    }
  });

  it("is what Express's own server is not: there the prototypes are swapped on every request", async () => {
    const app = sampleApp();
    const { url, arrived } = await start(createServer(app)); // what app.listen() builds
    await fetch(`${url}/echo/a`);
    expect(arrived[0]!.req).not.toBe(app.request);
    expect(arrived[0]!.res).not.toBe(app.response);
  });

  it("answers exactly as app.listen's server does: status, headers, cookies, params, query and bodies", async () => {
    const answers = [];
    for (const made of [createServer(sampleApp()), createHttpServer(sampleApp())]) {
      const { url } = await start(made);
      const get = await fetch(`${url}/echo/caf%C3%A9?x=1&y=2`, { headers: { 'user-agent': 'probe/1' } });
      const post = await fetch(`${url}/body`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"a":[1,2]}' });
      const head = await fetch(`${url}/echo/h`, { method: 'HEAD' });
      const missing = await fetch(`${url}/nowhere`);
      const strip = (h: Headers) => [...h].filter(([name]) => !['date', 'connection', 'keep-alive'].includes(name));
      answers.push({
        get: [get.status, strip(get.headers), await get.text()],
        post: [post.status, strip(post.headers), await post.text()],
        head: [head.status, strip(head.headers), await head.text()],
        missing: [missing.status, await missing.text()],
      });
      await stop(made);
    }
    expect(answers[1]).toEqual(answers[0]);
    expect(answers[1]!.get[0]).toBe(201);
    expect(JSON.parse(answers[1]!.get[2] as string)).toEqual({ name: 'café', agent: 'probe/1', path: '/echo/caf%C3%A9', query: { x: '1', y: '2' } });
    expect(answers[1]!.get[1]).toContainEqual(['set-cookie', 'seen=caf%C3%A9; Path=/; HttpOnly; SameSite=Lax']);
    expect(JSON.parse(answers[1]!.post[2] as string)).toEqual({ got: { a: [1, 2] } });
  });
});
