/**
 * Who sends to /v1/stream subscribers, and when: never inside a publish, but in slices between
 * the event loop's other work, with a bounded share of the service's time. A slice hands at most
 * `bytesPerTurn` bytes to sockets (the message that crosses the limit is sent whole), one message
 * per subscriber in turn, so that no subscriber starves the others; slices go on while sending
 * has used less than `share` of the time (a token bucket of sending time, holding at most
 * `burstMs`), and pause (a timer) once it has used more.
 *
 * Why: handing bytes to sockets is the fan-out's real cost (the kernel copies them and, on
 * loopback, also runs the receiver's TCP stack), and with every subscriber receiving everything
 * it is many times the cost of enriching. Bounded like this, the requests being served keep at
 * least 1 - share of the time; when the subscribers want more than the share allows, their
 * queues fill and their events are dropped and counted (stream-subscriber.ts). An idle service
 * spends up to the share on sending: hundreds of megabytes a second, more than subscribers read.
 */

/** One party with messages to send: a subscriber and its socket. */
export interface ScheduledSender {
  /** It has a message to send and its socket would take it now. */
  readonly ready: boolean;
  /** Sends its next message; returns the bytes handed to the socket (0: nothing sent). */
  sendNext(): number;
}

export interface SendSchedulerOptions {
  /** The share of time sending may take, over time (0 < share <= 1): the server.streamTimeShare setting. */
  share: number;
  /** Sending time saved up while there is nothing to send, at most. */
  burstMs?: number;
  /** Bytes handed to sockets per slice: what one slice adds to the latency of a request waiting behind it. */
  bytesPerTurn?: number;
  /** Monotonic milliseconds. */
  now?: () => number;
}

const DEFAULT_BURST_MS = 10;
const DEFAULT_BYTES_PER_TURN = 256 * 1024;

export class SendScheduler {
  readonly #share: number;
  readonly #burstMs: number;
  readonly #bytesPerTurn: number;
  readonly #now: () => number;
  /** Senders that are ready, in the order they are served (a Set keeps insertion order). */
  readonly #waiting = new Set<ScheduledSender>();
  /** Sending time that may be spent now (negative: overspent, wait). */
  #creditMs: number;
  #creditAt: number;
  #immediate: NodeJS.Immediate | undefined;
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;

  constructor(options: SendSchedulerOptions) {
    this.#share = options.share;
    this.#burstMs = options.burstMs ?? DEFAULT_BURST_MS;
    this.#bytesPerTurn = options.bytesPerTurn ?? DEFAULT_BYTES_PER_TURN;
    this.#now = options.now ?? performance.now.bind(performance);
    if (!(this.#share > 0 && this.#share <= 1)) throw new RangeError(`share must be in (0, 1], not ${this.#share}`);
    this.#creditMs = this.#burstMs;
    this.#creditAt = this.#now();
  }

  /** `sender` has something to send: it is served in a later slice. */
  wake(sender: ScheduledSender): void {
    if (this.#stopped) return;
    this.#waiting.add(sender);
    if (this.#immediate === undefined && this.#timer === undefined) this.#immediate = setImmediate(this.#slice);
  }

  /** Sends nothing more (shutdown). */
  stop(): void {
    this.#stopped = true;
    this.#waiting.clear();
    clearImmediate(this.#immediate);
    clearTimeout(this.#timer);
    this.#immediate = undefined;
    this.#timer = undefined;
  }

  readonly #slice = (): void => {
    this.#immediate = undefined;
    this.#timer = undefined;
    const start = this.#now();
    this.#creditMs = Math.min(this.#burstMs, this.#creditMs + (start - this.#creditAt) * this.#share);
    this.#creditAt = start;
    if (this.#creditMs > 0) {
      this.#send();
      this.#creditMs -= this.#now() - start;
    }
    if (this.#waiting.size === 0) return;
    if (this.#creditMs > 0) this.#immediate = setImmediate(this.#slice);
    else this.#timer = setTimeout(this.#slice, Math.max(1, Math.ceil(-this.#creditMs / this.#share))).unref();
  };

  #send(): void {
    let budget = this.#bytesPerTurn;
    // Deleted and added again after its send, a sender goes to the back: round robin, one message each.
    for (const sender of this.#waiting) {
      this.#waiting.delete(sender);
      const sent = sender.ready ? sender.sendNext() : 0;
      if (sent > 0 && sender.ready) this.#waiting.add(sender);
      budget -= sent;
      if (budget <= 0) break;
    }
  }
}
