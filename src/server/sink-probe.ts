/**
 * While the sink says it is unavailable, /v1/forward answers 503 at once rather than piling up
 * writes that would fail. But a sink that only learns it has recovered by writing (a file sink
 * whose directory came back) would then never recover; so one request per retry period is let
 * through to try the write: a probe. Requests arriving while a probe is in flight get the 503.
 */
export type Admission =
  | { kind: 'write' }
  | { kind: 'probe' }
  | { kind: 'refuse'; retryAfterSeconds: number };

const WRITE: Admission = { kind: 'write' };
const PROBE: Admission = { kind: 'probe' };

export class SinkProbe {
  readonly #now: () => number;
  /** When the last write failed (epoch ms), and how long the sink asked to be left alone. */
  #failedAt = Number.NEGATIVE_INFINITY;
  #retryAfterMs = 1000;
  #probing = false;

  constructor(now: () => number) {
    this.#now = now;
  }

  /** Whether a request may write now; a probe must be followed by `settled(admission)`. */
  admit(sinkAvailable: boolean): Admission {
    if (sinkAvailable) return WRITE;
    if (this.#probing) return { kind: 'refuse', retryAfterSeconds: toSeconds(this.#retryAfterMs) };
    const waitMs = this.#failedAt + this.#retryAfterMs - this.#now();
    if (waitMs > 0) return { kind: 'refuse', retryAfterSeconds: toSeconds(waitMs) };
    this.#probing = true;
    return PROBE;
  }

  /** A write failed: the next probe comes `retryAfterSeconds` from now. */
  failed(retryAfterSeconds: number): void {
    this.#failedAt = this.#now();
    this.#retryAfterMs = Math.max(1, retryAfterSeconds) * 1000;
  }

  /** The write admitted by `admission` finished, whatever its outcome (call in `finally`). */
  settled(admission: Admission): void {
    if (admission.kind === 'probe') this.#probing = false;
  }
}

function toSeconds(ms: number): number {
  return Math.max(1, Math.ceil(ms / 1000));
}
