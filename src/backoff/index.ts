/**
 * Retry policy as a value (kube-rs style): how long to wait before the n-th consecutive retry.
 * Jitter spreads the restarts of many DaemonSet pods after an API server outage, so they do not
 * all relist in the same second.
 */
export interface Backoff {
  /** First delay, ms. */
  initialMs: number;
  /** Upper bound of any delay, ms. */
  maxMs: number;
  /** Growth per consecutive failure (>= 1). */
  factor: number;
  /** 0..1: each delay is drawn uniformly from base × [1 − jitter, 1 + jitter], then capped at maxMs. */
  jitter: number;
}

/** Problems with a policy, one message per field; empty when valid. */
export function validateBackoff(b: Backoff): string[] {
  const problems: string[] = [];
  if (!Number.isFinite(b.initialMs) || b.initialMs < 0) problems.push(`backoff.initialMs must be a number >= 0, got ${String(b.initialMs)}`);
  if (!Number.isFinite(b.maxMs) || b.maxMs < b.initialMs) problems.push(`backoff.maxMs must be a number >= initialMs, got ${String(b.maxMs)}`);
  if (!Number.isFinite(b.factor) || b.factor < 1) problems.push(`backoff.factor must be a number >= 1, got ${String(b.factor)}`);
  if (!Number.isFinite(b.jitter) || b.jitter < 0 || b.jitter > 1) problems.push(`backoff.jitter must be between 0 and 1, got ${String(b.jitter)}`);
  return problems;
}

/** The delay before retry number `attempt` (0-based); `random` returns [0, 1). */
export function backoffDelay(policy: Backoff, attempt: number, random: () => number = Math.random): number {
  const base = Math.min(policy.maxMs, policy.initialMs * policy.factor ** Math.max(0, attempt));
  const spread = 1 + policy.jitter * (2 * random() - 1);
  return Math.max(0, Math.min(policy.maxMs, Math.round(base * spread)));
}

/** A consecutive-failure counter over a policy: next() after a failure, reset() after a success. */
export class BackoffSequence {
  readonly #policy: Backoff;
  readonly #random: () => number;
  #attempt = 0;

  constructor(policy: Backoff, random: () => number = Math.random) {
    const problems = validateBackoff(policy);
    if (problems.length > 0) throw new RangeError(problems.join('; '));
    this.#policy = policy;
    this.#random = random;
  }

  next(): number {
    return backoffDelay(this.#policy, this.#attempt++, this.#random);
  }

  reset(): void {
    this.#attempt = 0;
  }

  /** Consecutive failures since the last reset. */
  get attempts(): number {
    return this.#attempt;
  }
}

/** A sleep that an AbortSignal ends early (resolves, never rejects: the caller checks its own state). */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}
