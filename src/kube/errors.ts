/**
 * One shape for every failure talking to the API server. client-node reports them in three shapes
 * (a watch answer's `.statusCode`, an ApiException's `.code`, or a bare TypeError from fetch);
 * the reflector decides on backoff, relist and log level from `code` alone.
 */

export type ApiErrorCode =
  | 'http_400'
  | 'http_401'
  | 'http_403'
  | 'http_404'
  | 'http_410'
  | 'http_429'
  | 'http_4xx'
  | 'http_5xx'
  /** Could not connect, or the connection was reset before an answer. */
  | 'connection'
  /** The stream was cut mid-way (socket destroyed, server restarted). */
  | 'terminated'
  /** No byte for longer than the watch inactivity timeout. */
  | 'timeout'
  /** The answer was not the JSON we expected. */
  | 'decode'
  /** Credentials could not be prepared (token file unreadable, bad kubeconfig). */
  | 'auth_config'
  | 'unknown';

export interface ApiError {
  code: ApiErrorCode;
  /** The HTTP status, when there was one. */
  status: number | undefined;
  /** Safe to log: never carries a token. */
  message: string;
}

function codeForStatus(status: number): ApiErrorCode {
  switch (status) {
    case 400:
    case 401:
    case 403:
    case 404:
    case 410:
    case 429:
      return `http_${status}`;
    default:
      return status >= 500 ? 'http_5xx' : 'http_4xx';
  }
}

/** Removes anything that looks like a credential from a message before it is logged. */
export function redact(message: string): string {
  return message.replace(/(bearer|basic)\s+[^\s"',]+/gi, '$1 [redacted]').replace(/(token["']?\s*[:=]\s*["']?)[^\s"',]+/gi, '$1[redacted]');
}

/** A Kubernetes `Status` body (ERROR watch events and error answers carry one). */
export function apiErrorFromStatus(status: unknown, httpStatus?: number): ApiError {
  const s = (typeof status === 'object' && status !== null ? status : {}) as { code?: unknown; message?: unknown; reason?: unknown };
  const code = typeof s.code === 'number' ? s.code : httpStatus;
  const detail = typeof s.message === 'string' && s.message !== '' ? s.message : typeof s.reason === 'string' ? s.reason : 'no details';
  return {
    code: code === undefined ? 'unknown' : codeForStatus(code),
    status: code,
    message: redact(code === undefined ? detail : `${code}: ${detail}`),
  };
}

function causeCode(err: unknown): string | undefined {
  const cause = (err as { cause?: { code?: unknown } } | undefined)?.cause;
  return typeof cause?.code === 'string' ? cause.code : undefined;
}

/** Thrown by this folder's own code (list requests, the token-file authenticator): already normalised. */
export class KubeApiError extends Error {
  readonly apiError: ApiError;
  constructor(apiError: ApiError) {
    super(apiError.message);
    this.name = 'KubeApiError';
    this.apiError = apiError;
  }
}

/** Normalises whatever client-node or fetch threw. */
export function normaliseApiError(err: unknown): ApiError {
  if (err instanceof KubeApiError) return err.apiError;
  const e = err as { name?: unknown; message?: unknown; statusCode?: unknown; code?: unknown; body?: unknown } | null | undefined;
  const message = typeof e?.message === 'string' ? e.message : String(err);
  // Before `.code`: a DOMException carries a legacy numeric code too (23 for TimeoutError).
  if (e?.name === 'TimeoutError') return { code: 'timeout', status: undefined, message: 'the request timed out (no data within the timeout)' };
  if (e?.name === 'AbortError') return { code: 'terminated', status: undefined, message: 'the request was aborted' };
  const numeric = typeof e?.statusCode === 'number' ? e.statusCode : typeof e?.code === 'number' && !(err instanceof DOMException) ? e.code : undefined;
  const status = numeric !== undefined && numeric >= 100 && numeric <= 599 ? numeric : undefined;
  if (status !== undefined) {
    // ApiException carries the server's Status body as a string or an object.
    let body: unknown = e?.body;
    if (typeof body === 'string') {
      try {
        body = JSON.parse(body);
      } catch {
        body = undefined;
      }
    }
    const fromBody = apiErrorFromStatus(body, status);
    return { code: codeForStatus(status), status, message: fromBody.message.endsWith('no details') ? redact(`${status}: ${message}`) : fromBody.message };
  }
  const cause = causeCode(err);
  if (message === 'terminated' || cause === 'UND_ERR_SOCKET' || cause === 'ECONNRESET' && message !== 'fetch failed') {
    return { code: 'terminated', status: undefined, message: `stream cut: ${message}${cause === undefined ? '' : ` (${cause})`}` };
  }
  if (message === 'fetch failed' || (cause !== undefined && /^(E[A-Z]+|UND_ERR_.*)$/.test(cause))) {
    return { code: 'connection', status: undefined, message: redact(`cannot reach the API server: ${cause ?? message}`) };
  }
  if (err instanceof SyntaxError) return { code: 'decode', status: undefined, message: `invalid JSON from the API server: ${message}` };
  return { code: 'unknown', status: undefined, message: redact(message) };
}
