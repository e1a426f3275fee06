/**
 * Where enriched NDJSON goes (stdout, a file, an HTTP endpoint). A sink acknowledges by resolving:
 * only then may the file source move its checkpoints, or /v1/forward answer 200.
 */
export interface Sink {
  /** `lines` are serialised events without trailing newlines. Rejects with SinkUnavailableError. */
  write(lines: readonly string[]): Promise<void>;
  /** False while the sink is known to be failing (then /v1/forward answers 503 at once). */
  readonly available: boolean;
  close(): Promise<void>;
}

export class SinkUnavailableError extends Error {
  readonly code = 'sink_unavailable';
  /** Seconds after which a retry makes sense (Retry-After). */
  readonly retryAfterSeconds: number;
  constructor(message: string, retryAfterSeconds = 1) {
    super(message);
    this.name = 'SinkUnavailableError';
    this.retryAfterSeconds = retryAfterSeconds;
  }
}
