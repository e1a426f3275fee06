/**
 * One /v1/ingest connection: raw events in, enriched NDJSON out, in order, with one merge session
 * for partial lines. When the client does not read its answers fast enough, reading from it is
 * paused until they drain, so a connection never makes the service buffer without bound.
 *
 * Acknowledged mode (`?ack=true`, what the bundled `source` uses): every message gets exactly one
 * answer, in order, whose first line says which message it answers and what came of it
 * (`{"ack":n,"events":k,...}`), followed by the k enriched events. A client can then tell when a
 * batch is done even if all of it was excluded. No timer flushes partial lines in this mode: one
 * whose final fragment is overdue goes out with the next answer (or at shutdown, `"ack":null`).
 */
import type { RawData, WebSocket } from 'ws';
import type { ByteWriterPool } from '../enrich/byte-writer.ts';
import type { BatchResult, EnrichedRecord, Enricher, MergeSession } from '../enrich/types.ts';
import { ndjsonAnswer, parseEventsMessage } from './batch-codec.ts';
import { ApiError, type ErrorDetail } from './errors.ts';
import type { EventBus } from './event-bus.ts';

export const INGEST_ROUTE = '/v1/ingest';

const TEXT_FRAME = { binary: false } as const;

export interface IngestDeps {
  enricher: Enricher;
  bus: EventBus;
  /** Where answers are written; a writer goes back once ws has sent its bytes. */
  writers: ByteWriterPool;
}

export interface IngestLimits {
  maxPendingBytes: number;
  /** Longest wait between checks for overdue partial lines (the enricher says when one is due). */
  partialFlushTimeoutMs: number;
}

export class IngestConnection {
  readonly #socket: WebSocket;
  readonly #deps: IngestDeps;
  readonly #limits: IngestLimits;
  readonly #session: MergeSession;
  #flushTimer: NodeJS.Timeout | undefined;
  /** When the armed timer fires (the session's nextFlushAt it was armed for). */
  #flushTimerAt: number | undefined;
  #paused = false;
  #closed = false;
  readonly #ack: boolean;
  /** Messages received (acknowledged mode numbers its answers with it). */
  #received = 0;

  readonly #afterSend = (err?: Error): void => {
    if (err !== undefined && err !== null) return;
    if (this.#paused && this.#socket.bufferedAmount <= this.#limits.maxPendingBytes / 2) {
      this.#paused = false;
      this.#socket.resume();
    }
  };

  readonly #onFlushTimer = (): void => {
    const armedFor = this.#flushTimerAt;
    this.#flushTimer = undefined;
    this.#flushTimerAt = undefined;
    if (this.#closed) return;
    const flushed = this.#session.flushExpired();
    this.#emit(flushed, undefined);
    // Nothing was due yet by the enricher's clock: wait a full period rather than spin.
    const stalled = flushed.records.length === 0 && this.#session.nextFlushAt() === armedFor;
    this.#scheduleFlush(stalled ? this.#limits.partialFlushTimeoutMs : undefined);
  };

  constructor(socket: WebSocket, deps: IngestDeps, limits: IngestLimits, options: { ack?: boolean } = {}) {
    this.#socket = socket;
    this.#deps = deps;
    this.#limits = limits;
    this.#ack = options.ack === true;
    this.#session = deps.enricher.newSession({ route: 'ingest' });
  }

  onMessage(data: RawData): void {
    if (this.#closed) return;
    const seq = ++this.#received;
    let parsed: ReturnType<typeof parseEventsMessage>;
    try {
      parsed = parseEventsMessage(rawDataToText(data));
    } catch (err) {
      const error = err instanceof ApiError ? err : new ApiError(400, 'malformed_body', 'malformed message');
      this.#send(this.#ack ? `${JSON.stringify({ ack: seq, events: 0, ...error.body() })}\n` : JSON.stringify(error.body()));
      return;
    }
    if (this.#ack) {
      const overdue = this.#session.flushExpired();
      const result = this.#deps.enricher.enrichBatch(parsed.events, this.#session);
      if (overdue.records.length > 0) result.records.unshift(...overdue.records);
      this.#answer(seq, { ...result, excluded: result.excluded + overdue.excluded, merged: result.merged + overdue.merged }, parsed.lines);
      return;
    }
    this.#emit(this.#deps.enricher.enrichBatch(parsed.events, this.#session), parsed.lines);
    this.#scheduleFlush();
  }

  /** The client went away: whatever is still pending reaches /v1/stream subscribers at least. */
  onClose(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#clearFlushTimer();
    this.#deps.bus.publish(this.#session.flush().records);
  }

  /** Server shutdown: send what is pending, then close with 1001 (going away). */
  shutdown(): void {
    if (this.#closed) return;
    this.#clearFlushTimer();
    const pending = this.#session.flush();
    if (!this.#ack) this.#emit(pending, undefined);
    else if (pending.records.length > 0) this.#answer(null, pending, undefined);
    this.#closed = true;
    this.#socket.close(1001, 'server shutting down');
  }

  /** Acknowledged mode: one frame, the header line then the events. */
  #answer(seq: number | null, result: BatchResult, lines: Int32Array | undefined): void {
    const records = result.records;
    const header = { ack: seq, events: records.length, excluded: result.excluded, merged: result.merged, errors: errorDetails(result, lines) };
    this.#sendRecords(records, `${JSON.stringify(header)}\n`);
  }

  #emit(result: BatchResult, lines: Int32Array | undefined): void {
    if (result.records.length > 0) this.#sendRecords(result.records, undefined);
    if (result.errors.length > 0) {
      const details = errorDetails(result, lines);
      this.#send(JSON.stringify({ error: `${details.length} invalid event(s) in the message`, details }));
    }
  }

  /** Records as NDJSON (after `head`) in a pooled buffer, handed back once ws has sent it; then to /v1/stream. */
  #sendRecords(records: readonly EnrichedRecord[], head: string | undefined): void {
    const writer = this.#deps.writers.take();
    this.#socket.send(ndjsonAnswer(records, writer, head), TEXT_FRAME, (err?: Error) => {
      if (err === undefined || err === null) this.#deps.writers.give(writer);
      this.#afterSend(err);
    });
    this.#pauseIfBehind();
    if (records.length > 0) this.#deps.bus.publish(records);
  }

  /** Text frames always (an answer's Buffer is UTF-8 text, already encoded). */
  #send(text: string): void {
    this.#socket.send(text, TEXT_FRAME, this.#afterSend);
    this.#pauseIfBehind();
  }

  #pauseIfBehind(): void {
    if (!this.#paused && this.#socket.bufferedAmount > this.#limits.maxPendingBytes) {
      this.#paused = true;
      this.#socket.pause();
    }
  }

  /** Arms the timer for the session's next overdue partial line, if any. */
  #scheduleFlush(delayMs?: number): void {
    const at = this.#session.nextFlushAt();
    if (at === undefined) {
      this.#clearFlushTimer();
      return;
    }
    if (this.#flushTimer !== undefined && this.#flushTimerAt === at) return;
    this.#clearFlushTimer();
    const delay = delayMs ?? Math.min(Math.max(0, at - Date.now()), this.#limits.partialFlushTimeoutMs);
    this.#flushTimerAt = at;
    this.#flushTimer = setTimeout(this.#onFlushTimer, delay);
    this.#flushTimer.unref();
  }

  #clearFlushTimer(): void {
    if (this.#flushTimer !== undefined) {
      clearTimeout(this.#flushTimer);
      this.#flushTimer = undefined;
      this.#flushTimerAt = undefined;
    }
  }
}

function rawDataToText(data: RawData): string {
  if (Buffer.isBuffer(data)) return data.toString('utf8');
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
  return Buffer.from(data).toString('utf8');
}

/** Per-event errors as details naming the event's index (and its NDJSON line, when known). */
function errorDetails(result: BatchResult, lines: Int32Array | undefined): ErrorDetail[] {
  return result.errors.map((e) => {
    const line = lines?.[e.index];
    return line === undefined ? { index: e.index, field: e.field, message: e.error } : { index: e.index, line, field: e.field, message: e.error };
  });
}
