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
 * A constructor that builds what `base` builds, with `prototype` as the new object's prototype
 * (`Reflect.construct`'s new target decides it; this works whether Node's constructors stay
 * functions or become classes).
 */
function builtWithPrototype(base: new (...args: never[]) => object, prototype: object): unknown {
  function Built(...args: unknown[]): object {
    return Reflect.construct(base, args, Built);
  }
  Built.prototype = prototype;
  return Built;
}
