/**
 * kle.v1.Enricher (proto/kle/v1/enricher.proto), one of the services of the gRPC server on
 * `server.grpcListen`:
 * - Enrich: POST /v1/enrich as one call; the answer's NDJSON is what /v1/enrich answers with
 *   `Accept: application/x-ndjson`, encoded by the same AnswerEncoder.
 * - Ingest: /v1/ingest?ack=true over one bidirectional stream, acknowledged per batch: a batch
 *   with return_events gets its enriched events back in its acknowledgement (as /v1/ingest
 *   answers); any other goes to the sink (/v1/forward) and is acknowledged once the sink took it
 *   (IngestStream below).
 * Both take their messages' size from server.maxInflightBytes, shared with the HTTP routes: an
 * Enrich call waits up to server.maxInflightWait for room, then gets UNAVAILABLE with a RetryInfo
 * (HTTP's 503 + Retry-After); an Ingest stream has no such answer per message and waits, unread,
 * as long as it takes (as a /v1/ingest connection does).
 *
 * Requests are decoded in the handlers, not by grpc-js (identity deserialisers), so a message that
 * does not decode gets INVALID_ARGUMENT naming the fault rather than grpc-js's INTERNAL; answers
 * are encoded in the handlers too, and sent as bytes.
 */
import * as grpc from '@grpc/grpc-js';
import { ByteWriterPool, type BatchResult, type Enricher, type InputFieldNames, type MergeSession } from '../enrich/index.ts';
import { AnswerEncoder } from '../server/batch-codec.ts';
import type { EventBus } from '../server/event-bus.ts';
import { Reservation, type ByteBudget } from '../server/inflight-budget.ts';
import { enrichWholeBatch, joinResults, SinkDelivery, SinkRefusedError } from '../server/sink-delivery.ts';
import type { Sink } from '../sink/types.ts';
import { BadMessageError, decodeEnrichRequest, decodeIngestRequest, ENRICHER_SERVICE_NAME, encodeEnrichResponse, encodeIngestAck, resultCounts } from './proto.ts';
import type { GrpcService } from './server.ts';
import { busy, failure, GrpcFailure, internal, SHUTTING_DOWN_RETRY_SECONDS, unavailable, type Failure } from './status.ts';

export interface EnricherServiceDeps {
  enricher: Enricher;
  /** enrichment.input: the field names the enricher reads raw events under. */
  input: InputFieldNames;
  /** Enriched events for /v1/stream subscribers. */
  bus: EventBus;
  /** Where Ingest delivers batches that do not ask for their events back; without one such a batch ends its stream UNIMPLEMENTED. */
  sink: Sink | undefined;
  /** server.maxInflightBytes, shared with the HTTP routes. */
  budget: ByteBudget;
  /** server.maxInflightWait: how long an Enrich call waits for room before its UNAVAILABLE. */
  maxInflightWaitMs: number;
  /** The clock deciding when a sink that reported itself unavailable is tried again. */
  now: () => number;
  /** Told about faults of the service (a sink write failure, an enricher bug), for the log. */
  onError: (err: unknown, what: string) => void;
}

const bytesIn = (bytes: Buffer): Buffer => bytes;

function method(name: string, requestStream: boolean, responseStream: boolean): grpc.MethodDefinition<Buffer, Buffer> {
  return {
    path: `/${ENRICHER_SERVICE_NAME}/${name}`,
    requestStream,
    responseStream,
    requestSerialize: bytesIn,
    requestDeserialize: bytesIn,
    responseSerialize: bytesIn,
    responseDeserialize: bytesIn,
  };
}

const ENRICHER_SERVICE: grpc.ServiceDefinition = {
  Enrich: method('Enrich', false, false),
  Ingest: method('Ingest', true, true),
};

/** The status a call ends with for what a handler threw; faults of the service are logged. */
function statusOf(err: unknown, onError: EnricherServiceDeps['onError'], what: string): Failure {
  if (err instanceof GrpcFailure) return err.status;
  if (err instanceof BadMessageError) return failure(grpc.status.INVALID_ARGUMENT, err.message);
  if (err instanceof SinkRefusedError) return unavailable(err.message, err.retryAfterSeconds);
  onError(err, what);
  return internal();
}

export function enricherService(deps: EnricherServiceDeps): GrpcService {
  const { enricher, input, bus, budget, maxInflightWaitMs } = deps;
  const writers = new ByteWriterPool();
  const delivery = deps.sink === undefined ? undefined : new SinkDelivery(deps.sink, deps.now);
  const streams = new Set<IngestStream>();

  async function enrich(bytes: Buffer): Promise<Buffer> {
    const share = new Reservation(budget, maxInflightWaitMs);
    try {
      if (!(await share.take(bytes.length))) throw new GrpcFailure(busy(budget.limit, maxInflightWaitMs));
      const result = enrichWholeBatch(enricher, decodeEnrichRequest(bytes, input), 'grpc_enrich');
      bus.publish(result.records);
      const writer = writers.take();
      new AnswerEncoder(result.records, 'ndjson').next(writer, Number.POSITIVE_INFINITY);
      // Copied into the answer's own buffer: the writer goes back at once.
      const answer = encodeEnrichResponse({ ndjson: writer.view(), ...resultCounts(result) });
      writers.give(writer);
      return answer;
    } finally {
      share.release();
    }
  }

  const Enrich: grpc.handleUnaryCall<Buffer, Buffer> = (call, callback) => {
    enrich(call.request).then(
      (answer) => callback(null, answer),
      (err: unknown) => callback(statusOf(err, deps.onError, 'gRPC Enrich failed')),
    );
  };

  const Ingest: grpc.handleBidiStreamingCall<Buffer, Buffer> = (call) => {
    const stream = new IngestStream(call, { ...deps, delivery, writers }, () => streams.delete(stream));
    streams.add(stream);
  };

  return {
    definition: ENRICHER_SERVICE,
    implementation: { Enrich, Ingest },
    shutdown: () => {
      for (const stream of streams) stream.shutdown();
    },
  };
}

type IngestDeps = EnricherServiceDeps & { delivery: SinkDelivery | undefined; writers: ByteWriterPool };

const NO_SINK = failure(grpc.status.UNIMPLEMENTED, 'no sink is configured: a batch without return_events is delivered to source.sink; start the service with one, or set return_events');

/** A message has no UNAVAILABLE of its own to get: it waits for room as long as it takes, its stream unread. */
const UNBOUNDED_WAIT = Number.POSITIVE_INFINITY;

/**
 * One Ingest stream: batches handled one at a time, in order, in one merge session; each is
 * acknowledged once the sink acknowledged it. Reading stops while a batch is handled (waiting for
 * room in the budget, then for the sink), so a stream holds at most the batch in hand and one read
 * ahead. The stream ends with the first batch that cannot be used or delivered (its status says
 * why; the batches acknowledged before are delivered), when the client half-closes (partial lines
 * still open are delivered, then OK), or at shutdown (the same, then UNAVAILABLE).
 */
class IngestStream {
  readonly #call: grpc.ServerDuplexStream<Buffer, Buffer>;
  readonly #deps: IngestDeps;
  readonly #session: MergeSession;
  readonly #forget: () => void;
  readonly #inbox: Buffer[] = [];
  /** The share of the batch in hand (released when it is acknowledged, or the stream ends). */
  #share: Reservation | undefined;
  #working = false;
  #halfClosed = false;
  #shuttingDown = false;
  #ended = false;
  /** Whether the last batch asked for its events back: then so do the partial lines left open at the end. */
  #returning = false;

  constructor(call: grpc.ServerDuplexStream<Buffer, Buffer>, deps: IngestDeps, forget: () => void) {
    this.#call = call;
    this.#deps = deps;
    this.#forget = forget;
    this.#session = deps.enricher.newSession({ route: 'grpc_ingest' });
    // Read ahead one message, not the 16 of an object-mode stream: each may be server.maxBodyBytes.
    const state = (call as unknown as { _readableState?: { highWaterMark: number } })._readableState;
    if (state !== undefined) state.highWaterMark = 1;
    call.on('data', (bytes: Buffer) => {
      if (this.#ended) return;
      this.#inbox.push(bytes);
      this.#run();
    });
    call.on('end', () => {
      this.#halfClosed = true;
      this.#run();
    });
    call.on('cancelled', () => this.#end(undefined));
  }

  /** The server stops: the batch in hand is finished, open partial lines delivered, then UNAVAILABLE. */
  shutdown(): void {
    this.#shuttingDown = true;
    this.#run();
  }

  #run(): void {
    if (this.#working || this.#ended) return;
    this.#working = true;
    this.#call.pause();
    this.#work().then(
      () => {
        this.#working = false;
        if (!this.#ended) this.#call.resume();
      },
      (err: unknown) => {
        this.#working = false;
        this.#end(statusOf(err, this.#deps.onError, 'gRPC Ingest failed'));
      },
    );
  }

  async #work(): Promise<void> {
    while (!this.#ended) {
      if (this.#shuttingDown || (this.#halfClosed && this.#inbox.length === 0)) {
        await this.#finish();
        return;
      }
      const bytes = this.#inbox.shift();
      if (bytes === undefined) return;
      await this.#handle(bytes);
    }
  }

  async #handle(bytes: Buffer): Promise<void> {
    const share = new Reservation(this.#deps.budget, UNBOUNDED_WAIT);
    this.#share = share;
    try {
      // False: released, because the stream ended meanwhile.
      if (!share.tryTake(bytes.length) && !(await share.take(bytes.length))) return;
      const batch = decodeIngestRequest(bytes, this.#deps.input);
      const { enricher, delivery } = this.#deps;
      // As /v1/ingest?ack=true: partial lines whose final fragment is overdue go out with the next batch.
      const enrich = () => joinResults(this.#session.flushExpired(), enricher.enrichBatch(batch.events, this.#session));
      this.#returning = batch.returnEvents;
      if (batch.returnEvents) {
        this.#answer(batch.sequence, enrich());
        return;
      }
      if (delivery === undefined) throw new GrpcFailure(NO_SINK);
      const result = await delivery.deliver(enrich, (err) => this.#deps.onError(err, 'sink write failed'));
      this.#deps.bus.publish(result.records);
      if (!this.#ended) this.#call.write(encodeIngestAck({ sequence: batch.sequence, ...resultCounts(result) }));
    } finally {
      share.release();
      this.#share = undefined;
    }
  }

  /** A batch's enriched events, back to the client in its acknowledgement. */
  #answer(sequence: string, result: BatchResult): void {
    this.#deps.bus.publish(result.records);
    if (this.#ended) return;
    const writer = this.#deps.writers.take();
    new AnswerEncoder(result.records, 'ndjson').next(writer, Number.POSITIVE_INFINITY);
    // encodeIngestAck copies the bytes: the writer goes back at once.
    this.#call.write(encodeIngestAck({ sequence, ...resultCounts(result), ndjson: writer.view() }));
    this.#deps.writers.give(writer);
  }

  /** Partial lines still open are delivered (or answered), then the stream ends: OK, or UNAVAILABLE at shutdown. */
  async #finish(): Promise<void> {
    const pending = this.#session.flush();
    if (pending.records.length > 0 && this.#returning) {
      this.#answer('0', pending);
    } else if (pending.records.length > 0 && this.#deps.delivery !== undefined) {
      await this.#deps.delivery.deliver(() => pending, (err) => this.#deps.onError(err, 'sink write failed'));
      this.#deps.bus.publish(pending.records);
    }
    this.#end(this.#shuttingDown ? unavailable('the service is shutting down; send what was not acknowledged again', SHUTTING_DOWN_RETRY_SECONDS) : null);
  }

  /** Ends the stream with `status` (null: OK; undefined: the client cancelled, nothing to send). */
  #end(status: Failure | null | undefined): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#inbox.length = 0;
    this.#share?.release();
    this.#forget();
    if (status === undefined) {
      // Nothing can reach the client any more; what the session still holds goes to /v1/stream at least.
      this.#deps.bus.publish(this.#session.flush().records);
    } else if (status === null) {
      this.#call.end();
    } else {
      this.#call.emit('error', status);
    }
  }
}
