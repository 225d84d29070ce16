/**
 * Latch as a library. Mount the auth API in an existing Express 5 app:
 *
 *   const latch = await createLatch({ databaseUrl: 'postgres://…', redisUrl: 'redis://…' });
 *   app.use('/api/auth', latch.router);
 *   app.get('/dashboard', latch.requireAuth, (req, res) => res.json(req.latch!.user));
 *   createHttpServer(app).listen(3000); // app.listen(3000) works too, at about half the speed
 */
export { createLatch, type Latch, type LatchOptions, type Readiness } from './latch.js';
export { createServerApp } from './http/server-app.js';
export { createHttpServer } from './http/http-server.js';
export { configFromEnv, resolveConfig, ConfigError, type Config, type ConfigInput } from './config.js';
export type { Authenticated } from './domain/auth-service.js';
export type { SessionRecord } from './domain/session.js';
export type { User } from './domain/user.js';
export { LatchError, UnavailableError, type ErrorCode } from './domain/errors.js';
