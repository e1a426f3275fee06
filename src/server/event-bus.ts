/**
 * Fan-out of enriched events to /v1/stream subscribers. Every entry point publishes (the HTTP
 * routes, /v1/ingest, the in-process agent); with no subscribers a publish costs one size check.
 *
 * A publish only takes note of its records: the fan-out runs later, in steps the send scheduler
 * runs between the event loop's other work with a bounded share of the time (send-scheduler.ts),
 * so an /v1/enrich answer never waits for it and the requests being served keep most of the
 * time. Batches waiting for their fan-out are bounded (MAX_PENDING_EVENTS): one arriving beyond
 * that is dropped for its subscribers at once, counted and announced as any other drop.
 *
 * Its cost does not grow with the subscribers who share a filter: subscribers are grouped by
 * filter; a filter is evaluated once for each distinct record origin (the file metadata
 * state every record of one pod container shares), not per record and subscriber; the matching
 * events are serialised once, and every subscriber of a group is handed the same bytes (a
 * StreamChunk of at most MAX_EVENTS_PER_CHUNK events and about MAX_CHUNK_BYTES); groups whose
 * filters picked the same events share one chunk. Subscribers must never block or throw: each
 * decides locally what to queue and what to drop (stream-subscriber.ts).
 */
import { ByteWriter, type EnrichedRecord, type RecordOrigin } from '../enrich/index.ts';
import { labelSelectorMatches, type LabelSelector } from '../selectors/index.ts';
import { SendScheduler, type ScheduledSender, type SendSchedulerOptions } from './send-scheduler.ts';

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

  /**
   * The first `count` events. At least half of the chunk: a view of the same bytes (shared, as
   * the whole chunk is, by every subscriber whose queue it overflows); less: a copy, so that a
   * small part never keeps a large chunk's memory.
   */
  head(count: number): StreamChunk {
    const end = this.ends[count - 1]!;
    const bytes = end * 2 >= this.bytes.length ? this.bytes.subarray(0, end) : Buffer.from(this.bytes.subarray(0, end));
    return new StreamChunk(bytes, this.ends.subarray(0, count));
  }
}

export interface EventSubscriber {
  deliver(chunk: StreamChunk): void;
  /** `count` events for it were dropped before they were serialised (the fan-out fell behind). */
  skip(count: number): void;
}

/** Events per chunk: large enough to be cheap, small enough to interleave and to bound what one message holds. */
export const MAX_EVENTS_PER_CHUNK = 500;
/** Bytes serialised per fan-out step, and so about the most a chunk holds (one event more at most). */
export const MAX_CHUNK_BYTES = 256 * 1024;
/** Events published and waiting for their fan-out, at most (a batch arriving at an empty queue is taken whole). */
export const MAX_PENDING_EVENTS = 4 * MAX_EVENTS_PER_CHUNK;

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

  /**
   * The pending lines in a buffer of their own, or the chunk another group made of the very same
   * lines in this step (`taken`): filters that match alike share one copy. The group is empty after.
   */
  take(scratch: Buffer, taken: Map<string, StreamChunk>): StreamChunk {
    const runs = this.runs;
    const key = runs.join(',');
    let chunk = taken.get(key);
    if (chunk === undefined) {
      const bytes = Buffer.allocUnsafe(this.bytes);
      let offset = 0;
      for (let i = 0; i < runs.length; i += 2) offset += scratch.copy(bytes, offset, runs[i], runs[i + 1]);
      chunk = new StreamChunk(bytes, Int32Array.from(this.ends));
      taken.set(key, chunk);
    }
    runs.length = 0;
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

export class EventBus implements ScheduledSender {
  /** Runs the fan-out steps and the subscribers' sends. */
  readonly scheduler: SendScheduler;
  readonly #groups = new Map<string, FilterGroup>();
  #groupList: FilterGroup[] = [];
  #subscriberCount = 0;
  /** Batches waiting for their fan-out, oldest first; the first is done up to #pendingIndex. */
  #pending: (readonly EnrichedRecord[])[] = [];
  #pendingIndex = 0;
  #pendingEvents = 0;
  /** The groups each record origin matches, until the groups change (origins are shared by a file's records). */
  #byOrigin = new WeakMap<RecordOrigin, readonly FilterGroup[]>();
  /** Where a step's matching events are serialised, once, before being copied out per group. */
  readonly #scratch = new ByteWriter(MAX_CHUNK_BYTES + 64 * 1024);
  /** The chunks cut in this step, by the lines they hold. */
  readonly #taken = new Map<string, StreamChunk>();

  constructor(options: SendSchedulerOptions) {
    this.scheduler = new SendScheduler(options);
  }

  get subscriberCount(): number {
    return this.#subscriberCount;
  }

  /** Events published whose fan-out has not run yet. */
  get pendingEvents(): number {
    return this.#pendingEvents;
  }

  /** Returns the unsubscribe function. */
  subscribe(filter: StreamFilter, subscriber: EventSubscriber): () => void {
    const key = filterKey(filter);
    let group = this.#groups.get(key);
    if (group === undefined) {
      group = new FilterGroup(key, filter);
      this.#groups.set(key, group);
      this.#groupsChanged();
    }
    group.subscribers.add(subscriber);
    this.#subscriberCount++;
    const owner = group;
    return () => this.#remove(owner, subscriber);
  }

  /** Takes note of the records (they must not change afterwards); their fan-out runs later. */
  publish(records: readonly EnrichedRecord[]): void {
    if (this.#subscriberCount === 0 || records.length === 0) return;
    if (this.#pendingEvents > 0 && this.#pendingEvents + records.length > MAX_PENDING_EVENTS) {
      this.#skip(records);
      return;
    }
    this.#pending.push(records);
    this.#pendingEvents += records.length;
    this.scheduler.wake(this);
  }

  get ready(): boolean {
    return this.#pendingEvents > 0;
  }

  /**
   * One fan-out step, run by the send scheduler like a subscriber's send: the next pending
   * events, up to MAX_EVENTS_PER_CHUNK of them or about MAX_CHUNK_BYTES of matching ones,
   * matched, serialised and queued for the subscribers. Returns the bytes serialised (at least 1
   * while events were pending, so the scheduler counts the step).
   */
  sendNext(): number {
    const batch = this.#pending[0];
    if (batch === undefined) return 0;
    if (this.#subscriberCount === 0) {
      // Nobody left to send to.
      this.#pending = [];
      this.#pendingIndex = 0;
      this.#pendingEvents = 0;
      return 0;
    }
    const out = this.#scratch;
    out.reset();
    const stop = Math.min(batch.length, this.#pendingIndex + MAX_EVENTS_PER_CHUNK);
    let i = this.#pendingIndex;
    while (i < stop && out.length < MAX_CHUNK_BYTES) {
      const record = batch[i++]!;
      const matching = this.#matching(record.origin);
      if (matching.length === 0) continue;
      // Serialised once, whatever the number of groups and subscribers it goes to.
      const start = out.length;
      record.writeTo(out);
      out.byte(0x0a);
      const end = out.length;
      for (let g = 0; g < matching.length; g++) matching[g]!.add(start, end);
    }
    this.#pendingEvents -= i - this.#pendingIndex;
    this.#pendingIndex = i;
    if (i >= batch.length) {
      this.#pending.shift();
      this.#pendingIndex = 0;
      if (this.#pending.length === 0) this.#pendingEvents = 0;
    }
    const view = out.view();
    for (const group of this.#groupList) if (group.ends.length > 0) this.#send(group, group.take(view, this.#taken));
    this.#taken.clear();
    return Math.max(1, out.length);
  }

  #matching(origin: RecordOrigin): readonly FilterGroup[] {
    let matching = this.#byOrigin.get(origin);
    if (matching === undefined) {
      const found = this.#groupList.filter((g) => originMatches(g.filter, origin));
      matching = found.length === 0 ? NO_GROUPS : found;
      this.#byOrigin.set(origin, matching);
    }
    return matching;
  }

  /** A batch the fan-out has no room for: each subscriber is told how many of its events it lost. */
  #skip(records: readonly EnrichedRecord[]): void {
    const counts = new Map<FilterGroup, number>();
    for (let i = 0; i < records.length; i++) {
      for (const group of this.#matching(records[i]!.origin)) counts.set(group, (counts.get(group) ?? 0) + 1);
    }
    for (const [group, count] of counts) {
      for (const subscriber of group.subscribers) {
        try {
          subscriber.skip(count);
        } catch {
          this.#remove(group, subscriber);
        }
      }
    }
  }

  #groupsChanged(): void {
    this.#groupList = [...this.#groups.values()];
    this.#byOrigin = new WeakMap();
  }

  #send(group: FilterGroup, chunk: StreamChunk): void {
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
      this.#groupsChanged();
    }
  }
}
