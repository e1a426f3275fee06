/**
 * Joins the lines of one record (a stack trace) into one event, per key (the log file) and
 * stream: stdout and stderr of a container are separate streams, so a trace on stderr is joined
 * while stdout lines written between its lines go out on their own.
 *
 * The joined event has the first line's timestamp, stream and context, and the lines' messages
 * joined with "\n". A record is emitted when a line does not continue it (that line is then tried
 * as the start of the next record), when its rule ends it, and before a line that would take it
 * past `maxBytes` (the line then goes on as the head of the record's next part, so nothing is
 * dropped). Like the PartialMerger (src/formats/merge.ts) it has no timer: owners call
 * `flushExpired()` from theirs (see `nextFlushAt()`), `flushKey()` when a file goes away and
 * `flushAll()` at the end of a request or connection. Rules: rules.ts; docs/formats.md.
 */
import { Buffer } from 'node:buffer';
import { END, transitionFor, type MultilineRule } from './rules.ts';

/** What the joiner needs of a line (a DecodedLine or MergedLine is one). */
export interface JoinLine {
  readonly timestamp: string;
  readonly stream: 'stdout' | 'stderr' | undefined;
  readonly message: string;
}

/** Why an event left the joiner. */
export type JoinEnd =
  /** The line started no record (or its rule ended the record at once). */
  | 'single'
  /** Its rule's last line came (Python's exception line). */
  | 'rule'
  /** A line came that does not continue it. */
  | 'next_line'
  /** The next line would have taken it past maxBytes. */
  | 'max_bytes'
  /** No line came for flushTimeoutMs. */
  | 'timeout'
  /** Its file went away, or the request or connection ended. */
  | 'flush';

export interface JoinedEvent<L extends JoinLine, C> {
  readonly key: string;
  /** The first line: its timestamp and stream are the event's; when `lines` is 1 it is the event. */
  readonly first: L;
  /** Lines joined (1: the line went out on its own). */
  readonly lines: number;
  /** The lines' messages joined with "\n" (the first line's message when `lines` is 1). */
  readonly message: string;
  /** What the caller passed with the first line. */
  readonly context: C;
  /** The sum of the `weight`s pushed with its lines (the agent's raw bytes, for backpressure). */
  readonly weight: number;
  readonly end: JoinEnd;
}

export interface JoinStats {
  /** Events joined from two lines or more. */
  eventsJoined: number;
  /** Lines folded into an event beyond its first (sum of `lines - 1`). */
  linesJoined: number;
  /** Records emitted in parts because they reached maxBytes. */
  splits: number;
  /** Records emitted by flushExpired. */
  timeouts: number;
}

export interface MultilineJoinerOptions {
  /** Bound on one joined event's message, in UTF-8 bytes (enrichment.multiline.maxBytes). */
  maxBytes: number;
  /** A record with no new line for this long is emitted by flushExpired (enrichment.multiline.flushTimeout). */
  flushTimeoutMs: number;
  /** Clock in milliseconds (default `Date.now`). */
  now?: () => number;
}

interface Pending<L extends JoinLine, C> {
  readonly key: string;
  readonly slot: number;
  rule: MultilineRule;
  state: number;
  first: L;
  /** Messages so far; the first line's only while it is alone. */
  message: string;
  lines: number;
  bytes: number;
  weight: number;
  context: C;
  lastAt: number;
  /** Start order, so flushes emit in the order records began. */
  seq: number;
}

type Slots<L extends JoinLine, C> = [Pending<L, C> | undefined, Pending<L, C> | undefined, Pending<L, C> | undefined];

/** Slot of a stream: stdout, stderr, or none (an event posted without one). */
function slotOf(stream: 'stdout' | 'stderr' | undefined): number {
  return stream === 'stdout' ? 0 : stream === 'stderr' ? 1 : 2;
}

function bySeq<L extends JoinLine, C>(a: Pending<L, C>, b: Pending<L, C>): number {
  return a.seq - b.seq;
}

/** An emitted event (one shape for all, properties in one order). */
function joined<L extends JoinLine, C>(key: string, first: L, lines: number, message: string, context: C, weight: number, end: JoinEnd): JoinedEvent<L, C> {
  return { key, first, lines, message, context, weight, end };
}

export class MultilineJoiner<L extends JoinLine, C> {
  readonly maxBytes: number;
  readonly flushTimeoutMs: number;
  readonly stats: JoinStats = { eventsJoined: 0, linesJoined: 0, splits: 0, timeouts: 0 };
  readonly #now: () => number;
  readonly #slots = new Map<string, Slots<L, C>>();
  #pendingCount = 0;
  #seq = 0;

  constructor(options: MultilineJoinerOptions) {
    if (!Number.isSafeInteger(options.maxBytes) || options.maxBytes < 1) throw new RangeError(`maxBytes must be a positive integer, got ${options.maxBytes}`);
    if (!Number.isFinite(options.flushTimeoutMs) || options.flushTimeoutMs < 0) throw new RangeError(`flushTimeoutMs must be a finite number >= 0, got ${options.flushTimeoutMs}`);
    this.maxBytes = options.maxBytes;
    this.flushTimeoutMs = options.flushTimeoutMs;
    this.#now = options.now ?? Date.now;
  }

  /** Records started and not yet emitted. */
  get pendingCount(): number {
    return this.#pendingCount;
  }

  /** The context of the record pending for `key` and `stream`, if any (the agent's restart position). */
  pendingContext(key: string, stream: 'stdout' | 'stderr' | undefined): C | undefined {
    if (this.#pendingCount === 0) return undefined;
    return this.#slots.get(key)?.[slotOf(stream)]?.context;
  }

  /** Whether anything is pending for `key`. */
  hasPending(key: string): boolean {
    if (this.#pendingCount === 0) return false;
    const s = this.#slots.get(key);
    return s !== undefined && (s[0] !== undefined || s[1] !== undefined || s[2] !== undefined);
  }

  /**
   * Adds one line of `key` under `rule`; appends what it completes to `out`, in order: the
   * record it ended, then the line itself when it starts none. `weight` is summed per event.
   */
  push(key: string, line: L, rule: MultilineRule, context: C, weight: number, out: JoinedEvent<L, C>[]): void {
    const slot = slotOf(line.stream);
    const slots = this.#slots.get(key);
    const pending = slots?.[slot];
    const text = line.message;
    if (pending !== undefined) {
      const t = pending.rule === rule ? transitionFor(rule, pending.state, text) : undefined;
      if (t !== undefined) {
        const bytes = Buffer.byteLength(text, 'utf8') + 1;
        if (pending.bytes + bytes > this.maxBytes) {
          // The record goes out in parts: this one, and the line heading the next in the same state.
          this.stats.splits++;
          out.push(this.#take(pending, slots!, 'max_bytes'));
          if (t.next === END) {
            out.push(joined(key, line, 1, text, context, weight, 'rule'));
            return;
          }
          this.#hold(key, slot, rule, t.next, line, context, weight);
          return;
        }
        pending.message += '\n' + text;
        pending.lines++;
        pending.bytes += bytes;
        pending.weight += weight;
        pending.lastAt = this.#now();
        pending.state = t.next;
        if (t.next === END) out.push(this.#take(pending, slots!, 'rule'));
        return;
      }
      out.push(this.#take(pending, slots!, 'next_line'));
    }
    const t = transitionFor(rule, 0, text);
    if (t === undefined || t.next === END) {
      out.push(joined(key, line, 1, text, context, weight, 'single'));
      return;
    }
    this.#hold(key, slot, rule, t.next, line, context, weight);
  }

  /** Emits the records with no new line for at least flushTimeoutMs. */
  flushExpired(out: JoinedEvent<L, C>[], now: number = this.#now()): void {
    if (this.#pendingCount === 0) return;
    const expired: Pending<L, C>[] = [];
    for (const slots of this.#slots.values()) {
      for (const p of slots) if (p !== undefined && now - p.lastAt >= this.flushTimeoutMs) expired.push(p);
    }
    this.stats.timeouts += expired.length;
    this.#flush(expired, 'timeout', out);
  }

  /** Emits what is pending for one key (its file went away). */
  flushKey(key: string, out: JoinedEvent<L, C>[]): void {
    const slots = this.#slots.get(key);
    if (slots === undefined) return;
    this.#flush(slots.filter((p) => p !== undefined), 'flush', out);
  }

  /** Emits everything pending (end of a request, connection closed). */
  flushAll(out: JoinedEvent<L, C>[]): void {
    if (this.#pendingCount === 0) return;
    const all: Pending<L, C>[] = [];
    for (const slots of this.#slots.values()) for (const p of slots) if (p !== undefined) all.push(p);
    this.#flush(all, 'flush', out);
  }

  /** When flushExpired next has something to do (ms, on the injected clock), or undefined. */
  nextFlushAt(): number | undefined {
    if (this.#pendingCount === 0) return undefined;
    let oldest = Infinity;
    for (const slots of this.#slots.values()) for (const p of slots) if (p !== undefined && p.lastAt < oldest) oldest = p.lastAt;
    return oldest === Infinity ? undefined : oldest + this.flushTimeoutMs;
  }

  #hold(key: string, slot: number, rule: MultilineRule, state: number, line: L, context: C, weight: number): void {
    // Looked up again: taking the record before may have removed the key's slots.
    let slots = this.#slots.get(key);
    if (slots === undefined) {
      slots = [undefined, undefined, undefined];
      this.#slots.set(key, slots);
    }
    const text = line.message;
    slots[slot] = {
      key,
      slot,
      rule,
      state,
      first: line,
      message: text,
      lines: 1,
      bytes: Buffer.byteLength(text, 'utf8'),
      weight,
      context,
      lastAt: this.#now(),
      seq: this.#seq++,
    };
    this.#pendingCount++;
  }

  #take(p: Pending<L, C>, slots: Slots<L, C>, end: JoinEnd): JoinedEvent<L, C> {
    slots[p.slot] = undefined;
    this.#pendingCount--;
    if (slots[0] === undefined && slots[1] === undefined && slots[2] === undefined) this.#slots.delete(p.key);
    if (p.lines > 1) {
      this.stats.eventsJoined++;
      this.stats.linesJoined += p.lines - 1;
    }
    return joined(p.key, p.first, p.lines, p.message, p.context, p.weight, end);
  }

  #flush(pending: Pending<L, C>[], end: JoinEnd, out: JoinedEvent<L, C>[]): void {
    pending.sort(bySeq);
    for (const p of pending) out.push(this.#take(p, this.#slots.get(p.key)!, end));
  }
}
