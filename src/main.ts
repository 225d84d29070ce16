/** The standalone server: configuration from the environment, listen, shut down gracefully. */
import { once } from 'node:events';
import { configFromEnv, ConfigError } from './config.js';
import { trackAbandonedRequests } from './http/abandoned-requests.js';
import { createHttpServer } from './http/http-server.js';
import { createServerApp } from './http/server-app.js';
import { createLatch } from './latch.js';

const SHUTDOWN_GRACE_MS = 10_000;

async function main(): Promise<void> {
  const latch = await createLatch(configFromEnv(process.env));
  const { config, logger } = latch;
  const server = createHttpServer(createServerApp(latch)).listen(config.port, config.host);
  const abandoned = trackAbandonedRequests(server);
  await once(server, 'listening');
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  logger.info({ url: `http://${config.host}:${port}`, store: config.redisUrl ? 'redis' : 'sql' }, 'latch listening');

  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    // Stop accepting; keep-alive connections that sit idle are closed now, busy ones after
    // their response. A hung request cannot hold the process past the grace period. The
    // listener closes before the log line, so whoever reads "shutting down" finds it closed.
    const deadline = Date.now() + SHUTDOWN_GRACE_MS;
    server.close(async () => {
      // Handlers whose client left are still at work: the stores stay open until they answer.
      if (!(await abandoned.drained(deadline - Date.now()))) {
        logger.warn('grace period over; closing with requests still being handled');
      }
      await latch.close();
      logger.info('stopped');
      process.exit(0);
    });
    logger.info({ signal }, 'shutting down: finishing in-flight requests');
    // Answers from now on close their connection, and keep-alive connections are closed as
    // soon as they go idle, so the process exits right after the last in-flight response.
    server.on('request', (_req, res) => res.setHeader('Connection', 'close'));
    server.closeIdleConnections();
    setInterval(() => server.closeIdleConnections(), 100).unref();
    setTimeout(() => {
      logger.warn('grace period over; closing remaining connections');
      server.closeAllConnections();
    }, SHUTDOWN_GRACE_MS).unref();
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}

main().catch((error: unknown) => {
  if (error instanceof ConfigError) {
    process.stderr.write(`${error.message}\n`);
  } else {
    process.stderr.write(`latch failed to start: ${(error as Error)?.message ?? String(error)}\n`);
  }
  process.exit(1);
});
