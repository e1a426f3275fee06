/** A real enricher over a real store holding a few pods, for the agent and remote-feed tests. */
import { createEnricher } from '../../src/enrich/index.ts';
import type { Metrics } from '../../src/metrics/index.ts';
import { namespaceFor, nodeFor, podFor } from '../../src/sim/index.ts';
import { RetainingStore } from '../../src/store/index.ts';
import { defaultEnricherOptions } from '../builders/defaults.ts';

export interface PodSpec {
  namespace: string;
  name: string;
  uid: string;
  containers: string[];
  labels?: Record<string, string>;
}

export function enrichmentFor(pods: readonly PodSpec[], metrics: Metrics) {
  const store = new RetainingStore({ deletionDelayMs: 60_000 });
  store.apply('nodes', 'ADDED', nodeFor({ name: 'node-a' }));
  for (const ns of new Set(pods.map((p) => p.namespace))) store.apply('namespaces', 'ADDED', namespaceFor({ name: ns, labels: { team: ns } }));
  for (const p of pods) {
    store.apply('pods', 'ADDED', podFor({ name: p.name, namespace: p.namespace, uid: p.uid, containers: p.containers, labels: { app: p.name, ...p.labels } }));
  }
  const enricher = createEnricher(defaultEnricherOptions(), { store: store.reader(), metrics });
  return { store, enricher };
}
