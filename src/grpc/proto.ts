/**
 * kube-log-enricher's own gRPC messages (proto/kle/v1/enricher.proto), loaded with protobufjs
 * as the OTLP ones are (src/otlp/proto.ts): no generated code, no hand-written wire format.
 *
 * A request's RawEvents become the objects POST /v1/enrich would have parsed from JSON, under
 * the configured field names (`enrichment.input`), so both go through the same enricher and
 * come out the same. What the types cannot say (a `file`, one of `line`/`message`) is checked
 * here, the whole message refused with the event named.
 */
import { join } from 'node:path';
import protobuf from 'protobufjs';
import type { BatchResult, InputFieldNames } from '../enrich/index.ts';
import { PROTO_DIR } from '../otlp/proto.ts';

export const ENRICHER_SERVICE_NAME = 'kle.v1.Enricher';
const FILE = 'kle/v1/enricher.proto';

const root = new protobuf.Root().loadSync(join(PROTO_DIR, FILE), { keepCase: false });
const EnrichRequest = root.lookupType('kle.v1.EnrichRequest');
const EnrichResponse = root.lookupType('kle.v1.EnrichResponse');
const IngestRequest = root.lookupType('kle.v1.IngestRequest');
const IngestAck = root.lookupType('kle.v1.IngestAck');

/** A message the client sent that cannot be used: the transport answers INVALID_ARGUMENT. */
export class BadMessageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BadMessageError';
  }
}

interface DecodedRawEvent {
  file: string;
  line: string;
  message: string;
  stream: string;
  timestamp: string;
  /** The oneof's member that is set. */
  content: 'line' | 'message' | undefined;
}

export interface EventErrorMessage {
  index: number;
  field: string;
  message: string;
}

export interface EnrichResponseMessage {
  ndjson: Uint8Array;
  events: number;
  errors: EventErrorMessage[];
  excluded: number;
  merged: number;
}

export interface IngestAckMessage {
  /** uint64, as a decimal string. */
  sequence: string;
  /** The enriched events, when the batch asked for them (return_events). */
  ndjson?: Uint8Array;
  events: number;
  errors: EventErrorMessage[];
  excluded: number;
  merged: number;
}

function decode(type: protobuf.Type, bytes: Uint8Array): protobuf.Message & Record<string, unknown> {
  try {
    return type.decode(bytes) as protobuf.Message & Record<string, unknown>;
  } catch (err) {
    throw new BadMessageError(`not a protobuf ${type.fullName.slice(1)}: ${(err as Error).message}`);
  }
}

/** The events as the enricher reads raw events (`enrichment.input` names). */
function rawEvents(decoded: readonly DecodedRawEvent[], input: InputFieldNames): Record<string, string>[] {
  const events = new Array<Record<string, string>>(decoded.length);
  for (let i = 0; i < decoded.length; i++) {
    const e = decoded[i]!;
    if (e.file === '') throw new BadMessageError(`events[${i}].file: required (the log file's path)`);
    if (e.content === 'line') {
      events[i] = { [input.file]: e.file, [input.line]: e.line };
    } else if (e.content === 'message') {
      const event: Record<string, string> = { [input.file]: e.file, [input.message]: e.message };
      if (e.stream !== '') event[input.stream] = e.stream;
      if (e.timestamp !== '') event[input.timestamp] = e.timestamp;
      events[i] = event;
    } else {
      throw new BadMessageError(`events[${i}]: set \`line\` (as the runtime wrote it) or \`message\` (already decoded)`);
    }
  }
  return events;
}

export function decodeEnrichRequest(bytes: Uint8Array, input: InputFieldNames): Record<string, string>[] {
  return rawEvents(decode(EnrichRequest, bytes).events as DecodedRawEvent[], input);
}

export function decodeIngestRequest(bytes: Uint8Array, input: InputFieldNames): { sequence: string; events: Record<string, string>[]; returnEvents: boolean } {
  const message = decode(IngestRequest, bytes);
  return { sequence: String(message.sequence), events: rawEvents(message.events as DecodedRawEvent[], input), returnEvents: message.returnEvents === true };
}

/** The per-event errors and counts of a result, as both answers carry them. */
export function resultCounts(result: BatchResult): Pick<EnrichResponseMessage, 'events' | 'errors' | 'excluded' | 'merged'> {
  return {
    events: result.records.length,
    errors: result.errors.map((e) => ({ index: e.index, field: e.field, message: e.error })),
    excluded: result.excluded,
    merged: result.merged,
  };
}

export function encodeEnrichResponse(response: EnrichResponseMessage): Buffer {
  const bytes = EnrichResponse.encode(response).finish();
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

export function encodeIngestAck(ack: IngestAckMessage): Buffer {
  const bytes = IngestAck.encode(ack).finish();
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

// The client's side, for tests and benchmarks (and as an example of the messages).

export function encodeEnrichRequest(request: { events: readonly Record<string, string>[] }): Buffer {
  return Buffer.from(EnrichRequest.encode(request).finish());
}

export function encodeIngestRequest(request: { sequence: number | string; events: readonly Record<string, string>[]; returnEvents?: boolean }): Buffer {
  return Buffer.from(IngestRequest.encode(request).finish());
}

const PLAIN: protobuf.IConversionOptions = { longs: String, bytes: Buffer, defaults: true, arrays: true };

export function decodeEnrichResponse(bytes: Uint8Array): EnrichResponseMessage {
  return EnrichResponse.toObject(EnrichResponse.decode(bytes), PLAIN) as EnrichResponseMessage;
}

export function decodeIngestAck(bytes: Uint8Array): IngestAckMessage {
  return IngestAck.toObject(IngestAck.decode(bytes), PLAIN) as IngestAckMessage;
}
