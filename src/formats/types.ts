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

/** Why a line could not be decoded; reported, never thrown. */
export interface DecodeFailure {
  error: 'empty_line' | 'malformed_cri' | 'malformed_docker' | 'unknown_format';
  detail: string;
}

export type DecodeResult = DecodedLine | DecodeFailure;

export function isDecodeFailure(r: DecodeResult | JsonMessageLine): r is DecodeFailure {
  return (r as DecodeFailure).error !== undefined;
}
