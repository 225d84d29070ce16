/**
 * JSON-only bodies (API.md, "Conventions"): a declared length over the limit is refused before
 * a byte is read, a body that is not `application/json` is 415, and body-parser enforces the
 * limit again while streaming (chunked bodies declare no length).
 */
import express, { type RequestHandler } from 'express';
import { LatchError } from '../../domain/errors.js';

export const BODY_LIMIT_BYTES = 10_240;

function hasBody(headers: Record<string, string | string[] | undefined>): boolean {
  if (headers['transfer-encoding'] !== undefined) return true;
  const length = Number(headers['content-length'] ?? 0);
  return Number.isNaN(length) || length > 0;
}

export function jsonBody(limit = BODY_LIMIT_BYTES): RequestHandler {
  // `strict` accepts only objects and arrays at the top level; JSON.parse turns a
  // "__proto__" key into an own property, never the prototype.
  // `inflate: false`: compressed bodies are refused (415) rather than decompressed — a small
  // JSON body gains nothing from it, and a decompression bomb or broken stream risks much.
  const parse = express.json({ limit, strict: true, type: 'application/json', inflate: false });
  return (req, res, next) => {
    if (!hasBody(req.headers)) return next(); // GET and friends: nothing to read
    const declared = Number(req.headers['content-length']);
    if (declared > limit) {
      return next(new LatchError('payload_too_large', `Request body is larger than ${limit} bytes`));
    }
    if (!req.is('application/json')) {
      return next(new LatchError('unsupported_media_type', 'Request body must be application/json'));
    }
    parse(req, res, next);
  };
}
