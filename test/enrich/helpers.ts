/**
 * Test fixtures for the enricher: a real RetainingStore fed with realistic API objects from the
 * simulator's builders, a controllable clock, and small helpers to run events through.
 */
import { createEnricher } from '../../src/enrich/index.ts';
import { defaultEnricherOptions, type EnricherOptionsOverrides } from '../builders/defaults.ts';
import type { BatchResult, Enricher, MergeSession } from '../../src/enrich/index.ts';
import { createMetrics, type Metrics } from '../../src/metrics/index.ts';
import { namespaceFor, nodeFor, podFor, type NamespaceOptions, type NodeOptions, type PodJson, type PodOptions } from '../../src/sim/index.ts';
import { RetainingStore } from '../../src/store/index.ts';
import { podLogPath, podUid } from '../builders/lines.ts';

export const START_MS = Date.parse('2026-11-23T10:00:00Z');
export const DELETION_DELAY_MS = 60_000;

export class Clock {
  ms = START_MS;
  readonly now = (): number => this.ms;
  advance(ms: number): void {
    this.ms += ms;
  }
}

export interface Cluster {
  clock: Clock;
  store: RetainingStore;
  addPod(options: PodOptions): PodJson;
  deletePod(pod: PodJson): void;
  addNamespace(options: NamespaceOptions): void;
  addNode(options: NodeOptions): void;
  close(): void;
}

export function cluster(): Cluster {
  const clock = new Clock();
  const store = new RetainingStore({ deletionDelayMs: DELETION_DELAY_MS, now: clock.now });
  return {
    clock,
    store,
    addPod(options) {
      // The API server always sets a uid; the store ignores objects without one.
      const uid = options.uid ?? podUid(`${options.namespace ?? 'default'}/${options.name}`);
      const pod = podFor({ creationTimestamp: '2026-11-20T08:00:00Z', ...options, uid });
      store.apply('pods', 'ADDED', pod);
      return pod;
    },
    deletePod(pod) {
      store.apply('pods', 'DELETED', pod);
    },
    addNamespace(options) {
      store.apply('namespaces', 'ADDED', namespaceFor({ uid: podUid(`namespace/${options.name}`), ...options }));
    },
    addNode(options) {
      store.apply('nodes', 'ADDED', nodeFor({ uid: podUid(`node/${options.name}`), ...options }));
    },
    close() {
      store.close();
    },
  };
}

/** The /var/log/pods path of one of the pod's containers. */
export function logPath(pod: PodJson, container?: string, restart = 0): string {
  return podLogPath({
    namespace: pod.metadata.namespace ?? 'default',
    pod: pod.metadata.name,
    uid: pod.metadata.uid!,
    container: container ?? pod.spec.containers[0]!.name,
    restart,
  });
}

export interface Harness {
  enricher: Enricher;
  metrics: Metrics;
  session: MergeSession;
  /** enrichBatch on the harness session. */
  run(events: readonly unknown[]): BatchResult;
  /** The records of one batch, parsed. */
  parsed(events: readonly unknown[]): Record<string, unknown>[];
}

export function harness(c: Cluster, overrides: EnricherOptionsOverrides = {}): Harness {
  const metrics = createMetrics(undefined, { processMetrics: false });
  const enricher = createEnricher(defaultEnricherOptions(overrides), { store: c.store.reader(), metrics, now: c.clock.now });
  const session = enricher.newSession();
  const run = (events: readonly unknown[]): BatchResult => enricher.enrichBatch(events, session);
  return {
    enricher,
    metrics,
    session,
    run,
    parsed: (events) => run(events).records.map((r) => JSON.parse(r.json) as Record<string, unknown>),
  };
}

/** A counter's value for the given labels (0 when never incremented). */
export async function counterValue(metrics: Metrics, name: keyof Metrics, labels: Record<string, string> = {}): Promise<number> {
  const metric = metrics[name] as unknown as { get(): Promise<{ values: { value: number; labels: Record<string, string | number> }[] }> };
  const { values } = await metric.get();
  const hit = values.find((v) => Object.entries(labels).every(([k, want]) => v.labels[k] === want));
  return hit?.value ?? 0;
}

/** `"kubernetes"` of a vector/fluentbit record. */
export function k8s(record: Record<string, unknown> | undefined): Record<string, unknown> {
  return (record?.kubernetes ?? {}) as Record<string, unknown>;
}
