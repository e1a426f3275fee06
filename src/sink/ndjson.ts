/**
 * Batches of events as NDJSON bytes, written straight into one buffer: never one joined string
 * per batch, which at a megabyte a batch would land in V8's large-object space and make the heap
 * grow at the full input rate.
 */
import { ByteWriter, type EnrichedRecord } from '../enrich/index.ts';
import type { NdjsonChunk } from './types.ts';

/**
 * Enriched records as NDJSON, after `head` when given (text, written as it is). With `out` (reset
 * first) the bytes are a view of its buffer, valid until it is written to again; without it, a
 * buffer of their own.
 */
export function ndjsonOfRecords(records: readonly EnrichedRecord[], out?: ByteWriter, head?: string): NdjsonChunk {
  const writer = writerFor(records, out, head === undefined ? 0 : head.length * 3);
  writeNdjson(records, writer, head);
  return { bytes: writer.view(), events: records.length };
}

/** The records as NDJSON into `out` (reset first), after `head` when given. */
export function writeNdjson(records: readonly EnrichedRecord[], out: ByteWriter, head?: string): void {
  out.reset();
  if (head !== undefined) out.utf8(head);
  for (let i = 0; i < records.length; i++) {
    records[i]!.writeTo(out);
    out.byte(0x0a); // maxBytes counts the newline
  }
}

/** `out` reset, or a writer sized for the records (and `moreBytes`) so that it never grows. */
export function writerFor(records: readonly EnrichedRecord[], out: ByteWriter | undefined, moreBytes = 0): ByteWriter {
  if (out !== undefined) {
    out.reset();
    return out;
  }
  let bytes = moreBytes;
  for (let i = 0; i < records.length; i++) bytes += records[i]!.maxBytes;
  return new ByteWriter(bytes);
}

/** Serialised events (JSON texts without newlines) as NDJSON, in a buffer of exactly their size. */
export function ndjsonOfTexts(texts: readonly string[]): NdjsonChunk {
  let size = texts.length;
  for (const text of texts) size += Buffer.byteLength(text, 'utf8');
  const bytes = Buffer.allocUnsafe(size);
  let offset = 0;
  for (const text of texts) {
    offset += bytes.write(text, offset, 'utf8');
    bytes[offset++] = 0x0a;
  }
  return { bytes, events: texts.length };
}
