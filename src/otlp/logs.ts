/**
 * OTLP logs through the enricher, as pure functions: an ExportLogsServiceRequest in, the raw events
 * the enricher reads (eventsFromLogs); the enricher's `otel` records back into an
 * ExportLogsServiceRequest, regrouped so each resource is one pod's container (regroup).
 *
 * A record is usable when it carries its log path in the `log.file.path` attribute (the record's,
 * else its resource's: what the collector's filelog receiver sets with `include_file_path`) and a
 * string body: either the line as the runtime wrote it (CRI or Docker json-file, decoded here) or
 * an already decoded message (then `log.iostream` gives the stream, the record's time the
 * timestamp). Anything else is rejected, counted in `partial_success`.
 *
 * What the shipper sent is kept: the record's other attributes, severity, trace context and flags,
 * the resource's other attributes and the scope. The enricher adds the pod's metadata as resource
 * attributes in the `otel` schema's names (docs/schemas.md), which win over the shipper's own.
 */
import { ByteWriter, type BatchResult, type EnrichedRecord, type EnricherOptions, type InputFieldNames, type RecordOrigin } from '../enrich/index.ts';
import type { AnyValue, KeyValue, LogRecord, LogsRequest, ResourceLogs, ScopeLogs } from './types.ts';

/** The raw events built here: the OTLP body is decoded when it is a runtime line, else a message. */
export const OTLP_INPUT: InputFieldNames = { file: 'file', line: 'body', message: 'body', timestamp: 'timestamp', stream: 'stream' };

/** Passed through the enricher untouched: which record an enriched event came from. */
const ORIGIN_KEY = 'kle.otlp.record';

export const FILE_PATH_ATTRIBUTE = 'log.file.path';
export const IOSTREAM_ATTRIBUTE = 'log.iostream';

/**
 * The enricher the OTLP receivers use: the configured one's metadata choices (include groups,
 * field rules, dedot, cluster name, exclusions, merge bounds) in the `otel` schema; renames only
 * when `otel` is the configured schema, since they name that schema's fields.
 */
export function otlpEnricherOptions(configured: EnricherOptions): EnricherOptions {
  return { ...configured, schema: 'otel', input: OTLP_INPUT, rename: configured.schema === 'otel' ? configured.rename : {} };
}

/** A record that could not be used, and why. */
export interface Rejection {
  /** `resourceLogs[0].scopeLogs[0].logRecords[3]` */
  where: string;
  reason: string;
}

/** Where an event's record sits in the request. */
interface RecordPlace {
  resource: number;
  scope: number;
  index: number;
  record: LogRecord;
}

export interface LogsBatch {
  /** Raw events for Enricher.enrichBatch, in request order. */
  events: unknown[];
  /** `places[i]`: the record `events[i]` was built from. */
  places: RecordPlace[];
  rejected: Rejection[];
  /** Log records in the request. */
  total: number;
}

function attribute(attributes: readonly KeyValue[] | undefined, key: string): AnyValue | undefined {
  if (attributes === undefined) return undefined;
  for (const kv of attributes) if (kv.key === key) return kv.value;
  return undefined;
}

function placeName(resource: number, scope: number, index: number): string {
  return `resourceLogs[${resource}].scopeLogs[${scope}].logRecords[${index}]`;
}

/** The request's records as raw events; the ones that cannot be used go to `rejected`. */
export function eventsFromLogs(request: LogsRequest): LogsBatch {
  const events: unknown[] = [];
  const places: RecordPlace[] = [];
  const rejected: Rejection[] = [];
  let total = 0;
  const resourceLogs = request.resourceLogs ?? [];
  for (let r = 0; r < resourceLogs.length; r++) {
    const rl = resourceLogs[r]!;
    const resourceAttributes = rl.resource?.attributes;
    const scopeLogs = rl.scopeLogs ?? [];
    for (let s = 0; s < scopeLogs.length; s++) {
      const records = scopeLogs[s]!.logRecords ?? [];
      for (let i = 0; i < records.length; i++) {
        total++;
        const record = records[i]!;
        const path = attribute(record.attributes, FILE_PATH_ATTRIBUTE) ?? attribute(resourceAttributes, FILE_PATH_ATTRIBUTE);
        if (path?.stringValue === undefined || path.stringValue === '') {
          rejected.push({
            where: placeName(r, s, i),
            reason: `no "${FILE_PATH_ATTRIBUTE}" string attribute on the record or its resource (filelog receiver: include_file_path: true)`,
          });
          continue;
        }
        const body = record.body?.stringValue;
        if (body === undefined) {
          rejected.push({ where: placeName(r, s, i), reason: 'body is not a string (expected the log line, raw or decoded)' });
          continue;
        }
        const event: Record<string, unknown> = { file: path.stringValue, body, [ORIGIN_KEY]: events.length };
        const timestamp = unixNanosToRfc3339(record.timeUnixNano) ?? unixNanosToRfc3339(record.observedTimeUnixNano);
        if (timestamp !== undefined) event.timestamp = timestamp;
        const stream = (attribute(record.attributes, IOSTREAM_ATTRIBUTE) ?? attribute(resourceAttributes, IOSTREAM_ATTRIBUTE))?.stringValue;
        if (stream === 'stdout' || stream === 'stderr') event.stream = stream;
        events.push(event);
        places.push({ resource: r, scope: s, index: i, record });
      }
    }
  }
  return { events, places, rejected, total };
}

/**
 * RFC 3339 with all nine fraction digits, exactly (no float on the way); undefined for a time that
 * is unset (0) or not a decimal number.
 */
export function unixNanosToRfc3339(nanos: string | undefined): string | undefined {
  if (nanos === undefined || !/^[0-9]{1,20}$/.test(nanos)) return undefined;
  const n = BigInt(nanos);
  if (n === 0n) return undefined;
  const seconds = n / 1_000_000_000n;
  const fraction = (n % 1_000_000_000n).toString().padStart(9, '0');
  const date = new Date(Number(seconds) * 1000);
  if (Number.isNaN(date.getTime())) return undefined;
  return `${date.toISOString().slice(0, 19)}.${fraction}Z`;
}

/** An enriched `otel` record, as the enricher serialises it (docs/schemas.md). */
interface OtelRecord {
  time_unix_nano?: string;
  observed_time_unix_nano?: string;
  body?: string;
  resource?: Record<string, unknown>;
  attributes?: Record<string, unknown>;
  [ORIGIN_KEY]?: number;
}

export interface RegroupedLogs {
  request: LogsRequest;
  /** Log records in `request`. */
  records: number;
  /** The records the enricher could not use (reported per event), besides those eventsFromLogs rejected. */
  rejected: Rejection[];
}

/** A plain JSON value as an OTLP AnyValue. */
export function toAnyValue(value: unknown): AnyValue {
  switch (typeof value) {
    case 'string':
      return { stringValue: value };
    case 'boolean':
      return { boolValue: value };
    case 'number':
      return Number.isSafeInteger(value) ? { intValue: String(value) } : { doubleValue: value };
    case 'object':
      if (value === null) return {};
      if (Array.isArray(value)) return { arrayValue: { values: value.map(toAnyValue) } };
      return { kvlistValue: { values: Object.entries(value).map(([key, v]) => ({ key, value: toAnyValue(v) })) } };
    default:
      return { stringValue: String(value) };
  }
}

/** `base` with `added` set over it: an attribute of `added` replaces the one of the same key. */
export function withAttributes(base: readonly KeyValue[] | undefined, added: Readonly<Record<string, unknown>> | undefined): KeyValue[] {
  const out: KeyValue[] = [];
  for (const kv of base ?? []) if (added === undefined || kv.key === undefined || !Object.hasOwn(added, kv.key)) out.push(kv);
  if (added !== undefined) for (const key of Object.keys(added)) out.push({ key, value: toAnyValue(added[key]) });
  return out;
}

interface ResourceGroup {
  logs: ResourceLogs;
  /** By the incoming scope's index (within the group's incoming resource). */
  scopes: Map<number, ScopeLogs>;
}

/** What is known of one origin's (file metadata state's) records: their resource, rendered once. */
interface OriginResource {
  /** `{"resource":<resourceText>,` as UTF-8: how each of its records' JSON begins. */
  prefix: Buffer;
  resourceText: string;
  resource: Record<string, unknown> | undefined;
}

/**
 * An enriched record's JSON, parsed. Records of one origin share their resource (the metadata
 * part of the template, most of each record's bytes), so after the first only the rest is
 * decoded and parsed: the record is written as bytes (a copy of the template's), its beginning
 * compared with the origin's. A record that does not begin as expected (another layout,
 * renames) is parsed whole.
 */
function parseOtel(record: EnrichedRecord, origins: Map<RecordOrigin, OriginResource>, writer: ByteWriter): { otel: OtelRecord; resourceText: string } {
  writer.reset();
  record.writeTo(writer);
  const bytes = writer.view();
  const known = origins.get(record.origin);
  if (known !== undefined && startsWith(bytes, known.prefix)) {
    const otel = JSON.parse(`{${bytes.toString('utf8', known.prefix.length)}`) as OtelRecord;
    otel.resource = known.resource;
    return { otel, resourceText: known.resourceText };
  }
  const otel = JSON.parse(bytes.toString('utf8')) as OtelRecord;
  const resourceText = JSON.stringify(otel.resource ?? {});
  const prefix = Buffer.from(`{"resource":${resourceText},`, 'utf8');
  if (startsWith(bytes, prefix)) origins.set(record.origin, { prefix, resourceText, resource: otel.resource });
  return { otel, resourceText };
}

function startsWith(bytes: Buffer, prefix: Buffer): boolean {
  return bytes.length > prefix.length && bytes.compare(prefix, 0, prefix.length, 0, prefix.length) === 0;
}

/**
 * The enricher's records as an ExportLogsServiceRequest: one ResourceLogs per incoming resource
 * and pod container (the shipper's resource attributes plus the pod's), each keeping the
 * incoming scopes; records in the order the enricher emitted them.
 */
export function regroup(request: LogsRequest, batch: LogsBatch, result: BatchResult): RegroupedLogs {
  const incoming = request.resourceLogs ?? [];
  // By incoming resource, then by the pod's rendered resource (the same string per origin).
  const groups = new Map<number, Map<string, ResourceGroup>>();
  const origins = new Map<RecordOrigin, OriginResource>();
  const writer = new ByteWriter();
  const out: ResourceLogs[] = [];
  for (const enriched of result.records) {
    const { otel, resourceText } = parseOtel(enriched, origins, writer);
    const place = batch.places[otel[ORIGIN_KEY] ?? -1];
    if (place === undefined) throw new Error(`enriched record without its ${ORIGIN_KEY} (the enricher did not pass it through)`);
    const source = incoming[place.resource]!;
    let byResource = groups.get(place.resource);
    if (byResource === undefined) groups.set(place.resource, (byResource = new Map()));
    let group = byResource.get(resourceText);
    if (group === undefined) {
      const resource = { ...source.resource, attributes: withAttributes(source.resource?.attributes, otel.resource) };
      const logs: ResourceLogs = { resource, scopeLogs: [] };
      if (source.schemaUrl !== undefined) logs.schemaUrl = source.schemaUrl;
      group = { logs, scopes: new Map() };
      byResource.set(resourceText, group);
      out.push(logs);
    }
    let scope = group.scopes.get(place.scope);
    if (scope === undefined) {
      const sourceScope = source.scopeLogs![place.scope]!;
      scope = { logRecords: [] };
      if (sourceScope.scope !== undefined) scope.scope = sourceScope.scope;
      if (sourceScope.schemaUrl !== undefined) scope.schemaUrl = sourceScope.schemaUrl;
      group.scopes.set(place.scope, scope);
      group.logs.scopeLogs!.push(scope);
    }
    scope.logRecords!.push(enrichedRecord(place.record, otel));
  }
  const rejected = result.errors.map((error) => {
    const place = batch.places[error.index];
    return {
      where: place === undefined ? `event ${error.index}` : placeName(place.resource, place.scope, place.index),
      reason: `${error.field}: ${error.error}`,
    };
  });
  return { request: { resourceLogs: out }, records: result.records.length, rejected };
}

/** The shipper's record with the enricher's body, times and attributes. */
function enrichedRecord(record: LogRecord, otel: OtelRecord): LogRecord {
  const out: LogRecord = { ...record };
  if (otel.time_unix_nano !== undefined) out.timeUnixNano = otel.time_unix_nano;
  if (record.observedTimeUnixNano === undefined && otel.observed_time_unix_nano !== undefined) out.observedTimeUnixNano = otel.observed_time_unix_nano;
  if (otel.body !== undefined) out.body = { stringValue: otel.body };
  out.attributes = withAttributes(record.attributes, otel.attributes);
  return out;
}

/** At most this many rejections are spelled out in partial_success.error_message. */
const MAX_REJECTIONS_NAMED = 5;

/** partial_success.error_message: how many, and the first few places and reasons. */
export function rejectionMessage(rejected: readonly Rejection[]): string {
  const named = rejected.slice(0, MAX_REJECTIONS_NAMED).map((r) => `${r.where}: ${r.reason}`);
  const more = rejected.length > MAX_REJECTIONS_NAMED ? `; and ${rejected.length - MAX_REJECTIONS_NAMED} more` : '';
  return `${rejected.length} log record${rejected.length === 1 ? '' : 's'} rejected: ${named.join('; ')}${more}`;
}
