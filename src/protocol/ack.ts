/**
 * The acknowledgement line of /v1/ingest in acknowledged mode (`?ack=true`): every message gets
 * exactly one answer, in order, whose first line names the message it answers (`ack`, counted
 * from 1 per connection; null for lines flushed at the service's shutdown, which answer no
 * message) and what came of it, followed by `events` enriched events as NDJSON.
 */
export interface AckLine {
  ack: number | null;
  /** Enriched events following the line. */
  events: number;
  excluded?: number;
  merged?: number;
  /** Per-event errors (their details). */
  errors?: unknown[];
  /** The message as a whole could not be read: its error code, with `details`. */
  error?: string;
  details?: unknown[];
}

/** The line, newline included, to write before the events. */
export function ackLine(line: AckLine): string {
  return `${JSON.stringify(line)}\n`;
}

/** The line of an answer and the events after it; undefined when the answer starts with no such line. */
export function readAckLine(answer: Buffer): { line: AckLine; events: Buffer } | undefined {
  const newline = answer.indexOf(0x0a);
  let line: unknown;
  try {
    line = JSON.parse(answer.toString('utf8', 0, newline === -1 ? answer.length : newline));
  } catch {
    return undefined;
  }
  if (typeof line !== 'object' || line === null || !('ack' in line)) return undefined;
  return { line: line as AckLine, events: newline === -1 ? answer.subarray(answer.length) : answer.subarray(newline + 1) };
}
