/** Small builders of raw API objects (as the API server sends them) for store tests. */
import { randomUUID } from 'node:crypto';

let rv = 1000;
export const nextRv = (): string => String(++rv);

export interface PodSpec {
  name: string;
  namespace?: string;
  uid?: string;
  nodeName?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  resourceVersion?: string;
  containers?: string[];
}

export function rawPod(p: PodSpec): Record<string, unknown> {
  const containers = p.containers ?? ['app'];
  return {
    metadata: {
      name: p.name,
      namespace: p.namespace ?? 'default',
      uid: p.uid ?? randomUUID(),
      resourceVersion: p.resourceVersion ?? nextRv(),
      creationTimestamp: '2026-11-23T10:00:00Z',
      labels: p.labels ?? { app: p.name },
      annotations: p.annotations ?? {},
      ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: `${p.name}-rs`, uid: randomUUID(), controller: true }],
      managedFields: [{ manager: 'kube-controller-manager', operation: 'Update', fieldsV1: { 'f:metadata': {} } }],
    },
    spec: {
      nodeName: p.nodeName ?? 'node-a',
      containers: containers.map((name) => ({ name, image: `registry.example/${name}:1.0`, env: [{ name: 'X', value: 'y' }] })),
      volumes: [{ name: 'data', emptyDir: {} }],
    },
    status: {
      phase: 'Running',
      podIP: '10.1.2.3',
      podIPs: [{ ip: '10.1.2.3' }],
      conditions: [{ type: 'Ready', status: 'True' }],
      containerStatuses: containers.map((name, i) => ({
        name,
        image: `registry.example/${name}:1.0`,
        imageID: `registry.example/${name}@sha256:${'a'.repeat(64)}`,
        containerID: `containerd://${String(i).repeat(64)}`,
        ready: true,
      })),
    },
  };
}

export function rawNamed(name: string, labels: Record<string, string> = {}, uid: string = randomUUID()): Record<string, unknown> {
  return { metadata: { name, uid, resourceVersion: nextRv(), labels, annotations: {} } };
}

/** A copy of the object with a new resourceVersion and the given metadata changes. */
export function modified(obj: Record<string, unknown>, meta: Record<string, unknown> = {}): Record<string, unknown> {
  const metadata = { ...(obj.metadata as Record<string, unknown>), ...meta, resourceVersion: nextRv() };
  return { ...obj, metadata };
}

/** A controllable clock and timer set for RetainingStore. */
export function manualClock(start = 1_000_000) {
  let now = start;
  const pending = new Map<number, { at: number; fn: () => void }>();
  let id = 0;
  return {
    now: () => now,
    advance(ms: number) {
      now += ms;
      for (const [k, t] of [...pending]) {
        if (t.at <= now) {
          pending.delete(k);
          t.fn();
        }
      }
    },
    pendingTimers: () => pending.size,
    timers: {
      setTimeout: (fn: () => void, ms: number) => {
        pending.set(++id, { at: now + ms, fn });
        return id;
      },
      clearTimeout: (handle: unknown) => {
        pending.delete(handle as number);
      },
    },
  };
}
