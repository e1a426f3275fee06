/** One node's ~100 generated pods (seed 7) in a RetainingStore, with their containers' log paths: what the in-process enrichment benches enrich against. */
import { generateCluster } from '../src/sim/index.ts';
import { RetainingStore } from '../src/store/index.ts';
import { podLogPath } from '../test/builders/lines.ts';
import { defaultDeletionDelayMs } from '../test/builders/defaults.ts';

export function nodeStore(): { store: RetainingStore; files: string[] } {
  const cluster = generateCluster({ nodes: 1, podsPerNode: 100, seed: 7 });
  const store = new RetainingStore({ deletionDelayMs: defaultDeletionDelayMs() });
  store.replace('namespaces', cluster.namespaces);
  store.replace('nodes', cluster.nodes);
  store.replace('pods', cluster.pods);
  const files = cluster.pods.flatMap((pod) =>
    pod.spec.containers.map((c) => podLogPath({ namespace: pod.metadata.namespace!, pod: pod.metadata.name!, uid: pod.metadata.uid!, container: c.name })),
  );
  return { store, files };
}
