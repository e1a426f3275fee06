/**
 * RetainingStore: the reflectors' one writer folds list and watch events in; the enricher's many
 * readers look pods, namespaces and nodes up synchronously.
 *
 * What sets it apart from client-go's cache.Store: a deleted object is not dropped but retained
 * (marked with deletedAt) for `deletionDelayMs`, because the last lines of a deleted pod are
 * still being read from disk after the API server forgot it. One sweep timer, owned by the store
 * and stopped by close(), evicts retained objects once they expire; lookups never return an
 * expired entry even if the sweep has not run yet.
 *
 * Pods are keyed by uid: a pod re-created under the same name is another object, and the old
 * one keeps answering podByUid() while podByName() answers the live one.
 */
import type { Metrics } from '../metrics/index.ts';
import { StringInterner } from './intern.ts';
import { objectKey, slimNamespace, slimNode, slimPod } from './slim.ts';
import type {
  ApplyOutcome,
  NamespaceMeta,
  NodeMeta,
  PodMeta,
  ReplaceOptions,
  ReplaceResult,
  ReplaceSession,
  ResourceKind,
  RetentionHint,
  RetentionReason,
  StoreEntry,
  StoreReader,
  StoreWriter,
  WatchEventType,
} from './types.ts';


export interface StoreCounts {
  kind: ResourceKind;
  live: number;
  retained: number;
}

/** The sweep timer's clock, injectable for tests. Handles are unref'd when they support it. */
export interface StoreTimers {
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export interface RetainingStoreOptions {
  /** How long a deleted object stays visible to readers. */
  deletionDelayMs: number;
  /**
   * The longest a deleted pod is kept while a RetentionHint still needs it (kubernetes.maxRetention);
   * default: deletionDelayMs (no extension).
   */
  maxRetentionMs?: number;
  /** Epoch ms; injectable for tests. */
  now?: () => number;
  metrics?: Pick<Metrics, 'storeObjects' | 'storeEvictions' | 'storeRetentionExtensions'>;
  timers?: StoreTimers;
  /** Shared string pool for slimming; one per store by default. */
  interner?: StringInterner;
}

const KINDS: readonly ResourceKind[] = ['pods', 'namespaces', 'nodes'];

/** Entries are immutable: a change is a new entry with a new version. */
class Entry<T> implements StoreEntry<T> {
  readonly object: T;
  readonly version: number;
  readonly deletedAt: number | undefined;
  /** Moved later (only) when a RetentionHint still needs a deleted pod; the version stays. */
  expiresAt: number | undefined;
  keptBy: RetentionReason | undefined = undefined;
  constructor(object: T, version: number, deletedAt: number | undefined, expiresAt: number | undefined) {
    this.object = object;
    this.version = version;
    this.deletedAt = deletedAt;
    this.expiresAt = expiresAt;
  }
}

/** The uids answering podByName(): the live pod and the most recently deleted one. */
interface NameSlot {
  live: string | undefined;
  retained: string | undefined;
}

interface Expiry {
  kind: ResourceKind;
  /** uid for pods, name for namespaces and nodes. */
  key: string;
  /** The deleted entry's version: a later change to the key makes this item stale. */
  version: number;
  expiresAt: number;
}

type NamedMeta = NamespaceMeta | NodeMeta;

interface Gauge {
  set(value: number): void;
}

const realTimers: StoreTimers = {
  setTimeout: (callback, ms) => setTimeout(callback, ms),
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};

export class RetainingStore implements StoreWriter {
  readonly #deletionDelayMs: number;
  readonly #now: () => number;
  readonly #timers: StoreTimers;
  readonly #interner: StringInterner;
  readonly #metrics: Pick<Metrics, 'storeObjects' | 'storeEvictions' | 'storeRetentionExtensions'> | undefined;
  readonly #maxRetentionMs: number;
  readonly #hints: RetentionHint[] = [];
  readonly #gauges: Record<ResourceKind, { live: Gauge; retained: Gauge }> | undefined;

  readonly #pods = new Map<string, Entry<PodMeta>>();
  readonly #podNames = new Map<string, Map<string, NameSlot>>();
  readonly #mirrorHashes = new Map<string, string>();
  readonly #namespaces = new Map<string, Entry<NamespaceMeta>>();
  readonly #nodes = new Map<string, Entry<NodeMeta>>();
  readonly #counts: Record<ResourceKind, { live: number; retained: number }> = {
    pods: { live: 0, retained: 0 },
    namespaces: { live: 0, retained: 0 },
    nodes: { live: 0, retained: 0 },
  };

  /** Deleted entries in deletion order (= expiry order); `#expiryHead` avoids O(n) shifts. */
  #expiries: Expiry[] = [];
  #expiryHead = 0;
  #timer: unknown = undefined;
  #version = 0;
  /** Kinds with a committed replace (a completed list). */
  readonly #synced = new Set<ResourceKind>();
  /** Kinds a writer announced (expectSync) that are not in #synced yet. */
  readonly #pending = new Set<ResourceKind>();
  #closed = false;
  readonly #reader: StoreReader;

  constructor(options: RetainingStoreOptions) {
    if (!Number.isFinite(options.deletionDelayMs) || options.deletionDelayMs < 0) {
      throw new RangeError(`deletionDelayMs must be a finite number >= 0, got ${String(options.deletionDelayMs)}`);
    }
    this.#deletionDelayMs = options.deletionDelayMs;
    const maxRetention = options.maxRetentionMs ?? options.deletionDelayMs;
    if (!Number.isFinite(maxRetention) || maxRetention < options.deletionDelayMs) {
      throw new RangeError(`maxRetentionMs must be a finite number >= deletionDelayMs, got ${String(options.maxRetentionMs)}`);
    }
    this.#maxRetentionMs = maxRetention;
    this.#now = options.now ?? Date.now;
    this.#timers = options.timers ?? realTimers;
    this.#interner = options.interner ?? new StringInterner();
    this.#metrics = options.metrics;
    if (options.metrics !== undefined) {
      const g = options.metrics.storeObjects;
      const gauges = {} as Record<ResourceKind, { live: Gauge; retained: Gauge }>;
      for (const kind of KINDS) gauges[kind] = { live: g.labels({ kind, state: 'live' }), retained: g.labels({ kind, state: 'retained' }) };
      this.#gauges = gauges;
      for (const kind of KINDS) this.#publish(kind);
    }
    this.#reader = this.#makeReader();
  }

  /** Folds one watch event in. The object is slimmed here; the caller may drop it afterwards. */
  apply(kind: ResourceKind, type: WatchEventType, apiObject: unknown): ApplyOutcome {
    let outcome: ApplyOutcome;
    if (kind === 'pods') outcome = type === 'DELETED' ? this.#deletePod(apiObject) : this.#upsertPod(apiObject);
    else outcome = type === 'DELETED' ? this.#deleteNamed(kind, apiObject) : this.#upsertNamed(kind, apiObject);
    if (outcome !== 'unchanged' && outcome !== 'invalid') this.#publish(kind);
    return outcome;
  }

  /**
   * After a (re)list: every listed object is upserted; live objects absent from the list are
   * marked deleted (retained until the deletion delay passes), never dropped on the spot.
   */
  replace(kind: ResourceKind, apiObjects: Iterable<unknown>): ReplaceResult {
    const session = this.beginReplace(kind);
    for (const object of apiObjects) session.add(object);
    return session.commit();
  }

  /**
   * replace() in steps, for a paged list: each page's objects are slimmed as they arrive (the raw
   * page can be dropped at once) and commit() marks the vanished ones deleted. A session that is
   * never committed (the list failed half-way) leaves only its upserts, which were current data.
   */
  beginReplace(kind: ResourceKind, options: ReplaceOptions = {}): ReplaceSession {
    const result: ReplaceResult = { added: 0, updated: 0, unchanged: 0, deleted: 0, invalid: 0 };
    const seen = new Set<string>();
    const trustVersions = options.resourceVersionTracksChanges ?? true;
    let committed = false;
    return {
      add: (object: unknown): ApplyOutcome => {
        if (committed) throw new Error('this replace session was already committed');
        const key = objectKey(object);
        const outcome = key === undefined ? 'invalid' : kind === 'pods' ? this.#upsertPod(object, trustVersions) : this.#upsertNamed(kind, object, trustVersions);
        if (outcome === 'invalid') result.invalid++;
        else {
          seen.add(kind === 'pods' ? key!.uid : key!.name);
          if (outcome === 'added') result.added++;
          else if (outcome === 'updated') result.updated++;
          else result.unchanged++;
        }
        return outcome;
      },
      keep: (key: string): boolean => {
        if (committed) throw new Error('this replace session was already committed');
        const entry = kind === 'pods' ? this.#current(kind, this.#pods, key) : this.#current(kind, this.#namedMap(kind), key);
        if (entry === undefined || entry.deletedAt !== undefined) return false;
        seen.add(key);
        result.unchanged++;
        return true;
      },
      commit: (): ReplaceResult => {
        if (committed) throw new Error('this replace session was already committed');
        committed = true;
        const vanished: string[] = [];
        for (const [key, entry] of this.#entriesOf(kind)) if (entry.deletedAt === undefined && !seen.has(key)) vanished.push(key);
        for (const key of vanished) {
          if (kind === 'pods') this.#markPodDeleted(key, undefined);
          else this.#markNamedDeleted(kind, key, undefined);
          result.deleted++;
        }
        this.#synced.add(kind);
        this.#pending.delete(kind);
        this.#publish(kind);
        return result;
      },
    };
  }

  /**
   * A writer (a reflector) announces that it will fill `kind`: until its first replace is
   * committed, readers are told the kind is not synced, so that an absent object reads as "not
   * known yet" rather than "does not exist". Kinds nobody announced are never reported.
   */
  expectSync(kind: ResourceKind): void {
    if (!this.#synced.has(kind)) this.#pending.add(kind);
  }

  reader(): StoreReader {
    return this.#reader;
  }

  /** The write half, for the reflectors: this store seen through StoreWriter. */
  writer(): StoreWriter {
    return this;
  }

  counts(): StoreCounts[] {
    return KINDS.map((kind) => ({ kind, live: this.#counts[kind].live, retained: this.#counts[kind].retained }));
  }

  /** Evicts every retained entry whose delay has passed; returns how many. The timer calls this. */
  sweep(): number {
    this.#clearTimer();
    const now = this.#now();
    let evicted = 0;
    const touched = new Set<ResourceKind>();
    while (this.#expiryHead < this.#expiries.length) {
      const item = this.#expiries[this.#expiryHead]!;
      if (item.expiresAt > now) break;
      this.#expiryHead++;
      if (this.#evict(item)) {
        evicted++;
        touched.add(item.kind);
      }
    }
    if (this.#expiryHead > 1024 && this.#expiryHead * 2 > this.#expiries.length) {
      this.#expiries = this.#expiries.slice(this.#expiryHead);
      this.#expiryHead = 0;
    }
    for (const kind of touched) this.#publish(kind);
    this.#schedule();
    return evicted;
  }

  /** Stops the sweep timer. Lookups keep working; nothing is evicted any more. */
  close(): void {
    this.#closed = true;
    this.#clearTimer();
  }

  // --- pods -------------------------------------------------------------------------------

  #upsertPod(apiObject: unknown, trustVersions = true): ApplyOutcome {
    const key = objectKey(apiObject);
    if (key === undefined) return 'invalid';
    const prev = this.#current('pods', this.#pods, key.uid);
    const prevLive = prev !== undefined && prev.deletedAt === undefined;
    if (trustVersions && prevLive && key.resourceVersion !== '' && prev.object.resourceVersion === key.resourceVersion) return 'unchanged';
    const meta = slimPod(apiObject, this.#interner);
    if (meta === undefined) return 'invalid';

    this.#pods.set(meta.uid, new Entry(meta, ++this.#version, undefined, undefined));
    const counts = this.#counts.pods;
    if (prev === undefined) counts.live++;
    else if (!prevLive) {
      counts.retained--;
      counts.live++;
    }

    const slot = this.#nameSlot(meta.namespace, meta.name, true)!;
    if (slot.live !== undefined && slot.live !== meta.uid) {
      // Two live pods cannot share a name: the old one's DELETED event was missed.
      this.#markPodDeleted(slot.live, undefined);
    }
    slot.live = meta.uid;
    if (slot.retained === meta.uid) slot.retained = undefined;

    const prevHash = prev?.object.mirrorHash;
    if (prevHash !== undefined && prevHash !== meta.mirrorHash && this.#mirrorHashes.get(prevHash) === meta.uid) {
      this.#mirrorHashes.delete(prevHash);
    }
    if (meta.mirrorHash !== undefined) this.#mirrorHashes.set(meta.mirrorHash, meta.uid);
    return prev === undefined ? 'added' : 'updated';
  }

  #deletePod(apiObject: unknown): ApplyOutcome {
    const key = objectKey(apiObject);
    if (key === undefined) return 'invalid';
    const prev = this.#current('pods', this.#pods, key.uid);
    if (prev !== undefined && prev.deletedAt !== undefined) return 'unchanged';
    // The final state (terminated containers' ids) is worth keeping; fall back to what we had.
    const meta = slimPod(apiObject, this.#interner);
    if (meta === undefined && prev === undefined) return 'invalid';
    this.#markPodDeleted(key.uid, meta);
    return 'deleted';
  }

  /** Marks a pod deleted; a pod never seen live (final state only) is added as retained. */
  #markPodDeleted(uid: string, finalState: PodMeta | undefined): void {
    const prev = this.#pods.get(uid);
    if (prev !== undefined && prev.deletedAt !== undefined) return;
    const meta = finalState ?? prev?.object;
    if (meta === undefined) return;
    const now = this.#now();
    const entry = new Entry(meta, ++this.#version, now, now + this.#deletionDelayMs);
    this.#pods.set(uid, entry);
    const counts = this.#counts.pods;
    if (prev !== undefined) counts.live--;
    counts.retained++;

    const slot = this.#nameSlot(meta.namespace, meta.name, true)!;
    if (slot.live === uid) slot.live = undefined;
    slot.retained = uid;
    if (meta.mirrorHash !== undefined && !this.#mirrorHashes.has(meta.mirrorHash)) this.#mirrorHashes.set(meta.mirrorHash, uid);
    this.#enqueue('pods', uid, entry);
  }

  #nameSlot(namespace: string, name: string, create: boolean): NameSlot | undefined {
    let byName = this.#podNames.get(namespace);
    if (byName === undefined) {
      if (!create) return undefined;
      byName = new Map();
      this.#podNames.set(namespace, byName);
    }
    let slot = byName.get(name);
    if (slot === undefined && create) {
      slot = { live: undefined, retained: undefined };
      byName.set(name, slot);
    }
    return slot;
  }

  #evictPod(uid: string): void {
    const entry = this.#pods.get(uid)!;
    this.#pods.delete(uid);
    const { namespace, name, mirrorHash } = entry.object;
    const byName = this.#podNames.get(namespace);
    const slot = byName?.get(name);
    if (slot !== undefined) {
      if (slot.retained === uid) slot.retained = undefined;
      if (slot.live === undefined && slot.retained === undefined) {
        byName!.delete(name);
        if (byName!.size === 0) this.#podNames.delete(namespace);
      }
    }
    if (mirrorHash !== undefined && this.#mirrorHashes.get(mirrorHash) === uid) this.#mirrorHashes.delete(mirrorHash);
  }

  // --- namespaces and nodes (keyed by name) -----------------------------------------------

  #entriesOf(kind: 'pods'): Map<string, Entry<PodMeta>>;
  #entriesOf(kind: ResourceKind): Map<string, Entry<PodMeta>> | Map<string, Entry<NamedMeta>>;
  #entriesOf(kind: ResourceKind): Map<string, Entry<PodMeta>> | Map<string, Entry<NamedMeta>> {
    return kind === 'pods' ? this.#pods : kind === 'namespaces' ? this.#namespaces : this.#nodes;
  }

  #namedMap(kind: 'namespaces' | 'nodes'): Map<string, Entry<NamedMeta>> {
    return kind === 'namespaces' ? this.#namespaces : this.#nodes;
  }

  #upsertNamed(kind: 'namespaces' | 'nodes', apiObject: unknown, trustVersions = true): ApplyOutcome {
    const key = objectKey(apiObject);
    if (key === undefined) return 'invalid';
    const map = this.#namedMap(kind);
    const prev = this.#current(kind, map, key.name);
    const prevLive = prev !== undefined && prev.deletedAt === undefined;
    if (trustVersions && prevLive && prev.object.uid === key.uid && key.resourceVersion !== '' && prev.object.resourceVersion === key.resourceVersion) {
      return 'unchanged';
    }
    const meta = kind === 'namespaces' ? slimNamespace(apiObject, this.#interner) : slimNode(apiObject, this.#interner);
    if (meta === undefined) return 'invalid';
    map.set(meta.name, new Entry(meta, ++this.#version, undefined, undefined));
    const counts = this.#counts[kind];
    if (prev === undefined) counts.live++;
    else if (!prevLive) {
      counts.retained--;
      counts.live++;
    }
    return prev === undefined ? 'added' : 'updated';
  }

  #deleteNamed(kind: 'namespaces' | 'nodes', apiObject: unknown): ApplyOutcome {
    const key = objectKey(apiObject);
    if (key === undefined) return 'invalid';
    const prev = this.#current(kind, this.#namedMap(kind), key.name);
    if (prev !== undefined && prev.deletedAt !== undefined) return 'unchanged';
    // A DELETED for an older incarnation (another uid) must not delete the live one.
    if (prev !== undefined && prev.object.uid !== key.uid) return 'unchanged';
    const meta = kind === 'namespaces' ? slimNamespace(apiObject, this.#interner) : slimNode(apiObject, this.#interner);
    if (meta === undefined && prev === undefined) return 'invalid';
    this.#markNamedDeleted(kind, key.name, meta);
    return 'deleted';
  }

  #markNamedDeleted(kind: 'namespaces' | 'nodes', name: string, finalState: NamedMeta | undefined): void {
    const map = this.#namedMap(kind);
    const prev = map.get(name);
    if (prev !== undefined && prev.deletedAt !== undefined) return;
    const meta = finalState ?? prev?.object;
    if (meta === undefined) return;
    const now = this.#now();
    const entry = new Entry(meta, ++this.#version, now, now + this.#deletionDelayMs);
    map.set(name, entry);
    if (prev !== undefined) this.#counts[kind].live--;
    this.#counts[kind].retained++;
    this.#enqueue(kind, name, entry);
  }

  // --- expiry -----------------------------------------------------------------------------

  #enqueue(kind: ResourceKind, key: string, entry: Entry<unknown>): void {
    this.#expiries.push({ kind, key, version: entry.version, expiresAt: entry.expiresAt! });
    if (this.#timer === undefined) this.#schedule();
  }

  /** Evicts the item's entry if it is still the deleted state the item was queued for (and no hint keeps it). */
  #evict(item: Expiry): boolean {
    const entry = this.#entriesOf(item.kind).get(item.key);
    if (entry === undefined || entry.version !== item.version || entry.expiresAt !== item.expiresAt) return false;
    if (item.kind === 'pods' && this.#kept(item.key, entry as Entry<PodMeta>)) return false;
    this.#evictNow(item.kind, item.key);
    return true;
  }

  /**
   * Registers a hint asked when a deleted pod's delay runs out (the file source: files with unread
   * data; the enricher: recent lookups). Returns its removal.
   */
  addRetentionHint(hint: RetentionHint): () => void {
    this.#hints.push(hint);
    return () => {
      const i = this.#hints.indexOf(hint);
      if (i >= 0) this.#hints.splice(i, 1);
    };
  }

  /**
   * Whether a pod whose delay ran out is still needed: then its expiry moves to deletionDelay
   * after the moment a hint last needed it, at most maxRetention after its deletion.
   */
  #kept(uid: string, entry: Entry<PodMeta>): boolean {
    if (this.#hints.length === 0 || entry.deletedAt === undefined) return false;
    const now = this.#now();
    const cap = entry.deletedAt + this.#maxRetentionMs;
    if (now >= cap) return false;
    let needed: { at: number; reason: RetentionReason } | undefined;
    // A static pod's files are named by its config hash, not by its mirror pod's uid.
    const hash = entry.object.mirrorHash;
    for (const hint of this.#hints) {
      const n = hint.podNeededAt(uid) ?? (hash === undefined ? undefined : hint.podNeededAt(hash));
      if (n !== undefined && (needed === undefined || n.at > needed.at)) needed = n;
    }
    if (needed === undefined) return false;
    const until = Math.min(needed.at + this.#deletionDelayMs, cap);
    if (until <= now) return false;
    entry.expiresAt = until;
    entry.keptBy = needed.reason;
    this.#metrics?.storeRetentionExtensions.inc({ reason: needed.reason });
    // Later than every queued expiry but those of other extended pods: the queue stays (nearly) sorted.
    this.#enqueue('pods', uid, entry);
    return true;
  }

  #evictNow(kind: ResourceKind, key: string): void {
    if (kind === 'pods') this.#evictPod(key);
    else this.#namedMap(kind).delete(key);
    this.#counts[kind].retained--;
    this.#metrics?.storeEvictions.inc({ kind });
  }

  /**
   * The entry under `key`, after evicting it if its delay has passed but the sweep has not run:
   * writers must see what readers see (an expired entry is gone).
   */
  #current<T>(kind: ResourceKind, map: Map<string, Entry<T>>, key: string): Entry<T> | undefined {
    const entry = map.get(key);
    if (entry === undefined || entry.expiresAt === undefined || entry.expiresAt > this.#now()) return entry;
    if (kind === 'pods' && this.#kept(key, entry as unknown as Entry<PodMeta>)) return entry;
    this.#evictNow(kind, key);
    return undefined;
  }

  #schedule(): void {
    if (this.#closed || this.#timer !== undefined || this.#expiryHead >= this.#expiries.length) return;
    const head = this.#expiries[this.#expiryHead]!;
    // Coalesce: objects deleted within this window are evicted by the same timer run.
    const slack = Math.min(1000, Math.ceil(this.#deletionDelayMs / 10));
    const delay = Math.max(0, head.expiresAt - this.#now()) + slack;
    const handle = this.#timers.setTimeout(() => {
      this.#timer = undefined;
      this.sweep();
    }, delay);
    (handle as { unref?: () => void } | undefined)?.unref?.();
    this.#timer = handle;
  }

  #clearTimer(): void {
    if (this.#timer === undefined) return;
    this.#timers.clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #publish(kind: ResourceKind): void {
    const gauges = this.#gauges?.[kind];
    if (gauges === undefined) return;
    gauges.live.set(this.#counts[kind].live);
    gauges.retained.set(this.#counts[kind].retained);
  }

  // --- reads ------------------------------------------------------------------------------

  #makeReader(): StoreReader {
    const pods = this.#pods;
    const podNames = this.#podNames;
    const mirrorHashes = this.#mirrorHashes;
    const namespaces = this.#namespaces;
    const nodes = this.#nodes;
    const pending = this.#pending;
    const now = this.#now;
    // A retained entry past its expiry is gone for readers, even before the sweep runs.
    const visible = <T>(entry: Entry<T> | undefined): Entry<T> | undefined =>
      entry === undefined || entry.expiresAt === undefined || entry.expiresAt > now() ? entry : undefined;
    // A pod past its expiry that a RetentionHint still needs is kept (and stays visible).
    const visiblePod = (uid: string, entry: Entry<PodMeta> | undefined): Entry<PodMeta> | undefined =>
      entry === undefined || visible(entry) !== undefined ? entry : this.#kept(uid, entry) ? entry : undefined;
    return {
      podByUid(uid) {
        let key = uid;
        let entry = pods.get(uid);
        if (entry === undefined) {
          const byHash = mirrorHashes.get(uid);
          if (byHash !== undefined) {
            key = byHash;
            entry = pods.get(byHash);
          }
        }
        return visiblePod(key, entry);
      },
      podByName(namespace, name) {
        const slot = podNames.get(namespace)?.get(name);
        if (slot === undefined) return undefined;
        const uid = slot.live ?? slot.retained;
        return uid === undefined ? undefined : visiblePod(uid, pods.get(uid));
      },
      namespace: (name) => visible(namespaces.get(name)),
      node: (name) => visible(nodes.get(name)),
      *pods() {
        for (const [uid, entry] of pods) if (visiblePod(uid, entry) !== undefined) yield entry;
      },
      pending: (kind) => pending.has(kind),
    };
  }
}
