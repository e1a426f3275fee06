/**
 * Every error the API answers with has one shape, `{"error": "...", "details": [...]}`: the
 * `ApiError` schema of openapi/openapi.json, generated from ErrorBodySchema below. Handlers throw
 * ApiError values; Fastify's own errors are translated here, so a client never sees a 5xx for
 * something it sent.
 */
import { STATUS_CODES } from 'node:http';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { isPeerGone } from './client-errors.ts';

export const ErrorDetailSchema = z
  .looseObject({
    message: z.string().describe('What is wrong, in words a user can act on.'),
    field: z.string().optional().describe('The request field at fault (query parameter, body field).'),
    line: z.number().int().optional().describe('1-based line of an NDJSON body or message.'),
    index: z.number().int().optional().describe('0-based index of the event in the batch.'),
  })
  .describe('One reason for the error.');

export const ErrorBodySchema = z
  .object({
    error: z.string().describe('A short summary.'),
    details: z.array(ErrorDetailSchema),
  })
  .describe('Every error answer has this shape.');

// One named schema in the OpenAPI document (components/schemas/ApiError), referenced by every error answer.
z.globalRegistry.add(ErrorBodySchema, { id: 'ApiError' });

/** An error answer for a route's `response` schema, with what it means on that route. */
export function errorResponse(description: string) {
  return { description, content: { 'application/json': { schema: ErrorBodySchema } } };
}

export type ErrorDetail = z.infer<typeof ErrorDetailSchema>;
export type ErrorBody = z.infer<typeof ErrorBodySchema>;

export type ApiErrorCode =
  | 'malformed_body'
  | 'body_too_large'
  | 'unsupported_media_type'
  | 'unsupported_encoding'
  | 'missing_body'
  | 'invalid_request'
  | 'unauthorized'
  | 'not_found'
  | 'upgrade_required'
  | 'not_ready'
  | 'no_sink'
  | 'sink_unavailable'
  | 'shutting_down'
  | 'too_many_subscribers'
  | 'busy'
  | 'request_timeout'
  | 'headers_too_large'
  | 'internal';

/** An answer other than success: status, a code for logs and tests, and the body a client reads. */
export class ApiError extends Error {
  readonly statusCode: number;
  readonly code: ApiErrorCode;
  readonly details: ErrorDetail[];
  readonly headers: Readonly<Record<string, string>>;
  constructor(statusCode: number, code: ApiErrorCode, message: string, details: ErrorDetail[] = [], headers: Record<string, string> = {}) {
    super(message);
    this.name = 'ApiError';
    this.statusCode = statusCode;
    this.code = code;
    this.details = details;
    this.headers = headers;
  }

  body(): ErrorBody {
    return { error: this.message, details: this.details };
  }
}

/** Translates whatever reached the error handler into the answer a client gets. */
export function toApiError(err: unknown, maxBodyBytes: number): ApiError {
  if (err instanceof ApiError) return err;
  // Not the service's fault, though there is nobody left to tell.
  if (isPeerGone(err)) return new ApiError(400, 'invalid_request', 'the client went away before its request was read');
  if (hasZodFastifySchemaValidationErrors(err)) {
    const where = (err as { validationContext?: string }).validationContext ?? 'request';
    const details = err.validation.map((issue) => {
      const path = issue.instancePath.replace(/^\//, '').replaceAll('/', '.');
      return { field: path === '' ? where : path, message: issue.message ?? 'invalid value' };
    });
    const fields = [...new Set(details.map((d) => d.field))].filter((f) => f !== where);
    return new ApiError(400, 'invalid_request', fields.length === 0 ? `invalid ${where}` : `invalid ${where}: ${fields.join(', ')}`, details);
  }
  const fastifyError = err as Partial<FastifyError>;
  switch (fastifyError.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new ApiError(413, 'body_too_large', `request body is larger than ${maxBodyBytes} bytes`, [
        { message: `split the batch: at most ${maxBodyBytes} bytes per request (server.maxBodyBytes)`, limit: maxBodyBytes },
      ]);
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return unsupportedMediaType();
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new ApiError(400, 'malformed_body', 'request body length does not match Content-Length', []);
  }
  const status = fastifyError.statusCode;
  if (typeof status === 'number' && status >= 400 && status < 500) {
    return new ApiError(status, 'invalid_request', fastifyError.message ?? 'bad request');
  }
  return new ApiError(500, 'internal', 'internal error', [{ message: 'see the service log' }]);
}

/**
 * Seconds a client refused during shutdown waits before trying again: the process (or its
 * replacement, during a rolling update) is not back sooner.
 */
const SHUTDOWN_RETRY_AFTER_SECONDS = 5;

/** A request that reached the service after its shutdown began (on a connection opened before). */
export function shuttingDown(): ApiError {
  return new ApiError(
    503,
    'shutting_down',
    'the service is shutting down',
    [{ message: 'nothing of this request was used; send it again after Retry-After seconds (to this service once it is back, or to its replacement)' }],
    { 'retry-after': String(SHUTDOWN_RETRY_AFTER_SECONDS) },
  );
}

/** What the batch routes take (the default hint of unsupportedMediaType). */
const BATCH_MEDIA_TYPES =
  'send application/json ({"events": [...]} or a JSON array) or application/x-ndjson (one event per line; also accepted as ' +
  'application/ndjson, application/jsonl, application/json-lines, application/x-jsonlines)';

/** 415, its detail naming the content-type field with `hint`: what the route takes. */
export function unsupportedMediaType(hint = BATCH_MEDIA_TYPES): ApiError {
  return new ApiError(415, 'unsupported_media_type', 'unsupported Content-Type', [{ field: 'content-type', message: hint }]);
}

export function sendApiError(reply: FastifyReply, error: ApiError): FastifyReply {
  reply.code(error.statusCode);
  for (const [name, value] of Object.entries(error.headers)) reply.header(name, value);
  return reply.type('application/json; charset=utf-8').send(JSON.stringify(error.body()));
}

/** Error, not-found and framework-error handlers, installed once on the root instance. */
export function installErrorHandlers(app: FastifyInstance, maxBodyBytes: number): void {
  app.setErrorHandler((err: unknown, request: FastifyRequest, reply: FastifyReply) => {
    const error = toApiError(err, maxBodyBytes);
    if (error.statusCode >= 500 && error.code === 'internal') request.log.error({ err }, 'request failed');
    else request.log.debug({ code: error.code, status: error.statusCode }, error.message);
    return sendApiError(reply, error);
  });
  app.setNotFoundHandler((request, reply) => {
    const path = request.url.split('?', 1)[0] ?? '';
    return sendApiError(reply, new ApiError(404, 'not_found', 'not found', [{ message: `no route ${request.method} ${truncate(path, 200)}; see GET /openapi.json` }]));
  });
}

function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max)}...`;
}

/** What the HTTP parser's errors tell a client; the values come from ServerOptions and node:http. */
export interface ClientErrorLimits {
  headersTimeoutMs: number;
  requestTimeoutMs: number;
  maxHeaderBytes: number;
}

/**
 * Errors Node's HTTP parser finds before a request reaches Fastify (a request that took too long
 * to arrive, headers or a URL over the size limit, bytes that are not HTTP), in the same shape as
 * every other error. Undefined: nothing to answer (the client is gone).
 */
export function clientErrorAnswer(err: { code?: string | undefined; reason?: string | undefined }, limits: ClientErrorLimits): ApiError | undefined {
  switch (err.code) {
    // The peer is gone, or its connection ended in the middle of a request.
    case 'ECONNRESET':
    case 'EPIPE':
    case 'HPE_INVALID_EOF_STATE':
      return undefined;
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return new ApiError(408, 'request_timeout', 'the request did not arrive in time', [
        {
          message:
            `send the request line and headers within ${limits.headersTimeoutMs / 1000} s (server.headersTimeout) and the whole request, ` +
            `body included, within ${limits.requestTimeoutMs / 1000} s (server.requestTimeout)`,
        },
      ]);
    case 'HPE_HEADER_OVERFLOW':
      return new ApiError(431, 'headers_too_large', `the request line and headers are larger than ${limits.maxHeaderBytes} bytes`, [
        { message: `keep the URL (query parameters included) and the headers under ${limits.maxHeaderBytes} bytes together`, limit: limits.maxHeaderBytes },
      ]);
    default:
      return new ApiError(400, 'invalid_request', 'malformed HTTP request', [{ message: err.reason ?? err.code ?? 'the request is not valid HTTP/1.1' }]);
  }
}

/** A whole HTTP/1.1 response for a socket no Fastify reply owns; the connection closes after it. */
export function rawErrorResponse(error: ApiError): string {
  const body = JSON.stringify(error.body());
  const reason = STATUS_CODES[error.statusCode] ?? 'Error';
  return (
    `HTTP/1.1 ${error.statusCode} ${reason}\r\nContent-Type: application/json; charset=utf-8\r\n` +
    `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`
  );
}
