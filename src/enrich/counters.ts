/**
 * The enricher's metrics (docs/metrics.md): counted per event into a plain Tally, turned into
 * metric increments once per call, so the per-line path touches no labelled counter.
 */
import type { Metrics } from '../metrics/index.ts';
import { PENDING_NAMESPACE, PENDING_NODE, PENDING_POD, type MetaState } from './file-metadata.ts';
import type { UnmatchedReason } from './types.ts';

/** Why an event was rejected; the `reason` label of event_errors_total. */
export type ErrorReason = 'not_an_object' | 'invalid_field' | 'missing_field' | 'undecodable_line' | 'unserialisable_field';

/** Per-call counts, turned into metrics by EnrichCounters.publish(). */
export class Tally {
  out = 0;
  excluded = 0;
  pathNotRecognised = 0;
  podNotFound = 0;
  containerNotFound = 0;
  missingFile = 0;
  pendingPod = 0;
  pendingNamespace = 0;
  pendingNode = 0;

  /** One event out, with what its metadata says about it. */
  emitted(meta: MetaState): void {
    this.out++;
    const reason = meta.ctx.reason;
    if (reason !== undefined) this.#unmatched(reason);
    if (meta.pending !== 0) this.#pending(meta.pending);
  }

  #unmatched(reason: UnmatchedReason): void {
    if (reason === 'pod_not_found') this.podNotFound++;
    else if (reason === 'path_not_recognised') this.pathNotRecognised++;
    else if (reason === 'container_not_found') this.containerNotFound++;
    else this.missingFile++;
  }

  #pending(mask: number): void {
    if ((mask & PENDING_POD) !== 0) this.pendingPod++;
    if ((mask & PENDING_NAMESPACE) !== 0) this.pendingNamespace++;
    if ((mask & PENDING_NODE) !== 0) this.pendingNode++;
  }
}

/** events_in_total and events_out_total of one `route` label, looked up once. */
export interface RouteCounters {
  in: { inc(n?: number): void };
  out: { inc(n?: number): void };
}

/** The enricher's view of the metrics; every method is a no-op without them. */
export class EnrichCounters {
  readonly #metrics: Metrics | undefined;

  constructor(metrics: Metrics | undefined) {
    this.#metrics = metrics;
  }

  forRoute(route: string): RouteCounters | undefined {
    const m = this.#metrics;
    return m === undefined ? undefined : { in: m.eventsIn.labels({ route }), out: m.eventsOut.labels({ route }) };
  }

  rejected(reason: ErrorReason): void {
    this.#metrics?.eventErrors.inc({ reason });
  }

  /** How long one enrichBatch()/enrichMessages() call took, from its performance.now() start. */
  observeDuration(startedAt: number): void {
    this.#metrics?.enrichDuration.observe((performance.now() - startedAt) / 1000);
  }

  publish(counters: RouteCounters | undefined, received: number, tally: Tally, merged: number, truncated: number): void {
    const m = this.#metrics;
    if (m === undefined || counters === undefined) return;
    if (received > 0) counters.in.inc(received);
    if (tally.out > 0) counters.out.inc(tally.out);
    if (merged > 0) m.eventsMerged.inc(merged);
    if (tally.excluded > 0) m.eventsExcluded.inc(tally.excluded);
    if (truncated > 0) m.linesTruncated.inc({ reason: 'max_merged_line_bytes' }, truncated);
    if (tally.podNotFound > 0) m.eventsUnmatched.inc({ reason: 'pod_not_found' }, tally.podNotFound);
    if (tally.pathNotRecognised > 0) m.eventsUnmatched.inc({ reason: 'path_not_recognised' }, tally.pathNotRecognised);
    if (tally.containerNotFound > 0) m.eventsUnmatched.inc({ reason: 'container_not_found' }, tally.containerNotFound);
    if (tally.missingFile > 0) m.eventsUnmatched.inc({ reason: 'missing_file' }, tally.missingFile);
    if (tally.pendingPod > 0) m.eventsPendingMetadata.inc({ kind: 'pods' }, tally.pendingPod);
    if (tally.pendingNamespace > 0) m.eventsPendingMetadata.inc({ kind: 'namespaces' }, tally.pendingNamespace);
    if (tally.pendingNode > 0) m.eventsPendingMetadata.inc({ kind: 'nodes' }, tally.pendingNode);
  }
}
