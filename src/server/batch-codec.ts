/**
 * Batches on the wire: a JSON body (`{"events": [...]}` or a bare array, as Vector's and Fluent
 * Bit's `http` outputs send) or NDJSON (one event per line, under any of its usual type names),
 * parsed into raw events; and enriched records written back by concatenating their
 * already-serialised JSON (never re-parsed).
 */
import type { Readable } from 'node:stream';
import type { ByteWriter, EnrichedRecord, EventError } from '../enrich/index.ts';
import { JSON_TYPE, NDJSON_TYPES } from '../protocol/index.ts';
import { ndjsonOfRecords, writerFor } from '../sink/ndjson.ts';
import { ApiError, type ErrorDetail } from './errors.ts';

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
 * NDJSON read as it arrives: each complete line is parsed at once (UTF-8; a newline byte never
 * occurs inside a multi-byte character), so a body is never held whole, as bytes or as a string.
 * One event per line; blank lines ignored; `\r\n` accepted; end() throws a 400 naming the bad lines.
 */
export class NdjsonReader implements BodyReader<NdjsonBatch> {
  readonly #events: unknown[] = [];
  #lines = new Int32Array(64);
  #bad: ErrorDetail[] | undefined;
  #lineNo = 0;
  /** The start of a line whose end has not arrived yet, in pieces (concatenated once, when it does). */
  #pending: Buffer[] = [];

  /** The next bytes of the body. */
  push(chunk: Buffer): void {
    let start = 0;
    let end = chunk.indexOf(10);
    if (end < 0) {
      // A copy: the chunk may be a view of a buffer its producer reuses.
      if (chunk.length > 0) this.#pending.push(Buffer.from(chunk));
      return;
    }
    if (this.#pending.length > 0) {
      this.#pending.push(chunk.subarray(0, end));
      const whole = Buffer.concat(this.#pending);
      this.#pending = [];
      this.#bytesLine(whole, 0, whole.length);
      start = end + 1;
      end = chunk.indexOf(10, start);
    }
    while (end >= 0) {
      this.#bytesLine(chunk, start, end);
      start = end + 1;
      end = chunk.indexOf(10, start);
    }
    if (start < chunk.length) this.#pending.push(Buffer.from(chunk.subarray(start)));
  }

  /** One line, without its newline. */
  line(text: string): void {
    this.#lineNo++;
    if (this.#bad !== undefined && this.#bad.length >= MAX_REPORTED_LINES) return;
    const line = text.charCodeAt(text.length - 1) === 13 ? text.slice(0, -1) : text;
    if (line.length === 0 || isBlank(line)) return;
    try {
      const value: unknown = JSON.parse(line);
      const n = this.#events.length;
      if (n === this.#lines.length) {
        const grown = new Int32Array(n * 2);
        grown.set(this.#lines);
        this.#lines = grown;
      }
      this.#lines[n] = this.#lineNo;
      this.#events.push(value);
    } catch (err) {
      this.#bad ??= [];
      this.#bad.push(ndjsonErrorDetail(this.#lineNo, err as Error));
    }
  }

  /** The events read; throws a 400 naming the malformed lines, if any. */
  end(): NdjsonBatch {
    if (this.#pending.length > 0) {
      const whole = Buffer.concat(this.#pending);
      this.#pending = [];
      this.#bytesLine(whole, 0, whole.length);
    }
    const bad = this.#bad;
    if (bad !== undefined) {
      const names = bad.map((d) => d.line).join(', ');
      throw new ApiError(400, 'malformed_body', `malformed NDJSON on line ${names}${bad.length >= MAX_REPORTED_LINES ? ' (and maybe more)' : ''}`, bad);
    }
    return { events: this.#events, lines: this.#lines.subarray(0, this.#events.length) };
  }

  #bytesLine(bytes: Buffer, start: number, end: number): void {
    // An empty line costs no string.
    this.line(start === end ? '' : bytes.toString('utf8', start, end));
  }
}

/** Reads a body a chunk at a time (NdjsonReader, JsonBatchReader). */
export interface BodyReader<T> {
  push(chunk: Buffer): void;
  /** What the body was; throws an ApiError when it was not what it should be. */
  end(): T;
}

/**
 * A request body given to `reader` as it streams in, cut off with `tooLarge()` past `limit`
 * bytes. Errors of the stream (a client gone, a body that does not decode) reject.
 */
export function readBodyStream<T>(payload: Readable, limit: number, tooLarge: () => Error, reader: BodyReader<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    let received = 0;
    const stop = (): void => {
      payload.off('data', onData);
      payload.off('end', onEnd);
      payload.off('error', onError);
    };
    const onData = (chunk: Buffer): void => {
      received += chunk.length;
      if (received <= limit) {
        reader.push(chunk);
        return;
      }
      stop();
      // The rest is read and discarded, so that the answer can be sent.
      payload.resume();
      reject(tooLarge());
    };
    const onEnd = (): void => {
      stop();
      try {
        resolve(reader.end());
      } catch (err) {
        reject(err as Error);
      }
    };
    const onError = (err: Error & { statusCode?: number }): void => {
      stop();
      if (typeof err.statusCode !== 'number') err.statusCode = 400;
      reject(err);
    };
    payload.on('data', onData);
    payload.on('end', onEnd);
    payload.on('error', onError);
  });
}

/** A whole NDJSON body at once (see NdjsonReader). */
export function parseNdjsonBody(body: string | Buffer): NdjsonBatch {
  const reader = new NdjsonReader();
  if (typeof body !== 'string') {
    reader.push(body);
    return reader.end();
  }
  let start = 0;
  while (start <= body.length) {
    let end = body.indexOf('\n', start);
    if (end < 0) end = body.length;
    reader.line(body.slice(start, end));
    start = end + 1;
  }
  return reader.end();
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
 * Answers are written straight into Buffers (each record writes its pre-encoded bytes, see
 * src/enrich/record.ts): neither Fastify nor ws has to measure or encode a large string again.
 */

/**
 * Records as NDJSON: each record's JSON and a newline (in `out`, when given: a view of its
 * buffer), after `head` (text) when given.
 */
export function ndjsonAnswer(records: readonly EnrichedRecord[], out?: ByteWriter, head?: string): Buffer {
  return ndjsonOfRecords(records, out, head).bytes;
}

/**
 * Answers up to this size are sent whole; larger ones (an HTTP answer, a /v1/ingest message) go
 * out in parts of about this size, each written once the previous one is out, and a /v1/forward
 * batch is written to the sink in parts of it: what one request holds of its output.
 */
export const ANSWER_PART_BYTES = 1024 * 1024;

/**
 * An answer written a part at a time, so that a large one (a batch of tiny lines of a pod with
 * many labels grows ~12x) is never held whole: NDJSON (records only, after `head` when given),
 * or `{"events":[...],"errors":[...]}` built from the records without parsing them again.
 */
export class AnswerEncoder {
  readonly #records: readonly EnrichedRecord[];
  /** JSON answers: the errors' JSON (written last); undefined for NDJSON. */
  readonly #errorsJson: string | undefined;
  /** NDJSON answers: text written before the records (a /v1/ingest acknowledgement line). */
  #head: string | undefined;
  #next = 0;

  constructor(records: readonly EnrichedRecord[], format: BatchFormat, errors: readonly EventError[] = [], head?: string) {
    this.#records = records;
    this.#errorsJson = format === 'json' ? JSON.stringify(errors) : undefined;
    this.#head = format === 'ndjson' ? head : undefined;
  }

  /** Records written so far. */
  get written(): number {
    return this.#next;
  }

  /**
   * Writes the next part into `out` (reset first): records until it holds `partBytes` or more.
   * True when that was the last part.
   */
  next(out: ByteWriter, partBytes: number): boolean {
    out.reset();
    const records = this.#records;
    const json = this.#errorsJson !== undefined;
    if (json && this.#next === 0) out.ascii('{"events":[');
    if (this.#head !== undefined) {
      out.utf8(this.#head);
      this.#head = undefined;
    }
    while (this.#next < records.length && out.length < partBytes) {
      if (!json) {
        records[this.#next++]!.writeTo(out);
        out.byte(0x0a);
        continue;
      }
      if (this.#next > 0) out.byte(44); // ,
      records[this.#next++]!.writeTo(out);
    }
    if (this.#next < records.length) return false;
    if (json) {
      out.ascii('],"errors":');
      out.utf8(this.#errorsJson!);
      out.byte(125); // }
    }
    return true;
  }
}

/** `{"events":[...],"errors":[...]}` in one buffer (a view of `writer`'s when given). */
export function jsonAnswer(records: readonly EnrichedRecord[], errors: readonly EventError[], writer?: ByteWriter): Buffer {
  const out = writer ?? writerFor(records, undefined, 32);
  new AnswerEncoder(records, 'json', errors).next(out, Number.POSITIVE_INFINITY);
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
