/**
 * Fan-out of enriched events to /v1/stream subscribers. Every entry point publishes (the HTTP
 * routes, /v1/ingest, the in-process agent); with no subscribers a publish costs one size check.
 * Subscribers must never block or throw: each decides locally what to queue and what to drop.
 */
import type { EnrichedRecord } from '../enrich/types.ts';

export interface EventSubscriber {
  deliver(records: readonly EnrichedRecord[]): void;
}

export class EventBus {
  readonly #subscribers = new Set<EventSubscriber>();

  get subscriberCount(): number {
    return this.#subscribers.size;
  }

  /** Returns the unsubscribe function. */
  subscribe(subscriber: EventSubscriber): () => void {
    this.#subscribers.add(subscriber);
    return () => {
      this.#subscribers.delete(subscriber);
    };
  }

  publish(records: readonly EnrichedRecord[]): void {
    if (this.#subscribers.size === 0 || records.length === 0) return;
    for (const subscriber of this.#subscribers) {
      try {
        subscriber.deliver(records);
      } catch {
        // A broken subscriber must not stop the others or the publisher: it is dropped.
        this.#subscribers.delete(subscriber);
      }
    }
  }
}
