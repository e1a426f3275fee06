/**
 * The other way from logs.ts: what a sink is given (NDJSON of enriched events) as one OTLP
 * ExportLogsServiceRequest, for the OTLP sink. Two kinds of line are understood:
 *
 * - an event in the `otel` schema (docs/schemas.md): its `resource` map becomes the resource's
 *   attributes, so events of one pod's container share one ResourceLogs; `time_unix_nano`,
 *   `observed_time_unix_nano`, `severity_*` and `body` become the record's fields, `attributes`
 *   (and any other top-level key, e.g. one renamed there) its attributes;
 * - an OTLP/JSON ExportLogsServiceRequest (`{"resourceLogs":[...]}`), what the OTLP receivers hand
 *   their sink: its resources are taken as they are.
 *
 * Anything else (an event of the `vector` or `fluentbit` schema, a line that is not JSON) is a
 * NotOtelError: the OTLP sink cannot send it, however often it tries.
 */
import { toAnyValue, withAttributes } from './logs.ts';
import { ExportLogsServiceRequest, logsRequestFromJson } from './proto.ts';
import type { LogRecord, LogsRequest, ResourceLogs } from './types.ts';

export class NotOtelError extends Error {
  readonly code = 'not_otel';
  constructor(message: string) {
    super(message);
    this.name = 'NotOtelError';
  }
}

/**
 * `bytes` (NDJSON) as an encoded ExportLogsServiceRequest. The request is built here, in the
 * representation of types.ts, so it is encoded as it is: no protobufjs fromObject pass, and the
 * records' times (fixed64, decimal strings) split into 32-bit halves with BigInt rather than
 * parsed by protobufjs's Long.fromString. Together about half the encoding's cost.
 */
export function encodeNdjsonAsLogsRequest(bytes: Buffer): Uint8Array {
  const { request } = logsRequestOfNdjson(bytes);
  for (const rl of request.resourceLogs ?? []) {
    for (const sl of rl.scopeLogs ?? []) {
      const records = sl.logRecords ?? [];
      for (let i = 0; i < records.length; i++) records[i] = withTimeBits(records[i]!);
    }
  }
  return ExportLogsServiceRequest.encode(request).finish();
}

const LOW_32 = 0xffffffffn;

/** A 64-bit decimal as protobufjs's LongBits-like { low, high }; protobufjs reads either. */
function longBits(decimal: string | undefined): { low: number; high: number } | string | undefined {
  if (decimal === undefined || !/^\d{1,20}$/.test(decimal)) return decimal;
  const n = BigInt(decimal);
  return { low: Number(n & LOW_32) | 0, high: Number((n >> 32n) & LOW_32) | 0 };
}

function withTimeBits(record: LogRecord): LogRecord {
  if (record.timeUnixNano === undefined && record.observedTimeUnixNano === undefined) return record;
  // The record's fields typed for the encoder, which takes a Long-like value where types.ts keeps strings.
  return { ...record, timeUnixNano: longBits(record.timeUnixNano), observedTimeUnixNano: longBits(record.observedTimeUnixNano) } as unknown as LogRecord;
}

export interface NdjsonLogs {
  request: LogsRequest;
  /** Log records in `request`. */
  records: number;
}

/** The record fields an `otel` event may carry at its top level, besides `resource` and `attributes`. */
const RECORD_FIELDS = new Set(['time_unix_nano', 'observed_time_unix_nano', 'severity_number', 'severity_text', 'body']);

interface Group {
  prefix: Buffer;
  logs: LogRecord[];
}

const RESOURCE_START = Buffer.from('{"resource":');
const REQUEST_START = Buffer.from('{"resourceLogs":');

/** `bytes` (NDJSON) as one request; a NotOtelError for a line that is neither kind. */
export function logsRequestOfNdjson(bytes: Buffer): NdjsonLogs {
  const resourceLogs: ResourceLogs[] = [];
  // By the resource's JSON text, which events of one origin repeat byte for byte (the enricher's template).
  const groups = new Map<string, Group>();
  let last: Group | undefined;
  let records = 0;
  let start = 0;
  let lineNumber = 0;
  while (start < bytes.length) {
    let end = bytes.indexOf(0x0a, start);
    if (end === -1) end = bytes.length;
    lineNumber++;
    if (end > start) {
      const line = bytes.subarray(start, end);
      if (startsWith(line, REQUEST_START)) {
        const request = logsRequestFromJson(parseLine(line.toString('utf8'), lineNumber));
        for (const rl of request.resourceLogs ?? []) {
          resourceLogs.push(rl);
          for (const sl of rl.scopeLogs ?? []) records += sl.logRecords?.length ?? 0;
        }
      } else {
        let event: Record<string, unknown>;
        let group: Group;
        if (last !== undefined && startsWith(line, last.prefix)) {
          // Only the part after the shared resource is parsed.
          event = parseLine(`{${line.toString('utf8', last.prefix.length)}`, lineNumber);
          group = last;
        } else {
          event = parseLine(line.toString('utf8'), lineNumber);
          const resource = event.resource;
          if (typeof resource !== 'object' || resource === null || Array.isArray(resource) || !startsWith(line, RESOURCE_START)) {
            throw new NotOtelError(`line ${lineNumber} is not an event of the otel schema (no leading "resource" map); the OTLP sink needs enrichment.schema: otel`);
          }
          const text = JSON.stringify(resource);
          group = groups.get(text) ?? newGroup(text, resource as Record<string, unknown>, resourceLogs, groups);
        }
        group.logs.push(logRecordOf(event));
        records++;
        last = group;
      }
    }
    start = end + 1;
  }
  return { request: { resourceLogs }, records };
}

function newGroup(text: string, resource: Record<string, unknown>, out: ResourceLogs[], groups: Map<string, Group>): Group {
  const group: Group = { prefix: Buffer.from(`{"resource":${text},`, 'utf8'), logs: [] };
  out.push({ resource: { attributes: withAttributes(undefined, resource) }, scopeLogs: [{ logRecords: group.logs }] });
  groups.set(text, group);
  return group;
}

function parseLine(text: string, lineNumber: number): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new NotOtelError(`line ${lineNumber} is not JSON: ${(err as Error).message}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new NotOtelError(`line ${lineNumber} is not a JSON object`);
  return value as Record<string, unknown>;
}

function startsWith(bytes: Buffer, prefix: Buffer): boolean {
  return bytes.length > prefix.length && bytes.compare(prefix, 0, prefix.length, 0, prefix.length) === 0;
}

/** One `otel` event (its resource aside) as an OTLP LogRecord. */
function logRecordOf(event: Record<string, unknown>): LogRecord {
  const record: LogRecord = {};
  if (typeof event.time_unix_nano === 'string') record.timeUnixNano = event.time_unix_nano;
  if (typeof event.observed_time_unix_nano === 'string') record.observedTimeUnixNano = event.observed_time_unix_nano;
  if (typeof event.severity_number === 'number') record.severityNumber = event.severity_number;
  if (typeof event.severity_text === 'string') record.severityText = event.severity_text;
  if (event.body !== undefined) record.body = toAnyValue(event.body);
  const attributes = event.attributes;
  let extra: Record<string, unknown> | undefined;
  for (const key of Object.keys(event)) {
    if (key === 'resource' || key === 'attributes' || RECORD_FIELDS.has(key)) continue;
    (extra ??= {})[key] = event[key];
  }
  const own = typeof attributes === 'object' && attributes !== null && !Array.isArray(attributes) ? (attributes as Record<string, unknown>) : undefined;
  if (own !== undefined || extra !== undefined) record.attributes = withAttributes(own === undefined ? undefined : withAttributes(undefined, own), extra);
  return record;
}
