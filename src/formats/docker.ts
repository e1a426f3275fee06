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
import { decodedLine, jsonMessageLine, type DecodeResult, type DecodedLine, type JsonMessageLine, type Stream } from './types.ts';

const LOG_PREFIX = '{"log":"';
const STREAM_KEY = '","stream":"';
const TIME_KEY = '","time":"';

function message(log: string, timestamp: string, stream: Stream): DecodedLine {
  const n = log.length;
  if (n > 0 && log.charCodeAt(n - 1) === 10) {
    const cut = n > 1 && log.charCodeAt(n - 2) === 13 ? n - 2 : n - 1;
    return decodedLine('docker', timestamp, stream, false, log.slice(0, cut));
  }
  return decodedLine('docker', timestamp, stream, true, log);
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
  return decodedLine('docker', time, stream, partial, body);
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

const BACKSLASH = 92;
/** `","stream":"stdout","time":"`: from the quote closing `log` to the first character of `time`. */
const TIME_OFFSET = STREAM_KEY.length + 6 + TIME_KEY.length;

/**
 * The text of a JSON string and its closing quote, matched from `lastIndex`: runs of characters
 * JSON allows raw, each run followed by a valid escape or by the quote. Written "unrolled" (no
 * alternation per character), so the regexp engine scans it natively in one linear pass, long
 * lines and failing ones too.
 */
// eslint-disable-next-line no-control-regex -- control characters must be escaped in JSON: matching them is the point
const JSON_STRING_TEXT = /[^"\\\u0000-\u001f]*(?:\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4})[^"\\\u0000-\u001f]*)*"/y;

/** String.prototype.isWellFormed: ES2024, in Node since 20; the project's TypeScript lib is ES2023. */
function isWellFormed(s: string): boolean {
  return (s as string & { isWellFormed(): boolean }).isWellFormed();
}

/** Whether the backslash at `i` of valid JSON string text starts an escape: escapes pair backslashes from the left, so an even run precedes it. */
function startsEscape(s: string, start: number, i: number): boolean {
  let run = 0;
  while (i - 1 - run >= start && s.charCodeAt(i - 1 - run) === BACKSLASH) run++;
  return run % 2 === 0;
}

/** Length of the newline escape (`\n` or `\u000a`) ending the JSON string text `s[start, end)`, or 0. */
function newlineEscapeBefore(s: string, start: number, end: number): number {
  if (end - start >= 2 && s.charCodeAt(end - 1) === 110 /* n */ && s.charCodeAt(end - 2) === BACKSLASH && startsEscape(s, start, end - 2)) return 2;
  return unicodeEscapeBefore(s, start, end, 97 /* a */) ? 6 : 0;
}

/** Whether the JSON string text `s[start, end)` ends with `\u000` and `hex` (lower case, or its upper case). */
function unicodeEscapeBefore(s: string, start: number, end: number, hex: number): boolean {
  const u = end - 6;
  return u >= start && s.charCodeAt(u) === BACKSLASH && s.startsWith('u000', u + 1) && (s.charCodeAt(end - 1) | 32) === hex && startsEscape(s, start, u);
}

/** Length of the carriage return escape (`\r` or `\u000d`) ending the JSON string text `s[start, end)`, or 0. */
function carriageReturnEscapeBefore(s: string, start: number, end: number): number {
  if (end - start >= 2 && s.charCodeAt(end - 1) === 114 /* r */ && s.charCodeAt(end - 2) === BACKSLASH && startsEscape(s, start, end - 2)) return 2;
  return unicodeEscapeBefore(s, start, end, 100 /* d */) ? 6 : 0;
}

/**
 * A line in Docker's own shape (see decodeDockerFast) keeps its `log` text as JSON, validated by
 * one regexp scan: whole (the final newline escape cut off) or partial (merged as JSON text, see
 * JsonFragment). Undefined for anything else: the caller falls back to decodeDocker.
 */
function decodeDockerShapeKeepingJson(line: string, end: number): DecodedLine | JsonMessageLine | undefined {
  // The fixed frame first, from both ends: `{"log":"` ... `","stream":"stdout","time":"<time>"}`.
  if (!line.startsWith(LOG_PREFIX) || line.charCodeAt(end - 1) !== 125 /* } */ || line.charCodeAt(end - 2) !== 34 /* " */) return undefined;
  const timeStart = line.lastIndexOf(TIME_KEY, end) + TIME_KEY.length;
  const timeEnd = end - 2;
  const logEnd = timeStart - TIME_OFFSET;
  if (logEnd < LOG_PREFIX.length || !line.startsWith(STREAM_KEY, logEnd) || !isRfc3339(line, timeStart, timeEnd)) return undefined;
  const streamStart = logEnd + STREAM_KEY.length;
  let stream: Stream;
  if (line.startsWith('stdout', streamStart)) stream = 'stdout';
  else if (line.startsWith('stderr', streamStart)) stream = 'stderr';
  else return undefined;

  const bodyStart = LOG_PREFIX.length;
  const timestamp = line.slice(timeStart, timeEnd);
  // The text between, validated: one JSON string, closed right at the frame.
  JSON_STRING_TEXT.lastIndex = bodyStart;
  if (!JSON_STRING_TEXT.test(line) || JSON_STRING_TEXT.lastIndex !== logEnd + 1) return undefined;
  // Docker ends a whole line with "\n"; without it the line is partial, its text kept whole.
  const newline = newlineEscapeBefore(line, bodyStart, logEnd);
  // The message ends before its newline, or CRLF: one terminator, as decodeDocker cuts it.
  const cut = newline === 0 ? logEnd : logEnd - newline - carriageReturnEscapeBefore(line, bodyStart, logEnd - newline);
  // The text in its quotes. A lone surrogate is valid JSON text but would not survive
  // UTF-8 output (JSON.stringify writes it as an escape): such a line is decoded instead.
  const literal = newline === 0 ? line.slice(bodyStart - 1, logEnd + 1) : line.slice(bodyStart - 1, cut) + '"';
  if (!isWellFormed(literal)) return decodedShape(line, bodyStart, logEnd, timestamp, stream);
  return jsonMessageLine(timestamp, stream, newline === 0, literal);
}

/**
 * The text of a line in Docker's shape, decoded by JSON.parse of just its string (which checks
 * it is one valid string, closed at `logEnd`); undefined when it is not.
 */
function decodedShape(line: string, bodyStart: number, logEnd: number, timestamp: string, stream: Stream): DecodedLine | undefined {
  let log: unknown;
  try {
    log = JSON.parse(line.slice(bodyStart - 1, logEnd + 1));
  } catch {
    return undefined; // not one valid JSON string: the general path says what is wrong
  }
  return message(log as string, timestamp, stream);
}

/**
 * decodeDocker for callers that write the message out as JSON again: a line in Docker's own shape,
 * whole or partial, comes back as a JsonMessageLine, its `log` text validated and kept instead of
 * decoded and re-encoded. Anything else exactly as decodeDocker (a property test checks both agree).
 */
export function decodeDockerKeepingJson(line: string): DecodeResult | JsonMessageLine {
  const end = contentEnd(line);
  return (end > 0 ? decodeDockerShapeKeepingJson(line, end) : undefined) ?? decodeDocker(line);
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
