/**
 * What both OTLP receivers (HTTP now, gRPC next) do with an ExportLogsServiceRequest once it is
 * decoded: enrich its records in one merge session, regroup them by pod, hand them to the sink as
 * one OTLP/JSON line (the OpenTelemetry Collector's `file` exporter format) and answer with
 * `partial_success` for the records that could not be used. As /v1/forward: the answer comes only
 * once the sink has acknowledged; while it cannot, the request is refused with a retry delay and
 * nothing of it is kept.
 */
import type { BatchResult, Enricher } from '../enrich/index.ts';
import { SinkProbe } from '../server/sink-probe.ts';
import { SinkUnavailableError, type Sink } from '../sink/types.ts';
import { eventsFromLogs, regroup, rejectionMessage, type Rejection } from './logs.ts';
import { toOtlpJson } from './json.ts';
import type { ExportLogsResponse, LogsRequest } from './types.ts';

/** Why a request was not taken; the transport maps it to its status (HTTP 501/503, gRPC UNIMPLEMENTED/UNAVAILABLE). */
export class ExportRefusedError extends Error {
  readonly code: 'no_sink' | 'sink_unavailable';
  readonly retryAfterSeconds: number;
  constructor(code: 'no_sink' | 'sink_unavailable', message: string, retryAfterSeconds = 1) {
    super(message);
    this.name = 'ExportRefusedError';
    this.code = code;
    this.retryAfterSeconds = Math.max(1, Math.ceil(retryAfterSeconds));
  }
}

export interface LogsReceiverDeps {
  /** An enricher built with otlpEnricherOptions (the `otel` schema, OTLP_INPUT). */
  enricher: Enricher;
  sink: Sink | undefined;
  /** The clock deciding when a sink that reported itself unavailable is tried again. */
  now: () => number;
  /** Told about sink failures that are not the sink saying it is unavailable (logged by the caller). */
  onSinkError?: (err: unknown) => void;
}

export interface ExportOutcome {
  response: ExportLogsResponse;
  /** Records the sink acknowledged. */
  accepted: number;
  rejected: readonly Rejection[];
}

export class LogsReceiver {
  readonly #enricher: Enricher;
  readonly #sink: Sink | undefined;
  readonly #probe: SinkProbe;
  readonly #onSinkError: ((err: unknown) => void) | undefined;

  constructor(deps: LogsReceiverDeps) {
    this.#enricher = deps.enricher;
    this.#sink = deps.sink;
    this.#probe = new SinkProbe(deps.now);
    this.#onSinkError = deps.onSinkError;
  }

  /** Enriches and delivers `request`; rejects with ExportRefusedError when the sink cannot take it. */
  async export(request: LogsRequest, route: string): Promise<ExportOutcome> {
    const sink = this.#sink;
    if (sink === undefined) {
      throw new ExportRefusedError('no_sink', 'no sink is configured: the OTLP receiver delivers enriched logs to source.sink; start the service with one');
    }
    const admission = this.#probe.admit(sink.available);
    if (admission.kind === 'refuse') throw new ExportRefusedError('sink_unavailable', 'the sink reports itself unavailable', admission.retryAfterSeconds);
    try {
      const batch = eventsFromLogs(request);
      const regrouped = regroup(request, batch, this.#enrich(batch.events, route));
      const bytes = regrouped.records === 0 ? Buffer.alloc(0) : Buffer.from(`${toOtlpJson(regrouped.request)}\n`, 'utf8');
      try {
        await sink.write({ bytes, events: regrouped.records });
      } catch (err) {
        if (err instanceof SinkUnavailableError) {
          this.#probe.failed(err.retryAfterSeconds);
          throw new ExportRefusedError('sink_unavailable', err.message, err.retryAfterSeconds);
        }
        this.#onSinkError?.(err);
        this.#probe.failed(1);
        throw new ExportRefusedError('sink_unavailable', 'the sink failed to write the batch (see the service log)', 1);
      }
      const rejected = batch.rejected.concat(regrouped.rejected);
      const response: ExportLogsResponse =
        rejected.length === 0 ? {} : { partialSuccess: { rejectedLogRecords: String(rejected.length), errorMessage: rejectionMessage(rejected) } };
      return { response, accepted: regrouped.records, rejected };
    } finally {
      this.#probe.settled(admission);
    }
  }

  /** One merge session per request, flushed at its end. */
  #enrich(events: readonly unknown[], route: string): BatchResult {
    const session = this.#enricher.newSession({ route });
    const result = this.#enricher.enrichBatch(events, session);
    const tail = session.flush();
    return {
      records: result.records.concat(tail.records),
      errors: result.errors.concat(tail.errors),
      excluded: result.excluded + tail.excluded,
      merged: result.merged + tail.merged,
    };
  }
}
