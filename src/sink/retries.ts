/**
 * What the network sinks (http, OTLP) share: a few attempts per write with the delivery backoff,
 * stretched to the receiver's retry hint; then the write rejects (the caller keeps the batch) and
 * the sink says it is unavailable until the hint or the backoff has passed.
 */
import { DELIVERY_BACKOFF, backoffDelay, sleep, type BackoffPolicy } from './backoff.ts';
import { SinkUnavailableError } from './types.ts';

/** One attempt: delivered, or worth another (`retryAfterSeconds`: the receiver's hint). A permanent refusal throws (via fail()). */
export type AttemptResult = { delivered: true } | { delivered: false; problem: string; retryAfterSeconds: number | undefined };

export interface RetryOptions {
  /** Attempts per write before it rejects (>= 1). */
  attempts?: number;
  backoff?: BackoffPolicy;
  now?: () => number;
  random?: () => number;
}

export class DeliveryRetries {
  readonly #what: string;
  readonly #attempts: number;
  readonly #policy: BackoffPolicy;
  readonly #now: () => number;
  readonly #random: (() => number) | undefined;
  readonly #onFailedAttempt: () => void;
  readonly #closing = new AbortController();
  /** While failing: epoch ms before which `available` says false. */
  #unavailableUntil = 0;

  /** `what` begins the errors' messages ("http sink http://host/path"). */
  constructor(what: string, options: RetryOptions, onFailedAttempt: () => void) {
    this.#what = what;
    this.#attempts = Math.max(1, options.attempts ?? 3);
    this.#policy = options.backoff ?? DELIVERY_BACKOFF;
    this.#now = options.now ?? Date.now;
    this.#random = options.random;
    this.#onFailedAttempt = onFailedAttempt;
  }

  /** Aborted by close(): requests and waits in progress end. */
  get signal(): AbortSignal {
    return this.#closing.signal;
  }

  get available(): boolean {
    return !this.#closing.signal.aborted && this.#now() >= this.#unavailableUntil;
  }

  /** Holds the sink unavailable for the error's retry delay, and throws it. */
  fail(err: SinkUnavailableError): never {
    this.#unavailableUntil = this.#now() + err.retryAfterSeconds * 1000;
    throw err;
  }

  /** Runs `attempt` until it delivers or the attempts are spent (then a SinkUnavailableError). */
  async deliver(attempt: (signal: AbortSignal) => Promise<AttemptResult>): Promise<void> {
    const signal = this.#closing.signal;
    if (signal.aborted) throw new SinkUnavailableError(`${this.#what} is closed`, 5);
    let lastProblem = '';
    let retryAfter: number | undefined;
    for (let n = 0; n < this.#attempts; n++) {
      if (n > 0) {
        await sleep(Math.min(this.#policy.maxMs, Math.max(backoffDelay(this.#policy, n - 1, this.#random), (retryAfter ?? 0) * 1000)), signal);
        if (signal.aborted) break;
      }
      const result = await attempt(signal);
      if (result.delivered) {
        this.#unavailableUntil = 0;
        return;
      }
      this.#onFailedAttempt();
      lastProblem = result.problem;
      retryAfter = result.retryAfterSeconds;
    }
    const seconds = Math.max(1, Math.ceil(retryAfter ?? this.#policy.initialMs / 1000));
    this.fail(new SinkUnavailableError(`${this.#what} is unavailable after ${this.#attempts} attempt(s): ${lastProblem}`, seconds));
  }

  close(): void {
    this.#closing.abort();
  }
}
