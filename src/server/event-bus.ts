/**
 * Fan-out of enriched events to /v1/stream subscribers. Every entry point publishes (the HTTP
 * routes, /v1/ingest, the in-process agent); with no subscribers a publish costs one size check.
 *
 * Its cost does not grow with the subscribers who share a filter: subscribers are grouped by
 * filter; a filter is evaluated once per publish for each distinct record origin (the file
 * metadata state every record of one pod container shares), not per record and subscriber; the
 * matching events are serialised once per publish, and every subscriber of a group is handed the
 * same bytes (a StreamChunk of at most MAX_EVENTS_PER_CHUNK events). Subscribers must never block
 * or throw: each decides locally what to queue and what to drop (stream-subscriber.ts).
 */
import { ByteWriter } from '../enrich/byte-writer.ts';
import type { EnrichedRecord, RecordOrigin } from '../enrich/types.ts';
import { labelSelectorMatches, type LabelSelector } from '../selectors/index.ts';

export interface StreamFilter {
  namespace?: string | undefined;
  pod?: string | undefined;
  container?: string | undefined;
  /** Matched against the pod's labels; events of unknown pods never match a non-empty selector. */
  labelSelector?: LabelSelector | undefined;
}

export function originMatches(filter: StreamFilter, origin: RecordOrigin): boolean {
  if (filter.namespace !== undefined && origin.namespace !== filter.namespace) return false;
  if (filter.pod !== undefined && origin.podName !== filter.pod) return false;
  if (filter.container !== undefined && origin.containerName !== filter.container) return false;
  const selector = filter.labelSelector;
  if (selector !== undefined && selector.requirements.length > 0) {
    if (origin.pod === undefined || !labelSelectorMatches(selector, origin.pod.labels)) return false;
  }
  return true;
}

/** Events as NDJSON, shared by every subscriber of one filter: never written to after it is made. */
export class StreamChunk {
  readonly bytes: Buffer;
  /** Where each event's line ends (after its newline). */
  readonly ends: Int32Array;

  constructor(bytes: Buffer, ends: Int32Array) {
    this.bytes = bytes;
    this.ends = ends;
  }

  get events(): number {
    return this.ends.length;
  }

  /** The first `count` events, copied: a queued part must not keep the whole chunk's memory. */
  head(count: number): StreamChunk {
    return new StreamChunk(Buffer.from(this.bytes.subarray(0, this.ends[count - 1])), this.ends.slice(0, count));
  }
}

export interface EventSubscriber {
  deliver(chunk: StreamChunk): void;
}

/** Events per chunk: large enough to be cheap, small enough to interleave and to bound what one message holds. */
export const MAX_EVENTS_PER_CHUNK = 500;
/** Serialised bytes held at once by a publish before the groups' chunks are cut (a large batch is sent on in parts). */
const MAX_SCRATCH_BYTES = 1024 * 1024;

/** The subscribers of one filter, and where its pending events' lines are in the bus's scratch buffer. */
class FilterGroup {
  readonly key: string;
  readonly filter: StreamFilter;
  readonly subscribers = new Set<EventSubscriber>();
  /** Runs of adjacent lines in the scratch buffer, as start, end, start, end... */
  readonly runs: number[] = [];
  /** The end of each pending line, counted from the first pending byte. */
  ends: number[] = [];
  bytes = 0;

  constructor(key: string, filter: StreamFilter) {
    this.key = key;
    this.filter = filter;
  }

  add(start: number, end: number): void {
    const runs = this.runs;
    if (runs.length > 0 && runs[runs.length - 1] === start) runs[runs.length - 1] = end;
    else runs.push(start, end);
    this.bytes += end - start;
    this.ends.push(this.bytes);
  }

  /** The pending lines in a buffer of their own; the group is empty after. */
  take(scratch: Buffer): StreamChunk {
    const bytes = Buffer.allocUnsafe(this.bytes);
    let offset = 0;
    for (let i = 0; i < this.runs.length; i += 2) offset += scratch.copy(bytes, offset, this.runs[i], this.runs[i + 1]);
    const chunk = new StreamChunk(bytes, Int32Array.from(this.ends));
    this.runs.length = 0;
    this.ends.length = 0;
    this.bytes = 0;
    return chunk;
  }
}

function filterKey(filter: StreamFilter): string {
  const requirements = filter.labelSelector?.requirements ?? [];
  return JSON.stringify([filter.namespace ?? null, filter.pod ?? null, filter.container ?? null, requirements.length === 0 ? null : requirements]);
}

const NO_GROUPS: readonly FilterGroup[] = [];

export class EventBus {
  readonly #groups = new Map<string, FilterGroup>();
  #groupList: FilterGroup[] = [];
  #subscriberCount = 0;
  /** Per publish: the groups each record origin matches. */
  readonly #byOrigin = new Map<RecordOrigin, readonly FilterGroup[]>();
  /** Where a publish's matching events are serialised, once, before being copied out per group. */
  readonly #scratch = new ByteWriter();

  get subscriberCount(): number {
    return this.#subscriberCount;
  }

  /** Returns the unsubscribe function. */
  subscribe(filter: StreamFilter, subscriber: EventSubscriber): () => void {
    const key = filterKey(filter);
    let group = this.#groups.get(key);
    if (group === undefined) {
      group = new FilterGroup(key, filter);
      this.#groups.set(key, group);
      this.#groupList = [...this.#groups.values()];
    }
    group.subscribers.add(subscriber);
    this.#subscriberCount++;
    const owner = group;
    return () => this.#remove(owner, subscriber);
  }

  publish(records: readonly EnrichedRecord[]): void {
    if (this.#subscriberCount === 0 || records.length === 0) return;
    const groups = this.#groupList;
    const byOrigin = this.#byOrigin;
    const out = this.#scratch;
    out.reset();
    for (let i = 0; i < records.length; i++) {
      const record = records[i]!;
      const origin = record.origin;
      let matching = byOrigin.get(origin);
      if (matching === undefined) {
        const found = groups.filter((g) => originMatches(g.filter, origin));
        matching = found.length === 0 ? NO_GROUPS : found;
        byOrigin.set(origin, matching);
      }
      if (matching.length === 0) continue;
      // Serialised once, whatever the number of groups and subscribers it goes to.
      const start = out.length;
      record.writeTo(out);
      out.byte(0x0a);
      const end = out.length;
      for (let g = 0; g < matching.length; g++) {
        const group = matching[g]!;
        group.add(start, end);
        if (group.ends.length === MAX_EVENTS_PER_CHUNK) this.#send(group);
      }
      if (end >= MAX_SCRATCH_BYTES) {
        for (const group of groups) if (group.ends.length > 0) this.#send(group);
        out.reset();
      }
    }
    byOrigin.clear();
    for (const group of groups) if (group.ends.length > 0) this.#send(group);
  }

  #send(group: FilterGroup): void {
    const chunk = group.take(this.#scratch.view());
    for (const subscriber of group.subscribers) {
      try {
        subscriber.deliver(chunk);
      } catch {
        // A broken subscriber must not stop the others or the publisher: it is dropped.
        this.#remove(group, subscriber);
      }
    }
  }

  #remove(group: FilterGroup, subscriber: EventSubscriber): void {
    if (!group.subscribers.delete(subscriber)) return;
    this.#subscriberCount--;
    if (group.subscribers.size === 0 && this.#groups.get(group.key) === group) {
      this.#groups.delete(group.key);
      this.#groupList = [...this.#groups.values()];
    }
  }
}
