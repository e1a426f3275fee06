/**
 * An application/json batch read as it arrives: the events of `[...]` or `{"events": [...]}` are
 * cut out of the bytes one at a time and each parsed on its own (JSON.parse), so neither the body
 * nor a string of it is ever held whole; only the events are (as for NDJSON). An 8 MiB body of
 * tiny events no longer costs an 8 MiB string (16 MiB once V8 flattens the pieces it was read in)
 * on top of its parsed events.
 *
 * The splitting is json/array-stream.ts's; what is inside an event, JSON.parse checks. Anything else an
 * application/json body may be (NDJSON under that label, a lone object without `events`, an
 * empty body, a syntax error before the events begin) is read whole and given to
 * parseJsonOrNdjsonBody, as before: the scanner keeps the bytes until it knows.
 *
 * Errors name the line and column (bytes from the start of the line: characters for ASCII) of
 * the first fault, as parseJsonBody does for a whole body.
 */
import { JsonArrayStream, type JsonFault } from '../json/array-stream.ts';
import { ApiError } from './errors.ts';
import { parseJsonOrNdjsonBody, type JsonBody } from './batch-codec.ts';

export class JsonBatchReader {
  readonly #events: unknown[] = [];
  readonly #stream = new JsonArrayStream({
    member: 'events',
    topLevelArray: true,
    keepUntilArray: true,
    // A second `events` wins, as with JSON.parse.
    onArrayStart: () => {
      this.#events.length = 0;
    },
    onElement: (value) => {
      this.#events.push(value);
    },
  });

  /** The next bytes of the body. */
  push(chunk: Buffer): void {
    this.#stream.push(chunk);
  }

  /** The body's value: the events, or what parseJsonOrNdjsonBody makes of the whole. Throws a 400 on a fault. */
  end(): JsonBody {
    const end = this.#stream.end();
    switch (end.kind) {
      case 'fault':
        throw malformed(end.fault);
      case 'whole':
        return parseJsonOrNdjsonBody(end.bytes.toString('utf8'));
      default:
        return { value: end.topLevel === 'object' ? { events: this.#events } : this.#events, lines: undefined };
    }
  }
}

function malformed({ reason, line, column }: JsonFault): ApiError {
  return new ApiError(400, 'malformed_body', 'malformed JSON body', [{ line, column, message: `line ${line} column ${column}: ${reason}` }]);
}
