/**
 * One /v1/ingest connection: raw events in, enriched NDJSON out, in order, with one merge session
 * for partial lines. Messages are handled one at a time, in the order they came.
 *
 * What a connection may hold is bounded three ways, each by not reading from the client (a
 * WebSocket has no 503 to give per message; the client's own send buffer then fills):
 * - each message holds its share of server.maxInflightBytes, shared with the HTTP routes, from
 *   before it is parsed until its answer is sent; a message that does not fit waits for room (as
 *   long as it takes, first come first served), and reading stops meanwhile;
 * - an answer over ANSWER_PART_BYTES is sent as one message in fragments of that size, each
 *   encoded once the previous one is out, and reading stops until the last is;
 * - when the client does not read its answers (more than maxPendingBytes unsent), reading stops
 *   until they drain to half of it.
 * So at most one message received but not yet handled is held beyond the budget (plus what ws had
 * read ahead when reading stopped).
 *
 * Acknowledged mode (`?ack=true`, what the bundled `source` uses): every message gets exactly one
 * answer, in order, whose first line says which message it answers and what came of it
 * (`{"ack":n,"events":k,...}`, src/protocol/ack.ts), followed by the k enriched events. A client can then tell when a
 * batch is done even if all of it was excluded. No timer flushes partial lines or multi-line
 * records in this mode (an unasked answer would break the one-answer-per-message contract): one
 * that is overdue goes out with the next answer (or at shutdown, `"ack":null`). The bundled
 * `source` therefore joins records itself and connects with `multiline=false`.
 */
import type { FastifyBaseLogger } from 'fastify';
import type { RawData, WebSocket } from 'ws';
import type { BatchResult, ByteWriterPool, EnrichedRecord, Enricher, MergeSession } from '../enrich/index.ts';
import { ackLine, INGEST_ROUTE } from '../protocol/index.ts';
import { ANSWER_PART_BYTES, AnswerEncoder, parseEventsMessage } from './batch-codec.ts';
import { logByFault } from './client-errors.ts';
import { ApiError, type ErrorDetail } from './errors.ts';
import type { EventBus } from './event-bus.ts';
import { Reservation, type ByteBudget } from './inflight-budget.ts';

export interface IngestDeps {
  enricher: Enricher;
  bus: EventBus;
  /** Where answers are written; a writer goes back once ws has sent its bytes. */
  writers: ByteWriterPool;
  /** server.maxInflightBytes, shared with the HTTP routes. */
  budget: ByteBudget;
  /** The connection's request logger. */
  log: Pick<FastifyBaseLogger, 'debug' | 'error'>;
}

export interface IngestLimits {
  maxPendingBytes: number;
  /** Longest wait between checks for overdue partial lines (the enricher says when one is due). */
  partialFlushTimeoutMs: number;
}

/** A message has no 503 to get: it waits for room as long as it takes. */
const UNBOUNDED_WAIT = Number.POSITIVE_INFINITY;

export class IngestConnection {
  readonly #socket: WebSocket;
  readonly #deps: IngestDeps;
  readonly #limits: IngestLimits;
  readonly #session: MergeSession;
  readonly #ack: boolean;
  /** Messages received and not handled yet, oldest first. */
  readonly #inbox: RawData[] = [];
  /** Budget shares of answers not sent yet (given back when sent, or when the connection closes). */
  readonly #shares = new Set<Reservation>();
  /** The share the message being handled waits for, if it waits. */
  #waitingShare: Reservation | undefined;
  /** The loop handling #inbox runs. */
  #working = false;
  /** The loop waits (for room in the budget, or for a fragment to be sent): reading stops. */
  #blocked = false;
  #paused = false;
  /** Shutdown began: nothing more is read; what was received is answered, then the close. */
  #closing = false;
  #closed = false;
  #finished: Promise<void> | undefined;
  /** Set while shutdown waits for the loop to end. */
  #onIdle: (() => void) | undefined;
  #flushTimer: NodeJS.Timeout | undefined;
  /** When the armed timer fires (the session's nextFlushAt it was armed for). */
  #flushTimerAt: number | undefined;
  /** The flush timer fired: the loop flushes overdue partial lines before the next message. */
  #flushDue = false;
  /** The nextFlushAt the fired timer was armed for. */
  #flushArmedFor: number | undefined;
  /** Messages handled (acknowledged mode numbers its answers with it). */
  #handled = 0;

  /** The flush goes through the loop: nothing is sent in the middle of a fragmented answer. */
  readonly #onFlushTimer = (): void => {
    this.#flushArmedFor = this.#flushTimerAt;
    this.#flushTimer = undefined;
    this.#flushTimerAt = undefined;
    if (this.#closed || this.#closing) return;
    this.#flushDue = true;
    this.#run();
  };

  /** `multiline: false`: the client joined multi-line records itself (see SessionOptions.multiline). */
  constructor(socket: WebSocket, deps: IngestDeps, limits: IngestLimits, options: { ack?: boolean; multiline?: boolean } = {}) {
    this.#socket = socket;
    this.#deps = deps;
    this.#limits = limits;
    this.#ack = options.ack === true;
    this.#session = deps.enricher.newSession({ route: 'ingest', multiline: options.multiline !== false });
  }

  onMessage(data: RawData): void {
    if (this.#closed || this.#closing) return;
    this.#inbox.push(data);
    this.#run();
  }

  /** The client went away: whatever is still pending reaches /v1/stream subscribers at least. */
  onClose(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#inbox.length = 0;
    this.#clearFlushTimer();
    for (const share of this.#shares) share.release();
    this.#shares.clear();
    this.#deps.bus.publish(this.#session.flush().records);
  }

  /**
   * Server shutdown: answer what was received (without waiting for the budget), send what is
   * pending, then close with 1001 (going away). Resolves once the close is sent.
   */
  shutdown(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    if (this.#finished !== undefined) return this.#finished;
    this.#closing = true;
    this.#updateReading();
    this.#clearFlushTimer();
    // A message waiting for room goes ahead without it: the service is going away.
    this.#waitingShare?.release();
    this.#finished = this.#working ? new Promise((resolve) => (this.#onIdle = resolve)) : this.#finish();
    return this.#finished;
  }

  async #finish(): Promise<void> {
    if (this.#closed) return;
    const pending = this.#session.flush();
    if (!this.#ack) await this.#emit(pending, undefined, undefined);
    else if (pending.records.length > 0) await this.#answer(null, pending, undefined, undefined);
    // onClose follows the handshake (or its timeout), and gives back what answers still hold.
    if (!this.#closed) this.#socket.close(1001, 'server shutting down');
  }

  /** Starts the loop unless it runs. */
  #run(): void {
    if (this.#working) return;
    this.#work().catch((err: unknown) => {
      logByFault(this.#deps.log, err, 'ingest connection', { route: INGEST_ROUTE });
      this.#socket.terminate();
    });
  }

  /**
   * Handles the inbox, one message after the other, until it is empty; runs to its end at once
   * unless a message waits for room or its answer goes out in fragments.
   */
  async #work(): Promise<void> {
    this.#working = true;
    while ((this.#inbox.length > 0 || this.#flushDue) && !this.#closed) {
      if (this.#flushDue) {
        this.#flushDue = false;
        await this.#whileBlocked(this.#flushOverdue());
        continue;
      }
      const data = this.#inbox.shift()!;
      const share = new Reservation(this.#deps.budget, UNBOUNDED_WAIT);
      this.#shares.add(share);
      const bytes = rawDataBytes(data);
      if (!this.#closing && !share.tryTake(bytes)) {
        this.#waitingShare = share;
        this.#block(true);
        // False: released, by the client's close (stop) or by shutdown (go on without room).
        await share.take(bytes);
        this.#waitingShare = undefined;
        this.#block(false);
        if (this.#closed) break;
      }
      await this.#whileBlocked(this.#handle(data, share));
    }
    this.#working = false;
    if (!this.#ack && !this.#closing) this.#scheduleFlush();
    this.#updateReading();
    if (this.#closing && this.#onIdle !== undefined) void this.#finish().then(this.#onIdle);
  }

  /** One message: parsed, enriched, answered. A promise when its answer goes out in fragments. */
  #handle(data: RawData, share: Reservation): Promise<void> | undefined {
    const seq = ++this.#handled;
    let parsed: ReturnType<typeof parseEventsMessage>;
    try {
      parsed = parseEventsMessage(rawDataToText(data));
    } catch (err) {
      const error = err instanceof ApiError ? err : new ApiError(400, 'malformed_body', 'malformed message');
      logByFault(this.#deps.log, error, 'ingest message', { seq, route: INGEST_ROUTE });
      this.#sendError(seq, error, share);
      return undefined;
    }
    try {
      if (!this.#ack) return this.#emit(this.#deps.enricher.enrichBatch(parsed.events, this.#session), parsed.lines, share);
      const overdue = this.#session.flushExpired();
      const result = this.#deps.enricher.enrichBatch(parsed.events, this.#session);
      if (overdue.records.length > 0) result.records.unshift(...overdue.records);
      return this.#answer(seq, { ...result, excluded: result.excluded + overdue.excluded, merged: result.merged + overdue.merged }, parsed.lines, share);
    } catch (err) {
      // A fault of the service (an enricher bug), not of the client: logged, answered, and the
      // connection goes on.
      logByFault(this.#deps.log, err, 'ingest message', { seq, route: INGEST_ROUTE });
      this.#sendError(seq, new ApiError(500, 'internal', 'internal error', [{ message: 'see the service log' }]), share);
      return undefined;
    }
  }

  /** Acknowledged mode: one message, the header line then the events. */
  #answer(seq: number | null, result: BatchResult, lines: Int32Array | undefined, share: Reservation | undefined): Promise<void> | undefined {
    const records = result.records;
    const head = ackLine({ ack: seq, events: records.length, excluded: result.excluded, merged: result.merged, errors: errorDetails(result, lines) });
    return this.#sendRecords(records, head, share);
  }

  /**
   * Plain mode: the events (if any), then a message with the per-event errors (if any); the share
   * goes back with the last of them sent (at once when there is nothing to send).
   */
  #emit(result: BatchResult, lines: Int32Array | undefined, share: Reservation | undefined): Promise<void> | undefined {
    if (result.records.length === 0) {
      this.#sendErrors(result, lines, share);
      return undefined;
    }
    const sending = this.#sendRecords(result.records, undefined, share);
    if (sending === undefined) {
      this.#sendErrors(result, lines, undefined);
      return undefined;
    }
    return sending.then(() => this.#sendErrors(result, lines, undefined));
  }

  #sendErrors(result: BatchResult, lines: Int32Array | undefined, share: Reservation | undefined): void {
    if (result.errors.length === 0 || this.#closed) {
      this.#sent(share);
      return;
    }
    const details = errorDetails(result, lines);
    this.#send(JSON.stringify({ error: `${details.length} invalid event(s) in the message`, details }), share);
  }

  #sendError(seq: number, error: ApiError, share: Reservation): void {
    this.#send(this.#ack ? ackLine({ ack: seq, events: 0, ...error.body() }) : JSON.stringify(error.body()), share);
  }

  /**
   * Records as NDJSON (after `head`), then to /v1/stream. Up to ANSWER_PART_BYTES: one frame from a
   * pooled buffer, handed back once ws has sent it (undefined is returned). Larger: fragments of
   * one message, each encoded once the previous one is sent (the promise settles after the last).
   */
  #sendRecords(records: readonly EnrichedRecord[], head: string | undefined, share: Reservation | undefined): Promise<void> | undefined {
    if (records.length > 0) this.#deps.bus.publish(records);
    const { writers } = this.#deps;
    const encoder = new AnswerEncoder(records, 'ndjson', [], head);
    const writer = writers.take();
    if (encoder.next(writer, ANSWER_PART_BYTES)) {
      this.#socket.send(writer.lend(), { binary: false }, (err?: Error) => {
        if (err === undefined || err === null) writers.give(writer);
        this.#sent(share);
      });
      this.#updateReading();
      return undefined;
    }
    return this.#sendFragments(encoder, writer, share);
  }

  async #sendFragments(encoder: AnswerEncoder, first: ReturnType<ByteWriterPool['take']>, share: Reservation | undefined): Promise<void> {
    const { writers } = this.#deps;
    let writer = first;
    let last = false;
    for (;;) {
      const part = writer;
      const sent = await new Promise<boolean>((resolve) => {
        this.#socket.send(part.lend(), { binary: false, fin: last }, (err?: Error) => {
          const ok = err === undefined || err === null;
          if (ok) writers.give(part);
          resolve(ok);
        });
      });
      if (!sent || last || this.#closed) break;
      writer = writers.take();
      last = encoder.next(writer, ANSWER_PART_BYTES);
    }
    this.#sent(share);
  }

  /** Text frames always (an answer's Buffer is UTF-8 text, already encoded). */
  #send(text: string, share: Reservation | undefined): void {
    this.#socket.send(text, { binary: false }, () => this.#sent(share));
    this.#updateReading();
  }

  /** An answer is out (or will never be): its share goes back. */
  #sent(share: Reservation | undefined): void {
    if (share !== undefined) {
      share.release();
      this.#shares.delete(share);
    }
    this.#updateReading();
  }

  #block(blocked: boolean): void {
    this.#blocked = blocked;
    this.#updateReading();
  }

  /** Awaits an answer going out in fragments, not reading meanwhile; nothing to await otherwise. */
  async #whileBlocked(sending: Promise<void> | undefined): Promise<void> {
    if (sending === undefined) return;
    this.#block(true);
    await sending;
    this.#block(false);
  }

  /** Plain mode: partial lines whose final fragment is overdue go out as they are. */
  #flushOverdue(): Promise<void> | undefined {
    const flushed = this.#session.flushExpired();
    const sending = this.#emit(flushed, undefined, undefined);
    // Nothing was due yet by the enricher's clock: wait a full period rather than spin.
    if (flushed.records.length === 0 && this.#session.nextFlushAt() === this.#flushArmedFor) this.#scheduleFlush(this.#flushCheckMs());
    return sending;
  }

  /**
   * Reads from the client unless the loop waits, shutdown began, or more than maxPendingBytes of
   * answers are unsent (and then until they drain to half of it).
   */
  #updateReading(): void {
    if (this.#closed) return;
    const pending = this.#socket.bufferedAmount;
    const behind = pending > (this.#paused ? this.#limits.maxPendingBytes / 2 : this.#limits.maxPendingBytes);
    const pause = this.#blocked || this.#closing || behind;
    if (pause === this.#paused) return;
    this.#paused = pause;
    if (pause) this.#socket.pause();
    else this.#socket.resume();
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
    const delay = delayMs ?? Math.min(Math.max(0, at - Date.now()), this.#flushCheckMs());
    this.#flushTimerAt = at;
    this.#flushTimer = setTimeout(this.#onFlushTimer, delay);
    this.#flushTimer.unref();
  }

  /** Longest wait between checks: the partial-line or the multiline flush timeout, whichever is longer. */
  #flushCheckMs(): number {
    return Math.max(this.#limits.partialFlushTimeoutMs, this.#session.maxFlushDelayMs);
  }

  #clearFlushTimer(): void {
    if (this.#flushTimer !== undefined) {
      clearTimeout(this.#flushTimer);
      this.#flushTimer = undefined;
      this.#flushTimerAt = undefined;
    }
  }
}

function rawDataBytes(data: RawData): number {
  if (Array.isArray(data)) return data.reduce((n, part) => n + part.length, 0);
  return data.byteLength;
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
