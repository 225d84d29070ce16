/**
 * The one place where outcomes become HTTP. Every error body has the same shape
 * (`{error, code, issues?}`) and never carries a stack, SQL or a path.
 */
import type { ErrorRequestHandler, Response } from 'express';
import type { Logger } from 'pino';
import { sendJson } from './respond.js';
import { LatchError, RateLimitedError, UnavailableError, type Dependency, type ErrorCode, type Issue } from '../domain/errors.js';

const STATUS: Record<ErrorCode, number> = {
  invalid_input: 400,
  weak_password: 400,
  already_authenticated: 400,
  invalid_credentials: 401,
  unauthorized: 401,
  csrf: 403,
  invalid_token: 400,
  email_unverified: 403,
  reauth_required: 403,
  not_found: 404,
  email_taken: 409,
  payload_too_large: 413,
  unsupported_media_type: 415,
  rate_limited: 429,
  mfa_required: 401,
  second_factor_required: 403,
  invalid_code: 401,
  already_enabled: 409,
  no_pending_setup: 409,
  mfa_not_enabled: 409,
  invalid_passkey: 400,
  account_disabled: 403,
  forbidden: 403,
  self_target: 409,
  last_admin: 409,
  internal: 500,
  unavailable: 503,
};

export function sendError(res: Response, code: ErrorCode, message: string, issues?: Issue[]): void {
  sendJson(res, STATUS[code], issues ? { error: message, code, issues } : { error: message, code });
}

/** body-parser signals its refusals with a `type`; these are the client's fault, not ours. */
const BODY_PARSER_ERRORS: Record<string, [ErrorCode, string]> = {
  'entity.too.large': ['payload_too_large', 'Request body is larger than 10240 bytes'],
  'entity.parse.failed': ['invalid_input', 'Request body is not valid JSON'],
  'entity.verify.failed': ['invalid_input', 'Request body could not be read'],
  'request.aborted': ['invalid_input', 'Request body was cut off'],
  'request.size.invalid': ['invalid_input', 'Request body length does not match Content-Length'],
  'encoding.unsupported': ['unsupported_media_type', 'Unsupported content encoding'],
  'charset.unsupported': ['unsupported_media_type', 'Unsupported charset; send UTF-8 JSON'],
  'stream.encoding.set': ['invalid_input', 'Request body could not be read'],
};

export interface ErrorObserver {
  /**
   * A request is answered 503 because `dependency` failed. The observer counts it and logs the
   * outage (http/dependency-log.ts): a line per request would flood the log during one.
   */
  dependencyFailed(dependency: Dependency, error: UnavailableError, path: string): void;
}

export function errorHandler(logger: Logger, observer?: ErrorObserver): ErrorRequestHandler {
  return (error: unknown, req, res, next) => {
    if (res.headersSent) return next(error);
    if (error instanceof RateLimitedError) res.setHeader('Retry-After', String(Math.ceil(error.retryAfterMs / 1000)));
    if (error instanceof LatchError) return sendError(res, error.code, error.message, error.issues);
    if (error instanceof UnavailableError) {
      if (observer) observer.dependencyFailed(error.dependency, error, req.path);
      // Without an observer (the server app's last-resort handler) no outage log hears of it.
      else logger.warn({ err: error.cause, dependency: error.dependency, path: req.path }, 'dependency unavailable');
      res.setHeader('Retry-After', '1');
      return sendError(res, 'unavailable', 'Service temporarily unavailable, try again shortly');
    }
    const bodyType = (error as { type?: unknown })?.type;
    const known = typeof bodyType === 'string' ? BODY_PARSER_ERRORS[bodyType] : undefined;
    if (known) return sendError(res, known[0], known[1]);
    // Express and its router mark the client's own mistakes (a path that does not decode,
    // say) with a 4xx status: answer those as bad input, never as our failure.
    const status = (error as { status?: unknown; statusCode?: unknown })?.status ?? (error as { statusCode?: unknown })?.statusCode;
    if (typeof status === 'number' && status >= 400 && status < 500) return sendError(res, 'invalid_input', 'Malformed request');
    logger.error({ err: error, method: req.method, path: req.path }, 'unhandled error');
    return sendError(res, 'internal', 'Internal server error');
  };
}
