/**
 * What the HTTP/WebSocket API needs to know beyond its dependencies, fully resolved: TLS belongs
 * to startServer. src/runtime/options.ts maps the configuration onto it; the defaults of the keys
 * a user can set live only in src/config/schema.ts (tests build them through it, see
 * test/builders/defaults.ts).
 */
export interface ServerOptions {
  /** Bearer token required on every route but /healthz and /readyz; undefined: no auth. Never logged. */
  authToken?: string | undefined;
  /** Largest request body (HTTP) and WebSocket message accepted, in bytes (413 / close 1009 above). */
  maxBodyBytes: number;
  /**
   * Request bytes being enriched and answered at once, across all requests (503 + Retry-After
   * for a request that would go beyond; a larger one runs alone).
   */
  maxInflightBytes: number;
  /** How long a request that does not fit in maxInflightBytes waits for room before its 503 (0: at once). */
  maxInflightWaitMs: number;
  /** Events queued per /v1/stream subscriber; beyond that its events are dropped and counted. */
  streamBufferEvents: number;
  /** /v1/stream subscribers at once; the next one is refused with 503. */
  maxStreamSubscribers: number;
  /** Share of the service's time the /v1/stream fan-out may take (0 < share <= 1). */
  streamTimeShare: number;
  /** Enriched output waiting to be sent to one /v1/ingest client, in bytes, above which reading from it pauses. */
  ingestMaxPendingBytes: number;
  /** A partial line on a /v1/ingest connection waits at most this long for its final fragment. */
  partialFlushTimeoutMs: number;
  /** Time to receive a request's line and headers (408 and the connection closed after it). */
  headersTimeoutMs: number;
  /** Time to receive a whole request, headers and body (408 and the connection closed after it). */
  requestTimeoutMs: number;
  /** An idle keep-alive connection is closed after this long. */
  keepAliveTimeoutMs: number;
  /** An answer the client stops reading is abandoned, and its connection closed, after this long without progress. */
  sendTimeoutMs: number;
  /** WebSocket clients are pinged this often; one that has not answered the previous ping is cut off. */
  websocketPingIntervalMs: number;
  /** On shutdown, WebSocket clients get this long to answer the close frame before being cut off. */
  closeTimeoutMs?: number | undefined;
}

/** closeTimeoutMs when not given: not a configuration key, so its default lives here. */
const DEFAULT_CLOSE_TIMEOUT_MS = 2000;

export class ServerOptionsError extends Error {
  readonly code = 'invalid_server_options';
  constructor(message: string) {
    super(message);
    this.name = 'ServerOptionsError';
  }
}

const POSITIVE: readonly (keyof ServerOptions)[] = [
  'maxBodyBytes',
  'maxInflightBytes',
  'streamBufferEvents',
  'maxStreamSubscribers',
  'ingestMaxPendingBytes',
  'partialFlushTimeoutMs',
  'headersTimeoutMs',
  'requestTimeoutMs',
  'keepAliveTimeoutMs',
  'sendTimeoutMs',
  'websocketPingIntervalMs',
];

/** Fails fast on values the config layer should never let through (a zero body limit, NaN, ...). */
export function checkServerOptions(options: ServerOptions): ServerOptions & { closeTimeoutMs: number } {
  for (const key of POSITIVE) {
    const value = options[key];
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value <= 0) {
      throw new ServerOptionsError(`server option ${key} must be a positive integer, got ${String(value)}`);
    }
  }
  const closeTimeoutMs = options.closeTimeoutMs ?? DEFAULT_CLOSE_TIMEOUT_MS;
  for (const [key, value] of [['closeTimeoutMs', closeTimeoutMs], ['maxInflightWaitMs', options.maxInflightWaitMs]] as const) {
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
      throw new ServerOptionsError(`server option ${key} must be a non-negative integer, got ${String(value)}`);
    }
  }
  if (!(typeof options.streamTimeShare === 'number' && options.streamTimeShare > 0 && options.streamTimeShare <= 1)) {
    throw new ServerOptionsError(`server option streamTimeShare must be in (0, 1], got ${String(options.streamTimeShare)}`);
  }
  if (options.authToken !== undefined && options.authToken.length === 0) {
    throw new ServerOptionsError('server option authToken is empty: leave it unset to disable authentication');
  }
  for (const key of ['headersTimeoutMs', 'maxInflightWaitMs'] as const) {
    if (options[key] > options.requestTimeoutMs) {
      throw new ServerOptionsError(`server option ${key} (${options[key]}) must not be longer than requestTimeoutMs (${options.requestTimeoutMs})`);
    }
  }
  return { ...options, authToken: options.authToken, closeTimeoutMs };
}
