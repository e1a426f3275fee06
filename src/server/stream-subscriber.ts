/**
 * One /v1/stream subscriber: a bounded queue between the event bus and its socket. A publish only
 * queues (the same chunk, the same bytes, for every subscriber of its filter); the send scheduler
 * hands the queue to the socket a message at a time, after the publisher's turn and only while
 * the socket keeps up (send-scheduler.ts). Beyond `maxQueuedEvents` events are dropped and the
 * gap is announced in place, as a `{"dropped": n}` message, once the subscriber has read up to it.
 * Publishers never wait, and what one subscriber holds is bounded.
 */
import type { EventSubscriber, StreamChunk } from './event-bus.ts';
import type { ScheduledSender, SendScheduler } from './send-scheduler.ts';

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
  dropped: number;
  constructor(dropped: number) {
    this.dropped = dropped;
  }
}

const DEFAULT_SOCKET_HIGH_WATER = 256 * 1024;

export class StreamSubscriber implements EventSubscriber, ScheduledSender {
  readonly #socket: MessageSocket;
  readonly #scheduler: SendScheduler;
  readonly #maxQueued: number;
  readonly #highWater: number;
  readonly #onDropped: ((count: number) => void) | undefined;
  #queue: (StreamChunk | DropMarker)[] = [];
  #head = 0;
  #queuedEvents = 0;
  #closed = false;
  /** Shared by every send: once data reaches the kernel, the next message may go. */
  readonly #afterSend = (err?: Error): void => {
    if ((err === undefined || err === null) && this.ready) this.#scheduler.wake(this);
  };

  constructor(socket: MessageSocket, scheduler: SendScheduler, options: StreamSubscriberOptions) {
    this.#socket = socket;
    this.#scheduler = scheduler;
    this.#maxQueued = options.maxQueuedEvents;
    this.#highWater = options.socketHighWaterBytes ?? DEFAULT_SOCKET_HIGH_WATER;
    this.#onDropped = options.onDropped;
  }

  /** Events waiting in this subscriber's queue. */
  get queuedEvents(): number {
    return this.#queuedEvents;
  }

  get ready(): boolean {
    return !this.#closed && this.#head < this.#queue.length && this.#socket.bufferedAmount < this.#highWater;
  }

  deliver(chunk: StreamChunk): void {
    if (this.#closed) return;
    // Keeping up (nothing queued, socket below its high-water mark): the chunk is taken whole,
    // whatever maxQueuedEvents, so a subscriber that keeps up loses nothing.
    const keepingUp = this.#head === this.#queue.length && this.#socket.bufferedAmount < this.#highWater;
    const kept = keepingUp ? chunk.events : Math.min(Math.max(0, this.#maxQueued - this.#queuedEvents), chunk.events);
    if (kept > 0) {
      this.#queue.push(kept === chunk.events ? chunk : chunk.head(kept));
      this.#queuedEvents += kept;
      this.#scheduler.wake(this);
    }
    if (kept < chunk.events) this.skip(chunk.events - kept);
  }

  skip(dropped: number): void {
    if (this.#closed) return;
    const tail = this.#queue.length > this.#head ? this.#queue[this.#queue.length - 1] : undefined;
    if (tail instanceof DropMarker) tail.dropped += dropped;
    else {
      this.#queue.push(new DropMarker(dropped));
      this.#scheduler.wake(this);
    }
    this.#onDropped?.(dropped);
  }

  close(): void {
    this.#closed = true;
    this.#queue = [];
    this.#head = 0;
    this.#queuedEvents = 0;
  }

  sendNext(): number {
    if (!this.ready) return 0;
    const entry = this.#queue[this.#head++]!;
    let sent: number;
    if (entry instanceof DropMarker) {
      const notice = `{"dropped":${entry.dropped}}`;
      this.#socket.send(notice, TEXT_FRAME, this.#afterSend);
      sent = notice.length;
    } else {
      this.#queuedEvents -= entry.events;
      this.#socket.send(entry.bytes, TEXT_FRAME, this.#afterSend);
      sent = entry.bytes.length;
    }
    this.#reclaim();
    return sent;
  }

  /** Drops the consumed head of the queue now and then, not on every message. */
  #reclaim(): void {
    if (this.#head === this.#queue.length) {
      this.#queue.length = 0;
      this.#head = 0;
    } else if (this.#head > 4096 && this.#head * 2 > this.#queue.length) {
      this.#queue = this.#queue.slice(this.#head);
      this.#head = 0;
    }
  }
}
