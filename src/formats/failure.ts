import type { DecodeFailure } from './types.ts';

const SNIPPET_CHARS = 40;

/** A short, JSON-quoted excerpt of untrusted input for an error detail (never the whole line). */
export function snippet(s: string, start = 0, end = s.length): string {
  const stop = Math.min(end, start + SNIPPET_CHARS);
  return JSON.stringify(s.slice(start, stop)) + (end > stop ? '…' : '');
}

export function failure(error: DecodeFailure['error'], detail: string): DecodeFailure {
  return { error, detail };
}

/** Length of `line` without one line terminator: `\n`, `\r\n`, or a lone `\r` left by a reader that split on `\n`. */
export function contentEnd(line: string): number {
  let end = line.length;
  if (end > 0 && line.charCodeAt(end - 1) === 10) end--;
  if (end > 0 && line.charCodeAt(end - 1) === 13) end--;
  return end;
}
