/**
 * Whose fault an error is. A client's mistake (a connection reset or cut short, bytes that are not
 * HTTP or WebSocket, a malformed body or message, a request refused with a 4xx) is answered to
 * the client and logged at debug level, as its code and message: a stack trace would point into
 * the service for something the service did right. Only the service's own faults are logged at
 * error level, with their stack.
 */
import type { FastifyBaseLogger } from 'fastify';

/** Socket errors that mean the peer went away (reset, closed while written to, cut short). */
const PEER_GONE = new Set(['ECONNRESET', 'EPIPE', 'ECONNABORTED', 'ETIMEDOUT', 'ERR_STREAM_PREMATURE_CLOSE']);

interface ErrorLike {
  code?: unknown;
  statusCode?: unknown;
}

/** True when the peer went away: there is nobody left to answer. */
export function isPeerGone(err: unknown): boolean {
  const code = (err as ErrorLike | undefined)?.code;
  return typeof code === 'string' && PEER_GONE.has(code);
}

/**
 * True for what only a client can cause: the peer gone; Node's HTTP parser (HPE_*) and ws
 * (WS_ERR_*) refusing its bytes; a request timing out on its side; and any error answered 4xx
 * (an ApiError, a Fastify error).
 */
export function isClientError(err: unknown): boolean {
  if (typeof err !== 'object' || err === null) return false;
  const { code, statusCode } = err as ErrorLike;
  if (typeof code === 'string' && (PEER_GONE.has(code) || code.startsWith('HPE_') || code.startsWith('WS_ERR_') || code === 'ERR_HTTP_REQUEST_TIMEOUT')) {
    return true;
  }
  return typeof statusCode === 'number' && statusCode >= 400 && statusCode < 500;
}

/**
 * Logs `err`, met while handling `what` (e.g. "websocket connection"), by whose fault it is: a
 * client's at debug, without a stack ("client error on <what>: <message>", its code, the status
 * it was answered with, and `fields`); the service's at error, with its stack ("<what> failed").
 */
export function logByFault(log: Pick<FastifyBaseLogger, 'debug' | 'error'>, err: unknown, what: string, fields: Record<string, unknown> = {}): void {
  if (isClientError(err)) logClientError(log, err, what, fields);
  else log.error({ ...fields, err }, `${what} failed`);
}

/** Logs an error known to be the client's (see logByFault). */
export function logClientError(log: Pick<FastifyBaseLogger, 'debug'>, err: unknown, what: string, fields: Record<string, unknown> = {}): void {
  const { code, statusCode } = (err ?? {}) as ErrorLike;
  const reason = err instanceof Error ? err.message : String(err);
  log.debug({ code, status: statusCode, ...fields }, `client error on ${what}: ${reason}`);
}
