/** What the HTTP/WebSocket API needs to know beyond its dependencies. TLS belongs to startServer. */
export interface ServerOptions {
  /** Bearer token required on every route but /healthz and /readyz; undefined: no auth. Never logged. */
  authToken?: string | undefined;
  /** Largest request body (HTTP) and WebSocket message accepted, in bytes (413 / close 1009 above). */
  maxBodyBytes: number;
  /** Events queued per /v1/stream subscriber; beyond that its events are dropped and counted. */
  streamBufferEvents: number;
  /** Enriched output waiting to be sent to one /v1/ingest client, in bytes, above which reading from it pauses. */
  ingestMaxPendingBytes: number;
  /** A partial line on a /v1/ingest connection waits at most this long for its final fragment. */
  partialFlushTimeoutMs: number;
  /** On shutdown, WebSocket clients get this long to answer the close frame before being cut off. */
  closeTimeoutMs?: number | undefined;
}

export const DEFAULT_SERVER_OPTIONS: Readonly<ServerOptions> = {
  maxBodyBytes: 8 * 1024 * 1024,
  streamBufferEvents: 1000,
  ingestMaxPendingBytes: 4 * 1024 * 1024,
  partialFlushTimeoutMs: 5000,
  closeTimeoutMs: 2000,
};

export class ServerOptionsError extends Error {
  readonly code = 'invalid_server_options';
  constructor(message: string) {
    super(message);
    this.name = 'ServerOptionsError';
  }
}

/** Fails fast on values the config layer should never let through (a zero body limit, NaN, ...). */
export function checkServerOptions(options: ServerOptions): ServerOptions & { closeTimeoutMs: number } {
  const positive: (keyof ServerOptions)[] = ['maxBodyBytes', 'streamBufferEvents', 'ingestMaxPendingBytes', 'partialFlushTimeoutMs'];
  for (const key of positive) {
    const value = options[key];
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value <= 0) {
      throw new ServerOptionsError(`server option ${key} must be a positive integer, got ${String(value)}`);
    }
  }
  const closeTimeoutMs = options.closeTimeoutMs ?? DEFAULT_SERVER_OPTIONS.closeTimeoutMs!;
  if (!Number.isSafeInteger(closeTimeoutMs) || closeTimeoutMs < 0) {
    throw new ServerOptionsError(`server option closeTimeoutMs must be a non-negative integer, got ${String(closeTimeoutMs)}`);
  }
  if (options.authToken !== undefined && options.authToken.length === 0) {
    throw new ServerOptionsError('server option authToken is empty: leave it unset to disable authentication');
  }
  return { ...options, authToken: options.authToken, closeTimeoutMs };
}
