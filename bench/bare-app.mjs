// The baseline for bench/run.mjs: a bare Express 5 app with helmet and cors (the least a public
// JSON API serves with) whose one route does what the cheapest possible session check does —
// one Redis GET of a small JSON record — and answers a small JSON.
// Started as a child process, like Latch, so both are measured alike.
//
// Env: PORT (required), REDIS_URL (default redis://127.0.0.1:6379), BARE_KEY (required, must exist).
import cors from 'cors';
import express from 'express';
import helmet from 'helmet';
import { createClient } from 'redis';

const port = Number(process.env.PORT);
const key = process.env.BARE_KEY;
if (!Number.isInteger(port) || port <= 0 || !key) {
  process.stderr.write('bare-app: PORT and BARE_KEY are required\n');
  process.exit(1);
}

const redis = createClient({ url: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379' });
redis.on('error', (err) => process.stderr.write(`bare-app: redis error: ${err.message}\n`));
await redis.connect();
if ((await redis.exists(key)) !== 1) {
  process.stderr.write(`bare-app: key ${key} does not exist\n`);
  process.exit(1);
}

const app = express();
app.disable('x-powered-by');
app.use(helmet());
app.use(cors({ origin: ['http://localhost:3000'], credentials: true }));
app.get('/readyz', (_req, res) => {
  res.json({ status: 'ready' });
});
// Same path as Latch's endpoint, so the request line autocannon sends is identical.
app.get('/api/auth/me', async (_req, res) => {
  const raw = await redis.get(key);
  if (raw === null) {
    res.status(500).json({ error: 'missing' });
    return;
  }
  const record = JSON.parse(raw);
  res.json({ user: { id: record.id, email: record.email, name: record.name } });
});

const server = app.listen(port, '127.0.0.1');
server.on('error', (err) => {
  process.stderr.write(`bare-app: listen failed: ${err.message}\n`);
  process.exit(1);
});

const stop = () => {
  server.close(() => {
    redis.destroy();
    process.exit(0);
  });
  server.closeAllConnections();
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
