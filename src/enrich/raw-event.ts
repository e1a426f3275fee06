/**
 * Reading a raw event as shippers post it, under the configured field names (`enrichment.input`
 * in docs/configuration.md; request schemas in openapi/openapi.json): every field is checked
 * before the event is enriched, and a bad one becomes an EventError naming the field (counted in
 * event_errors_total), never an exception. Allocation-light: one RawEvent serves every event.
 */
import { decodeLineKeepingJson, isDecodeFailure, isRfc3339 } from '../formats/index.ts';
import type { DecodedLine, JsonMessageLine, Stream } from '../formats/index.ts';
import type { ErrorReason, EnrichCounters } from './counters.ts';
import type { InputFieldNames } from './options.ts';
import { msToRfc3339 } from './time.ts';
import type { EventError } from './types.ts';

const NO_FIELDS: Record<string, unknown> = {};

/** One event's checked values; RawEventReader.read() fills the same instance every time. */
export class RawEvent {
  /** The event itself (its other fields are passed through). */
  fields: Record<string, unknown> = NO_FIELDS;
  /** The log path; undefined when the event has none. */
  file: string | undefined = undefined;
  /** The decoded runtime line, when the event has one. */
  decoded: DecodedLine | JsonMessageLine | undefined = undefined;
  /** Of an event without a decodable line: its message, timestamp (RFC 3339) and stream. */
  message = '';
  timestamp = '';
  stream: Stream | undefined = undefined;

  /** The message itself, unless it was kept as JSON text only (a Docker line). */
  messageText(): string | undefined {
    const decoded = this.decoded;
    if (decoded === undefined) return this.message;
    return isJsonMessageLine(decoded) ? undefined : decoded.message;
  }

  /** The message as JSON text: kept from a Docker line (decodeLineKeepingJson), else stringified. */
  messageJson(): string {
    const decoded = this.decoded;
    if (decoded === undefined) return JSON.stringify(this.message);
    if (isJsonMessageLine(decoded)) return decoded.messageJson;
    return JSON.stringify(decoded.message);
  }
}

function isJsonMessageLine(line: DecodedLine | JsonMessageLine): line is JsonMessageLine {
  return (line as JsonMessageLine).messageJson !== undefined;
}

function typeName(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`;
}

/**
 * Why JSON.stringify refused a pass-through value. JSON.parse reads any depth, but writing a value
 * back recurses: thousands of nested levels overflow the stack (RangeError).
 */
function unserialisableReason(err: unknown): string {
  if (err instanceof RangeError) return 'nested too deeply to be written back as JSON (thousands of levels): flatten it or leave it out';
  // BigInts and cycles: only in-process callers can hand those over.
  return `cannot be written as JSON: ${err instanceof Error ? err.message : String(err)}`;
}

export class RawEventReader {
  readonly #counters: EnrichCounters;
  readonly #now: () => number;
  readonly #inFile: string;
  readonly #inLine: string;
  readonly #inMessage: string;
  readonly #inTimestamp: string;
  readonly #inStream: string;
  /** `line` and `message` are the same field: its value is decoded when it is a runtime line. */
  readonly #lineIsMessage: boolean;
  /** Input fields (consumed) and top-level output keys (the output wins): never copied through. */
  readonly #notPassedThrough: ReadonlySet<string>;
  readonly #event = new RawEvent();

  /** `outputKeys`: the top-level keys of the output, which a pass-through field may not overwrite. */
  constructor(input: InputFieldNames, outputKeys: Iterable<string>, now: () => number, counters: EnrichCounters) {
    this.#counters = counters;
    this.#now = now;
    this.#inFile = input.file;
    this.#inLine = input.line;
    this.#inMessage = input.message;
    this.#inTimestamp = input.timestamp;
    this.#inStream = input.stream;
    this.#lineIsMessage = input.line === input.message;
    this.#notPassedThrough = new Set([input.file, input.line, input.message, input.timestamp, input.stream, ...outputKeys]);
  }

  /** The event's values, valid until the next read(); undefined when it was rejected into `errors`. */
  read(ev: unknown, index: number, errors: EventError[]): RawEvent | undefined {
    if (typeof ev !== 'object' || ev === null || Array.isArray(ev)) {
      return this.#reject(errors, index, '(event)', 'not_an_object', `an event must be a JSON object, got ${typeName(ev)}`);
    }
    const rec = ev as Record<string, unknown>;
    const fileValue = rec[this.#inFile];
    if (fileValue !== undefined && typeof fileValue !== 'string') {
      return this.#reject(errors, index, this.#inFile, 'invalid_field', `must be a string (the log file path), got ${typeName(fileValue)}`);
    }

    let decoded: DecodedLine | JsonMessageLine | undefined;
    const lineValue = rec[this.#inLine];
    if (lineValue !== undefined) {
      if (typeof lineValue !== 'string') {
        return this.#reject(errors, index, this.#inLine, 'invalid_field', `must be a string (the line as the runtime wrote it), got ${typeName(lineValue)}`);
      }
      const result = decodeLineKeepingJson(lineValue);
      if (!isDecodeFailure(result)) decoded = result;
      else if (!this.#lineIsMessage) return this.#reject(errors, index, this.#inLine, 'undecodable_line', `${result.error}: ${result.detail}`);
    }

    const out = this.#event;
    out.fields = rec;
    out.file = fileValue;
    out.decoded = decoded;
    out.message = '';
    if (decoded !== undefined) {
      out.timestamp = decoded.timestamp;
      out.stream = decoded.stream;
      return out;
    }
    const messageValue = this.#lineIsMessage ? lineValue : rec[this.#inMessage];
    if (messageValue === undefined) {
      return this.#reject(
        errors,
        index,
        this.#inLine,
        'missing_field',
        `missing: give "${this.#inLine}" (the line as the runtime wrote it) or "${this.#inMessage}" (an already decoded message)`,
      );
    }
    if (typeof messageValue !== 'string') {
      return this.#reject(errors, index, this.#inMessage, 'invalid_field', `must be a string (the decoded message), got ${typeName(messageValue)}`);
    }
    out.message = messageValue;
    const tsValue = rec[this.#inTimestamp];
    if (tsValue === undefined) out.timestamp = msToRfc3339(this.#now());
    else if (typeof tsValue === 'string' && isRfc3339(tsValue, 0, tsValue.length)) out.timestamp = tsValue;
    else {
      const got = typeof tsValue === 'string' ? JSON.stringify(tsValue.slice(0, 40)) : typeName(tsValue);
      return this.#reject(errors, index, this.#inTimestamp, 'invalid_field', `must be an RFC 3339 timestamp like 2026-11-23T10:00:00.123456789Z, got ${got}`);
    }
    const streamValue = rec[this.#inStream];
    if (streamValue === 'stdout' || streamValue === 'stderr') out.stream = streamValue;
    else if (streamValue === undefined) out.stream = undefined;
    else {
      const got = typeof streamValue === 'string' ? JSON.stringify(streamValue.slice(0, 40)) : typeName(streamValue);
      return this.#reject(errors, index, this.#inStream, 'invalid_field', `must be "stdout" or "stderr", got ${got}`);
    }
    return out;
  }

  /**
   * The event's other fields as `,"key":value` text; output fields of the same name win. Undefined
   * when a field cannot be written as JSON, which is rejected into `errors`: the event is reported,
   * never sent on without the field.
   */
  passThrough(ev: RawEvent, index: number, errors: EventError[]): string | undefined {
    const rec = ev.fields;
    const skip = this.#notPassedThrough;
    // The fields every event has (file and line) are told apart by identity first: the parsed
    // keys are the same interned strings as the configured names, cheaper than hashing.
    const file = this.#inFile;
    const line = this.#inLine;
    let out = '';
    for (const key in rec) {
      if (key === file || key === line || skip.has(key)) continue;
      const value = rec[key];
      if (value === undefined) continue;
      let json: string | undefined;
      try {
        json = JSON.stringify(value);
      } catch (err) {
        return this.#reject(errors, index, key, 'unserialisable_field', unserialisableReason(err));
      }
      // Functions and symbols (in-process callers only) have no JSON at all.
      if (json === undefined) return this.#reject(errors, index, key, 'unserialisable_field', `cannot be written as JSON: ${typeof value}`);
      out += ',' + JSON.stringify(key) + ':' + json;
    }
    return out;
  }

  /** Lets go of the last event read (so an idle enricher holds no request's data). */
  forget(): void {
    this.#event.fields = NO_FIELDS;
    this.#event.decoded = undefined;
    this.#event.message = '';
  }

  #reject(errors: EventError[], index: number, field: string, reason: ErrorReason, error: string): undefined {
    errors.push({ index, field, error });
    this.#counters.rejected(reason);
    return undefined;
  }
}
