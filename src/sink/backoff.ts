/**
 * Delivery retries (the http sink, the file source's delivery to a sink or the remote service) use
 * the shared policy, starting faster than the reflectors' (kubernetes.backoff). Not configurable:
 * this is its one definition.
 */
import type { Backoff } from '../backoff/index.ts';

export type BackoffPolicy = Backoff;

export const DELIVERY_BACKOFF: BackoffPolicy = { initialMs: 200, maxMs: 30_000, factor: 2, jitter: 0.2 };

export { backoffDelay, sleep } from '../backoff/index.ts';
