/**
 * A simulated API server holding a few pods (their namespaces, one node), and the configuration
 * the runtime's start functions take for it, for the agent and remote-feed tests.
 */
import type { KubeConfig } from '@kubernetes/client-node';
import { namespaceFor, nodeFor, podFor, startSimApiServer, type SimApiServer } from '../../src/sim/index.ts';
import { kubeConfigFor } from '../builders/runtime.ts';

export interface PodSpec {
  namespace: string;
  name: string;
  uid: string;
  containers: string[];
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

interface Tap {
  teardown(fn: () => unknown): void;
  readonly testdirName: string;
}

/** Each pod labelled app=<its name> (plus its own labels), each namespace team=<its name>. */
export async function simulatedCluster(t: Tap, pods: readonly PodSpec[]): Promise<{ sim: SimApiServer; kubeConfig: KubeConfig }> {
  const sim = await startSimApiServer();
  t.teardown(() => sim.close());
  sim.create('nodes', nodeFor({ name: 'node-a' }));
  for (const ns of new Set(pods.map((p) => p.namespace))) sim.create('namespaces', namespaceFor({ name: ns, labels: { team: ns } }));
  for (const p of pods) {
    sim.create('pods', podFor({ name: p.name, namespace: p.namespace, uid: p.uid, containers: p.containers, labels: { app: p.name, ...p.labels }, annotations: p.annotations }));
  }
  return { sim, kubeConfig: kubeConfigFor(t.testdirName, sim) };
}

/** Reflectors that retry and notice a dead watch fast. */
export const FAST_KUBERNETES = { watchTimeout: '5s', backoff: { initial: '20ms', max: '200ms' } };
