/**
 * JSON answers without Express's `res.json` extras (ETag hashing, charset negotiation): auth
 * answers are never cached, so an ETag is pure cost on the hot path.
 */
import type { Response } from 'express';

export function sendJson(res: Response, status: number, body: unknown): void {
  const payload = JSON.stringify(body);
  res.statusCode = status;
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  res.setHeader('Content-Length', Buffer.byteLength(payload));
  res.end(payload);
}
