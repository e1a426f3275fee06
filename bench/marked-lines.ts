/**
 * Lines the end-to-end benchmarks can recognise in the sink's output (bench/sink-reader.ts), in a
 * module of their own: the paced writer process imports it without the rest of the harness.
 */
import { criLine, rfc3339 } from '../test/builders/lines.ts';

/**
 * Marked lines: every message carries `kbid=<id> t=<µs>` (its id, and when the writer wrote it
 * on monoMicros(), 0 for lines written before the agent started), then filler to `size` bytes.
 * bench/sink-reader.ts finds the marker in the sink's output.
 */
export function markedMessage(id: number, writtenAtMicros: number, size: number): string {
  const head = `kbid=${id} t=${writtenAtMicros} `;
  return head + FILLER.slice(0, Math.max(0, size - head.length));
}
const FILLER = 'level=info msg=request_done method=GET path=/api/v1/orders status=200 latency_ms=12 user=4711 cache=miss upstream=orders-7d9f8b trace_id=4bf92f3577b34da6 span_id=00f067aa0ba902b7 bytes=5123'.repeat(4);

/** A CRI line as containerd writes it, newline included. */
export function criText(ms: number, message: string): string {
  return criLine({ ts: rfc3339(Math.floor(ms)), message, newline: '\n' });
}

