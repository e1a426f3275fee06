/**
 * One enriched event as the enricher hands it over: its file's pre-rendered template (layout.ts)
 * and the few per-line values that fill its holes. Nothing is concatenated per line: writeTo()
 * copies the template's UTF-8 bytes and encodes the values straight into the caller's buffer,
 * and `json` builds the text only for a caller that asks for it.
 */
import type { ByteWriter } from './byte-writer.ts';
import { SLOT_MESSAGE, SLOT_OBSERVED_NANOS, SLOT_TIME_NANOS, SLOT_TIMESTAMP_RAW, SLOT_TIMESTAMP_UTC, type Template } from './layout.ts';
import type { EnrichedRecord, RecordOrigin } from './types.ts';

/** Bytes reserved per non-message value: the longest is an RFC 3339 timestamp with an offset. */
const MAX_ASCII_VALUE = 40;

export class TemplateRecord implements EnrichedRecord {
  readonly #template: Template;
  readonly #origin: RecordOrigin;
  /** The message, JSON-encoded (quotes included). */
  readonly #message: string;
  readonly #timestampUtc: string;
  readonly #timestampRaw: string;
  readonly #timeNanos: string;
  readonly #observedNanos: string;
  /** Pass-through members as `,"key":value...` (without the leading comma when the template is empty), or ''. */
  readonly #extra: string;

  constructor(
    template: Template,
    origin: RecordOrigin,
    message: string,
    timestampUtc: string,
    timestampRaw: string,
    timeNanos: string,
    observedNanos: string,
    extra: string,
  ) {
    this.#template = template;
    this.#origin = origin;
    this.#message = message;
    this.#timestampUtc = timestampUtc;
    this.#timestampRaw = timestampRaw;
    this.#timeNanos = timeNanos;
    this.#observedNanos = observedNanos;
    this.#extra = extra;
  }

  get origin(): RecordOrigin {
    return this.#origin;
  }

  get json(): string {
    const t = this.#template;
    const last = t.slots.length;
    // parts[0] value parts[1] value ... value, then the tail: parts[last] with the closing brace.
    let out = last === 0 ? '' : t.parts[0]!;
    for (let i = 0; i < last; i++) {
      out += this.#value(t.slots[i]!);
      if (i < last - 1) out += t.parts[i + 1]!;
    }
    return this.#extra === '' ? out + t.closedTail : out + t.parts[last]! + this.#extra + '}';
  }

  /** At most this many UTF-8 bytes: a UTF-16 unit never takes more than 3. */
  get maxBytes(): number {
    return this.#template.fixedBytes + 3 * (this.#message.length + this.#extra.length) + MAX_ASCII_VALUE * this.#template.slots.length + 1;
  }

  writeTo(out: ByteWriter): void {
    const t = this.#template;
    const parts = t.partBytes;
    const slots = t.slots;
    const last = slots.length;
    out.reserve(this.maxBytes);
    if (last > 0) out.bytes(parts[0]!);
    for (let i = 0; i < last; i++) {
      const slot = slots[i]!;
      if (slot === SLOT_MESSAGE) out.utf8(this.#message);
      else out.ascii(this.#value(slot));
      if (i < last - 1) out.bytes(parts[i + 1]!);
    }
    if (this.#extra === '') {
      out.bytes(t.closedTailBytes);
      return;
    }
    out.bytes(parts[last]!);
    out.utf8(this.#extra);
    out.byte(0x7d); // }
  }

  #value(slot: number): string {
    switch (slot) {
      case SLOT_MESSAGE:
        return this.#message;
      case SLOT_TIMESTAMP_UTC:
        return this.#timestampUtc;
      case SLOT_TIMESTAMP_RAW:
        return this.#timestampRaw;
      case SLOT_TIME_NANOS:
        return this.#timeNanos;
      case SLOT_OBSERVED_NANOS:
        return this.#observedNanos;
      default:
        return '';
    }
  }
}
