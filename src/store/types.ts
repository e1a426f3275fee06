/**
 * The slim shapes the store keeps: only what enrichment needs, never managedFields, specs or
 * statuses in full, so that 50,000 pods stay small.
 */
export type Labels = Readonly<Record<string, string>>;

export interface OwnerRef {
  kind: string;
  name: string;
  uid: string;
}

export interface ContainerMeta {
  name: string;
  image: string;
  /** From status: `sha256:...` or `docker.io/...@sha256:...`, when known. */
  imageId: string | undefined;
  /** From status: `containerd://<64 hex>`, when known. */
  containerId: string | undefined;
  init: boolean;
}

export interface PodMeta {
  uid: string;
  name: string;
  namespace: string;
  resourceVersion: string;
  labels: Labels;
  annotations: Labels;
  nodeName: string | undefined;
  podIP: string | undefined;
  podIPs: readonly string[];
  /** The controller owner reference (`controller: true`), else the first one. */
  owner: OwnerRef | undefined;
  /** `kubernetes.io/config.mirror`: the config hash a static pod's log directory is named by. */
  mirrorHash: string | undefined;
  containers: readonly ContainerMeta[];
  creationTimestamp: string | undefined;
}

export interface NamespaceMeta {
  name: string;
  uid: string;
  resourceVersion: string;
  labels: Labels;
  annotations: Labels;
}

export interface NodeMeta {
  name: string;
  uid: string;
  resourceVersion: string;
  labels: Labels;
  annotations: Labels;
}

/** A stored object and its lifecycle. `version` changes on every change, so readers can cache. */
export interface StoreEntry<T> {
  readonly object: T;
  /** Monotonic across the whole store; a new value means this entry changed. */
  readonly version: number;
  /** Epoch ms when the API server reported the deletion; undefined while live. */
  readonly deletedAt: number | undefined;
  /** Epoch ms after which a deleted entry is evicted. */
  readonly expiresAt: number | undefined;
  /** Why a deleted pod is kept past deletedAt + deletionDelay (RetentionHint); undefined while it is not. */
  readonly keptBy: RetentionReason | undefined;
}

/**
 * Why a deleted pod is still needed: `unread_files`, its log files still have data the file
 * source has not read (agent, source); `recent_lookups`, events still ask for it (serve).
 */
export type RetentionReason = 'unread_files' | 'recent_lookups';

/**
 * Asked when a deleted pod's delay runs out: when its data was last needed (epoch ms), and why.
 * The pod is then kept until deletionDelay after that moment, at most maxRetention after its
 * deletion (RetainingStore.addRetentionHint).
 */
export interface RetentionHint {
  podNeededAt(uid: string): { at: number; reason: RetentionReason } | undefined;
}

export type ResourceKind = 'pods' | 'namespaces' | 'nodes';

/** Read handle on the store: cheap, synchronous, many of them. */
export interface StoreReader {
  /** By API uid, or by a static pod's config hash (the mirror annotation). */
  podByUid(uid: string): StoreEntry<PodMeta> | undefined;
  /** The live pod of that name, else the most recently deleted one still retained. */
  podByName(namespace: string, name: string): StoreEntry<PodMeta> | undefined;
  namespace(name: string): StoreEntry<NamespaceMeta> | undefined;
  node(name: string): StoreEntry<NodeMeta> | undefined;
  /** Every pod still visible, live and retained, in no particular order (the page's store panel, GET /v1/pods). */
  pods(): IterableIterator<StoreEntry<PodMeta>>;
  /**
   * True while the kind's reflector has not completed its first list: an object of that kind
   * missing now may only be not known yet. False for a kind nobody watches.
   */
  pending(kind: ResourceKind): boolean;
}

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED';

/** What an apply() did; `invalid` means the object had no metadata.uid/name and was ignored. */
export type ApplyOutcome = 'added' | 'updated' | 'deleted' | 'unchanged' | 'invalid';

export interface ReplaceResult {
  added: number;
  updated: number;
  unchanged: number;
  /** Live objects absent from the list, now marked deleted (retained). */
  deleted: number;
  invalid: number;
}

/** A replace fed page by page (a paged list); see StoreWriter.beginReplace. */
export interface ReplaceSession {
  add(apiObject: unknown): ApplyOutcome;
  /**
   * The object under `key` (uid for pods, name for namespaces and nodes) is in this list and has
   * not changed since the writer last added it, which the writer knows without its body (the
   * kubelet source compares item texts): counted as unchanged. False when the store holds no live
   * object under that key any more (evicted, deleted): then add() it.
   */
  keep(key: string): boolean;
  commit(): ReplaceResult;
}

export interface ReplaceOptions {
  /**
   * False when the writer's objects can change without a new resourceVersion (the kubelet keeps
   * the one it first saw a pod with): every add() is then slimmed and stored, never skipped as
   * unchanged because of an equal resourceVersion. Default true (the API server's objects).
   */
  resourceVersionTracksChanges?: boolean;
}

/**
 * Write handle on the store: what the reflectors fold list results and watch events into (kube-rs
 * `reflector::store::Writer`, client-go's Store as a Reflector sees it). One writer per kind.
 */
export interface StoreWriter {
  /**
   * The writer of `kind` announces itself: until its first replace is committed, readers are told
   * the kind is not synced (StoreReader.pending).
   */
  expectSync(kind: ResourceKind): void;
  /** A (re)list, page by page: commit() marks what the list no longer has as deleted. */
  beginReplace(kind: ResourceKind, options?: ReplaceOptions): ReplaceSession;
  /** One watch event. */
  apply(kind: ResourceKind, type: WatchEventType, apiObject: unknown): ApplyOutcome;
}
