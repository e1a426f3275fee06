/**
 * The simulated etcd: objects by kind, one global resourceVersion shared by every kind, and a
 * bounded history of changes from which watches replay and old list states are rebuilt.
 * Compaction (by size or on demand) moves the floor below which history is gone (410 Expired).
 *
 * Reads scale with what they return: keys are kept in order (a page is a binary search and a
 * slice), an older state is the current one overlaid with the few changes since, and every stored
 * object is serialised once (stored objects are never modified, so their JSON text stays valid).
 */
import { randomUUID } from 'node:crypto';
import { SortedKeys, inKeyRange, keyRange } from './sorted-keys.ts';
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

/**
 * The objects of one kind as they were at one resourceVersion, read in key order. A range is the
 * keys that start with `prefix` (a namespace's `ns/`, or '' for all) and are >= `from`.
 */
export interface KindState {
  /** The objects in the range, in key order. */
  entries(prefix: string, from: string): Generator<[key: string, object: KubeObject]>;
  /** How many objects entries(prefix, from) yields. */
  count(prefix: string, from: string): number;
}

/** Per key changed since some RV: its state at that RV (null: it did not exist then). */
interface Overlay {
  kind: SimKind;
  rv: number;
  /** The store's RV when built: valid until the next change. */
  builtAt: number;
  states: Map<string, KubeObject | null>;
  keys: string[];
}

interface Bucket {
  objects: Map<string, KubeObject>;
  keys: SortedKeys;
}

export class ObjectStore {
  readonly #buckets = new Map<SimKind, Bucket>();
  /** Changes in RV order from `historyStart` on (the slots before it are dropped, awaiting a trim). */
  #history: Change[] = [];
  #historyStart = 0;
  readonly #listeners = new Set<Listener>();
  readonly #options: ObjectStoreOptions;
  /** JSON text of stored objects (current and historical), made once per object. */
  readonly #jsonTexts = new WeakMap<KubeObject, string>();
  /** The last overlay built: the pages of one chunked list share it. */
  #overlay: Overlay | undefined;
  #rv = 1;
  /** The oldest RV a watch may start from (or a list be rebuilt at): changes after it are all kept. */
  #floorRv = 1;

  constructor(options: Partial<ObjectStoreOptions> = {}) {
    this.#options = {
      historyLimit: options.historyLimit ?? 10_000,
      now: options.now ?? (() => new Date()),
      uid: options.uid ?? randomUUID,
    };
    for (const kind of ['pods', 'namespaces', 'nodes'] as const) this.#buckets.set(kind, { objects: new Map(), keys: new SortedKeys() });
  }

  get resourceVersion(): number {
    return this.#rv;
  }

  get floor(): number {
    return this.#floorRv;
  }

  subscribe(listener: Listener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  #bucket(kind: SimKind): Bucket {
    const bucket = this.#buckets.get(kind);
    if (!bucket) throw new SimError('Invalid', `unknown kind "${String(kind)}" (expected pods, namespaces or nodes)`);
    return bucket;
  }

  get(kind: SimKind, namespace: string | undefined, name: string): KubeObject | undefined {
    return this.#bucket(kind).objects.get(objectKey(kind, namespace, name));
  }

  /** The JSON text of an object this store handed out (made and kept on first use). */
  jsonOf(object: KubeObject): string {
    let text = this.#jsonTexts.get(object);
    if (text === undefined) {
      text = JSON.stringify(object);
      this.#jsonTexts.set(object, text);
    }
    return text;
  }

  /** Current objects of a kind, sorted by key like etcd's range reads. */
  list(kind: SimKind): KubeObject[] {
    const { objects, keys } = this.#bucket(kind);
    return keys.keys().map((key) => objects.get(key) as KubeObject);
  }

  /**
   * The objects of a kind at `rv` (the current state when undefined or current); undefined when
   * the changes since `rv` are compacted away.
   */
  state(kind: SimKind, rv?: number): KindState | undefined {
    const { objects, keys } = this.#bucket(kind);
    const sorted = keys.keys();
    if (rv === undefined || rv >= this.#rv) return currentState(sorted, objects);
    const overlay = this.#overlayAt(kind, rv);
    if (!overlay) return undefined;
    return overlay.keys.length === 0 ? currentState(sorted, objects) : overlaidState(sorted, objects, overlay);
  }

  #overlayAt(kind: SimKind, rv: number): Overlay | undefined {
    const cached = this.#overlay;
    if (cached && cached.kind === kind && cached.rv === rv && cached.builtAt === this.#rv) return cached;
    const changes = this.changesSince(rv);
    if (!changes) return undefined;
    const states = new Map<string, KubeObject | null>();
    // The first change after `rv` to a key holds the key's state at `rv`.
    for (const change of changes) {
      if (change.kind === kind && !states.has(change.key)) states.set(change.key, change.previous ?? null);
    }
    const overlay: Overlay = { kind, rv, builtAt: this.#rv, states, keys: [...states.keys()].sort() };
    this.#overlay = overlay;
    return overlay;
  }

  /** Stores a copy made through JSON, so the text a list sends comes for free and stays in step. */
  #stored(object: KubeObject): KubeObject {
    const text = JSON.stringify(object);
    const copy = JSON.parse(text) as KubeObject;
    this.#jsonTexts.set(copy, text);
    return copy;
  }

  create(kind: SimKind, input: KubeObject): KubeObject {
    const name = input.metadata?.name;
    if (typeof name !== 'string' || name === '') throw new SimError('Invalid', `${kind}: metadata.name is required`);
    const namespace = CLUSTER_SCOPED.has(kind) ? undefined : input.metadata.namespace;
    if (!CLUSTER_SCOPED.has(kind) && !namespace) throw new SimError('Invalid', `${kind} "${name}": metadata.namespace is required`);
    const key = objectKey(kind, namespace, name);
    const bucket = this.#bucket(kind);
    if (bucket.objects.has(key)) throw new SimError('AlreadyExists', `${kind} "${key}" already exists`);
    const rv = this.#rv + 1;
    const shallow: KubeObject = {
      ...input,
      metadata: {
        ...input.metadata,
        uid: input.metadata.uid ?? this.#options.uid(),
        resourceVersion: String(rv),
        generation: 1,
        creationTimestamp: input.metadata.creationTimestamp ?? rfc3339(this.#options.now()),
      },
    };
    delete shallow.kind;
    delete shallow.apiVersion;
    if (namespace === undefined) delete shallow.metadata.namespace;
    const object = this.#stored(shallow);
    bucket.objects.set(key, object);
    bucket.keys.add(key);
    this.#record({ rv, kind, type: 'ADDED', key, object, previous: undefined });
    return object;
  }

  update(kind: SimKind, input: KubeObject): KubeObject {
    const name = input.metadata?.name;
    if (typeof name !== 'string' || name === '') throw new SimError('Invalid', `${kind}: metadata.name is required`);
    const key = objectKey(kind, input.metadata.namespace, name);
    const bucket = this.#bucket(kind);
    const previous = bucket.objects.get(key);
    if (!previous) throw new SimError('NotFound', `${kind} "${key}" not found`);
    const given = input.metadata.resourceVersion;
    if (given !== undefined && given !== previous.metadata.resourceVersion) {
      throw new SimError('Conflict', `Operation cannot be fulfilled on ${kind} "${name}": the object has been modified; please apply your changes to the latest version (given ${given}, current ${previous.metadata.resourceVersion})`);
    }
    const rv = this.#rv + 1;
    const specChanged = JSON.stringify(input.spec) !== JSON.stringify(previous.spec);
    const shallow: KubeObject = {
      ...input,
      metadata: {
        ...input.metadata,
        uid: previous.metadata.uid,
        creationTimestamp: previous.metadata.creationTimestamp,
        resourceVersion: String(rv),
        generation: (previous.metadata.generation ?? 1) + (specChanged ? 1 : 0),
      },
    };
    delete shallow.kind;
    delete shallow.apiVersion;
    if (CLUSTER_SCOPED.has(kind)) delete shallow.metadata.namespace;
    const object = this.#stored(shallow);
    bucket.objects.set(key, object);
    this.#record({ rv, kind, type: 'MODIFIED', key, object, previous });
    return object;
  }

  delete(kind: SimKind, namespace: string | undefined, name: string): KubeObject {
    const key = objectKey(kind, namespace, name);
    const bucket = this.#bucket(kind);
    const previous = bucket.objects.get(key);
    if (!previous) throw new SimError('NotFound', `${kind} "${key}" not found`);
    bucket.objects.delete(key);
    bucket.keys.delete(key);
    const rv = this.#rv + 1;
    const object: KubeObject = { ...previous, metadata: { ...previous.metadata, resourceVersion: String(rv) } };
    this.#record({ rv, kind, type: 'DELETED', key, object, previous });
    return object;
  }

  #record(change: Change): void {
    this.#rv = change.rv;
    this.#history.push(change);
    // Dropping moves a start index (shift() is O(n) on big arrays); the array is trimmed once
    // half of it is dropped, so recording stays O(1) amortised at any historyLimit.
    while (this.#history.length - this.#historyStart > this.#options.historyLimit) {
      const dropped = this.#history[this.#historyStart++] as Change;
      this.#floorRv = Math.max(this.#floorRv, dropped.rv);
    }
    if (this.#historyStart > 1024 && this.#historyStart * 2 > this.#history.length) {
      this.#history = this.#history.slice(this.#historyStart);
      this.#historyStart = 0;
    }
    for (const listener of this.#listeners) listener(change);
  }

  /** Forgets all history: only the current state remains, as after an etcd compaction. */
  compact(): void {
    this.#history = [];
    this.#historyStart = 0;
    this.#floorRv = this.#rv;
    this.#overlay = undefined;
  }

  /** The changes after `rv` (exclusive), or undefined when they are no longer all known. */
  changesSince(rv: number): readonly Change[] | undefined {
    if (rv < this.#floorRv) return undefined;
    // History is in RV order: binary search for the first change after `rv`.
    let lo = this.#historyStart;
    let hi = this.#history.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.#history[mid] as Change).rv <= rv) lo = mid + 1;
      else hi = mid;
    }
    return this.#history.slice(lo);
  }
}

function currentState(keys: readonly string[], objects: ReadonlyMap<string, KubeObject>): KindState {
  return {
    *entries(prefix, from) {
      const { start, end } = keyRange(keys, prefix, from);
      for (let i = start; i < end; i++) {
        const key = keys[i] as string;
        yield [key, objects.get(key) as KubeObject];
      }
    },
    count(prefix, from) {
      const { start, end } = keyRange(keys, prefix, from);
      return end - start;
    },
  };
}

/** The current keys merged with the overlay's: an overlaid key shows its older state (or is gone). */
function overlaidState(keys: readonly string[], objects: ReadonlyMap<string, KubeObject>, overlay: Overlay): KindState {
  const { states, keys: changed } = overlay;
  return {
    *entries(prefix, from) {
      const currentRange = keyRange(keys, prefix, from);
      const changedRange = keyRange(changed, prefix, from);
      const iEnd = currentRange.end;
      const jEnd = changedRange.end;
      let i = currentRange.start;
      let j = changedRange.start;
      while (i < iEnd || j < jEnd) {
        const current = i < iEnd ? (keys[i] as string) : undefined;
        const older = j < jEnd ? (changed[j] as string) : undefined;
        if (older === undefined || (current !== undefined && current < older)) {
          i++;
          yield [current as string, objects.get(current as string) as KubeObject];
          continue;
        }
        if (current === older) i++;
        j++;
        const then = states.get(older);
        if (then) yield [older, then];
      }
    },
    count(prefix, from) {
      const { start, end } = keyRange(keys, prefix, from);
      let count = end - start;
      for (const key of changed) {
        if (!inKeyRange(key, prefix, from)) continue;
        if (states.get(key)) count++;
        if (objects.has(key)) count--;
      }
      return count;
    },
  };
}
