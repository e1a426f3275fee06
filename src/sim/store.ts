/**
 * The simulated etcd: objects by kind, one global resourceVersion shared by every kind, and a
 * bounded history of changes from which watches replay and old list states are rebuilt.
 * Compaction (by size or on demand) moves the floor below which history is gone (410 Expired).
 */
import { randomUUID } from 'node:crypto';
import type { KubeObject, SimKind } from './types.ts';

export type ChangeType = 'ADDED' | 'MODIFIED' | 'DELETED';

/** One recorded change: the new state (for DELETED, the last state with the deletion's RV). */
export interface Change {
  readonly rv: number;
  readonly kind: SimKind;
  readonly type: ChangeType;
  readonly key: string;
  readonly object: KubeObject;
  /** The state before this change (undefined for ADDED). */
  readonly previous: KubeObject | undefined;
}

export type SimErrorCode = 'NotFound' | 'AlreadyExists' | 'Conflict' | 'Invalid';

/** Thrown by the in-process write API (create/update/delete) on a bad request. */
export class SimError extends Error {
  readonly code: SimErrorCode;
  constructor(code: SimErrorCode, message: string) {
    super(message);
    this.name = 'SimError';
    this.code = code;
  }
}

export const CLUSTER_SCOPED: ReadonlySet<SimKind> = new Set(['namespaces', 'nodes']);

export function objectKey(kind: SimKind, namespace: string | undefined, name: string): string {
  return CLUSTER_SCOPED.has(kind) ? name : `${namespace ?? ''}/${name}`;
}

export interface ObjectStoreOptions {
  /** How many changes are kept for watch replay before the oldest are compacted. */
  historyLimit: number;
  /** Source of creation/deletion timestamps. */
  now: () => Date;
  /** Source of uids (injected so a seeded demo can be reproducible). */
  uid: () => string;
}

type Listener = (change: Change) => void;

function rfc3339(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

export class ObjectStore {
  private readonly objects = new Map<SimKind, Map<string, KubeObject>>();
  private readonly history: Change[] = [];
  private readonly listeners = new Set<Listener>();
  private readonly options: ObjectStoreOptions;
  private rv = 1;
  /** The oldest RV a watch may start from (or a list be rebuilt at): changes after it are all kept. */
  private floorRv = 1;

  constructor(options: Partial<ObjectStoreOptions> = {}) {
    this.options = {
      historyLimit: options.historyLimit ?? 10_000,
      now: options.now ?? (() => new Date()),
      uid: options.uid ?? randomUUID,
    };
    this.objects.set('pods', new Map());
    this.objects.set('namespaces', new Map());
    this.objects.set('nodes', new Map());
  }

  get resourceVersion(): number {
    return this.rv;
  }

  get floor(): number {
    return this.floorRv;
  }

  subscribe(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private bucket(kind: SimKind): Map<string, KubeObject> {
    const bucket = this.objects.get(kind);
    if (!bucket) throw new SimError('Invalid', `unknown kind "${String(kind)}" (expected pods, namespaces or nodes)`);
    return bucket;
  }

  get(kind: SimKind, namespace: string | undefined, name: string): KubeObject | undefined {
    return this.bucket(kind).get(objectKey(kind, namespace, name));
  }

  /** Current objects of a kind, sorted by key like etcd's range reads. */
  list(kind: SimKind): KubeObject[] {
    const bucket = this.bucket(kind);
    return [...bucket.keys()].sort().map((key) => bucket.get(key) as KubeObject);
  }

  create(kind: SimKind, input: KubeObject): KubeObject {
    const name = input.metadata?.name;
    if (typeof name !== 'string' || name === '') throw new SimError('Invalid', `${kind}: metadata.name is required`);
    const namespace = CLUSTER_SCOPED.has(kind) ? undefined : input.metadata.namespace;
    if (!CLUSTER_SCOPED.has(kind) && !namespace) throw new SimError('Invalid', `${kind} "${name}": metadata.namespace is required`);
    const key = objectKey(kind, namespace, name);
    const bucket = this.bucket(kind);
    if (bucket.has(key)) throw new SimError('AlreadyExists', `${kind} "${key}" already exists`);
    const object = structuredClone(input);
    delete object.kind;
    delete object.apiVersion;
    const rv = this.rv + 1;
    object.metadata = {
      ...object.metadata,
      uid: object.metadata.uid ?? this.options.uid(),
      resourceVersion: String(rv),
      generation: 1,
      creationTimestamp: object.metadata.creationTimestamp ?? rfc3339(this.options.now()),
    };
    if (namespace === undefined) delete object.metadata.namespace;
    bucket.set(key, object);
    this.record({ rv, kind, type: 'ADDED', key, object, previous: undefined });
    return object;
  }

  update(kind: SimKind, input: KubeObject): KubeObject {
    const name = input.metadata?.name;
    if (typeof name !== 'string' || name === '') throw new SimError('Invalid', `${kind}: metadata.name is required`);
    const key = objectKey(kind, input.metadata.namespace, name);
    const bucket = this.bucket(kind);
    const previous = bucket.get(key);
    if (!previous) throw new SimError('NotFound', `${kind} "${key}" not found`);
    const given = input.metadata.resourceVersion;
    if (given !== undefined && given !== previous.metadata.resourceVersion) {
      throw new SimError('Conflict', `Operation cannot be fulfilled on ${kind} "${name}": the object has been modified; please apply your changes to the latest version (given ${given}, current ${previous.metadata.resourceVersion})`);
    }
    const object = structuredClone(input);
    delete object.kind;
    delete object.apiVersion;
    const rv = this.rv + 1;
    const specChanged = JSON.stringify(object.spec) !== JSON.stringify(previous.spec);
    object.metadata = {
      ...object.metadata,
      uid: previous.metadata.uid,
      creationTimestamp: previous.metadata.creationTimestamp,
      resourceVersion: String(rv),
      generation: (previous.metadata.generation ?? 1) + (specChanged ? 1 : 0),
    };
    if (CLUSTER_SCOPED.has(kind)) delete object.metadata.namespace;
    bucket.set(key, object);
    this.record({ rv, kind, type: 'MODIFIED', key, object, previous });
    return object;
  }

  delete(kind: SimKind, namespace: string | undefined, name: string): KubeObject {
    const key = objectKey(kind, namespace, name);
    const bucket = this.bucket(kind);
    const previous = bucket.get(key);
    if (!previous) throw new SimError('NotFound', `${kind} "${key}" not found`);
    bucket.delete(key);
    const rv = this.rv + 1;
    const object: KubeObject = { ...previous, metadata: { ...previous.metadata, resourceVersion: String(rv) } };
    this.record({ rv, kind, type: 'DELETED', key, object, previous });
    return object;
  }

  private record(change: Change): void {
    this.rv = change.rv;
    this.history.push(change);
    if (this.history.length > this.options.historyLimit) {
      const dropped = this.history.splice(0, this.history.length - this.options.historyLimit);
      const last = dropped[dropped.length - 1];
      if (last) this.floorRv = Math.max(this.floorRv, last.rv);
    }
    for (const listener of this.listeners) listener(change);
  }

  /** Forgets all history: only the current state remains, as after an etcd compaction. */
  compact(): void {
    this.history.length = 0;
    this.floorRv = this.rv;
  }

  /** The changes after `rv` (exclusive), or undefined when they are no longer all known. */
  changesSince(rv: number): readonly Change[] | undefined {
    if (rv < this.floorRv) return undefined;
    const first = this.history.findIndex((c) => c.rv > rv);
    return first < 0 ? [] : this.history.slice(first);
  }

  /** The objects of a kind as they were at `rv`, sorted by key; undefined when compacted away. */
  stateAt(kind: SimKind, rv: number): KubeObject[] | undefined {
    const changes = this.changesSince(rv);
    if (!changes) return undefined;
    const state = new Map(this.bucket(kind));
    for (let i = changes.length - 1; i >= 0; i--) {
      const change = changes[i] as Change;
      if (change.kind !== kind) continue;
      if (change.previous) state.set(change.key, change.previous);
      else state.delete(change.key);
    }
    return [...state.keys()].sort().map((key) => state.get(key) as KubeObject);
  }
}
