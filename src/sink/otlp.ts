/**
 * The OTLP sink: each batch as one ExportLogsServiceRequest to an OpenTelemetry Collector or any
 * OTLP backend, over OTLP/HTTP (protobuf, gzip) or OTLP/gRPC. As the http sink: a few attempts
 * per write with the delivery backoff, stretched to the receiver's retry hint (Retry-After,
 * google.rpc.RetryInfo); then the write rejects and the caller keeps the batch. A permanent
 * refusal is a SinkRejectedError. A write resolves only once the receiver accepted the request;
 * records it rejected in `partial_success` are dropped (OTLP: not to be retried), counted and
 * logged, and the batch is acknowledged.
 *
 * This module loads nothing heavy: the transport (protobufjs and the definitions in proto/, and
 * @grpc/grpc-js for gRPC) is imported on the first write, so processes with another sink never
 * load it.
 */
import type { Logger } from '../log/index.ts';
import type { Metrics } from '../metrics/index.ts';
import { DeliveryRetries, type RetryOptions } from './retries.ts';
import { redactUrl, type OtlpSinkSpec } from './spec.ts';
import { SinkRejectedError, SinkUnavailableError, type NdjsonChunk, type Sink } from './types.ts';

/** What one export call came to, as a transport reports it. */
export type ExportAttempt =
  /** The receiver took the request; `rejectedRecords` of it (partial_success) are dropped. */
  | { kind: 'accepted'; rejectedRecords: number; message: string }
  /** Worth trying again: the receiver was unreachable or said so; `retryAfterSeconds` is its hint. */
  | { kind: 'retry'; problem: string; retryAfterSeconds: number | undefined }
  /** Refused for good: HTTP status, or the gRPC status code. */
  | { kind: 'refused'; problem: string; status: number };

export interface OtlpTransport {
  /** The chunk as an encoded ExportLogsServiceRequest; throws a NotOtelError for events it cannot send. */
  encode(chunk: NdjsonChunk): Uint8Array;
  send(request: Uint8Array, signal: AbortSignal): Promise<ExportAttempt>;
  close(): void;
}

export interface OtlpTransportOptions {
  timeoutMs: number;
}

export interface OtlpSinkOptions extends RetryOptions {
  timeoutMs?: number;
  metrics?: Metrics;
  logger?: Logger;
}

function loadTransport(spec: OtlpSinkSpec, options: OtlpTransportOptions): Promise<OtlpTransport> {
  return spec.transport === 'grpc'
    ? import('./otlp-grpc.ts').then((m) => m.createOtlpGrpcTransport(spec, options))
    : import('./otlp-http.ts').then((m) => m.createOtlpHttpTransport(spec, options));
}

export function createOtlpSink(spec: OtlpSinkSpec, options: OtlpSinkOptions = {}): Sink {
  const name = spec.transport === 'grpc' ? 'otlp_grpc' : 'otlp_http';
  const where = spec.transport === 'grpc' ? `otlp+grpc${spec.tls ? 's' : ''}://${spec.url.host}` : `otlp+${redactUrl(spec.url)}`;
  const countError = (): void => options.metrics?.sinkErrors.inc({ sink: name });
  const retries = new DeliveryRetries(`OTLP sink ${where}`, options, countError);
  let transport: Promise<OtlpTransport> | undefined;

  function loaded(): Promise<OtlpTransport> {
    transport ??= loadTransport(spec, { timeoutMs: options.timeoutMs ?? 10_000 });
    return transport.catch((err: Error) => {
      transport = undefined;
      return retries.fail(new SinkUnavailableError(`OTLP sink ${where} cannot load its protocol modules: ${err.message}`, 5));
    });
  }

  /** partial_success: the rejected records are gone (OTLP: not to be retried); said once per batch. */
  function report(outcome: { rejectedRecords: number; message: string }, events: number): void {
    if (outcome.rejectedRecords > 0) {
      options.metrics?.sinkRejectedRecords.inc({ sink: name }, outcome.rejectedRecords);
      options.logger?.warn({ sink: where, rejected: outcome.rejectedRecords, of: events, message: outcome.message }, 'the OTLP receiver rejected log records (partial_success); they are dropped, not retried');
    } else if (outcome.message !== '') {
      options.logger?.warn({ sink: where, message: outcome.message }, 'the OTLP receiver accepted the batch with a warning (partial_success)');
    }
  }

  async function write(chunk: NdjsonChunk): Promise<void> {
    if (chunk.bytes.length === 0) return;
    const exporter = await loaded();
    let request: Uint8Array;
    try {
      request = exporter.encode(chunk);
    } catch (err) {
      countError();
      return retries.fail(new SinkRejectedError(`OTLP sink ${where} cannot send the batch: ${(err as Error).message}`, 0));
    }
    let accepted: { rejectedRecords: number; message: string } | undefined;
    await retries.deliver(async (signal) => {
      const outcome = await exporter.send(request, signal);
      if (outcome.kind === 'accepted') {
        accepted = outcome;
        return { delivered: true };
      }
      if (outcome.kind === 'refused') {
        countError();
        return retries.fail(new SinkRejectedError(`OTLP sink ${where} rejected the batch: ${outcome.problem}`, outcome.status));
      }
      return { delivered: false, problem: outcome.problem, retryAfterSeconds: outcome.retryAfterSeconds };
    });
    if (accepted !== undefined) report(accepted, chunk.events);
  }

  return {
    get available() {
      return retries.available;
    },
    write,
    async close() {
      retries.close();
      if (transport !== undefined) (await transport.catch(() => undefined))?.close();
    },
  };
}
