/** The two streams a container runtime writes. */
export type Stream = 'stdout' | 'stderr';

/** The on-disk line formats the kubelet's runtimes produce. */
export type LineFormat = 'cri' | 'docker';

/** One line as the runtime wrote it, decoded. `partial` means the runtime split a longer line. */
export interface DecodedLine {
  format: LineFormat;
  /** RFC 3339 timestamp exactly as written by the runtime (nanosecond precision kept). */
  timestamp: string;
  stream: Stream;
  partial: boolean;
  message: string;
}

/**
 * A line whose message was left as the JSON text the runtime wrote (Docker json-file's `log`, its
 * final newline escape cut off when it is whole), for callers that write the message out as JSON
 * again: see decodeLineKeepingJson. A partial one is a JsonFragment for merging. `messageJson` is a JSON string literal (quotes included) and
 * `JSON.parse(messageJson)` is the `message` decodeLine gives; the bytes may differ from
 * JSON.stringify's (Docker writes `<` as `\u003c`, for example), the value does not.
 */
export interface JsonMessageLine {
  format: 'docker';
  timestamp: string;
  stream: Stream;
  partial: boolean;
  messageJson: string;
}

/*
 * The decoders build their results with `new`, never as object literals, on purpose. V8 keeps
 * feedback per literal site and, once most objects of a site outlived a young-generation
 * collection, allocates all later ones straight in the old generation (allocation-site
 * pretenuring). A burst fools it (2,000 files opened at start-up while the first lines wait in a
 * batch), and from then on every decoded line, which lives for milliseconds, is old-generation
 * garbage that also keeps the young strings it points to alive through each scavenge: 1 M lines
 * over 2,000 files took 25 full mark-compacts instead of 7 (--trace-gc-nvp: 0.84 MB promoted per
 * scavenge, then 0.03). Instances of a class are not pretenured.
 */

class DecodedLineObject implements DecodedLine {
  format: LineFormat;
  timestamp: string;
  stream: Stream;
  partial: boolean;
  message: string;

  constructor(format: LineFormat, timestamp: string, stream: Stream, partial: boolean, message: string) {
    this.format = format;
    this.timestamp = timestamp;
    this.stream = stream;
    this.partial = partial;
    this.message = message;
  }
}

class JsonMessageLineObject implements JsonMessageLine {
  readonly format = 'docker';
  timestamp: string;
  stream: Stream;
  partial: boolean;
  messageJson: string;

  constructor(timestamp: string, stream: Stream, partial: boolean, messageJson: string) {
    this.timestamp = timestamp;
    this.stream = stream;
    this.partial = partial;
    this.messageJson = messageJson;
  }
}

/** A decoder's result (see above for why not a literal). */
export function decodedLine(format: LineFormat, timestamp: string, stream: Stream, partial: boolean, message: string): DecodedLine {
  return new DecodedLineObject(format, timestamp, stream, partial, message);
}

/** decodeLineKeepingJson's result for a Docker line whose message stays JSON text. */
export function jsonMessageLine(timestamp: string, stream: Stream, partial: boolean, messageJson: string): JsonMessageLine {
  return new JsonMessageLineObject(timestamp, stream, partial, messageJson);
}

/** Why a line could not be decoded; reported, never thrown. */
export interface DecodeFailure {
  error: 'empty_line' | 'malformed_cri' | 'malformed_docker' | 'unknown_format';
  detail: string;
}

export type DecodeResult = DecodedLine | DecodeFailure;

export function isDecodeFailure(r: DecodeResult | JsonMessageLine): r is DecodeFailure {
  return (r as DecodeFailure).error !== undefined;
}
