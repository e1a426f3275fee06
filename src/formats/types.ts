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

/** Why a line could not be decoded; reported, never thrown. */
export interface DecodeFailure {
  error: 'empty_line' | 'malformed_cri' | 'malformed_docker' | 'unknown_format';
  detail: string;
}

export type DecodeResult = DecodedLine | DecodeFailure;

export function isDecodeFailure(r: DecodeResult): r is DecodeFailure {
  return (r as DecodeFailure).error !== undefined;
}
