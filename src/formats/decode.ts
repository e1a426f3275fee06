import { decodeCri } from './cri.ts';
import { decodeDocker, decodeDockerKeepingJson } from './docker.ts';
import { contentEnd, failure, snippet } from './failure.ts';
import type { DecodeResult, JsonMessageLine } from './types.ts';

/**
 * Decodes a line in whichever format it is: Docker json-file lines start with `{`, CRI lines with
 * the digits of their timestamp. Decided per line, so a node that moved from Docker to containerd
 * (old rotated files beside new ones) is read right.
 */
export function decodeLine(line: string): DecodeResult {
  const first = line.charCodeAt(0);
  if (first === 123 /* { */) return decodeDocker(line);
  if (first >= 48 && first <= 57) return decodeCri(line);
  const end = contentEnd(line);
  if (end === 0) return failure('empty_line', 'the line is empty');
  return failure(
    'unknown_format',
    `expected a CRI line (starting with an RFC 3339 timestamp) or a Docker json-file line (starting with "{"), got ${snippet(line, 0, end)}`,
  );
}

/**
 * decodeLine for callers that write the message out as JSON again (the enricher): a Docker
 * json-file line in Docker's own shape, whole or partial, comes back as a JsonMessageLine, its
 * `log` text validated and kept rather than decoded and re-encoded. Everything else exactly as
 * decodeLine.
 */
export function decodeLineKeepingJson(line: string): DecodeResult | JsonMessageLine {
  return line.charCodeAt(0) === 123 /* { */ ? decodeDockerKeepingJson(line) : decodeLine(line);
}
