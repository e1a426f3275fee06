/**
 * Where enriched NDJSON goes (stdout, a file, an HTTP endpoint). A sink acknowledges by resolving:
 * only then may the file source move its checkpoints, or /v1/forward answer 200.
 */
/** Serialised events as NDJSON bytes: each event's JSON followed by a newline. */
export interface NdjsonChunk {
  readonly bytes: Buffer;
  /** How many events (lines) the bytes hold. */
  readonly events: number;
  /**
   * When `bytes` are lent from a reused buffer (src/enrich/byte-writer.ts): hands them back, once
   * whoever wrote the chunk is done with them for good. Called at most once.
   */
  readonly release?: () => void;
}

export interface Sink {
  /**
   * Writes a batch; rejects with SinkUnavailableError. The sink is done with `chunk.bytes` once
   * the promise settles: the caller may then reuse that buffer.
   */
  write(chunk: NdjsonChunk): Promise<void>;
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

/**
 * The receiver refused the data for good (an HTTP 4xx other than 408/429, a gRPC INVALID_ARGUMENT), or
 * the sink cannot send it at all (events not in the `otel` schema to an OTLP sink): retrying the same
 * bytes will not help until someone fixes the receiver or the configuration. Still a
 * SinkUnavailableError, so callers that only know the base class answer 503 and keep the data.
 */
export class SinkRejectedError extends SinkUnavailableError {
  readonly permanent = true;
  /** The receiver's HTTP status (the gRPC status code for OTLP/gRPC; 0 when the sink refused to send it). */
  readonly status: number;
  constructor(message: string, status: number, retryAfterSeconds = 30) {
    super(message, retryAfterSeconds);
    this.name = 'SinkRejectedError';
    this.status = status;
  }
}
