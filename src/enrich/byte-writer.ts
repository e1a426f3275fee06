/**
 * A growable byte buffer that enriched records are written into, for an HTTP answer, a WebSocket
 * message or a sink's batch. Records write their pre-encoded template bytes and their per-line
 * values straight in (record.ts), so no record is ever built as one concatenated string that V8
 * would have to flatten before encoding it: at ~1 KB a record, that flattening cost as much as
 * the enrichment itself.
 */
export class ByteWriter {
  #buffer: Buffer;
  #offset = 0;

  /** `expectedBytes`: a good guess saves growing (each growth copies what was written). */
  constructor(expectedBytes = 64 * 1024) {
    this.#buffer = Buffer.allocUnsafe(Math.max(64, expectedBytes));
  }

  /** Starts over in the same buffer (views handed out before become invalid). */
  reset(): void {
    this.#offset = 0;
  }

  /** Bytes the buffer holds before it has to grow. */
  get capacity(): number {
    return this.#buffer.length;
  }

  get length(): number {
    return this.#offset;
  }

  /**
   * Makes room for `bytes` more bytes at once. Every write checks its own room anyway; reserving
   * a record's bound first only saves growing more than once.
   */
  reserve(bytes: number): void {
    if (this.#buffer.length - this.#offset >= bytes) return;
    const grown = Buffer.allocUnsafe(Math.max(this.#buffer.length * 2, this.#offset + bytes));
    this.#buffer.copy(grown, 0, 0, this.#offset);
    this.#buffer = grown;
  }

  /** Writes text as UTF-8. */
  utf8(text: string): void {
    // A UTF-16 unit never takes more than 3 bytes; measured only when that bound does not fit.
    if (this.#buffer.length - this.#offset < text.length * 3) this.reserve(Buffer.byteLength(text, 'utf8'));
    this.#offset += this.#buffer.write(text, this.#offset, 'utf8');
  }

  /** Writes text known to be ASCII (digits, RFC 3339 timestamps): one byte per character. */
  ascii(text: string): void {
    if (this.#buffer.length - this.#offset < text.length) this.reserve(text.length);
    this.#offset += this.#buffer.write(text, this.#offset, 'latin1');
  }

  bytes(bytes: Uint8Array): void {
    if (this.#buffer.length - this.#offset < bytes.length) this.reserve(bytes.length);
    this.#buffer.set(bytes, this.#offset);
    this.#offset += bytes.length;
  }

  byte(value: number): void {
    if (this.#offset === this.#buffer.length) this.reserve(1);
    this.#buffer[this.#offset++] = value;
  }

  /** A view of what was written: valid until the writer is written to again. */
  view(): Buffer {
    return this.#buffer.subarray(0, this.#offset);
  }
}

/**
 * Writers kept for reuse: an answer's buffer goes back once its bytes have reached the socket.
 * A fresh multi-megabyte buffer per answer costs more than writing it: its memory is only freed
 * when V8 collects the Buffer, so every answer touches new pages (page faults, RSS swings).
 */
export class ByteWriterPool {
  readonly #free: ByteWriter[] = [];
  readonly #keep: number;
  readonly #maxKeptBytes: number;

  /** Keeps at most `keep` writers, none larger than `maxKeptBytes`. */
  constructor(keep = 4, maxKeptBytes = 8 * 1024 * 1024) {
    this.#keep = keep;
    this.#maxKeptBytes = maxKeptBytes;
  }

  /** An empty writer. */
  take(): ByteWriter {
    const writer = this.#free.pop() ?? new ByteWriter();
    writer.reset();
    return writer;
  }

  /** Hands a writer back; the views it gave out must no longer be in use. */
  give(writer: ByteWriter): void {
    if (this.#free.length < this.#keep && writer.capacity <= this.#maxKeptBytes && !this.#free.includes(writer)) this.#free.push(writer);
  }
}
