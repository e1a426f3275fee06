/**
 * The elements of one JSON array cut out of a byte stream as it arrives, and each parsed on its
 * own (JSON.parse), so that neither the whole text nor a string of it is ever held: only the
 * element being read. The array is the top-level value (`[...]`) or one member of a top-level
 * object (`{"events": [...]}`, a Kubernetes list's `{"metadata": {...}, "items": [...]}`); the
 * object's other members are parsed one by one too and handed over.
 *
 * Only the splitting is done here, by a small scanner that follows strings, nesting and the
 * separators between values; what is inside a value, JSON.parse checks. Used by the service for
 * application/json batches (server/json-batch-reader.ts) and by the reflectors for list answers
 * (kube/list.ts): an 8 MiB batch of tiny events, or a 2,000-pod list of 12.5 MB, no longer costs
 * its text, its bytes and a flattened copy at once.
 *
 * A caller that can read other shapes another way (the service: NDJSON under the JSON label, a
 * lone object) asks to keep the bytes until the scanner knows the body is such an array; then
 * `end()` hands them back whole instead of failing.
 *
 * Faults are named by line and column (bytes from the start of the line: characters for ASCII).
 */

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

export interface JsonArrayStreamOptions {
  /** The member of a top-level object whose array is streamed: "events", "items". */
  member: string;
  /** A top-level array is streamed too; otherwise it is not a value this stream reads. */
  topLevelArray: boolean;
  /** Keep the bytes until the array starts, so that `end()` can hand back a body of another shape. */
  keepUntilArray: boolean;
  /** Each element of the array, parsed, in order. May throw: push() then throws it. */
  onElement?(value: unknown): void;
  /**
   * Instead of onElement: each element's text, not parsed (the caller parses what it needs; the
   * kubelet poller skips items it has seen). Only the nesting and strings were checked.
   */
  onElementText?(text: string): void;
  /** The array starts (again: a second member of that name restarts it, as it wins in JSON.parse). */
  onArrayStart?(): void;
  /** Each other member of the top-level object (and `member` when it is not an array), parsed. */
  onMember?(key: string, value: unknown): void;
}

export interface JsonFault {
  reason: string;
  line: number;
  column: number;
}

export type JsonStreamEnd =
  /** The body was read: `array` says whether the array was found (and streamed). Never with keepUntilArray and no array. */
  | { kind: 'read'; array: boolean; topLevel: 'array' | 'object' }
  /** Not a body this stream reads (only with keepUntilArray): its bytes, whole. */
  | { kind: 'whole'; bytes: Buffer }
  | { kind: 'fault'; fault: JsonFault };

/** Where the scanner is in the body's structure, outside the value it may be reading. */
const Step = {
  /** Before the first byte that is not whitespace. */
  Start: 0,
  MemberKey: 1,
  MemberColon: 2,
  MemberValue: 3,
  /** After a member's value: `,` or `}`. */
  MemberNext: 4,
  /** In the array: an element or `]`. */
  ElementFirst: 5,
  /** After `,` in the array: an element. */
  Element: 6,
  /** After an element: `,` or `]`. */
  ElementNext: 7,
  /** After the body's one value: only whitespace. */
  End: 8,
  /** Not a body this stream reads: the rest is kept, for the caller. */
  Whole: 9,
  /** A fault was found: the rest is ignored. */
  Failed: 10,
} as const;
type Step = (typeof Step)[keyof typeof Step];

export class JsonArrayStream {
  readonly #o: JsonArrayStreamOptions;
  #step: Step = Step.Start;
  /** The top-level value is an object rather than an array. */
  #inObject = false;
  #sawArray = false;
  /** The key of the member being read. */
  #key = '';
  /** The body so far, while the scanner does not know yet whether it can stream it. */
  #kept: Buffer[] | undefined;
  #fault: JsonFault | undefined;

  // The value being cut out (an element, a member's key or value), possibly across chunks.
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
  /** Where the value being read starts in the current chunk (when it began in this one). */
  #valueStart = 0;

  /** Bytes before the current chunk, the current line and where it began (absolute). */
  #offset = 0;
  #line = 1;
  #lineStart = 0;

  constructor(options: JsonArrayStreamOptions) {
    this.#o = options;
    this.#kept = options.keepUntilArray ? [] : undefined;
  }

  /** The next bytes of the body (not kept after the call unless copied here). */
  push(chunk: Buffer): void {
    if (this.#step === Step.Failed) return;
    if (this.#kept !== undefined) this.#kept.push(Buffer.from(chunk));
    if (this.#step !== Step.Whole) this.#scan(chunk);
    this.#offset += chunk.length;
  }

  /** The body ended. */
  end(): JsonStreamEnd {
    if (this.#fault !== undefined) return { kind: 'fault', fault: this.#fault };
    if (this.#kept !== undefined) return { kind: 'whole', bytes: Buffer.concat(this.#kept) };
    if (this.#step !== Step.End) {
      return { kind: 'fault', fault: this.#failed('the body ends before its JSON value does', this.#line, this.#offset - this.#lineStart + 1) };
    }
    return { kind: 'read', array: this.#sawArray, topLevel: this.#inObject ? 'object' : 'array' };
  }

  #scan(chunk: Buffer): void {
    let i = 0;
    const n = chunk.length;
    while (i < n) {
      if (this.#inValue) {
        i = this.#continueValue(chunk, i);
        if (this.#step === Step.Whole || this.#step === Step.Failed) return;
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
          if (c === OPEN_ARRAY && this.#o.topLevelArray) {
            this.#arrayStarts();
          } else if (c === OPEN_OBJECT) {
            this.#inObject = true;
            this.#step = Step.MemberKey;
          } else {
            return this.#whole(this.#o.topLevelArray ? 'not a JSON array or object' : 'not a JSON object');
          }
          i++;
          continue;
        case Step.MemberKey:
          if (c === QUOTE) {
            this.#startValue(chunk, i);
            continue;
          }
          if (c !== CLOSE_OBJECT) return this.#unexpected(chunk, i, 'a member name (a string)');
          this.#objectEnds(chunk, i);
          if ((this.#step as Step) !== Step.End) return;
          i++;
          continue;
        case Step.MemberColon:
          if (c !== COLON) return this.#unexpected(chunk, i, "':' after a member name");
          this.#step = Step.MemberValue;
          i++;
          continue;
        case Step.MemberValue:
          if (c === OPEN_ARRAY && this.#key === this.#o.member) {
            this.#arrayStarts();
            i++;
            continue;
          }
          this.#startValue(chunk, i);
          continue;
        case Step.MemberNext:
          if (c === COMMA) {
            this.#step = Step.MemberKey;
            i++;
            continue;
          }
          if (c === CLOSE_OBJECT) {
            this.#objectEnds(chunk, i);
            if ((this.#step as Step) !== Step.End) return;
            i++;
            continue;
          }
          return this.#unexpected(chunk, i, "',' or '}' after a member");
        case Step.ElementFirst:
        case Step.Element:
          if (c === CLOSE_ARRAY && this.#step === Step.ElementFirst) {
            this.#step = this.#inObject ? Step.MemberNext : Step.End;
            i++;
            continue;
          }
          if (c === COMMA || c === CLOSE_ARRAY) return this.#unexpected(chunk, i, this.#o.topLevelArray ? 'an event' : 'an element');
          this.#startValue(chunk, i);
          continue;
        case Step.ElementNext:
          if (c === COMMA) {
            this.#step = Step.Element;
          } else if (c === CLOSE_ARRAY) {
            this.#step = this.#inObject ? Step.MemberNext : Step.End;
          } else {
            return this.#unexpected(chunk, i, this.#o.topLevelArray ? "',' or ']' after an event" : "',' or ']' after an element");
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
    if (this.#inValue) this.#pieces.push(Buffer.from(chunk.subarray(this.#pieces.length > 0 ? 0 : this.#valueStart)));
  }

  /** The array begins: from here on the body is streamed, and the bytes kept so far are let go. */
  #arrayStarts(): void {
    this.#kept = undefined;
    this.#sawArray = true;
    this.#step = Step.ElementFirst;
    this.#o.onArrayStart?.();
  }

  /** `}` of the top-level object. Without the array, a body to hand back whole when kept. */
  #objectEnds(chunk: Buffer, i: number): void {
    if (this.#kept !== undefined && !this.#sawArray) {
      this.#step = Step.Whole;
      return;
    }
    if (this.#step === Step.MemberKey && this.#keyCount > 0) return this.#unexpected(chunk, i, 'a member name (a string)');
    this.#step = Step.End;
  }

  /** Members read so far: `{"a":1,}` is not JSON. */
  #keyCount = 0;

  /**
   * Not a body this stream reads: with the bytes kept, the whole body goes back to the caller,
   * who tells what it is. Otherwise a fault.
   */
  #whole(reason: string): void {
    if (this.#kept !== undefined) this.#step = Step.Whole;
    else this.#failed(reason, this.#line, this.#offset - this.#lineStart + 1);
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
    let text: string;
    if (this.#pieces.length === 0) {
      text = chunk.toString('utf8', this.#valueStart, end);
    } else {
      this.#pieces.push(chunk.subarray(0, end));
      text = Buffer.concat(this.#pieces).toString('utf8');
      this.#pieces = [];
    }
    this.#inValue = false;
    if (this.#o.onElementText !== undefined && (this.#step === Step.Element || this.#step === Step.ElementFirst)) {
      this.#step = Step.ElementNext;
      this.#o.onElementText(text);
      return;
    }
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
        this.#keyCount++;
        this.#step = Step.MemberColon;
        return;
      case Step.MemberValue:
        this.#step = Step.MemberNext;
        if (this.#key === this.#o.member && this.#kept !== undefined) {
          // The member is there but not an array: the caller reads the body its own way.
          this.#step = Step.Whole;
          return;
        }
        if (this.#key === this.#o.member && this.#sawArray) {
          this.#failed(`"${this.#o.member}" is not an array`, this.#valueLine, this.#valueColumn);
          return;
        }
        this.#o.onMember?.(this.#key, value);
        return;
      default:
        this.#step = Step.ElementNext;
        this.#o.onElement?.(value);
    }
  }

  /** JSON.parse refused a value: its position, within the value, made a position in the body. */
  #parseFailed(text: string, err: Error): void {
    if (this.#kept !== undefined) {
      // Not streamed yet: the caller reads the body its own way, and reports the fault so.
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
    this.#failed(reason, line, column);
  }

  #unexpected(chunk: Buffer, i: number, expected: string): void {
    const found = JSON.stringify(String.fromCharCode(chunk[i]!));
    this.#failed(`expected ${expected}, found ${found}`, this.#line, this.#offset + i - this.#lineStart + 1);
  }

  #failed(reason: string, line: number, column: number): JsonFault {
    this.#fault ??= { reason: reason.length <= 200 ? reason : `${reason.slice(0, 200)}...`, line, column };
    this.#step = Step.Failed;
    this.#kept = undefined;
    return this.#fault;
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
