/**
 * Batches on the wire: a JSON body (`{"events": [...]}` or a bare array, as Vector's and Fluent
 * Bit's `http` outputs send) or NDJSON (one event per line, under any of its usual type names),
 * parsed into raw events; and enriched records written back by concatenating their
 * already-serialised JSON (never re-parsed).
 */
import type { ByteWriter } from '../enrich/byte-writer.ts';
import type { EnrichedRecord, EventError } from '../enrich/types.ts';
import { ndjsonOfRecords, writerFor } from '../sink/ndjson.ts';
import { ApiError, type ErrorDetail } from './errors.ts';

export const JSON_TYPE = 'application/json';
export const NDJSON_TYPE = 'application/x-ndjson';
/** The names NDJSON goes by (JSON Lines is the same format); answers always use NDJSON_TYPE. */
export const NDJSON_TYPES: readonly string[] = [NDJSON_TYPE, 'application/ndjson', 'application/jsonl', 'application/json-lines', 'application/x-jsonlines'];
export type BatchFormat = 'json' | 'ndjson';

/** How many malformed lines one 400 answer names before it stops counting. */
const MAX_REPORTED_LINES = 20;

/** Parses a JSON body; the shape is checked by the route's schema afterwards. */
export function parseJsonBody(text: string): unknown {
  if (text.trim().length === 0) {
    throw new ApiError(400, 'malformed_body', 'empty JSON body', [{ message: 'send {"events": [...]} or a JSON array of events' }]);
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new ApiError(400, 'malformed_body', 'malformed JSON body', [jsonErrorDetail(text, err as Error)]);
  }
}

export interface JsonBody {
  value: unknown;
  /** Set when the body turned out to be NDJSON: the 1-based line of each event. */
  lines: Int32Array | undefined;
}

/**
 * An application/json body: one JSON value, or NDJSON labelled application/json, as Fluent Bit's
 * `json_lines` format was before fluent-bit PR #8715 (v3.0.x). NDJSON is recognised when the
 * body is not one JSON value but its first line is (then malformed lines are named by number),
 * or when it is a single object without `events` followed by a newline (a one-record chunk).
 */
export function parseJsonOrNdjsonBody(text: string): JsonBody {
  let value: unknown;
  try {
    value = parseJsonBody(text);
  } catch (jsonError) {
    if (!firstLineIsJsonWithMoreAfter(text)) throw jsonError;
    const batch = parseNdjsonBody(text);
    return { value: batch.events, lines: batch.lines };
  }
  if (isOneNdjsonRecord(value, text)) {
    const batch = parseNdjsonBody(text);
    return { value: batch.events, lines: batch.lines };
  }
  return { value, lines: undefined };
}

function firstLineIsJsonWithMoreAfter(text: string): boolean {
  let start = 0;
  while (start < text.length) {
    let end = text.indexOf('\n', start);
    if (end < 0) end = text.length;
    const line = text.slice(start, end);
    if (line.trim().length > 0) {
      if (text.slice(end).trim().length === 0) return false;
      try {
        JSON.parse(line);
        return true;
      } catch {
        return false;
      }
    }
    start = end + 1;
  }
  return false;
}

function isOneNdjsonRecord(value: unknown, text: string): boolean {
  if (typeof value !== 'object' || value === null || Array.isArray(value) || 'events' in value) return false;
  let last = text.length - 1;
  while (last >= 0 && (text.charCodeAt(last) === 32 || text.charCodeAt(last) === 9 || text.charCodeAt(last) === 13)) last--;
  return text.charCodeAt(last) === 10;
}

export interface NdjsonBatch {
  events: unknown[];
  /** 1-based line number of each event (blank lines are skipped, so index + 1 is not enough). */
  lines: Int32Array;
}

/**
 * One event per line; blank lines ignored; `\r\n` accepted. Throws a 400 naming the bad lines.
 * Given the body's bytes, each line is decoded on its own (UTF-8; a newline byte never occurs
 * inside a multi-byte character): no string of the whole body is built.
 */
export function parseNdjsonBody(body: string | Buffer): NdjsonBatch {
  const text = typeof body === 'string' ? body : undefined;
  const bytes = typeof body === 'string' ? undefined : body;
  const length = body.length;
  const events: unknown[] = [];
  let lines = new Int32Array(64);
  let bad: ErrorDetail[] | undefined;
  let start = 0;
  let lineNo = 0;
  while (start <= length) {
    let end = text !== undefined ? text.indexOf('\n', start) : bytes!.indexOf(10, start);
    if (end < 0) end = length;
    lineNo++;
    let stop = end;
    if (stop > start && (text !== undefined ? text.charCodeAt(stop - 1) : bytes![stop - 1]) === 13) stop--;
    if (stop > start) {
      const line = text !== undefined ? text.slice(start, stop) : bytes!.toString('utf8', start, stop);
      if (!isBlank(line)) {
        try {
          const value: unknown = JSON.parse(line);
          if (events.length === lines.length) {
            const grown = new Int32Array(lines.length * 2);
            grown.set(lines);
            lines = grown;
          }
          lines[events.length] = lineNo;
          events.push(value);
        } catch (err) {
          bad ??= [];
          if (bad.length < MAX_REPORTED_LINES) bad.push(ndjsonErrorDetail(lineNo, err as Error));
          else break;
        }
      }
    }
    start = end + 1;
  }
  if (bad !== undefined) {
    const names = bad.map((d) => d.line).join(', ');
    throw new ApiError(400, 'malformed_body', `malformed NDJSON on line ${names}${bad.length >= MAX_REPORTED_LINES ? ' (and maybe more)' : ''}`, bad);
  }
  return { events, lines: lines.subarray(0, events.length) };
}

function isBlank(line: string): boolean {
  const first = line.charCodeAt(0);
  // The common case, an object, needs no scan.
  if (first === 123 /* { */) return false;
  return line.trim().length === 0;
}

/** V8's "... in JSON at position 12 (line 1 column 13)": the position, then the rest cut off. */
const JSON_POSITION = / in JSON at position (\d+)(?: \(line \d+ column \d+\))?/;

/** Where JSON.parse stopped, as line and column, so a user can find it in a large body. */
function jsonErrorDetail(text: string, err: Error): ErrorDetail {
  const position = JSON_POSITION.exec(err.message);
  const reason = shorten(err.message.replace(JSON_POSITION, ''));
  if (position?.[1] === undefined) return { message: reason };
  const offset = Number(position[1]);
  let line = 1;
  let lineStart = 0;
  for (let i = text.indexOf('\n'); i >= 0 && i < offset; i = text.indexOf('\n', i + 1)) {
    line++;
    lineStart = i + 1;
  }
  const column = offset - lineStart + 1;
  return { line, column, message: `line ${line} column ${column}: ${reason}` };
}

/** The same for one NDJSON line: its number, and the column within it. */
function ndjsonErrorDetail(lineNo: number, err: Error): ErrorDetail {
  const position = JSON_POSITION.exec(err.message);
  const reason = shorten(err.message.replace(JSON_POSITION, ''));
  if (position?.[1] === undefined) return { line: lineNo, message: `line ${lineNo}: ${reason}` };
  const column = Number(position[1]) + 1;
  return { line: lineNo, column, message: `line ${lineNo} column ${column}: ${reason}` };
}

function shorten(message: string): string {
  return message.length <= 200 ? message : `${message.slice(0, 200)}...`;
}

/** The answer's format: the request's unless Accept prefers the other one (q-values honoured). */
export function negotiateFormat(accept: string | undefined, requestFormat: BatchFormat): BatchFormat {
  if (accept === undefined || accept === '' || accept === '*/*') return requestFormat;
  const json = acceptQuality(accept, [JSON_TYPE]);
  const ndjson = acceptQuality(accept, NDJSON_TYPES);
  if (json === ndjson) return requestFormat;
  return json > ndjson ? 'json' : 'ndjson';
}

/** The q of the most specific Accept range that covers one of `names` (one type, all `application/`), or 0. */
function acceptQuality(accept: string, names: readonly string[]): number {
  let best = -1;
  let quality = 0;
  for (const part of accept.split(',')) {
    const [rangeText = '', ...params] = part.split(';');
    const range = rangeText.trim().toLowerCase();
    const specificity = names.includes(range) ? 2 : range === 'application/*' ? 1 : range === '*/*' ? 0 : -1;
    if (specificity < 0 || specificity < best) continue;
    let q = 1;
    for (const param of params) {
      const [name, value] = param.split('=');
      if (name?.trim().toLowerCase() === 'q') {
        const parsed = Number(value?.trim());
        q = Number.isFinite(parsed) ? Math.min(1, Math.max(0, parsed)) : 1;
      }
    }
    // Two names of the same type listed: the better q counts.
    quality = specificity > best ? q : Math.max(quality, q);
    best = specificity;
  }
  return quality;
}

/*
 * Answers are written straight into one Buffer (each record writes its pre-encoded bytes, see
 * src/enrich/record.ts): neither Fastify nor ws has to measure or encode a large string again.
 */

/**
 * Records as NDJSON: each record's JSON and a newline (in `out`, when given: a view of its
 * buffer), after `head` (text) when given.
 */
export function ndjsonAnswer(records: readonly EnrichedRecord[], out?: ByteWriter, head?: string): Buffer {
  return ndjsonOfRecords(records, out, head).bytes;
}

/** `{"events":[...],"errors":[...]}` built from the records without parsing them again. */
export function jsonAnswer(records: readonly EnrichedRecord[], errors: readonly EventError[], writer?: ByteWriter): Buffer {
  const errorsJson = JSON.stringify(errors);
  const out = writerFor(records, writer, 32 + errorsJson.length * 3);
  out.ascii('{"events":[');
  for (let i = 0; i < records.length; i++) {
    if (i > 0) out.byte(44); // ,
    records[i]!.writeTo(out);
  }
  out.ascii('],"errors":');
  out.utf8(errorsJson);
  out.byte(125); // }
  return out.view();
}

/**
 * The NDJSON answer carries only events, so a shipper can pass it on as it is; per-event errors
 * travel in headers: their count, and the first few as a JSON array (ASCII-only, header-safe).
 */
export const MAX_ERRORS_IN_HEADER = 10;

export function errorsHeader(errors: readonly EventError[], lines: Int32Array | undefined): string {
  const shown = errors.slice(0, MAX_ERRORS_IN_HEADER).map((e) => {
    const line = lines?.[e.index];
    return line === undefined ? { index: e.index, field: e.field, error: shorten(e.error) } : { index: e.index, line, field: e.field, error: shorten(e.error) };
  });
  return JSON.stringify(shown).replace(/[^\x20-\x7e]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/**
 * A /v1/ingest message: a JSON object (one event), a JSON array (events), or NDJSON text (one
 * event per line). A pretty-printed object spanning lines is accepted too.
 */
export function parseEventsMessage(text: string): { events: unknown[]; lines: Int32Array | undefined } {
  let first = 0;
  while (first < text.length && isJsonSpace(text.charCodeAt(first))) first++;
  if (first === text.length) {
    throw new ApiError(400, 'malformed_body', 'empty message', [{ message: 'send a JSON object, a JSON array or NDJSON text' }]);
  }
  let last = text.length - 1;
  while (isJsonSpace(text.charCodeAt(last))) last--;
  const newline = text.indexOf('\n', first);
  const multiline = newline >= 0 && newline < last;
  if (text.charCodeAt(first) === 91 /* [ */ || !multiline) {
    const value = parseJsonBody(text);
    return { events: Array.isArray(value) ? value : [value], lines: undefined };
  }
  try {
    return parseNdjsonBody(text);
  } catch (ndjsonError) {
    try {
      const value: unknown = JSON.parse(text);
      return { events: Array.isArray(value) ? value : [value], lines: undefined };
    } catch {
      throw ndjsonError;
    }
  }
}

function isJsonSpace(c: number): boolean {
  return c === 32 || c === 10 || c === 13 || c === 9;
}
