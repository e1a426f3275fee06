/**
 * The processing stage between reading and the sink, in-process: the enricher (`agent`, `demo`),
 * or plain serialisation (no enrichment: the decoded events as JSON, for a source whose receiver
 * enriches by itself, and for tests). The remote service's stages (`source`) are in src/client/.
 */
import { ByteWriterPool, type EnrichedRecord, type Enricher } from '../enrich/index.ts';
import { DEFAULT_FIELDS, quoteFields, serialiseRawEvent } from '../protocol/index.ts';
import { ndjsonOfTexts, writeNdjson } from '../sink/ndjson.ts';
import type { BatchEnricher, SourceBatch } from './delivery.ts';

export interface InProcessStageOptions {
  /** The event bus behind /v1/stream, when the service runs in this process. */
  publish?: (records: readonly EnrichedRecord[]) => void;
}

/** `agent`: Enricher.enrichMessages per batch, then publish to the bus, then the records' NDJSON goes to the sink. */
export function createInProcessStage(enricher: Pick<Enricher, 'enrichMessages'>, options: InProcessStageOptions = {}): BatchEnricher & { close(): void } {
  const { publish } = options;
  // The sink writes one batch's bytes while the next batch is enriched into another buffer (the
  // BatchEnricher contract); each goes back to the pool when the pipeline releases its chunk.
  // Reused, so that no megabyte buffer per batch waits for V8 to collect it.
  const writers = new ByteWriterPool(2, 8 * 1024 * 1024, 1 << 20);
  return {
    name: 'enricher',
    processBatch(batch: SourceBatch) {
      // events in/out/excluded and the batch's duration are counted by enrichMessages itself.
      const records = enricher.enrichMessages(batch.files, batch.messages);
      if (publish !== undefined && records.length > 0) publish(records);
      const writer = writers.take();
      writeNdjson(records, writer);
      return Promise.resolve({ bytes: writer.lend(), events: records.length, release: () => writers.give(writer) });
    },
    close() {},
  };
}

const DEFAULT_QUOTED = quoteFields(DEFAULT_FIELDS);

/** Decoded events as JSON, unenriched: {"file","timestamp","stream","message"}. */
export function createSerialisingStage(): BatchEnricher & { close(): void } {
  return {
    name: 'serialiser',
    processBatch(batch: SourceBatch) {
      const out = new Array<string>(batch.files.length);
      for (let i = 0; i < batch.files.length; i++) out[i] = serialiseRawEvent(batch.files[i]!, batch.messages[i]!, DEFAULT_QUOTED);
      return Promise.resolve(ndjsonOfTexts(out));
    },
    close() {},
  };
}
