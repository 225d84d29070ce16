/**
 * The OpenAPI 3.1 document of the server (API.md, "GET /api/openapi.json"), assembled from
 * `schemas.ts` and `operations.ts`, and the handlers that serve it and its rendered reference
 * page (`GET /api/docs`).
 *
 * Request bodies and the events query come from the very zod schemas the routes validate with
 * (`schemas.ts`, converted with `z.toJSONSchema(..., { io: 'input' })`), so the document cannot
 * drift from what the server accepts. Response shapes are zod schemas written here, mirroring
 * `views.ts`; the HTTP tests validate real answers against them.
 */
import type { RequestHandler } from 'express';
import { z } from 'zod';
import type { ErrorCode } from '../../domain/errors.js';
import { renderDocsPage, DOCS_CSS } from '../docs/page.js';
import { BODY_LIMIT_BYTES } from '../middleware/json-body.js';
import { ACCESS_TEXT, OPERATIONS, type Access, type OperationSpec } from './operations.js';
import { annotateFields, componentSchemas, FIELD_NOTES, requests, responses, type JsonSchema } from './schemas.js';

/* ------------------------------------------------------------------ assembling */

const ERROR_TEXT: Partial<Record<ErrorCode, string>> = {
  invalid_input: 'a field is missing, of the wrong type or out of range (see `issues`), or the JSON is malformed',
  weak_password: 'the password breaks a password rule; the message names the rule',
  already_authenticated: 'the request carries a valid session',
  invalid_credentials: 'wrong email or password, or a passkey answer that does not verify',
  invalid_passkey: 'the passkey answer does not verify (origin, rp id, user verification, an unknown, used or expired challenge, a credential registered already); nothing is stored',
  invalid_code: 'the code is wrong, used or expired',
  mfa_required: 'a pending session cannot do this (finish the second step first), or there is no second step to finish (sign in again)',
  second_factor_required: 'the session was proven with the password alone (a remembered device): finish the second step first (POST /api/auth/mfa/verify)',
  unauthorized: 'no valid session',
  forbidden: 'the account is not an administrator',
  account_disabled: 'an administrator disabled the account; said only once its password (or passkey) is proven',
  self_target: 'an administrator cannot do this to their own account through the API',
  last_admin: 'this is the last administrator who can sign in; make another one first',
  csrf: 'cross-site request refused',
  invalid_token: 'the token is unknown, used or expired',
  email_unverified: 'REQUIRE_EMAIL_VERIFICATION=true and the address is not verified yet',
  reauth_required: 'the password was not proven recently enough; call /api/auth/reauth',
  not_found: 'no such resource (also for another user\'s)',
  email_taken: 'the address belongs to another account',
  already_enabled: 'an authenticator app is on already; turn it off first',
  no_pending_setup: 'no authenticator app setup to confirm; start one with POST /api/auth/mfa/totp',
  mfa_not_enabled: 'two-step sign-in is off for this account',
  payload_too_large: `the body is over ${BODY_LIMIT_BYTES} bytes (refused before parsing)`,
  unsupported_media_type: 'the body is not `application/json`',
  rate_limited: 'too many attempts; see `Retry-After`',
  unavailable: 'a dependency (database, Redis) is down; see `Retry-After`',
  internal: 'unexpected server failure (no details are disclosed)',
};

const RETRY_AFTER = {
  'Retry-After': { description: 'Seconds to wait before trying again', schema: { type: 'integer', minimum: 0 } },
};

/** What a code means where an access kind gives it another sense. */
const ACCESS_ERROR_TEXT: Partial<Record<Access, Partial<Record<ErrorCode, string>>>> = {
  admin: {
    mfa_required: 'a pending session: finish the second step of the sign-in first',
    second_factor_required:
      'the admin session is not aal2 (not asked when ADMIN_REQUIRE_MFA=false): sign in with two factors or a passkey, step up a remembered device with POST /api/auth/mfa/verify, or add a second factor first',
    not_found: 'no such user',
  },
};

function errorResponse(status: number, codes: ErrorCode[], access?: Access): JsonSchema {
  const unique = [...new Set(codes)];
  const text = (code: ErrorCode) => (access && ACCESS_ERROR_TEXT[access]?.[code]) ?? ERROR_TEXT[code] ?? code;
  const response: JsonSchema = {
    description: unique.map((code) => `\`${code}\`: ${text(code)}`).join('; '),
    content: {
      'application/json': {
        schema: { allOf: [{ $ref: '#/components/schemas/Error' }], properties: { code: { enum: unique } } },
      },
    },
  };
  if (status === 429 || status === 503) response.headers = RETRY_AFTER;
  return response;
}

function errorsFor(op: OperationSpec): Map<number, ErrorCode[]> {
  const errors = new Map<number, ErrorCode[]>();
  const add = (status: number, ...codes: ErrorCode[]) => errors.set(status, [...(errors.get(status) ?? []), ...codes]);
  // The auth API and the administration API share one prelude (API.md, "Conventions").
  const admin = op.path.startsWith('/api/admin/');
  const api = admin || op.path.startsWith('/api/auth/');
  if (api) {
    if (op.body || op.query) add(400, 'invalid_input');
    if (op.access === 'guest' || op.access === 'guestOrPending') add(400, 'already_authenticated');
  }
  for (const [status, codes] of Object.entries(op.errors ?? {})) add(Number(status), ...(codes ?? []));
  if (api) {
    if (op.access === 'user' || op.access === 'reauth') add(401, 'unauthorized', 'mfa_required');
    if (op.access === 'pending') add(401, 'mfa_required');
    if (op.access === 'reauth') add(403, 'reauth_required');
    if (op.access === 'admin') {
      add(401, 'unauthorized', 'mfa_required');
      add(403, 'forbidden', 'second_factor_required');
    }
    if (op.method !== 'get') {
      add(403, 'csrf');
      add(413, 'payload_too_large');
      add(415, 'unsupported_media_type');
      // A body that is not JSON at all is refused by the parser as invalid input.
      add(400, 'invalid_input');
    }
    // Nothing on /api/admin is rate-limited.
    if (!admin) add(429, 'rate_limited');
    add(500, 'internal');
    add(503, 'unavailable');
  }
  return new Map([...errors].sort(([a], [b]) => a - b));
}

const COOKIE_HEADERS = {
  set: {
    'Set-Cookie': {
      description:
        'The session cookie: `sid` (or `__Host-sid` with `Secure` when cookies are secure); `HttpOnly; SameSite=Lax; Path=/`; `Max-Age` only with rememberMe',
      schema: { type: 'string' },
    },
  },
  clear: {
    'Set-Cookie': { description: 'Clears the session cookie (expired)', schema: { type: 'string' } },
  },
};

const NO_STORE = { 'Cache-Control': { description: 'Always `no-store`', schema: { type: 'string', const: 'no-store' } } };

function queryParameters(query: z.ZodObject, notes: Record<string, string> = {}): JsonSchema[] {
  const schema = z.toJSONSchema(query, { target: 'draft-2020-12', io: 'input', unrepresentable: 'any' }) as JsonSchema;
  const properties = (schema.properties ?? {}) as Record<string, JsonSchema>;
  const required = new Set((schema.required as string[] | undefined) ?? []);
  return Object.entries(properties).map(([name, property]) => ({
    name,
    in: 'query',
    required: required.has(name),
    ...(notes[name] ?? FIELD_NOTES[name] ? { description: notes[name] ?? FIELD_NOTES[name] } : {}),
    schema: property,
  }));
}

function buildOperation(op: OperationSpec): JsonSchema {
  const operation: JsonSchema = {
    operationId: op.operationId,
    tags: [op.tag],
    summary: op.summary,
    description: [op.description, ACCESS_TEXT[op.access]].filter(Boolean).join('\n\n'),
    'x-latch-access': op.access,
  };
  if (op.access === 'user' || op.access === 'reauth' || op.access === 'admin') operation.security = [{ sessionCookie: [] }, { secureSessionCookie: [] }];
  else if (op.access === 'metrics') operation.security = [{}, { metricsToken: [] }];
  else operation.security = [];

  const parameters: JsonSchema[] = [];
  if (op.pathId) {
    parameters.push({
      name: 'id',
      in: 'path',
      required: true,
      description: op.pathId,
      schema: { type: 'string' },
    });
  }
  if (op.query) parameters.push(...queryParameters(op.query, op.queryNotes));
  if (parameters.length) operation.parameters = parameters;

  if (op.body) {
    operation.requestBody = {
      required: !op.bodyOptional,
      description: `JSON, at most ${BODY_LIMIT_BYTES} bytes. Unknown fields are ignored.${op.bodyOptional ? ' May be left out (taken as `{}`).' : ''}`,
      content: { 'application/json': { schema: { $ref: `#/components/schemas/${op.body}` } } },
    };
  }

  const api = op.path.startsWith('/api/');
  const out: Record<string, JsonSchema> = {};
  for (const success of op.success) {
    const headers: Record<string, unknown> = { ...(api ? NO_STORE : {}) };
    if (success.setsCookie) Object.assign(headers, COOKIE_HEADERS.set);
    if (success.clearsCookie) Object.assign(headers, COOKIE_HEADERS.clear);
    if (success.status === 503) Object.assign(headers, RETRY_AFTER);
    const response: JsonSchema = { description: success.description };
    if (Object.keys(headers).length) response.headers = headers;
    if (success.schema) response.content = { 'application/json': { schema: { $ref: `#/components/schemas/${success.schema}` } } };
    else if (success.content) response.content = { [success.content.type]: { schema: success.content.schema } };
    out[String(success.status)] = response;
  }
  for (const [status, codes] of errorsFor(op)) {
    const response = errorResponse(status, codes, op.access);
    if (status === 401 && op.access === 'metrics') {
      response.headers = { 'WWW-Authenticate': { description: '`Bearer`', schema: { type: 'string' } } };
    }
    out[String(status)] = response;
  }
  operation.responses = out;
  return operation;
}

const DESCRIPTION = `Session-based authentication. All auth endpoints live under \`/api/auth\`, the administration API under \`/api/admin\`; bodies are JSON.

Conventions (API.md):
- A request with a body must be \`Content-Type: application/json\` (415 \`unsupported_media_type\`); bodies over ${BODY_LIMIT_BYTES} bytes get 413 \`payload_too_large\` before any parsing. This holds for every \`/api/auth\` and \`/api/admin\` request that carries a body.
- Every error is \`{"error", "code"}\`, plus \`issues\` for validation errors. Unknown body fields are ignored; a field of the wrong type is 400 \`invalid_input\`.
- Every \`/api/auth\` and \`/api/admin\` answer carries \`Cache-Control: no-store\`; unknown \`/api/*\` paths are 404 \`not_found\`.
- 429 \`rate_limited\` and 503 \`unavailable\` carry \`Retry-After\` (seconds; 1 for 503).
- State-changing requests (not GET/HEAD/OPTIONS) from another site are 403 \`csrf\` unless the Origin is in TRUSTED_ORIGINS; requests without \`Sec-Fetch-Site\` and \`Origin\` (non-browser clients) pass.
- The session is carried only by the cookie (\`sid\`, or \`__Host-sid\` when COOKIE_SECURE), never by a query string, header or body.

Choices where the contract is silent: 202 answers carry \`{"message"}\`; 204 answers have no body; \`/healthz\` answers \`{"status":"ok"}\` and \`/readyz\` \`{"status","database","sessionStore"}\`.`;

function buildDocument(): JsonSchema {
  const schemas: Record<string, JsonSchema> = { ...componentSchemas(responses, 'output') };
  for (const [id, schema] of Object.entries(componentSchemas(requests, 'input'))) schemas[id] = annotateFields(schema, id);

  const paths: Record<string, Record<string, JsonSchema>> = {};
  for (const op of OPERATIONS) (paths[op.path] ??= {})[op.method] = buildOperation(op);

  return {
    openapi: '3.1.0',
    jsonSchemaDialect: 'https://json-schema.org/draft/2020-12/schema',
    info: {
      title: 'Latch',
      version: '1.0.0',
      summary: 'Secure session-based authentication',
      description: DESCRIPTION,
      license: { name: 'MIT', identifier: 'MIT' },
    },
    tags: [
      { name: 'Authentication' },
      { name: 'Two-step sign-in' },
      { name: 'Passkeys' },
      { name: 'Sessions' },
      { name: 'Account' },
      { name: 'Recovery' },
      { name: 'Administration' },
      { name: 'Operations' },
      { name: 'Documentation' },
    ],
    paths,
    components: {
      schemas,
      securitySchemes: {
        sessionCookie: {
          type: 'apiKey',
          in: 'cookie',
          name: 'sid',
          description: 'Session cookie when cookies are not secure (COOKIE_SECURE=false, the default outside production)',
        },
        secureSessionCookie: {
          type: 'apiKey',
          in: 'cookie',
          name: '__Host-sid',
          description: 'Session cookie when COOKIE_SECURE=true (the default in production); sent only over HTTPS',
        },
        metricsToken: { type: 'http', scheme: 'bearer', description: 'METRICS_TOKEN, when configured' },
      },
    },
  };
}

let cached: JsonSchema | undefined;
let cachedJson: string | undefined;
let cachedHtml: string | undefined;

/** The document (built once; treat as read-only). */
export function openApiDocument(): JsonSchema {
  return (cached ??= buildDocument());
}

/** `GET /api/openapi.json` */
export const openApiHandler: RequestHandler = (_req, res) => {
  cachedJson ??= JSON.stringify(openApiDocument());
  res.setHeader('Cache-Control', 'no-store');
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  res.end(cachedJson);
};

const DOCS_CSP =
  "default-src 'none'; style-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/** `GET /api/docs` */
export const docsHandler: RequestHandler = (_req, res) => {
  cachedHtml ??= renderDocsPage(openApiDocument() as never, '/api/docs/docs.css');
  // The page has no script and no inline style: it gets a CSP stricter than the app default.
  res.setHeader('Content-Security-Policy', DOCS_CSP);
  res.setHeader('Cache-Control', 'no-store');
  res.setHeader('Content-Type', 'text/html; charset=utf-8');
  res.end(cachedHtml);
};

/** `GET /api/docs/docs.css` */
export const docsStylesheetHandler: RequestHandler = (_req, res) => {
  res.setHeader('Cache-Control', 'no-store');
  res.setHeader('Content-Type', 'text/css; charset=utf-8');
  res.end(DOCS_CSS);
};
