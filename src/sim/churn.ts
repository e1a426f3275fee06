/**
 * Keeps a simulated cluster moving the way real ones do: Deployment rollouts (a new ReplicaSet
 * replaces every pod), CronJobs starting Jobs and old ones being cleaned up, container restarts
 * (new container ids), scaling, and label changes on pods and namespaces. Seeded, and steppable by
 * hand so tests and the demo can drive it deterministically.
 */
import { SeededRandom, sha256Hex } from './random.ts';
import type { SimApiServer } from './server.ts';
import type { ContainerStatusJson, NamespaceJson, NodeJson, PodJson } from './types.ts';

export type ChurnActionType = 'rollout' | 'cronjob' | 'restart' | 'relabel' | 'scale-up' | 'scale-down' | 'namespace-relabel';

/** What one step did; object keys are `namespace/name` (pods) or `name` (namespaces). */
export interface ChurnAction {
  type: ChurnActionType;
  created: string[];
  deleted: string[];
  modified: string[];
}

export interface ChurnOptions {
  seed?: number;
  /** Time between steps when started; 0 means steps only happen through step() (default 2000). */
  intervalMs?: number;
  now?: () => Date;
  /** Relative weights of the action types (missing types keep their default weight). */
  weights?: Partial<Record<ChurnActionType, number>>;
  /** Called after every step that did something. */
  onAction?: (action: ChurnAction) => void;
}

const DEFAULT_WEIGHTS: Record<ChurnActionType, number> = {
  rollout: 1, cronjob: 2, restart: 2, relabel: 1, 'scale-up': 2, 'scale-down': 2, 'namespace-relabel': 0.5,
};

function rfc3339(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function keyOf(pod: PodJson): string {
  return `${pod.metadata.namespace ?? ''}/${pod.metadata.name}`;
}

function ownerOf(pod: PodJson): { kind: string; name: string; uid: string } | undefined {
  return pod.metadata.ownerReferences?.[0];
}

export class ClusterChurn {
  readonly #sim: SimApiServer;
  readonly #rng: SeededRandom;
  readonly #options: ChurnOptions;
  readonly #now: () => Date;
  readonly #weights: [ChurnActionType, number][];
  #timer: NodeJS.Timeout | undefined;
  #counter = 0;

  constructor(sim: SimApiServer, options: ChurnOptions = {}) {
    this.#sim = sim;
    this.#options = options;
    this.#rng = new SeededRandom(options.seed ?? 1);
    this.#now = options.now ?? (() => new Date());
    this.#weights = (Object.keys(DEFAULT_WEIGHTS) as ChurnActionType[])
      .map((type): [ChurnActionType, number] => [type, options.weights?.[type] ?? DEFAULT_WEIGHTS[type]])
      .filter(([, weight]) => weight > 0);
  }

  start(): void {
    const interval = this.#options.intervalMs ?? 2000;
    if (this.#timer || interval <= 0) return;
    this.#timer = setInterval(() => this.step(), interval);
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** Performs one action of a weighted random type (falling back to others when it has nothing to act on). */
  step(): ChurnAction | undefined {
    const total = this.#weights.reduce((sum, [, w]) => sum + w, 0);
    let roll = this.#rng.next() * total;
    let first = 0;
    for (let i = 0; i < this.#weights.length; i++) {
      roll -= this.#weights[i]?.[1] ?? 0;
      if (roll < 0) {
        first = i;
        break;
      }
    }
    for (let i = 0; i < this.#weights.length; i++) {
      const type = this.#weights[(first + i) % this.#weights.length]?.[0];
      const action = type ? this.perform(type) : undefined;
      if (action) {
        this.#options.onAction?.(action);
        return action;
      }
    }
    return undefined;
  }

  /** Performs one action of the given type; undefined when the cluster has nothing it applies to. */
  perform(type: ChurnActionType): ChurnAction | undefined {
    this.#counter++;
    switch (type) {
      case 'rollout': return this.#rollout();
      case 'cronjob': return this.#cronjob();
      case 'restart': return this.#restart();
      case 'relabel': return this.#relabel();
      case 'scale-up': return this.#scaleUp();
      case 'scale-down': return this.#scaleDown();
      case 'namespace-relabel': return this.#namespaceRelabel();
    }
  }

  #pods(): PodJson[] {
    return this.#sim.list<PodJson>('pods').filter((p) => p.metadata.deletionTimestamp === undefined);
  }

  #replicaSetPods(): PodJson[] {
    return this.#pods().filter((p) => ownerOf(p)?.kind === 'ReplicaSet');
  }

  /** A new pod modelled on `template`: new name, uid, IP, container ids; running since now. */
  #respawn(template: PodJson, name: string, changes: { labels?: Record<string, string>; node?: NodeJson } = {}): PodJson {
    const pod = structuredClone(template);
    const now = this.#now();
    const createdAt = rfc3339(now);
    pod.metadata = {
      ...pod.metadata,
      name,
      uid: this.#rng.uuid(),
      creationTimestamp: createdAt,
      labels: { ...pod.metadata.labels, ...changes.labels },
    };
    delete pod.metadata.resourceVersion;
    delete pod.metadata.generation;
    delete pod.metadata.deletionTimestamp;
    delete pod.metadata.deletionGracePeriodSeconds;
    if (pod.metadata.generateName !== undefined) pod.metadata.generateName = name.replace(/[a-z0-9]{5}$/, '');
    if (changes.node) {
      pod.spec.nodeName = changes.node.metadata.name;
      const addresses = (changes.node.status?.addresses ?? []) as { type: string; address: string }[];
      const hostIP = addresses.find((a) => a.type === 'InternalIP')?.address;
      if (hostIP) {
        pod.status.hostIP = hostIP;
        pod.status.hostIPs = [{ ip: hostIP }];
      }
      const cidr = changes.node.spec?.podCIDR;
      if (cidr && !pod.spec.hostNetwork) pod.status.podIP = `${cidr.replace(/\.0\/\d+$/, '')}.${this.#rng.int(2, 254)}`;
    } else if (pod.status.podIP && !pod.spec.hostNetwork) {
      pod.status.podIP = pod.status.podIP.replace(/\.\d+$/, `.${this.#rng.int(2, 254)}`);
    }
    if (pod.status.podIP) pod.status.podIPs = [{ ip: pod.status.podIP }];
    pod.status.startTime = createdAt;
    pod.status.phase = 'Running';
    const fresh = (s: ContainerStatusJson, init: boolean): ContainerStatusJson => {
      const containerID = `containerd://${sha256Hex(`container:${name}:${pod.metadata.uid}:${s.name}:0`)}`;
      const next: ContainerStatusJson = { ...s, containerID, restartCount: 0, ready: !init, started: !init, state: init ? { terminated: { exitCode: 0, reason: 'Completed', startedAt: createdAt, finishedAt: createdAt, containerID } } : { running: { startedAt: createdAt } } };
      delete next.lastState;
      return next;
    };
    if (pod.status.containerStatuses) pod.status.containerStatuses = pod.status.containerStatuses.map((s) => fresh(s, false));
    if (pod.status.initContainerStatuses) pod.status.initContainerStatuses = pod.status.initContainerStatuses.map((s) => fresh(s, true));
    return pod;
  }

  #rollout(): ChurnAction | undefined {
    const candidates = this.#replicaSetPods();
    if (candidates.length === 0) return undefined;
    const owner = ownerOf(this.#rng.pick(candidates));
    if (!owner) return undefined;
    const deployment = owner.name.slice(0, owner.name.lastIndexOf('-'));
    const newHash = this.#rng.suffix(10);
    const newRs = { ...owner, name: `${deployment}-${newHash}`, uid: this.#rng.uuid() };
    const action: ChurnAction = { type: 'rollout', created: [], deleted: [], modified: [] };
    for (const old of candidates.filter((p) => ownerOf(p)?.uid === owner.uid)) {
      const pod = this.#respawn(old, `${newRs.name}-${this.#rng.suffix(5)}`, { labels: { 'pod-template-hash': newHash } });
      pod.metadata.ownerReferences = [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: newRs.name, uid: newRs.uid, controller: true, blockOwnerDeletion: true }];
      pod.metadata.annotations = { ...pod.metadata.annotations, 'kubectl.kubernetes.io/restartedAt': rfc3339(this.#now()) };
      this.#sim.create('pods', pod);
      action.created.push(keyOf(pod));
      this.#sim.delete('pods', old.metadata.namespace, old.metadata.name, { graceful: true });
      action.deleted.push(keyOf(old));
    }
    return action;
  }

  #cronjob(): ChurnAction | undefined {
    const jobPods = this.#pods().filter((p) => ownerOf(p)?.kind === 'Job' && /-\d{8}$/.test(ownerOf(p)?.name ?? ''));
    if (jobPods.length === 0) return undefined;
    const picked = this.#rng.pick(jobPods);
    const cronjob = (ownerOf(picked)?.name ?? '').replace(/-\d{8}$/, '');
    const runs = jobPods
      .filter((p) => p.metadata.namespace === picked.metadata.namespace && ownerOf(p)?.name.replace(/-\d{8}$/, '') === cronjob)
      .sort((a, b) => (ownerOf(a)?.name ?? '').localeCompare(ownerOf(b)?.name ?? ''));
    const latest = runs[runs.length - 1];
    if (!latest) return undefined;
    const action: ChurnAction = { type: 'cronjob', created: [], deleted: [], modified: [] };
    const lastMinutes = Number((ownerOf(latest)?.name ?? '').slice(-8));
    const nextJob = `${cronjob}-${lastMinutes + 15}`;
    const jobUid = this.#rng.uuid();
    const pod = this.#respawn(latest, `${nextJob}-${this.#rng.suffix(5)}`, {
      labels: { 'batch.kubernetes.io/controller-uid': jobUid, 'batch.kubernetes.io/job-name': nextJob, 'controller-uid': jobUid, 'job-name': nextJob },
    });
    pod.metadata.ownerReferences = [{ apiVersion: 'batch/v1', kind: 'Job', name: nextJob, uid: jobUid, controller: true, blockOwnerDeletion: true }];
    for (const run of runs) {
      if (run.status.phase !== 'Running') continue;
      this.#sim.update('pods', this.#completed(run));
      action.modified.push(keyOf(run));
    }
    this.#sim.create('pods', pod);
    action.created.push(keyOf(pod));
    // successfulJobsHistoryLimit: 3
    for (const old of runs.slice(0, Math.max(0, runs.length + 1 - 3))) {
      this.#sim.delete('pods', old.metadata.namespace, old.metadata.name, { graceful: true });
      action.deleted.push(keyOf(old));
    }
    return action;
  }

  #completed(pod: PodJson): PodJson {
    const done = structuredClone(pod);
    const finishedAt = rfc3339(this.#now());
    done.status.phase = 'Succeeded';
    done.status.containerStatuses = (done.status.containerStatuses ?? []).map((s) => {
      const running = (s.state as { running?: { startedAt?: string } }).running;
      return { ...s, ready: false, started: false, state: { terminated: { exitCode: 0, reason: 'Completed', startedAt: running?.startedAt ?? finishedAt, finishedAt, containerID: s.containerID } } };
    });
    for (const condition of done.status.conditions ?? []) {
      if (condition.type === 'Ready' || condition.type === 'ContainersReady') {
        condition.status = 'False';
        condition.lastTransitionTime = finishedAt;
      }
    }
    return done;
  }

  #restart(): ChurnAction | undefined {
    const running = this.#pods().filter((p) => p.status.phase === 'Running' && (p.status.containerStatuses?.length ?? 0) > 0);
    if (running.length === 0) return undefined;
    const pod = this.#rng.pick(running);
    const statuses = pod.status.containerStatuses ?? [];
    const index = this.#rng.int(0, statuses.length - 1);
    const current = statuses[index];
    if (!current) return undefined;
    const now = rfc3339(this.#now());
    const restarts = current.restartCount + 1;
    const containerID = `containerd://${sha256Hex(`container:${pod.metadata.uid}:${current.name}:${restarts}`)}`;
    const startedAt = (current.state as { running?: { startedAt?: string } }).running?.startedAt ?? now;
    statuses[index] = {
      ...current, containerID, restartCount: restarts, ready: true, started: true, state: { running: { startedAt: now } },
      lastState: { terminated: { exitCode: this.#rng.pick([1, 2, 137, 143]), reason: this.#rng.pick(['Error', 'OOMKilled']), startedAt, finishedAt: now, containerID: current.containerID } },
    };
    this.#sim.update('pods', pod);
    return { type: 'restart', created: [], deleted: [], modified: [keyOf(pod)] };
  }

  #relabel(): ChurnAction | undefined {
    const pods = this.#pods();
    if (pods.length === 0) return undefined;
    const pod = this.#rng.pick(pods);
    this.#sim.patchLabels('pods', pod.metadata.namespace, pod.metadata.name, { 'example.com/canary': this.#rng.chance(0.5) ? 'true' : null, 'example.com/revision': String(this.#counter) });
    return { type: 'relabel', created: [], deleted: [], modified: [keyOf(pod)] };
  }

  #scaleUp(): ChurnAction | undefined {
    const candidates = this.#replicaSetPods();
    const nodes = this.#sim.list<NodeJson>('nodes');
    if (candidates.length === 0 || nodes.length === 0) return undefined;
    const template = this.#rng.pick(candidates);
    const owner = ownerOf(template);
    if (!owner) return undefined;
    const pod = this.#respawn(template, `${owner.name}-${this.#rng.suffix(5)}`, { node: this.#rng.pick(nodes) });
    if (this.#sim.get('pods', pod.metadata.namespace, pod.metadata.name)) return undefined;
    this.#sim.create('pods', pod);
    return { type: 'scale-up', created: [keyOf(pod)], deleted: [], modified: [] };
  }

  #scaleDown(): ChurnAction | undefined {
    const pods = this.#replicaSetPods();
    const perOwner = new Map<string, number>();
    for (const p of pods) perOwner.set(ownerOf(p)?.uid ?? '', (perOwner.get(ownerOf(p)?.uid ?? '') ?? 0) + 1);
    const removable = pods.filter((p) => (perOwner.get(ownerOf(p)?.uid ?? '') ?? 0) > 1);
    if (removable.length === 0) return undefined;
    const pod = this.#rng.pick(removable);
    this.#sim.delete('pods', pod.metadata.namespace, pod.metadata.name, { graceful: true });
    return { type: 'scale-down', created: [], deleted: [keyOf(pod)], modified: [] };
  }

  #namespaceRelabel(): ChurnAction | undefined {
    const namespaces = this.#sim.list<NamespaceJson>('namespaces').filter((n) => n.metadata.labels?.team !== undefined);
    if (namespaces.length === 0) return undefined;
    const ns = this.#rng.pick(namespaces);
    this.#sim.patchLabels('namespaces', undefined, ns.metadata.name, { 'cost-center': `cc-${this.#rng.int(100, 999)}` });
    return { type: 'namespace-relabel', created: [], deleted: [], modified: [ns.metadata.name] };
  }
}

/** Starts churning the simulated cluster (unless intervalMs is 0); stop() ends it. */
export function startChurn(sim: SimApiServer, options: ChurnOptions = {}): ClusterChurn {
  const churn = new ClusterChurn(sim, options);
  churn.start();
  return churn;
}
