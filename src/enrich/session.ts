/**
 * Partial-line state of one request or one /v1/ingest connection: runtime lines split into
 * fragments (CRI `P`, Docker lines without a newline) are merged by the session's PartialMerger
 * until the fragment that ends the line arrives, then enriched as one line.
 */
import { PartialMerger } from '../formats/index.ts';
import type { DecodedLine, JsonMessageLine, PartialMergerOptions } from '../formats/index.ts';
import type { RouteCounters } from './counters.ts';
import type { BatchResult, MergeSession } from './types.ts';

/** The enricher a session belongs to: it enriches what the session's merger lets go. */
export interface SessionOwner {
  emitFlushed(session: Session, which: 'all' | 'expired'): BatchResult;
}

export class Session implements MergeSession {
  /** Fragments carry their event's pass-through text (see RawEventReader.passThrough). */
  readonly merger: PartialMerger<string>;
  readonly route: string;
  readonly counters: RouteCounters | undefined;
  readonly #owner: SessionOwner;

  constructor(owner: SessionOwner, mergerOptions: PartialMergerOptions, route: string, counters: RouteCounters | undefined) {
    this.#owner = owner;
    this.merger = new PartialMerger<string>(mergerOptions);
    this.route = route;
    this.counters = counters;
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
    return this.merger.nextFlushAt();
  }
}
