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
  /**
   * True while the kind's reflector has not completed its first list: an object of that kind
   * missing now may only be not known yet. False for a kind nobody watches.
   */
  pending(kind: ResourceKind): boolean;
}
