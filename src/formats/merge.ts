/**
 * Partial-line merging. Runtimes split long lines (containerd and Docker at 16 KiB, CRI-O at its
 * buffer size) into fragments: CRI `P` lines, or Docker `log` values without a trailing newline,
 * ended by a final fragment. A `PartialMerger` folds them back into one line per key (the file)
 * and stream, since stdout and stderr fragments of one container interleave in one file.
 *
 * Owners drive it: a per-request session calls `flushAll()` at the end of the request, a
 * per-connection session on close, the file tailer `flushKey(file)` when a file goes away, and all
 * of them `flushExpired()` from a timer (see `nextFlushAt()`). The merger has no timer of its own.
 * Bound and timeout behaviour: docs/formats.md.
 */
import { Buffer } from 'node:buffer';
import type { Stream } from './types.ts';

/** What the merger needs of a decoded line (a `DecodedLine` is one). */
export interface Fragment {
  timestamp: string;
  stream: Stream;
  partial: boolean;
  message: string;
}

/**
 * A fragment whose text is still JSON: `messageJson` is a JSON string literal (quotes included)
 * that is valid and well-formed, as decodeLineKeepingJson keeps a Docker `log`. Fragments of one
 * line that all come this way are joined as JSON text, so a caller that writes the line out as
 * JSON again never decodes and re-encodes it (a `JsonMessageLine` is one).
 */
export interface JsonFragment {
  timestamp: string;
  stream: Stream;
  partial: boolean;
  messageJson: string;
}

/** One logical line, as the container wrote it. */
export interface MergedLine<C = undefined> {
  /** The key the fragments were pushed under (the log file). */
  key: string;
  /** The FIRST fragment's timestamp: when the container started writing the line. */
  timestamp: string;
  stream: Stream;
  /** The fragments' messages joined; at most `maxMergedLineBytes` UTF-8 bytes when it had to be cut. */
  readonly message: string;
  /**
   * The same text as a JSON string literal, when every fragment came as a JsonFragment and the
   * line was not cut (then `message` is decoded from it only if read); otherwise undefined.
   */
  readonly messageJson: string | undefined;
  /** Physical lines folded into this one (1: the line was not split). */
  fragments: number;
  /** The line exceeded `maxMergedLineBytes`: `message` is its first bytes, the rest was dropped. */
  truncated: boolean;
  /** Emitted by a flush (timeout, end of request, file gone) before its final fragment arrived. */
  incomplete: boolean;
  /** What the caller passed with the first fragment (for example the raw event to pass fields through). */
  context: C | undefined;
}

/** Monotonic counters, for the owner to turn into metrics. */
export interface MergeStats {
  /** Fragments folded into an emitted line beyond its first (sum of `fragments - 1`). */
  fragmentsMerged: number;
  /** Lines cut at `maxMergedLineBytes`. */
  linesTruncated: number;
  /** UTF-8 bytes dropped after a cut, until the line's final fragment. */
  bytesDropped: number;
  /** Fragments that arrived after the cut and were dropped whole. */
  fragmentsDropped: number;
  /** Lines emitted by a flush without their final fragment. */
  linesIncomplete: number;
}

export interface PartialMergerOptions {
  /** Bound on one merged line, in UTF-8 bytes (enrichment.maxMergedLineBytes, source.maxMergedLineBytes). */
  maxMergedLineBytes: number;
  /**
   * A pending line with no new fragment for this long is emitted `incomplete` by `flushExpired`:
   * a final fragment that never comes is the container's last, newline-less output
   * (enrichment.partialFlushTimeout, source.partialFlushTimeout).
   */
  flushTimeoutMs: number;
  /** Clock in milliseconds (default `Date.now`). */
  now?: () => number;
}

interface Pending<C> {
  key: string;
  stream: Stream;
  timestamp: string;
  /** The text so far, while `json` is undefined. */
  message: string;
  /**
   * The text so far as JSON string text (no quotes), while every fragment came as JSON; `bytes`
   * then counts its UTF-8 bytes, escapes included, which is never less than the text's own.
   */
  json: string | undefined;
  /** UTF-8 bytes of the text (of the JSON text while `json` is set). */
  bytes: number;
  fragments: number;
  lastAt: number;
  context: C | undefined;
  /** The bound was hit and the truncated line emitted: drop fragments until the final one. */
  discarding: boolean;
  /** Start order, so flushes emit in the order lines began. */
  seq: number;
}

interface StreamSlots<C> {
  stdout: Pending<C> | undefined;
  stderr: Pending<C> | undefined;
}

function utf8Bytes(s: string): number {
  return Buffer.byteLength(s, 'utf8');
}

function isJsonFragment(f: Fragment | JsonFragment): f is JsonFragment {
  return (f as JsonFragment).messageJson !== undefined;
}

/** The JSON string text between a literal's quotes. */
function jsonText(literal: string): string {
  return literal.slice(1, literal.length - 1);
}

function textOf(f: Fragment | JsonFragment): string {
  return isJsonFragment(f) ? (JSON.parse(f.messageJson) as string) : f.message;
}

/** An emitted line; a line joined as JSON is decoded only when its `message` is read. */
class Merged<C> implements MergedLine<C> {
  readonly key: string;
  readonly timestamp: string;
  readonly stream: Stream;
  readonly messageJson: string | undefined;
  readonly fragments: number;
  readonly truncated: boolean;
  readonly incomplete: boolean;
  readonly context: C | undefined;
  #message: string | undefined;

  constructor(
    key: string,
    timestamp: string,
    stream: Stream,
    message: string | undefined,
    messageJson: string | undefined,
    fragments: number,
    truncated: boolean,
    incomplete: boolean,
    context: C | undefined,
  ) {
    this.key = key;
    this.timestamp = timestamp;
    this.stream = stream;
    this.#message = message;
    this.messageJson = messageJson;
    this.fragments = fragments;
    this.truncated = truncated;
    this.incomplete = incomplete;
    this.context = context;
  }

  get message(): string {
    return (this.#message ??= JSON.parse(this.messageJson!) as string);
  }
}

/** Length (in UTF-16 units) of the longest prefix of `s` that fits `maxBytes` of UTF-8, never splitting a character. */
export function utf8PrefixLength(s: string, maxBytes: number): number {
  let bytes = 0;
  let i = 0;
  while (i < s.length) {
    const c = s.charCodeAt(i);
    let size: number;
    let units = 1;
    if (c < 0x80) size = 1;
    else if (c < 0x800) size = 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      size = 4;
      units = 2;
    } else size = 3; // BMP, or a lone surrogate (encoded as U+FFFD)
    if (bytes + size > maxBytes) break;
    bytes += size;
    i += units;
  }
  return i;
}

function positiveInteger(name: string, value: number): number {
  if (!Number.isSafeInteger(value) || value < 1) throw new RangeError(`${name} must be a positive integer, got ${value}`);
  return value;
}

function byStart<C>(a: Pending<C>, b: Pending<C>): number {
  return a.seq - b.seq;
}

export class PartialMerger<C = undefined> {
  readonly maxMergedLineBytes: number;
  readonly flushTimeoutMs: number;
  readonly stats: MergeStats = { fragmentsMerged: 0, linesTruncated: 0, bytesDropped: 0, fragmentsDropped: 0, linesIncomplete: 0 };
  readonly #now: () => number;
  readonly #slots = new Map<string, StreamSlots<C>>();
  #pendingCount = 0;
  #pendingBytes = 0;
  #seq = 0;

  constructor(options: PartialMergerOptions) {
    this.maxMergedLineBytes = positiveInteger('maxMergedLineBytes', options.maxMergedLineBytes);
    const timeout = options.flushTimeoutMs;
    if (!Number.isFinite(timeout) || timeout < 0) throw new RangeError(`flushTimeoutMs must be a finite number >= 0, got ${timeout}`);
    this.flushTimeoutMs = timeout;
    this.#now = options.now ?? Date.now;
  }

  /** Lines started and not yet emitted or finished (including ones being dropped after a cut). */
  get pendingCount(): number {
    return this.#pendingCount;
  }

  /** UTF-8 bytes held for pending lines. */
  get pendingBytes(): number {
    return this.#pendingBytes;
  }

  /** Whether a line of `key` and `stream` waits for its final fragment: a whole line there must go through push(). */
  isPending(key: string, stream: Stream): boolean {
    if (this.#pendingCount === 0) return false;
    const slots = this.#slots.get(key);
    return slots !== undefined && slots[stream] !== undefined;
  }

  /**
   * Adds one decoded line. Returns the logical line it completes (a whole line comes straight
   * back), the truncated line when this fragment crossed the bound, or undefined while the line
   * is still open. `context` is kept from the first fragment.
   */
  push(key: string, fragment: Fragment | JsonFragment, context?: C): MergedLine<C> | undefined {
    // The common case: nothing pending anywhere, a whole line.
    if (this.#pendingCount === 0 && !fragment.partial) return whole(key, fragment, context);
    const slots = this.#slots.get(key);
    const pending = slots === undefined ? undefined : slots[fragment.stream];
    if (pending === undefined) {
      if (!fragment.partial) return whole(key, fragment, context);
      return this.#start(key, slots, fragment, context);
    }
    return this.#append(pending, slots!, fragment);
  }

  /** Emits the lines whose last fragment is at least `flushTimeoutMs` old, as `incomplete`. */
  flushExpired(now: number = this.#now()): MergedLine<C>[] {
    if (this.#pendingCount === 0) return [];
    const expired: Pending<C>[] = [];
    for (const slots of this.#slots.values()) {
      if (slots.stdout !== undefined && now - slots.stdout.lastAt >= this.flushTimeoutMs) expired.push(slots.stdout);
      if (slots.stderr !== undefined && now - slots.stderr.lastAt >= this.flushTimeoutMs) expired.push(slots.stderr);
    }
    return this.#flush(expired);
  }

  /** Emits everything pending for one key (its file was deleted, rotated away or closed). */
  flushKey(key: string): MergedLine<C>[] {
    const slots = this.#slots.get(key);
    if (slots === undefined) return [];
    const pending: Pending<C>[] = [];
    if (slots.stdout !== undefined) pending.push(slots.stdout);
    if (slots.stderr !== undefined) pending.push(slots.stderr);
    return this.#flush(pending);
  }

  /** Emits everything pending (end of a request, connection closed, shutdown). */
  flushAll(): MergedLine<C>[] {
    if (this.#pendingCount === 0) return [];
    const pending: Pending<C>[] = [];
    for (const slots of this.#slots.values()) {
      if (slots.stdout !== undefined) pending.push(slots.stdout);
      if (slots.stderr !== undefined) pending.push(slots.stderr);
    }
    return this.#flush(pending);
  }

  /** When `flushExpired` next has something to do (ms, on the injected clock), or undefined when nothing is pending. */
  nextFlushAt(): number | undefined {
    let oldest = Infinity;
    for (const slots of this.#slots.values()) {
      if (slots.stdout !== undefined && slots.stdout.lastAt < oldest) oldest = slots.stdout.lastAt;
      if (slots.stderr !== undefined && slots.stderr.lastAt < oldest) oldest = slots.stderr.lastAt;
    }
    return oldest === Infinity ? undefined : oldest + this.flushTimeoutMs;
  }

  #start(key: string, slots: StreamSlots<C> | undefined, fragment: Fragment | JsonFragment, context: C | undefined): MergedLine<C> | undefined {
    let message = '';
    let json: string | undefined;
    let bytes = 0;
    if (isJsonFragment(fragment)) {
      json = jsonText(fragment.messageJson);
      bytes = utf8Bytes(json);
    }
    if (json === undefined || bytes > this.maxMergedLineBytes) {
      // Text, or JSON text past the bound (only the text itself can say whether and where to cut).
      json = undefined;
      message = textOf(fragment);
      bytes = utf8Bytes(message);
    }
    const pending: Pending<C> = {
      key,
      stream: fragment.stream,
      timestamp: fragment.timestamp,
      message,
      json,
      bytes,
      fragments: 1,
      lastAt: this.#now(),
      context,
      discarding: false,
      seq: this.#seq++,
    };
    let cut: MergedLine<C> | undefined;
    if (bytes > this.maxMergedLineBytes) {
      cut = this.#truncate(pending, '', 0, message, bytes);
    } else {
      this.#pendingBytes += bytes;
    }
    if (slots === undefined) {
      slots = { stdout: undefined, stderr: undefined };
      this.#slots.set(key, slots);
    }
    slots[fragment.stream] = pending;
    this.#pendingCount++;
    return cut;
  }

  #append(pending: Pending<C>, slots: StreamSlots<C>, fragment: Fragment | JsonFragment): MergedLine<C> | undefined {
    pending.lastAt = this.#now();
    if (pending.discarding) {
      this.stats.bytesDropped += utf8Bytes(textOf(fragment));
      this.stats.fragmentsDropped++;
      if (!fragment.partial) this.#remove(pending, slots);
      return undefined;
    }
    pending.fragments++;
    if (pending.json !== undefined) {
      if (isJsonFragment(fragment)) {
        const json = jsonText(fragment.messageJson);
        const bytes = utf8Bytes(json);
        // Within the bound even escaped: the text is too, no cut. Otherwise decide on the text.
        if (pending.bytes + bytes <= this.maxMergedLineBytes) {
          pending.json += json;
          pending.bytes += bytes;
          this.#pendingBytes += bytes;
          if (fragment.partial) return undefined;
          this.#remove(pending, slots);
          return this.#emit(pending, undefined, `"${pending.json}"`, false, false);
        }
      }
      this.#decodePending(pending);
    }
    const text = textOf(fragment);
    const bytes = utf8Bytes(text);
    if (pending.bytes + bytes > this.maxMergedLineBytes) {
      this.#pendingBytes -= pending.bytes;
      const cut = this.#truncate(pending, pending.message, pending.bytes, text, bytes);
      if (!fragment.partial) this.#remove(pending, slots);
      return cut;
    }
    pending.message += text;
    pending.bytes += bytes;
    this.#pendingBytes += bytes;
    if (fragment.partial) return undefined;
    this.#remove(pending, slots);
    return this.#emit(pending, pending.message, undefined, false, false);
  }

  /** A line joined as JSON so far goes on as text: decoded, its bytes counted exactly. */
  #decodePending(pending: Pending<C>): void {
    const text = JSON.parse(`"${pending.json!}"`) as string;
    const bytes = utf8Bytes(text);
    this.#pendingBytes += bytes - pending.bytes;
    pending.message = text;
    pending.bytes = bytes;
    pending.json = undefined;
  }

  /** Emits `head` plus as much of `tail` as fits, and switches the pending line to dropping. */
  #truncate(pending: Pending<C>, head: string, headBytes: number, tail: string, tailBytes: number): MergedLine<C> {
    const room = this.maxMergedLineBytes - headBytes;
    const kept = tail.slice(0, utf8PrefixLength(tail, room));
    this.stats.linesTruncated++;
    this.stats.bytesDropped += tailBytes - utf8Bytes(kept);
    const out = this.#emit(pending, head + kept, undefined, true, false);
    pending.discarding = true;
    pending.message = '';
    pending.json = undefined;
    pending.bytes = 0;
    pending.context = undefined;
    return out;
  }

  #emit(pending: Pending<C>, message: string | undefined, messageJson: string | undefined, truncated: boolean, incomplete: boolean): MergedLine<C> {
    this.stats.fragmentsMerged += pending.fragments - 1;
    if (incomplete) this.stats.linesIncomplete++;
    return new Merged(pending.key, pending.timestamp, pending.stream, message, messageJson, pending.fragments, truncated, incomplete, pending.context);
  }

  #remove(pending: Pending<C>, slots: StreamSlots<C>): void {
    slots[pending.stream] = undefined;
    if (slots.stdout === undefined && slots.stderr === undefined) this.#slots.delete(pending.key);
    this.#pendingCount--;
    this.#pendingBytes -= pending.bytes;
  }

  #flush(pending: Pending<C>[]): MergedLine<C>[] {
    pending.sort(byStart);
    const out: MergedLine<C>[] = [];
    for (const p of pending) {
      this.#remove(p, this.#slots.get(p.key)!);
      // A line being dropped after its cut was already emitted; nothing more to say.
      if (p.discarding) continue;
      out.push(p.json === undefined ? this.#emit(p, p.message, undefined, false, true) : this.#emit(p, undefined, `"${p.json}"`, false, true));
    }
    return out;
  }
}

function whole<C>(key: string, fragment: Fragment | JsonFragment, context: C | undefined): MergedLine<C> {
  const json = isJsonFragment(fragment);
  return new Merged(key, fragment.timestamp, fragment.stream, json ? undefined : fragment.message, json ? fragment.messageJson : undefined, 1, false, false, context);
}
