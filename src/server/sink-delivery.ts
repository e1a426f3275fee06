/**
 * Enriched records delivered to the sink by the entry points that answer only once the sink has
 * acknowledged them (/v1/forward, the gRPC Ingest stream): admitted through a SinkProbe while the
 * sink says it is down, written as NDJSON in parts of about ANSWER_PART_BYTES from one pooled
 * buffer, and a refusal as a SinkRefusedError carrying the delay the transport passes on (HTTP
 * 503 + Retry-After, gRPC UNAVAILABLE + RetryInfo).
 */
import { ByteWriterPool, type BatchResult, type EnrichedRecord, type Enricher } from '../enrich/index.ts';
import { SinkUnavailableError, type Sink } from '../sink/types.ts';
import { ANSWER_PART_BYTES, AnswerEncoder } from './batch-codec.ts';
import { SinkProbe } from './sink-probe.ts';

/** The sink did not take the records; nothing of them was kept but what it had acknowledged. */
export class SinkRefusedError extends Error {
  readonly retryAfterSeconds: number;
  constructor(message: string, retryAfterSeconds: number) {
    super(message);
    this.name = 'SinkRefusedError';
    this.retryAfterSeconds = Math.max(1, Math.ceil(retryAfterSeconds));
  }
}

export class SinkDelivery {
  readonly #sink: Sink;
  readonly #probe: SinkProbe;
  readonly #writers = new ByteWriterPool();

  constructor(sink: Sink, now: () => number) {
    this.#sink = sink;
    this.#probe = new SinkProbe(now);
  }

  /**
   * Enriches (`produce`, called only once the sink is admitted, so a refused batch has not gone
   * through a merge session) and writes the records; resolves once the sink acknowledged them.
   * `onError` is told about failures that are not the sink saying it is unavailable.
   */
  async deliver<T extends { records: readonly EnrichedRecord[] }>(produce: () => T, onError: (err: unknown) => void): Promise<T> {
    const admission = this.#probe.admit(this.#sink.available);
    if (admission.kind === 'refuse') throw new SinkRefusedError('the sink reports itself unavailable', admission.retryAfterSeconds);
    try {
      const result = produce();
      try {
        await this.#write(result.records);
      } catch (err) {
        if (err instanceof SinkUnavailableError) {
          this.#probe.failed(err.retryAfterSeconds);
          throw new SinkRefusedError(err.message, err.retryAfterSeconds);
        }
        onError(err);
        this.#probe.failed(1);
        throw new SinkRefusedError('the sink failed to write the batch (see the service log)', 1);
      }
      return result;
    } finally {
      this.#probe.settled(admission);
    }
  }

  /**
   * The sink is done with a part's bytes once its write settles; a part that failed to be written
   * is never released, so its writer is left to the garbage collector.
   */
  async #write(records: readonly EnrichedRecord[]): Promise<void> {
    const writer = this.#writers.take();
    const encoder = new AnswerEncoder(records, 'ndjson');
    let done = false;
    while (!done) {
      const before = encoder.written;
      done = encoder.next(writer, ANSWER_PART_BYTES);
      // A batch whose events were all excluded still reaches the sink, as an empty write.
      await this.#sink.write({ bytes: writer.lend(), events: encoder.written - before });
      writer.release();
    }
    this.#writers.give(writer);
  }
}

/** A whole batch in one merge session, flushed at its end (POST /v1/enrich, /v1/forward, gRPC Enrich). */
export function enrichWholeBatch(enricher: Enricher, events: readonly unknown[], route: string, multiline = true): BatchResult {
  const session = enricher.newSession({ route, multiline });
  const result = enricher.enrichBatch(events, session);
  return joinResults(result, session.flush());
}

/** `first`'s records then `second`'s, in one result (either itself when the other holds nothing). */
export function joinResults(first: BatchResult, second: BatchResult): BatchResult {
  if (isEmpty(second)) return first;
  if (isEmpty(first)) return second;
  return {
    records: first.records.concat(second.records),
    errors: first.errors.concat(second.errors),
    excluded: first.excluded + second.excluded,
    merged: first.merged + second.merged,
  };
}

function isEmpty(result: BatchResult): boolean {
  return result.records.length === 0 && result.errors.length === 0 && result.merged === 0 && result.excluded === 0;
}
