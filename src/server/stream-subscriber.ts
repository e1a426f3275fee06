/**
 * One /v1/stream subscriber: its filter, and a bounded queue between the publishers and its
 * socket. While the socket keeps up, a publish goes straight to it; when it does not, events
 * wait in the queue, and beyond `maxQueuedEvents` they are dropped and the gap is announced in
 * place, as a `{"dropped": n}` message, once the subscriber has read up to it. Publishers never
 * wait, and what one subscriber holds is bounded.
 */
import type { EnrichedRecord } from '../enrich/types.ts';
import { labelSelectorMatches, type LabelSelector } from '../selectors/index.ts';
import { ndjsonAnswer } from './batch-codec.ts';
import type { EventSubscriber } from './event-bus.ts';

export interface StreamFilter {
  namespace?: string | undefined;
  pod?: string | undefined;
  container?: string | undefined;
  /** Matched against the pod's labels; events of unknown pods never match a non-empty selector. */
  labelSelector?: LabelSelector | undefined;
}

export function recordMatches(filter: StreamFilter, record: EnrichedRecord): boolean {
  if (filter.namespace !== undefined && record.namespace !== filter.namespace) return false;
  if (filter.pod !== undefined && record.podName !== filter.pod) return false;
  if (filter.container !== undefined && record.containerName !== filter.container) return false;
  const selector = filter.labelSelector;
  if (selector !== undefined && selector.requirements.length > 0) {
    if (record.pod === undefined || !labelSelectorMatches(selector, record.pod.labels)) return false;
  }
  return true;
}

/** The part of a `ws` WebSocket a subscriber uses. */
export interface MessageSocket {
  readonly bufferedAmount: number;
  send(data: string | Buffer, options: { binary: boolean }, callback: (err?: Error) => void): void;
}

const TEXT_FRAME = { binary: false } as const;

export interface StreamSubscriberOptions {
  maxQueuedEvents: number;
  /** Bytes handed to the socket but not yet to the kernel above which the queue holds events back. */
  socketHighWaterBytes?: number;
  /** Called with the number of events dropped by one publish. */
  onDropped?: (count: number) => void;
}

/** A gap in the queue: events dropped at this position. */
class DropMarker {
  dropped = 1;
}

function isDropMarker(entry: EnrichedRecord | DropMarker): entry is DropMarker {
  return entry instanceof DropMarker;
}

const DEFAULT_SOCKET_HIGH_WATER = 256 * 1024;
/** Events per WebSocket message: large enough to be cheap, small enough to interleave. */
const MAX_EVENTS_PER_MESSAGE = 500;

export class StreamSubscriber implements EventSubscriber {
  readonly #socket: MessageSocket;
  readonly #filter: StreamFilter;
  readonly #maxQueued: number;
  readonly #highWater: number;
  readonly #onDropped: ((count: number) => void) | undefined;
  #queue: (EnrichedRecord | DropMarker)[] = [];
  #head = 0;
  #queuedEvents = 0;
  #closed = false;
  /** Shared by every send: once data reaches the kernel, send more. */
  readonly #afterSend = (err?: Error): void => {
    if (err === undefined || err === null) this.#pump();
  };

  constructor(socket: MessageSocket, filter: StreamFilter, options: StreamSubscriberOptions) {
    this.#socket = socket;
    this.#filter = filter;
    this.#maxQueued = options.maxQueuedEvents;
    this.#highWater = options.socketHighWaterBytes ?? DEFAULT_SOCKET_HIGH_WATER;
    this.#onDropped = options.onDropped;
  }

  /** Events waiting in this subscriber's queue. */
  get queuedEvents(): number {
    return this.#queuedEvents;
  }

  deliver(records: readonly EnrichedRecord[]): void {
    if (this.#closed) return;
    this.#pump();
    // Keeping up (nothing queued, socket below its high-water mark): straight to the socket.
    if (this.#head === this.#queue.length && this.#socket.bufferedAmount < this.#highWater) {
      const matching: EnrichedRecord[] = [];
      for (let i = 0; i < records.length; i++) {
        const record = records[i]!;
        if (recordMatches(this.#filter, record)) matching.push(record);
      }
      if (matching.length > 0) this.#socket.send(ndjsonAnswer(matching), TEXT_FRAME, this.#afterSend);
      return;
    }
    let dropped = 0;
    for (let i = 0; i < records.length; i++) {
      const record = records[i]!;
      if (!recordMatches(this.#filter, record)) continue;
      if (this.#queuedEvents < this.#maxQueued) {
        this.#queue.push(record);
        this.#queuedEvents++;
        continue;
      }
      dropped++;
      const tail = this.#queue.length > this.#head ? this.#queue[this.#queue.length - 1] : undefined;
      if (tail !== undefined && isDropMarker(tail)) tail.dropped++;
      else this.#queue.push(new DropMarker());
    }
    if (dropped > 0) this.#onDropped?.(dropped);
  }

  close(): void {
    this.#closed = true;
    this.#queue = [];
    this.#head = 0;
    this.#queuedEvents = 0;
  }

  #pump(): void {
    const queue = this.#queue;
    while (!this.#closed && this.#head < queue.length && this.#socket.bufferedAmount < this.#highWater) {
      const entry = queue[this.#head]!;
      if (isDropMarker(entry)) {
        this.#head++;
        this.#socket.send(`{"dropped":${entry.dropped}}`, TEXT_FRAME, this.#afterSend);
        continue;
      }
      const batch: EnrichedRecord[] = [];
      while (this.#head < queue.length && batch.length < MAX_EVENTS_PER_MESSAGE) {
        const next = queue[this.#head]!;
        if (isDropMarker(next)) break;
        batch.push(next);
        this.#head++;
      }
      this.#queuedEvents -= batch.length;
      this.#socket.send(ndjsonAnswer(batch), TEXT_FRAME, this.#afterSend);
    }
    // Reclaim the consumed head of the queue now and then, not on every message.
    if (this.#head === queue.length) {
      this.#queue.length = 0;
      this.#head = 0;
    } else if (this.#head > 4096 && this.#head * 2 > queue.length) {
      this.#queue = queue.slice(this.#head);
      this.#head = 0;
    }
  }
}
