/** Enriched records made from JSON text, for tests of what is done with records (encoders, the event bus). */
import type { EnrichedRecord, RecordOrigin } from '../../src/enrich/types.ts';

/** A record of no known pod. */
export const NO_ORIGIN: RecordOrigin = { namespace: undefined, podName: undefined, containerName: undefined, pod: undefined };

/** A record of any JSON text, written through ByteWriter.utf8() (which checks its own room), sized honestly. */
export function textRecord(json: string, origin: RecordOrigin = NO_ORIGIN): EnrichedRecord {
  return { json, maxBytes: Buffer.byteLength(json) + 1, writeTo: (out) => out.utf8(json), origin };
}
