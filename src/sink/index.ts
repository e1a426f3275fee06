/** Where enriched NDJSON goes: stdout, an appended file, an HTTP endpoint, or an OTLP receiver. */
import type { Logger } from '../log/index.ts';
import type { Metrics } from '../metrics/index.ts';
import { createFileSink } from './file.ts';
import { createHttpSink, type HttpSinkOptions } from './http.ts';
import { createOtlpSink, type OtlpSinkOptions } from './otlp.ts';
import { parseSinkSpec } from './spec.ts';
import { createStreamSink } from './stream.ts';
import type { Sink } from './types.ts';
import type { Writable } from 'node:stream';

export type { NdjsonChunk, Sink } from './types.ts';
export { SinkRejectedError, SinkUnavailableError } from './types.ts';
export { isOtlpSink, parseSinkSpec, redactUrl, type OtlpSinkSpec, type SinkSpec, type SinkSpecResult } from './spec.ts';
export { createOtlpSink, type ExportAttempt, type OtlpSinkOptions } from './otlp.ts';
export { createStreamSink } from './stream.ts';
export { createFileSink, type FileSinkOptions } from './file.ts';
export { ndjsonOfRecords, ndjsonOfTexts } from './ndjson.ts';
export { createHttpSink, type HttpSinkOptions } from './http.ts';
export { DELIVERY_BACKOFF, backoffDelay, sleep, type BackoffPolicy } from './backoff.ts';
export { createKeepAliveAgent, sendRequest, isRetryableStatus, retryAfterSeconds, bodySnippet, type HttpResponse } from './http-request.ts';

export interface SinkDeps {
  metrics?: Metrics;
  /** Where `stdout` writes (tests pass their own stream). */
  stdout?: Writable;
  /** file sink: wait for the disk after each batch (default false: the page cache survives a process kill). */
  fsync?: boolean;
  http?: Omit<HttpSinkOptions, 'metrics'>;
  otlp?: Omit<OtlpSinkOptions, 'metrics' | 'logger'>;
  /** Told what a receiver dropped (OTLP partial_success). */
  logger?: Logger;
}

export class SinkSpecError extends Error {
  readonly code = 'invalid_sink_spec';
  constructor(message: string) {
    super(message);
    this.name = 'SinkSpecError';
  }
}

/** Builds the sink a `sink` setting names; throws SinkSpecError with the reason when it names none. */
export function createSink(spec: string, deps: SinkDeps = {}): Sink {
  const parsed = parseSinkSpec(spec);
  if (!parsed.ok) throw new SinkSpecError(parsed.error);
  switch (parsed.spec.kind) {
    case 'stdout':
      return createStreamSink(deps.stdout ?? process.stdout, 'stdout');
    case 'file':
      return createFileSink(parsed.spec.path, { fsync: deps.fsync });
    case 'http':
      return createHttpSink(parsed.spec.url, { ...deps.http, metrics: deps.metrics });
    case 'otlp':
      return createOtlpSink(parsed.spec, { ...deps.otlp, metrics: deps.metrics, logger: deps.logger });
  }
}
