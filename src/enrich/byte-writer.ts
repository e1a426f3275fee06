/**
 * The byte buffers enriched records are written into, and who may write them when: the one place
 * that rule lives. A `ByteWriter` is written by its owner; handing its bytes to someone who reads
 * them later (a socket, a sink) is a loan, `lend()`, ended by the borrower's `release()` (or by
 * `ByteWriterPool.give()`). While lent, every write, `reset()` or second `lend()` throws
 * `BufferOwnershipError`, and so does a second hand-back: a buffer still being sent can never be
 * overwritten in silence.
 *
 * The checks cost the hot path nothing: a lent writer swaps its buffer for an empty one, so each
 * write's existing room check fails and `reserve()`, the slow path, finds the loan. With
 * KUBE_LOG_ENRICHER_DEBUG_BUFFERS=1 (on in tests, see .taprc) a returned buffer is also filled
 * with NUL bytes, so a reader that kept a view past its hand-back reads garbage that no JSON
 * parser accepts.
 *
 * Records write their pre-encoded template bytes and their per-line values straight in
 * (record.ts), so no record is ever built as one concatenated string that V8 would have to
 * flatten before encoding it: at ~1 KB a record, that flattening cost as much as the enrichment
 * itself.
 */

/** The debug mode's switch, read once at start-up. */
export const DEBUG_BUFFERS_ENV = 'KUBE_LOG_ENRICHER_DEBUG_BUFFERS';
const POISONING = process.env[DEBUG_BUFFERS_ENV] === '1';
/** What a returned buffer is filled with in the debug mode: invalid anywhere in JSON. */
const POISON = 0x00;
/** A lent writer's stand-in buffer: no room, so every write reaches reserve(). */
const NO_ROOM = Buffer.alloc(0);

/** A buffer written while lent, lent twice, or handed back twice: a bug of the caller. */
export class BufferOwnershipError extends Error {
  readonly code = 'buffer_ownership';
  constructor(message: string) {
    super(message);
    this.name = 'BufferOwnershipError';
  }
}

/** Out of line, so that reserve(), called for every record, stays small enough to inline. */
function writtenWhileLent(): never {
  throw new BufferOwnershipError('a lent buffer was written before it was released');
}

/** True when returned buffers are poisoned (KUBE_LOG_ENRICHER_DEBUG_BUFFERS=1). */
export function buffersPoisoned(): boolean {
  return POISONING;
}

export class ByteWriter {
  #buffer: Buffer;
  #offset = 0;
  /** While lent: the real buffer (#buffer is then NO_ROOM). */
  #lent: Buffer | undefined;

  /** `expectedBytes`: a good guess saves growing (each growth copies what was written). */
  constructor(expectedBytes = 64 * 1024) {
    this.#buffer = Buffer.allocUnsafe(Math.max(64, expectedBytes));
  }

  /** Starts over in the same buffer; throws while it is lent. */
  reset(): void {
    if (this.#lent !== undefined) throw new BufferOwnershipError('a lent buffer was reset before it was released');
    this.#offset = 0;
  }

  /** Bytes the buffer holds before it has to grow. */
  get capacity(): number {
    return (this.#lent ?? this.#buffer).length;
  }

  get length(): number {
    return this.#offset;
  }

  /** True between lend() and release(). */
  get lent(): boolean {
    return this.#lent !== undefined;
  }

  /**
   * Makes room for `bytes` more bytes at once. Every write checks its own room anyway; reserving
   * a record's bound first only saves growing more than once.
   */
  reserve(bytes: number): void {
    if (this.#buffer.length - this.#offset >= bytes) return;
    if (this.#lent !== undefined) writtenWhileLent();
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
    if (this.#offset >= this.#buffer.length) this.reserve(1);
    this.#buffer[this.#offset++] = value;
  }

  /** A view of what was written, for the owner's own use now: valid until the writer is written to again. */
  view(): Buffer {
    return (this.#lent ?? this.#buffer).subarray(0, this.#offset);
  }

  /** What was written, handed to a reader: the writer cannot be written again until release(). */
  lend(): Buffer {
    if (this.#lent !== undefined) throw new BufferOwnershipError('a buffer was lent twice');
    const view = this.#buffer.subarray(0, this.#offset);
    this.#lent = this.#buffer;
    this.#buffer = NO_ROOM;
    return view;
  }

  /** The reader is done with what lend() gave it (in debug mode, those bytes are poisoned). */
  release(): void {
    const buffer = this.#lent;
    if (buffer === undefined) throw new BufferOwnershipError('a buffer was released that was not lent (released twice?)');
    if (POISONING) buffer.fill(POISON, 0, this.#offset);
    this.#buffer = buffer;
    this.#lent = undefined;
  }

  /** Debug mode: fills the whole buffer, so that views of it kept by mistake read garbage. */
  poison(): void {
    if (POISONING) (this.#lent ?? this.#buffer).fill(POISON);
  }
}

/**
 * Writers kept for reuse: an answer's buffer goes back once its bytes have reached the socket.
 * A fresh multi-megabyte buffer per answer costs more than writing it: its memory is only freed
 * when V8 collects the Buffer, so every answer touches new pages (page faults, RSS swings).
 */
export class ByteWriterPool {
  readonly #free: ByteWriter[] = [];
  /** Writers taken and not given back yet: giving one back twice throws. */
  readonly #out = new WeakSet<ByteWriter>();
  readonly #keep: number;
  readonly #maxKeptBytes: number;
  readonly #expectedBytes: number;

  /** Keeps at most `keep` writers, none larger than `maxKeptBytes`; new ones start at `expectedBytes`. */
  constructor(keep = 4, maxKeptBytes = 8 * 1024 * 1024, expectedBytes = 64 * 1024) {
    this.#keep = keep;
    this.#maxKeptBytes = maxKeptBytes;
    this.#expectedBytes = expectedBytes;
  }

  /** An empty writer, the caller's until it gives it back. */
  take(): ByteWriter {
    const writer = this.#free.pop() ?? new ByteWriter(this.#expectedBytes);
    writer.reset();
    this.#out.add(writer);
    return writer;
  }

  /**
   * Hands a writer back, ending its loan if it is lent: whoever had its bytes must be done with
   * them. Throws for a writer given back twice (or not taken from this pool).
   */
  give(writer: ByteWriter): void {
    if (!this.#out.delete(writer)) throw new BufferOwnershipError('a writer was given back twice, or to a pool it was not taken from');
    if (writer.lent) writer.release();
    writer.poison();
    if (this.#free.length < this.#keep && writer.capacity <= this.#maxKeptBytes) this.#free.push(writer);
  }
}
