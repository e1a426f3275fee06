/**
 * An application/json batch read as it arrives: the events of `[...]` or `{"events": [...]}` are
 * cut out of the bytes one at a time and each parsed on its own (JSON.parse), so neither the body
 * nor a string of it is ever held whole; only the events are (as for NDJSON). An 8 MiB body of
 * tiny events no longer costs an 8 MiB string (16 MiB once V8 flattens the pieces it was read in)
 * on top of its parsed events.
 *
 * Only the splitting is done here, by a small scanner that follows strings, nesting and the
 * separators between values; what is inside an event, JSON.parse checks. Anything else an
 * application/json body may be (NDJSON under that label, a lone object without `events`, an
 * empty body, a syntax error before the events begin) is read whole and given to
 * parseJsonOrNdjsonBody, as before: the scanner keeps the bytes until it knows.
 *
 * Errors name the line and column (bytes from the start of the line: characters for ASCII) of
 * the first fault, as parseJsonBody does for a whole body.
 */
import { ApiError } from './errors.ts';
import { parseJsonOrNdjsonBody, type JsonBody } from './batch-codec.ts';

const SPACE = 0x20;
const TAB = 0x09;
const LF = 0x0a;
const CR = 0x0d;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const COLON = 0x3a;
const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;
const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;

function isSpace(c: number): boolean {
  return c === SPACE || c === LF || c === CR || c === TAB;
}

/** Where the scanner is in the body's structure, outside the value it may be reading. */
const Step = {
  /** Before the first byte that is not whitespace. */
  Start: 0,
  /** `{` read: the bytes are kept until `"events": [` shows this is a batch object. */
  MemberKey: 1,
  MemberColon: 2,
  MemberValue: 3,
  /** After a member's value: `,` or `}`. */
  MemberNext: 4,
  /** In the events array: an event or `]`. */
  EventFirst: 5,
  /** After `,` in the events array: an event. */
  Event: 6,
  /** After an event: `,` or `]`. */
  EventNext: 7,
  /** After the body's one value: only whitespace. */
  End: 8,
  /** Not a batch this scanner reads: the rest is kept, for parseJsonOrNdjsonBody. */
  Whole: 9,
  /** A fault was found: the rest is ignored. */
  Failed: 10,
} as const;
type Step = (typeof Step)[keyof typeof Step];

export class JsonBatchReader {
  readonly #events: unknown[] = [];
  #step: Step = Step.Start;
  /** The top-level value is an object (`{"events": [...]}`) rather than an array. */
  #inObject = false;
  #sawEvents = false;
  /** The key of the member being read. */
  #key = '';
  /** The body so far, while the scanner does not know yet whether it can stream it. */
  #kept: Buffer[] | undefined = [];
  #error: ApiError | undefined;

  // The value being cut out (an event, a member's key or value), possibly across chunks.
  #inValue = false;
  /** Its pieces from earlier chunks (copies). */
  #pieces: Buffer[] = [];
  #depth = 0;
  #inString = false;
  #escaped = false;
  /** A number, true, false or null: ends before the next separator or whitespace. */
  #bare = false;
  #valueLine = 0;
  #valueColumn = 0;

  /** Bytes before the current chunk, the current line and where it began (absolute). */
  #offset = 0;
  #line = 1;
  #lineStart = 0;

  /** The next bytes of the body. */
  push(chunk: Buffer): void {
    if (this.#step === Step.Failed) return;
    if (this.#kept !== undefined) this.#kept.push(Buffer.from(chunk));
    if (this.#step !== Step.Whole) this.#scan(chunk);
    this.#offset += chunk.length;
  }

  /** The body's value: the events, or what parseJsonOrNdjsonBody makes of the whole. Throws a 400 on a fault. */
  end(): JsonBody {
    if (this.#error !== undefined) throw this.#error;
    if (this.#kept !== undefined) return parseJsonOrNdjsonBody(Buffer.concat(this.#kept).toString('utf8'));
    if (this.#step !== Step.End) throw this.#fail('the body ends before its JSON value does', this.#line, this.#offset - this.#lineStart + 1);
    return { value: this.#inObject ? { events: this.#events } : this.#events, lines: undefined };
  }

  #scan(chunk: Buffer): void {
    let i = 0;
    const n = chunk.length;
    while (i < n) {
      if (this.#inValue) {
        i = this.#continueValue(chunk, i);
        continue;
      }
      const c = chunk[i]!;
      if (isSpace(c)) {
        if (c === LF) {
          this.#line++;
          this.#lineStart = this.#offset + i + 1;
        }
        i++;
        continue;
      }
      switch (this.#step) {
        case Step.Start:
          if (c === OPEN_ARRAY) {
            this.#commit();
            this.#step = Step.EventFirst;
          } else if (c === OPEN_OBJECT) {
            this.#inObject = true;
            this.#step = Step.MemberKey;
          } else {
            return this.#whole('not a JSON array or object');
          }
          i++;
          continue;
        case Step.MemberKey:
          if (c === QUOTE) {
            this.#startValue(chunk, i);
            continue;
          }
          if (c === CLOSE_OBJECT && !this.#sawEvents) return this.#whole('an object without "events"');
          return this.#unexpected(chunk, i, 'a member name (a string)');
        case Step.MemberColon:
          if (c !== COLON) return this.#unexpected(chunk, i, "':' after a member name");
          this.#step = Step.MemberValue;
          i++;
          continue;
        case Step.MemberValue:
          if (this.#key === 'events' && c === OPEN_ARRAY) {
            // A batch object: from here on, streamed. A second `events` wins, as with JSON.parse.
            this.#commit();
            this.#sawEvents = true;
            this.#events.length = 0;
            this.#step = Step.EventFirst;
            i++;
            continue;
          }
          this.#startValue(chunk, i);
          continue;
        case Step.MemberNext:
          if (c === COMMA) {
            this.#step = Step.MemberKey;
          } else if (c === CLOSE_OBJECT) {
            if (!this.#sawEvents) return this.#whole('an object without "events"');
            this.#step = Step.End;
          } else {
            return this.#unexpected(chunk, i, "',' or '}' after a member");
          }
          i++;
          continue;
        case Step.EventFirst:
        case Step.Event:
          if (c === CLOSE_ARRAY && this.#step === Step.EventFirst) {
            this.#step = this.#inObject ? Step.MemberNext : Step.End;
            i++;
            continue;
          }
          if (c === COMMA || c === CLOSE_ARRAY) return this.#unexpected(chunk, i, 'an event');
          this.#startValue(chunk, i);
          continue;
        case Step.EventNext:
          if (c === COMMA) {
            this.#step = Step.Event;
          } else if (c === CLOSE_ARRAY) {
            this.#step = this.#inObject ? Step.MemberNext : Step.End;
          } else {
            return this.#unexpected(chunk, i, "',' or ']' after an event");
          }
          i++;
          continue;
        case Step.End:
          return this.#unexpected(chunk, i, 'nothing after the JSON value');
        default:
          return;
      }
    }
    // A value that goes on in the next chunk: its bytes so far, copied (the chunk may be reused).
    if (this.#inValue) this.#pieces.push(Buffer.from(chunk.subarray(this.#valueStartInChunk())));
  }

  /**
   * Not a batch this reader streams: the whole body goes to parseJsonOrNdjsonBody, which tells
   * what it is (the bytes are all kept until #commit). After #commit, a fault.
   */
  #whole(reason: string): void {
    if (this.#kept !== undefined) this.#step = Step.Whole;
    else this.#fail(reason, this.#line, this.#offset - this.#lineStart + 1);
  }

  /** The body is a batch this reader streams: the bytes kept so far are let go. */
  #commit(): void {
    this.#kept = undefined;
  }

  /** Where the value being read starts in the current chunk: 0 when it began in an earlier one. */
  #valueStart = 0;
  #valueStartInChunk(): number {
    return this.#pieces.length > 0 ? 0 : this.#valueStart;
  }

  #startValue(chunk: Buffer, i: number): void {
    const c = chunk[i]!;
    this.#inValue = true;
    this.#valueStart = i;
    this.#pieces = [];
    this.#depth = 0;
    this.#inString = false;
    this.#escaped = false;
    this.#bare = !(c === OPEN_OBJECT || c === OPEN_ARRAY || c === QUOTE);
    this.#valueLine = this.#line;
    this.#valueColumn = this.#offset + i - this.#lineStart + 1;
  }

  /** Reads on in the value being cut out; returns where the scan goes on. */
  #continueValue(chunk: Buffer, from: number): number {
    const n = chunk.length;
    let i = from;
    if (this.#bare) {
      while (i < n) {
        const c = chunk[i]!;
        if (c === COMMA || c === CLOSE_ARRAY || c === CLOSE_OBJECT || c === COLON || isSpace(c)) {
          this.#valueDone(chunk, i);
          return i;
        }
        i++;
      }
      return n;
    }
    while (i < n) {
      if (this.#inString) {
        // The previous chunk ended with an odd run of backslashes: this byte is escaped.
        if (this.#escaped) {
          this.#escaped = false;
          i++;
          continue;
        }
        // The string's closing quote: the first one not escaped by an odd run of backslashes.
        const floor = i;
        let quote = chunk.indexOf(QUOTE, i);
        while (quote >= 0 && oddBackslashesBefore(chunk, quote, floor)) quote = chunk.indexOf(QUOTE, quote + 1);
        if (quote < 0) {
          this.#escaped = oddBackslashesBefore(chunk, n, floor);
          return n;
        }
        this.#inString = false;
        i = quote + 1;
        if (this.#depth === 0) {
          this.#valueDone(chunk, i);
          return i;
        }
        continue;
      }
      const c = chunk[i]!;
      if (c === QUOTE) {
        this.#inString = true;
      } else if (c === OPEN_OBJECT || c === OPEN_ARRAY) {
        this.#depth++;
      } else if (c === CLOSE_OBJECT || c === CLOSE_ARRAY) {
        if (--this.#depth === 0) {
          this.#valueDone(chunk, i + 1);
          return i + 1;
        }
      } else if (c === LF) {
        this.#line++;
        this.#lineStart = this.#offset + i + 1;
      }
      i++;
    }
    return n;
  }

  /** The value being read ends at `end` (exclusive) in `chunk`: parsed, and put where it belongs. */
  #valueDone(chunk: Buffer, end: number): void {
    const start = this.#valueStartInChunk();
    let text: string;
    if (this.#pieces.length === 0) {
      text = chunk.toString('utf8', start, end);
    } else {
      this.#pieces.push(chunk.subarray(0, end));
      text = Buffer.concat(this.#pieces).toString('utf8');
      this.#pieces = [];
    }
    this.#inValue = false;
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (err) {
      this.#parseFailed(text, err as Error);
      return;
    }
    switch (this.#step) {
      case Step.MemberKey:
        this.#key = value as string;
        this.#step = Step.MemberColon;
        return;
      case Step.MemberValue:
        // Any other member is only checked; `events` that is not an array is left to the schema.
        if (this.#key === 'events') {
          this.#whole('"events" is not an array of events');
          return;
        }
        this.#step = Step.MemberNext;
        return;
      default:
        this.#events.push(value);
        this.#step = Step.EventNext;
    }
  }

  /** JSON.parse refused a value: its position, within the value, made a position in the body. */
  #parseFailed(text: string, err: Error): void {
    if (this.#kept !== undefined) {
      // Not streamed yet: parseJsonOrNdjsonBody reports it (or reads the body as NDJSON).
      this.#step = Step.Whole;
      return;
    }
    const position = JSON_POSITION.exec(err.message);
    const reason = err.message.replace(JSON_POSITION, '');
    const at = position?.[1] === undefined ? 0 : Math.min(Number(position[1]), text.length);
    let line = this.#valueLine;
    let column = this.#valueColumn + at;
    const lastNewline = text.lastIndexOf('\n', at - 1);
    if (lastNewline >= 0) {
      for (let k = text.indexOf('\n'); k >= 0 && k < at; k = text.indexOf('\n', k + 1)) line++;
      column = at - lastNewline;
    }
    this.#fail(reason, line, column);
  }

  #unexpected(chunk: Buffer, i: number, expected: string): void {
    const found = JSON.stringify(String.fromCharCode(chunk[i]!));
    this.#fail(`expected ${expected}, found ${found}`, this.#line, this.#offset + i - this.#lineStart + 1);
  }

  #fail(reason: string, line: number, column: number): ApiError {
    const message = reason.length <= 200 ? reason : `${reason.slice(0, 200)}...`;
    this.#error ??= new ApiError(400, 'malformed_body', 'malformed JSON body', [{ line, column, message: `line ${line} column ${column}: ${message}` }]);
    this.#step = Step.Failed;
    return this.#error;
  }
}

/** Whether the run of backslashes just before `at` (not going below `floor`) is odd. */
function oddBackslashesBefore(chunk: Buffer, at: number, floor: number): boolean {
  let k = at - 1;
  while (k >= floor && chunk[k] === BACKSLASH) k--;
  return (at - 1 - k) % 2 === 1;
}

/** V8's "... in JSON at position 12 (line 1 column 13)". */
const JSON_POSITION = / in JSON at position (\d+)(?: \(line \d+ column \d+\))?/;
