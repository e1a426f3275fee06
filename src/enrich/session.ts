/**
 * Partial-line state of one request or one /v1/ingest connection: runtime lines split into
 * fragments (CRI `P`, Docker lines without a newline) are merged by the session's PartialMerger
 * until the fragment that ends the line arrives, then enriched as one line. Lines of pods with a
 * multiline annotation then go through the session's MultilineJoiner (made on first use), which
 * holds the lines of a record until it ends; both are flushed by the same timers and at the end.
 */
import { PartialMerger } from '../formats/index.ts';
import type { DecodedLine, JsonMessageLine, PartialMergerOptions, Stream } from '../formats/index.ts';
import { MultilineJoiner, type JoinStats, type MultilineJoinerOptions } from '../multiline/index.ts';
import type { RouteCounters } from './counters.ts';
import type { BatchResult, MergeSession } from './types.ts';

/** The enricher a session belongs to: it enriches what the session's merger lets go. */
export interface SessionOwner {
  emitFlushed(session: Session, which: 'all' | 'expired'): BatchResult;
}

/** A line as the joiner holds it: a MergedLine is one; `messageJson` is kept for a line that goes out alone. */
export interface SessionLine {
  readonly timestamp: string;
  readonly stream: Stream | undefined;
  readonly message: string;
  readonly messageJson: string | undefined;
}

const NO_JOINS: JoinStats = { eventsJoined: 0, linesJoined: 0, splits: 0, timeouts: 0 };

export class Session implements MergeSession {
  /** Fragments carry their event's pass-through text (see RawEventReader.passThrough). */
  readonly merger: PartialMerger<string>;
  readonly route: string;
  readonly counters: RouteCounters | undefined;
  /** False: lines go out as they come, whatever their pod's multiline rule (SessionOptions.multiline). */
  readonly joins: boolean;
  readonly #owner: SessionOwner;
  readonly #joinerOptions: MultilineJoinerOptions;
  #joiner: MultilineJoiner<SessionLine, string> | undefined;
  /** The joiner's stats as last published (see joinStatsSincePublished). */
  #published: JoinStats = NO_JOINS;

  constructor(owner: SessionOwner, mergerOptions: PartialMergerOptions, joinerOptions: MultilineJoinerOptions, route: string, counters: RouteCounters | undefined, joins = true) {
    this.#owner = owner;
    this.joins = joins;
    this.merger = new PartialMerger<string>(mergerOptions);
    this.#joinerOptions = joinerOptions;
    this.route = route;
    this.counters = counters;
  }

  /** The multi-line joiner, made for the first line of an annotated pod. */
  get joiner(): MultilineJoiner<SessionLine, string> {
    return (this.#joiner ??= new MultilineJoiner<SessionLine, string>(this.#joinerOptions));
  }

  /** Records held by the joiner (0 when it was never needed). */
  get joinsPending(): number {
    return this.#joiner === undefined ? 0 : this.#joiner.pendingCount;
  }

  /** How the joiner's stats moved since the last call (for the metrics). */
  joinStatsSincePublished(): JoinStats | undefined {
    const j = this.#joiner;
    if (j === undefined || j.stats.eventsJoined + j.stats.splits === this.#published.eventsJoined + this.#published.splits) return undefined;
    const now = { ...j.stats };
    const was = this.#published;
    this.#published = now;
    return { eventsJoined: now.eventsJoined - was.eventsJoined, linesJoined: now.linesJoined - was.linesJoined, splits: now.splits - was.splits, timeouts: now.timeouts - was.timeouts };
  }

  get pendingBytes(): number {
    return this.merger.pendingBytes;
  }

  belongsTo(owner: SessionOwner): boolean {
    return this.#owner === owner;
  }

  /**
   * Whether a decoded line of `file` goes through the merger: fragments do, and so do whole
   * lines of a file and stream with a line pending (they may end it); the rest skips it.
   */
  merges(file: string, line: DecodedLine | JsonMessageLine): boolean {
    return line.partial || this.merger.isPending(file, line.stream);
  }

  flush(): BatchResult {
    return this.#owner.emitFlushed(this, 'all');
  }

  /** Emits the partial lines whose final fragment is overdue (call from a timer, see nextFlushAt). */
  flushExpired(): BatchResult {
    return this.#owner.emitFlushed(this, 'expired');
  }

  /** When flushExpired() next has something to emit (epoch ms), or undefined. */
  nextFlushAt(): number | undefined {
    const merge = this.merger.nextFlushAt();
    const join = this.#joiner?.nextFlushAt();
    if (join === undefined) return merge;
    return merge === undefined ? join : Math.min(merge, join);
  }

  /** The longest a pending line or record waits for flushExpired (the larger of the two timeouts). */
  get maxFlushDelayMs(): number {
    return Math.max(this.merger.flushTimeoutMs, this.#joinerOptions.flushTimeoutMs);
  }
}
