/**
 * The Node HTTP server for an Express app, with its requests and responses built as Express's
 * own objects from the start.
 *
 * Express turns Node's request and response into its own by swapping their prototypes for
 * `app.request` and `app.response`, on every request (`Object.setPrototypeOf` in
 * `app.handle`). V8 then gives each such object a map it has to rebuild and cannot keep its
 * property caches for: everything that touches the request or response afterwards (Express'
 * router, Node's header and body writing, Latch's middleware) runs slower. Measured on the
 * authenticated hot path, `GET /api/auth/me` with PostgreSQL + Redis: the server spent about
 * twice the CPU per request, and its garbage collector several times the work.
 *
 * Node lets a server name the classes it builds requests and responses with. Built here with
 * `app.request` / `app.response` as their prototypes, they are already what Express makes of
 * them, and its swap becomes a no-op (setting the prototype an object already has changes
 * nothing). Nothing else differs: the same objects, the same Express app, the same handlers.
 */
import { IncomingMessage, ServerResponse, createServer, type Server } from 'node:http';
import type { Express } from 'express';

/** Like `app.listen`'s server (`http.createServer(app)`), with requests and responses built as Express's. */
export function createHttpServer(app: Express): Server {
  return createServer(
    {
      IncomingMessage: builtWithPrototype(IncomingMessage, app.request) as typeof IncomingMessage,
      ServerResponse: builtWithPrototype(ServerResponse, app.response) as typeof ServerResponse,
    },
    app,
  );
}

/**
 * A constructor whose objects have `prototype` and are initialised by `base`. `new Built(...)`
 * makes the object (from `Built.prototype`), `base` fills it in. Not `Reflect.construct` with
 * `Built` as new target: V8 builds such objects on a slow path, and the server then spent more
 * CPU per request than with Express's swap (measured: ~500 us per /me against ~320). This needs
 * `base` to be a plain constructor function, as Node 20's (the runtime Latch pins) are; were it a
 * class, the first request would throw, and test/http/http-server.test.ts with it.
 */
function builtWithPrototype(base: object, prototype: object): unknown {
  const initialise = base as (...args: unknown[]) => void;
  function Built(this: object, ...args: unknown[]): void {
    Reflect.apply(initialise, this, args);
  }
  Built.prototype = prototype;
  return Built;
}
