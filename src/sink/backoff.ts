/** Delivery retries (sinks, the remote service) use the shared policy, starting faster than the reflectors. */
import type { Backoff } from '../backoff/index.ts';

export type BackoffPolicy = Backoff;

export const DEFAULT_BACKOFF: BackoffPolicy = { initialMs: 200, maxMs: 30_000, factor: 2, jitter: 0.2 };

export { backoffDelay, sleep } from '../backoff/index.ts';
