/**
 * The reflectors the product runs: pods (of this node, when a node name is set), namespaces and
 * nodes, all folding into one store through its StoreWriter; or, with `kubelet` set, this node's
 * pods polled from its kubelet (kubelet-pods.ts) beside the namespace and node reflectors. A
 * plain options object: src/runtime/service.ts maps the `kubernetes` config section
 * (docs/configuration.md) onto it.
 */
import type { KubeConfig } from '@kubernetes/client-node';
import type { Metrics } from '../metrics/index.ts';
import type { ResourceKind, StoreWriter } from '../store/index.ts';
import type { Backoff } from '../backoff/index.ts';
import { KubeletPodSource, type KubeletPodsOptions } from './kubelet-pods.ts';
import { Reflector, type ReflectorLogger } from './reflector.ts';
import type { ReadinessSource, ReflectorStatus } from './types.ts';

export interface ReflectorsOptions {
  kubeConfig: KubeConfig;
  /** When set, only this node's pods are watched (`spec.nodeName` field selector) and only this node. */
  nodeName?: string | undefined;
  podLabelSelector?: string | undefined;
  podFieldSelector?: string | undefined;
  namespaceLabelSelector?: string | undefined;
  watchNodes: boolean;
  watchNamespaces: boolean;
  /** A watch that receives nothing for this long is considered dead and re-opened. */
  watchTimeoutMs: number;
  backoff: Backoff;
  /** The store's write half (RetainingStore.writer()). */
  writer: StoreWriter;
  metrics: Pick<Metrics, 'reflectorSynced' | 'watchRestarts' | 'relists' | 'apiErrors' | 'reflectorActivity'> & KubeletPodsOptions['metrics'];
  logger: ReflectorLogger;
  /** Set: pods come from this kubelet's /pods, polled (kubernetes.podSource: kubelet), not from the API server. */
  kubelet?: Pick<KubeletPodsOptions, 'kubeConfig' | 'pollIntervalMs'> | undefined;
  /** Jitter source for backoff and watch durations; injectable for tests. */
  random?: () => number;
  /** Objects per list page (default 500). */
  listPageSize?: number;
  /** Server-side watch duration range, seconds (default 300-600, like client-go). */
  serverWatchSeconds?: { min: number; max: number };
}

export interface Reflectors extends ReadinessSource {
  status(): ReflectorStatus[];
  /** Resolves once every reflector completed its initial list; rejects if stopped before. */
  ready(): Promise<void>;
  /** Stops every list/watch and backoff timer; the store stays as it is. */
  stop(): Promise<void>;
}

/** What one reflector lists and watches. */
export interface ReflectorTarget {
  kind: ResourceKind;
  path: string;
  labelSelector: string | undefined;
  fieldSelector: string | undefined;
}

type TargetOptions = Pick<ReflectorsOptions, 'nodeName' | 'podLabelSelector' | 'podFieldSelector' | 'namespaceLabelSelector' | 'watchNodes' | 'watchNamespaces'> & {
  /** False when pods come from the kubelet. Default true. */
  watchPods?: boolean;
};

/** Selectors joined with ',' (an AND for both label and field selectors); undefined when empty. */
function joined(...parts: (string | undefined)[]): string | undefined {
  return parts.map((p) => p?.trim()).filter((p): p is string => p !== undefined && p !== '').join(',') || undefined;
}

/** The list/watch selection of each kind, from the options (pure; exported for tests). */
export function reflectorTargets(o: TargetOptions): ReflectorTarget[] {
  const nodeName = o.nodeName?.trim() || undefined;
  const targets: ReflectorTarget[] = [];
  if (o.watchPods !== false) {
    targets.push({
      kind: 'pods',
      path: '/api/v1/pods',
      labelSelector: joined(o.podLabelSelector),
      fieldSelector: joined(nodeName === undefined ? undefined : `spec.nodeName=${nodeName}`, o.podFieldSelector),
    });
  }
  if (o.watchNamespaces) targets.push({ kind: 'namespaces', path: '/api/v1/namespaces', labelSelector: joined(o.namespaceLabelSelector), fieldSelector: undefined });
  if (o.watchNodes) targets.push({ kind: 'nodes', path: '/api/v1/nodes', labelSelector: undefined, fieldSelector: nodeName === undefined ? undefined : `metadata.name=${nodeName}` });
  return targets;
}

export function startReflectors(o: ReflectorsOptions): Reflectors {
  let stopped = false;
  const waiters: { resolve: () => void; reject: (e: Error) => void }[] = [];
  const allSynced = () => reflectors.every((r) => r.status().synced);
  const onSynced = () => {
    if (!allSynced()) return;
    for (const w of waiters.splice(0)) w.resolve();
  };
  const reflectors: (Reflector | KubeletPodSource)[] = reflectorTargets({ ...o, watchPods: o.kubelet === undefined }).map(
    (target) =>
      new Reflector({
        ...target,
        kubeConfig: o.kubeConfig,
        writer: o.writer,
        metrics: o.metrics,
        logger: o.logger,
        backoff: o.backoff,
        random: o.random,
        watchTimeoutMs: o.watchTimeoutMs,
        listPageSize: o.listPageSize,
        serverWatchSeconds: o.serverWatchSeconds,
        onSynced,
      }),
  );
  if (o.kubelet !== undefined) {
    reflectors.unshift(
      new KubeletPodSource({ ...o.kubelet, writer: o.writer, metrics: o.metrics, logger: o.logger, backoff: o.backoff, random: o.random, onSynced }),
    );
  }
  for (const r of reflectors) r.start();

  return {
    status: () => reflectors.map((r) => r.status()),
    ready: () => {
      if (allSynced()) return Promise.resolve();
      if (stopped) return Promise.reject(new Error('the reflectors were stopped before their initial sync'));
      return new Promise<void>((resolve, reject) => waiters.push({ resolve, reject }));
    },
    stop: async () => {
      stopped = true;
      await Promise.all(reflectors.map((r) => r.stop()));
      if (!allSynced()) for (const w of waiters.splice(0)) w.reject(new Error('the reflectors were stopped before their initial sync'));
    },
  };
}
