/**
 * One /v1/stream subscriber: a bounded queue between the event bus and its socket. While the
 * socket keeps up, a chunk goes straight to it (the same bytes as for every subscriber of its
 * filter); when it does not, chunks wait in the queue, and beyond `maxQueuedEvents` events are
 * dropped and the gap is announced in place, as a `{"dropped": n}` message, once the subscriber
 * has read up to it. Publishers never wait, and what one subscriber holds is bounded.
 */
import type { EventSubscriber, StreamChunk } from './event-bus.ts';

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

export class StreamSubscriber implements EventSubscriber {
  readonly #socket: MessageSocket;
  readonly #maxQueued: number;
  readonly #highWater: number;
  readonly #onDropped: ((count: number) => void) | undefined;
  #queue: (StreamChunk | DropMarker)[] = [];
  #head = 0;
  #queuedEvents = 0;
  #closed = false;
  /** Shared by every send: once data reaches the kernel, send more. */
  readonly #afterSend = (err?: Error): void => {
    if (err === undefined || err === null) this.#pump();
  };

  constructor(socket: MessageSocket, options: StreamSubscriberOptions) {
    this.#socket = socket;
    this.#maxQueued = options.maxQueuedEvents;
    this.#highWater = options.socketHighWaterBytes ?? DEFAULT_SOCKET_HIGH_WATER;
    this.#onDropped = options.onDropped;
  }

  /** Events waiting in this subscriber's queue. */
  get queuedEvents(): number {
    return this.#queuedEvents;
  }

  deliver(chunk: StreamChunk): void {
    if (this.#closed) return;
    this.#pump();
    // Keeping up (nothing queued, socket below its high-water mark): straight to the socket.
    if (this.#head === this.#queue.length && this.#socket.bufferedAmount < this.#highWater) {
      this.#socket.send(chunk.bytes, TEXT_FRAME, this.#afterSend);
      return;
    }
    const room = this.#maxQueued - this.#queuedEvents;
    const kept = Math.min(room, chunk.events);
    if (kept > 0) {
      this.#queue.push(kept === chunk.events ? chunk : chunk.head(kept));
      this.#queuedEvents += kept;
    }
    const dropped = chunk.events - kept;
    if (dropped === 0) return;
    const tail = this.#queue.length > this.#head ? this.#queue[this.#queue.length - 1] : undefined;
    if (tail instanceof DropMarker) tail.dropped += dropped;
    else this.#queue.push(new DropMarker(dropped));
    this.#onDropped?.(dropped);
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
      const entry = queue[this.#head++]!;
      if (entry instanceof DropMarker) {
        this.#socket.send(`{"dropped":${entry.dropped}}`, TEXT_FRAME, this.#afterSend);
        continue;
      }
      this.#queuedEvents -= entry.events;
      this.#socket.send(entry.bytes, TEXT_FRAME, this.#afterSend);
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
