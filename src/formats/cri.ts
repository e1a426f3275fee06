/**
 * The CRI log format written by containerd and CRI-O (conmon) and read by the kubelet:
 *
 *   <RFC 3339 timestamp> <stdout|stderr> <tags> <message>
 *
 * `tags` is `P` (the runtime split a longer line; more fragments follow) or `F` (the line ends
 * here), optionally followed by `:`-separated tags reserved for the future. See docs/formats.md for
 * empty messages and lines without a tag field.
 */
import { contentEnd, failure, snippet } from './failure.ts';
import { isRfc3339 } from './timestamp.ts';
import { decodedLine, type DecodeResult, type Stream } from './types.ts';

const SPACE = 32;
const COLON = 58;
const TAG_PARTIAL = 80; // P
const TAG_FULL = 70; // F

/** `stdout` or `stderr` at `i` followed by a space or the end of the content, else undefined. */
function streamAt(line: string, i: number, end: number): Stream | undefined {
  if (i + 6 > end || (i + 6 < end && line.charCodeAt(i + 6) !== SPACE)) return undefined;
  if (line.startsWith('stdout', i)) return 'stdout';
  if (line.startsWith('stderr', i)) return 'stderr';
  return undefined;
}

/**
 * Decodes one CRI line (with or without its trailing `\n` / `\r\n`). Never throws: a line that is
 * not CRI comes back as a `DecodeFailure` saying which field is wrong.
 */
export function decodeCri(line: string): DecodeResult {
  const end = contentEnd(line);
  if (end === 0) return failure('empty_line', 'the line is empty');

  const tsEnd = line.indexOf(' ');
  if (tsEnd < 0 || tsEnd >= end) {
    return failure('malformed_cri', `no space after the timestamp in ${snippet(line, 0, end)}`);
  }
  if (!isRfc3339(line, 0, tsEnd)) {
    return failure('malformed_cri', `timestamp ${snippet(line, 0, tsEnd)} is not RFC 3339 (like 2026-11-23T10:00:00.123456789Z)`);
  }

  const streamStart = tsEnd + 1;
  const stream = streamAt(line, streamStart, end);
  if (stream === undefined) {
    const fieldEnd = line.indexOf(' ', streamStart);
    return failure('malformed_cri', `stream ${snippet(line, streamStart, fieldEnd < 0 || fieldEnd > end ? end : fieldEnd)} is not "stdout" or "stderr"`);
  }

  const tagStart = streamStart + 7;
  if (tagStart > end) {
    return failure('malformed_cri', 'nothing follows the stream: expected a tag (P or F) and the message');
  }
  // Tag field: its first `:`-separated component must be exactly P or F. Anything else means the
  // line has no tag field (the format before CRI log tags) and the whole rest is the message.
  const first = line.charCodeAt(tagStart);
  let partial = false;
  let messageStart = tagStart;
  if ((first === TAG_PARTIAL || first === TAG_FULL) && tagStart < end) {
    const after = tagStart + 1 < end ? line.charCodeAt(tagStart + 1) : SPACE;
    if (after === SPACE) {
      partial = first === TAG_PARTIAL;
      messageStart = Math.min(tagStart + 2, end);
    } else if (after === COLON) {
      const space = line.indexOf(' ', tagStart + 2);
      partial = first === TAG_PARTIAL;
      messageStart = space < 0 || space >= end ? end : space + 1;
    }
  }

  return decodedLine('cri', line.slice(0, tsEnd), stream, partial, line.slice(messageStart, end));
}
