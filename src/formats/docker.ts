/**
 * Docker's json-file format (dockershim and cri-dockerd nodes):
 *
 *   {"log":"GET /healthz 200\n","stream":"stdout","time":"2026-11-23T10:00:00.123456789Z"}
 *
 * The message ends with `\n` unless Docker split a line longer than 16 KiB (or the container
 * exited mid-line): a `log` without its trailing newline is a partial line.
 */
import { contentEnd, failure, snippet } from './failure.ts';
import { isRfc3339 } from './timestamp.ts';
import type { DecodeResult, DecodedLine, Stream } from './types.ts';

const LOG_PREFIX = '{"log":"';
const STREAM_KEY = '","stream":"';
const TIME_KEY = '","time":"';

function message(log: string, timestamp: string, stream: Stream): DecodedLine {
  const n = log.length;
  if (n > 0 && log.charCodeAt(n - 1) === 10) {
    const cut = n > 1 && log.charCodeAt(n - 2) === 13 ? n - 2 : n - 1;
    return { format: 'docker', timestamp, stream, partial: false, message: log.slice(0, cut) };
  }
  return { format: 'docker', timestamp, stream, partial: true, message: log };
}

function badTime(time: string): DecodeResult {
  return failure('malformed_docker', `"time" ${snippet(time)} is not RFC 3339 (like 2026-11-23T10:00:00.123456789Z)`);
}

/** Raw control characters are invalid inside a JSON string (Docker escapes them); one class, no backtracking. */
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const CONTROL_CHAR = /[\u0000-\u001f]/;

/**
 * The exact shape Docker writes (`log`, `stream`, `time` in that order, nothing else) whose `log`
 * has no escape but its final `\n`: the message is a slice, found with native `indexOf`. Anything
 * else returns undefined and the caller falls back to JSON.parse, which is faster than a
 * hand-written unescaper. Both paths give the same answer for every input (a property test checks).
 */
function decodeDockerFast(line: string, end: number): DecodeResult | undefined {
  if (!line.startsWith(LOG_PREFIX)) return undefined;
  const bodyStart = LOG_PREFIX.length;
  const logEnd = line.indexOf('"', bodyStart);
  if (logEnd < 0) return undefined;
  const backslash = line.indexOf('\\', bodyStart);
  let partial: boolean;
  let bodyEnd: number;
  if (backslash < 0 || backslash > logEnd) {
    partial = true;
    bodyEnd = logEnd;
  } else if (backslash === logEnd - 2 && line.charCodeAt(logEnd - 1) === 110 /* n */) {
    partial = false;
    bodyEnd = backslash;
  } else {
    return undefined;
  }
  if (!line.startsWith(STREAM_KEY, logEnd)) return undefined;
  const streamStart = logEnd + STREAM_KEY.length;
  let stream: Stream;
  if (line.startsWith('stdout', streamStart)) stream = 'stdout';
  else if (line.startsWith('stderr', streamStart)) stream = 'stderr';
  else return undefined;
  const timeKeyStart = streamStart + 6;
  if (!line.startsWith(TIME_KEY, timeKeyStart)) return undefined;
  const timeStart = timeKeyStart + TIME_KEY.length;
  const timeEnd = line.indexOf('"', timeStart);
  if (timeEnd < 0 || timeEnd + 2 !== end || line.charCodeAt(timeEnd + 1) !== 125 /* } */) return undefined;
  const body = line.slice(bodyStart, bodyEnd);
  if (CONTROL_CHAR.test(body)) return undefined;
  const time = line.slice(timeStart, timeEnd);
  if (!isRfc3339(time, 0, time.length)) {
    // Escapes or control characters in "time": JSON.parse decides what it is.
    return time.indexOf('\\') >= 0 || CONTROL_CHAR.test(time) ? undefined : badTime(time);
  }
  return { format: 'docker', timestamp: time, stream, partial, message: body };
}

/** The general path: any field order, extra fields, whitespace. */
export function decodeDockerWithJsonParse(line: string, end = contentEnd(line)): DecodeResult {
  if (end === 0) return failure('empty_line', 'the line is empty');
  let parsed: unknown;
  try {
    parsed = JSON.parse(end === line.length ? line : line.slice(0, end));
  } catch (err) {
    return failure('malformed_docker', `not valid JSON: ${(err as Error).message}`);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    return failure('malformed_docker', 'expected a JSON object with "log", "stream" and "time"');
  }
  const record = parsed as Record<string, unknown>;
  const log = record['log'];
  if (typeof log !== 'string') return failure('malformed_docker', '"log" is missing or not a string');
  const stream = record['stream'];
  if (stream !== 'stdout' && stream !== 'stderr') {
    return failure('malformed_docker', `"stream" must be "stdout" or "stderr", got ${snippet(JSON.stringify(stream) ?? 'nothing')}`);
  }
  const time = record['time'];
  if (typeof time !== 'string') return failure('malformed_docker', '"time" is missing or not a string');
  if (!isRfc3339(time, 0, time.length)) return badTime(time);
  return message(log, time, stream);
}

/**
 * Decodes one Docker json-file line (with or without its trailing newline). Never throws:
 * malformed input comes back as a `DecodeFailure` naming the field at fault.
 */
export function decodeDocker(line: string): DecodeResult {
  const end = contentEnd(line);
  if (end === 0) return failure('empty_line', 'the line is empty');
  return decodeDockerFast(line, end) ?? decodeDockerWithJsonParse(line, end);
}
