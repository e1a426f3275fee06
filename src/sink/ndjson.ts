/**
 * NDJSON encoding of serialised events straight into bytes: never one joined string per batch,
 * which at a megabyte a batch would land in V8's large-object space and make the heap grow at the
 * full input rate.
 */

/** Encodes into one reused buffer: for a sink that writes one batch at a time. */
export class NdjsonEncoder {
  private buffer = Buffer.allocUnsafe(1 << 20);

  /** The returned view is valid until the next call. */
  encode(lines: readonly string[]): Buffer {
    let offset = 0;
    for (const line of lines) {
      // A UTF-16 unit is at most 3 UTF-8 bytes; +1 for the newline.
      const worst = line.length * 3 + 1;
      if (this.buffer.length - offset < worst) this.grow(offset, offset + worst);
      offset += this.buffer.write(line, offset, 'utf8');
      this.buffer[offset++] = 0x0a;
    }
    return this.buffer.subarray(0, offset);
  }

  private grow(used: number, needed: number): void {
    const bigger = Buffer.allocUnsafe(Math.max(needed, this.buffer.length * 2));
    this.buffer.copy(bigger, 0, 0, used);
    this.buffer = bigger;
  }
}

/** A fresh buffer of exactly the batch's size (for a sink that keeps it, e.g. across retries). */
export function encodeNdjson(lines: readonly string[]): Buffer {
  let size = lines.length;
  for (const line of lines) size += Buffer.byteLength(line, 'utf8');
  const out = Buffer.allocUnsafe(size);
  let offset = 0;
  for (const line of lines) {
    offset += out.write(line, offset, 'utf8');
    out[offset++] = 0x0a;
  }
  return out;
}
