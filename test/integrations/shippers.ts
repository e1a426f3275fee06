/**
 * What Vector and Fluent Bit put on the wire, rebuilt from their documented configuration and their
 * source code, so the tests replay the exact bodies and headers a shipper sends.
 *
 * Vector (vectordotdev/vector):
 * - `file` source: one event per line with `file`, `host`, `message` (the line as read, without its
 *   newline), `source_type: "file"`, `timestamp` (read time);
 *   https://vector.dev/docs/reference/configuration/sources/file/
 * - `http` sink, src/sinks/http/config.rs: Content-Type `application/x-ndjson` for codec json +
 *   framing newline_delimited, `application/json` for codec json + the default framing, which for
 *   this message-based sink is character_delimited "," (src/codecs/encoding/config.rs);
 *   src/sinks/http/encoder.rs: NDJSON without a newline after the last event, JSON as `[a,b]`
 *   wrapped in payload_prefix/payload_suffix. `auth.strategy: bearer` adds `Authorization: Bearer`.
 *   Event fields are serialised in key order (a log event is a BTreeMap).
 *
 * Fluent Bit (fluent/fluent-bit):
 * - `tail` input: `log` holds the line without its newline; `Path_Key` adds the path; with
 *   `multiline.parser cri` (src/multiline/flb_ml_parser_cri.c) the record is `time` (kept),
 *   `stream`, `_p`, `log`.
 * - `http` output, plugins/out_http/http.c and src/flb_pack.c: `Format json` is a JSON array of
 *   records, each starting with `json_date_key` (default `date`, a double by default, printed
 *   "%.16g"), as `application/json`; `Format json_lines` is one record per line, each followed by
 *   "\n", as `application/x-ndjson` since PR #8715 (application/json before). `Header` lines are
 *   added as given; User-Agent is `Fluent-Bit`. `compress gzip|snappy|zstd` compresses the body and
 *   sets Content-Encoding to the same name (src/flb_http_client.c).
 *
 * Vector's `compression` (src/sinks/util/buffer/compression.rs, `content_encoding`): gzip -> gzip,
 * zlib -> deflate (the zlib format), zstd -> zstd, snappy -> snappy.
 */
import { deflateSync, gzipSync, zstdCompressSync } from 'node:zlib';
import { type FluentBitSection, sectionValue, sectionValues, substituteEnv } from './recipes.ts';

export interface ShipperRequest {
  path: string;
  headers: Record<string, string>;
  body: string;
}

/** A request as it goes on the wire, its body possibly compressed. */
export interface WireRequest {
  path: string;
  headers: Record<string, string>;
  body: string | Buffer;
}

const VECTOR_CONTENT_ENCODING: Record<string, string> = { gzip: 'gzip', zlib: 'deflate', zstd: 'zstd', snappy: 'snappy' };
const FLUENT_BIT_CONTENT_ENCODING: Record<string, string> = { gzip: 'gzip', snappy: 'snappy', zstd: 'zstd' };

function compressedAs(request: ShipperRequest, contentEncoding: string): WireRequest {
  const raw = Buffer.from(request.body, 'utf8');
  let body: Buffer;
  if (contentEncoding === 'gzip') body = gzipSync(raw);
  else if (contentEncoding === 'deflate') body = deflateSync(raw);
  else if (contentEncoding === 'zstd') body = zstdCompressSync(raw);
  // No snappy encoder in node:zlib; the header alone decides the answer (415), so the bytes stay as they are.
  else if (contentEncoding === 'snappy') body = raw;
  else throw new Error(`no encoder for ${contentEncoding}`);
  return { path: request.path, headers: { ...request.headers, 'content-encoding': contentEncoding }, body };
}

/** The request with Vector's http sink `compression` applied (`none`: unchanged). */
export function vectorCompressed(request: ShipperRequest, compression: string): WireRequest {
  if (compression === 'none') return request;
  const encoding = VECTOR_CONTENT_ENCODING[compression];
  if (encoding === undefined) throw new Error(`Vector has no compression ${compression}`);
  return compressedAs(request, encoding);
}

/** The request with Fluent Bit's http output `compress` applied (unset: unchanged). */
export function fluentBitCompressed(request: ShipperRequest, compress: string | undefined): WireRequest {
  if (compress === undefined) return request;
  const encoding = FLUENT_BIT_CONTENT_ENCODING[compress.toLowerCase()];
  if (encoding === undefined) throw new Error(`Fluent Bit's http output has no compress ${compress}`);
  return compressedAs(request, encoding);
}

// --- Vector -------------------------------------------------------------------------------------

export interface VectorFileEvent {
  file: string;
  host: string;
  message: string;
  source_type: 'file';
  timestamp: string;
}

/** One event of Vector's `file` source, for a line read from `file` at `readAtMs`. */
export function vectorFileEvent(file: string, line: string, options: { host?: string; readAtMs?: number } = {}): VectorFileEvent {
  return {
    file,
    host: options.host ?? 'node-a',
    message: line,
    source_type: 'file',
    timestamp: new Date(options.readAtMs ?? Date.parse('2026-11-23T10:00:01.5Z')).toISOString(),
  };
}

/** JSON with keys in sorted order at every level, as Vector serialises a log event. */
function sortedJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (v === null || typeof v !== 'object' || Array.isArray(v)) return v;
    const sorted: Record<string, unknown> = {};
    for (const k of Object.keys(v).sort()) sorted[k] = (v as Record<string, unknown>)[k];
    return sorted;
  });
}

interface VectorHttpSinkConfig {
  uri: string;
  encoding?: { codec?: string };
  framing?: { method?: string };
  auth?: { strategy?: string; token?: string };
  payload_prefix?: string;
  payload_suffix?: string;
  request?: { headers?: Record<string, string> };
}

/** The request Vector's `http` sink configured by `sink` sends for one batch of `events`. */
export function vectorHttpRequest(sink: VectorHttpSinkConfig, events: readonly object[], env: Readonly<Record<string, string>> = {}): ShipperRequest {
  const codec = sink.encoding?.codec;
  if (codec !== 'json') throw new Error(`this builder mirrors encoding.codec json only, got ${String(codec)}`);
  const framing = sink.framing?.method ?? 'character_delimited';
  const headers: Record<string, string> = { 'user-agent': 'Vector/0.50.0 (x86_64-unknown-linux-gnu)' };
  let body: string;
  if (framing === 'newline_delimited') {
    headers['content-type'] = 'application/x-ndjson';
    body = events.map(sortedJson).join('\n');
  } else if (framing === 'character_delimited') {
    headers['content-type'] = 'application/json';
    body = `${sink.payload_prefix ?? ''}[${events.map(sortedJson).join(',')}]${sink.payload_suffix ?? ''}`;
  } else {
    throw new Error(`this builder mirrors framing newline_delimited and the default only, got ${framing}`);
  }
  if (sink.auth !== undefined) {
    if (sink.auth.strategy !== 'bearer' || sink.auth.token === undefined) throw new Error('this builder mirrors auth.strategy bearer only');
    headers.authorization = `Bearer ${substituteEnv(sink.auth.token, env)}`;
  }
  for (const [name, value] of Object.entries(sink.request?.headers ?? {})) headers[name.toLowerCase()] = substituteEnv(value, env);
  return { path: new URL(sink.uri).pathname, headers, body };
}

// --- Fluent Bit ---------------------------------------------------------------------------------

/** A record as Fluent Bit's engine holds it: its timestamp (ns since the epoch) and its map. */
export interface FluentBitRecord {
  timeNs: bigint;
  body: Record<string, unknown>;
}

export function nsOf(rfc3339: string): bigint {
  const m = /^(.*?)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)$/.exec(rfc3339);
  if (m === null) throw new Error(`not an RFC 3339 timestamp: ${rfc3339}`);
  const seconds = BigInt(Date.parse(`${m[1]!}${m[3]!}`) / 1000);
  return seconds * 1_000_000_000n + BigInt((m[2] ?? '').padEnd(9, '0').slice(0, 9));
}

/** A `tail` record without a parser: the raw line in `log`, the path under `Path_Key`. */
export function tailRecord(pathKey: string, file: string, rawLine: string, readAtNs: bigint): FluentBitRecord {
  return { timeNs: readAtNs, body: { [pathKey]: file, log: rawLine } };
}

/** A `tail` record after `multiline.parser cri`: the record time is the line's, `time` is kept. */
export function tailCriRecord(pathKey: string, file: string, line: { time: string; stream: 'stdout' | 'stderr'; message: string }): FluentBitRecord {
  return { timeNs: nsOf(line.time), body: { [pathKey]: file, time: line.time, stream: line.stream, _p: 'F', log: line.message } };
}

/** `%.16g` of the record time in seconds, as flb_msgpack_to_json prints a double. */
function dateDouble(timeNs: bigint): number {
  const seconds = Number(timeNs / 1_000_000_000n) + Number(timeNs % 1_000_000_000n) / 1e9;
  return Number(seconds.toPrecision(16));
}

/** `json_date_format iso8601`: seconds and microseconds, UTC. */
function dateIso8601(timeNs: bigint): string {
  const ms = Number(timeNs / 1_000_000n);
  const micros = String((timeNs / 1000n) % 1_000_000n).padStart(6, '0');
  return `${new Date(ms).toISOString().slice(0, 19)}.${micros}Z`;
}

export interface FluentBitOutputOptions {
  env?: Readonly<Record<string, string>>;
  /** Fluent Bit before fluent-bit PR #8715 labelled json_lines bodies application/json. */
  legacyJsonLinesContentType?: boolean;
}

/** The request Fluent Bit's `http` output configured by `output` sends for one chunk of `records`. */
export function fluentBitHttpRequest(output: FluentBitSection, records: readonly FluentBitRecord[], options: FluentBitOutputOptions = {}): ShipperRequest {
  const env = options.env ?? {};
  const format = (sectionValue(output, 'format') ?? 'msgpack').toLowerCase();
  const dateKeySetting = sectionValue(output, 'json_date_key') ?? 'date';
  const dateKey = dateKeySetting === 'false' ? undefined : dateKeySetting;
  const dateFormat = (sectionValue(output, 'json_date_format') ?? 'double').toLowerCase();
  const toJson = (r: FluentBitRecord): string => {
    const record: Record<string, unknown> = {};
    if (dateKey !== undefined) {
      if (dateFormat === 'double') record[dateKey] = dateDouble(r.timeNs);
      else if (dateFormat === 'iso8601') record[dateKey] = dateIso8601(r.timeNs);
      else if (dateFormat === 'epoch') record[dateKey] = Number(r.timeNs / 1_000_000_000n);
      else throw new Error(`this builder mirrors json_date_format double, iso8601 and epoch, got ${dateFormat}`);
    }
    Object.assign(record, r.body);
    return JSON.stringify(record);
  };
  const headers: Record<string, string> = {};
  let body: string;
  if (format === 'json') {
    headers['content-type'] = 'application/json';
    body = `[${records.map(toJson).join(',')}]`;
  } else if (format === 'json_lines') {
    headers['content-type'] = options.legacyJsonLinesContentType === true ? 'application/json' : 'application/x-ndjson';
    body = records.map((r) => `${toJson(r)}\n`).join('');
  } else {
    throw new Error(`this builder mirrors Format json and json_lines only, got ${format}`);
  }
  headers['user-agent'] = 'Fluent-Bit';
  for (const header of sectionValues(output, 'header')) {
    const space = header.search(/\s/);
    headers[header.slice(0, space).toLowerCase()] = substituteEnv(header.slice(space).trim(), env);
  }
  return { path: sectionValue(output, 'uri') ?? '/', headers, body };
}
