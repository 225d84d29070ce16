/**
 * Structured JSON logs. Request logs carry method, path, status and timing only: no headers,
 * no query strings, no bodies, so a cookie, password or token cannot reach a log line.
 */
import pino, { type Logger } from 'pino';

export function createLogger(level: string): Logger {
  return pino({
    level,
    base: { service: 'latch' },
    redact: {
      paths: ['req.headers', 'res.headers', '*.password', '*.token', '*.cookie', '*.authorization'],
      remove: true,
    },
  });
}
