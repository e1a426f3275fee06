/**
 * What the enricher remembers per log file: its identity, parsed from the path once, and the
 * metadata last rendered for it, with the store versions it was rendered from. Per line the store
 * is asked for the pod, namespace and node entries (three Map lookups, once per file and call);
 * only when one of their versions moved is the metadata part re-rendered into templates (layout.ts).
 */
import { podIdentityFromPath } from '../paths/index.ts';
import type { PodLogIdentity } from '../paths/index.ts';
import type { ContainerMeta, Labels, NamespaceMeta, NodeMeta, PodMeta, StoreEntry, StoreReader } from '../store/types.ts';
import { bareContainerId, workloadOf } from './derive.ts';
import { renderTemplate, type Layout, type MetaContext, type Template } from './layout.ts';
import type { MetadataMaps } from './field-rules.ts';
import { annotationAsksJson } from './json-message.ts';
import type { MultilineAnnotations, MultilineRule } from '../multiline/index.ts';
import type { ExcludeOptions } from './options.ts';
import type { PendingMetadata, RecordOrigin, UnmatchedReason } from './types.ts';

/** Files remembered (identity and rendered metadata); past it the cache starts over. */
const MAX_FILES = 50_000;
/** Slots of the table of recently seen files (a power of two). */
const RECENT_FILES = 1024;

/**
 * Where a path sits in the table of recently seen files: its length and characters near its end,
 * where the paths of a node's containers differ (pod uid or container id, container, restart).
 */
function recentSlot(path: string): number {
  const n = path.length;
  const mix = n * 31 + path.charCodeAt(n - 7) * 29 + path.charCodeAt(n - 14) * 23 + path.charCodeAt(n - 21) * 19 + path.charCodeAt(n - 28) * 17 + path.charCodeAt(n - 35);
  return mix & (RECENT_FILES - 1); // a short path's NaN becomes 0
}

/**
 * A template per stream variant: 0 for lines without a stream, 1 stdout, 2 stderr; 3 to 5 the
 * same without the message field (a message parsed as JSON, parseJson.keepMessage false).
 */
export type StreamVariant = 0 | 1 | 2 | 3 | 4 | 5;
const STREAM_JSON = [undefined, '"stdout"', '"stderr"', undefined, '"stdout"', '"stderr"'] as const;

/** Store versions of a file's objects: ABSENT, or NOT_SYNCED (absent, its reflector not synced yet). */
const ABSENT = -1;
const NOT_SYNCED = -2;

/** Bits of MetaState.pending, in the order the marker lists them. */
export const PENDING_POD = 1;
export const PENDING_NAMESPACE = 2;
export const PENDING_NODE = 4;
const PENDING_NAMES: readonly PendingMetadata[] = ['pod', 'namespace', 'node'];
/** The marker's value for each mask, made once: templates share them. */
const PENDING_LISTS: readonly (readonly PendingMetadata[] | undefined)[] = Array.from({ length: 8 }, (_, mask) =>
  mask === 0 ? undefined : Object.freeze(PENDING_NAMES.filter((_, bit) => (mask & (1 << bit)) !== 0)),
);

/** One file's identity and the metadata last rendered for it. */
export class FileState {
  readonly file: string | undefined;
  readonly fileJson: string;
  readonly identity: PodLogIdentity | undefined;
  /** Set when the path alone decides the answer (unrecognised or missing). */
  readonly pathReason: 'path_not_recognised' | 'missing_file' | undefined;
  podVersion = -1;
  namespaceVersion = -1;
  nodeVersion = -1;
  podEntry: StoreEntry<PodMeta> | undefined = undefined;
  meta: MetaState | undefined = undefined;
  /** The call epoch in which the store was last asked (see FileMetadataCache.nextEpoch). */
  epoch = -1;

  constructor(file: string | undefined) {
    this.file = file;
    this.fileJson = file === undefined ? '' : JSON.stringify(file);
    if (file === undefined) {
      this.identity = undefined;
      this.pathReason = 'missing_file';
      return;
    }
    const match = podIdentityFromPath(file);
    this.identity = match.ok ? match.identity : undefined;
    this.pathReason = match.ok ? undefined : match.reason;
  }
}

/** The rendered metadata of one (pod, namespace, node) state of a file. */
export class MetaState implements RecordOrigin {
  readonly ctx: MetaContext;
  readonly excluded: boolean;
  /** PENDING_* bits: metadata missing because it has not synced yet. */
  readonly pending: number;
  /** Templates by StreamVariant; rendered on first use. */
  readonly templates: (Template | undefined)[] = [undefined, undefined, undefined];
  /** Its messages are parsed as JSON (enrichment.parseJson, or the pod's annotation). */
  readonly parseJson: boolean;
  readonly namespace: string | undefined;
  readonly podName: string | undefined;
  readonly containerName: string | undefined;
  readonly pod: PodMeta | undefined;
  /** Its lines are joined into multi-line messages by this rule (the pod's multiline annotation). */
  readonly multiline: MultilineRule | undefined;

  constructor(ctx: MetaContext, excluded: boolean, pending: number, parseJson: boolean, multiline: MultilineRule | undefined) {
    this.ctx = ctx;
    this.excluded = excluded;
    this.pending = pending;
    this.parseJson = parseJson;
    this.multiline = multiline;
    this.pod = ctx.pod;
    this.namespace = ctx.pod?.namespace ?? ctx.identity?.namespace;
    this.podName = ctx.pod?.name ?? ctx.identity?.podName;
    this.containerName = ctx.identity?.containerName;
  }
}

function isTrue(value: string | undefined): boolean {
  return value !== undefined && value.trim().toLowerCase() === 'true';
}

/** The object is labelled `<label>: "true"` or annotated `<annotation>: "true"`. */
function says(object: { labels: Labels; annotations: Labels }, label: string, annotation: string): boolean {
  return isTrue(object.labels[label]) || isTrue(object.annotations[annotation]);
}

/** Whether a comma-separated container list names `container`. */
function listsContainer(list: string | undefined, container: string | undefined): boolean {
  if (list === undefined || container === undefined) return false;
  for (const item of list.split(',')) if (item.trim() === container) return true;
  return false;
}

export interface FileMetadataOptions {
  store: StoreReader;
  layout: Layout;
  maps: MetadataMaps;
  clusterName: string | undefined;
  exclude: ExcludeOptions;
  /** Every file's messages are parsed as JSON; else those of pods annotated with `parseJsonAnnotation`. */
  parseJson: boolean;
  parseJsonAnnotation: string;
  /** The multiline annotation, compiled once per value. */
  multiline: MultilineAnnotations;
  /** Epoch ms: when a deleted pod was last asked for (its retention, RetentionHint). */
  now: () => number;
}

/** Deleted pods asked for, kept at most this many before old entries are pruned. */
const ASKED_PRUNE_AT = 1024;
/** Entries older than this are pruned (longer than any sensible kubernetes.maxRetention). */
const ASKED_MAX_AGE_MS = 24 * 3600_000;

/** The FileStates of the files seen, and their metadata kept in step with the store. */
export class FileMetadataCache {
  readonly #store: StoreReader;
  readonly #layout: Layout;
  readonly #maps: MetadataMaps;
  readonly #clusterName: string | undefined;
  readonly #exclude: ExcludeOptions;
  readonly #parseJson: boolean;
  readonly #parseJsonAnnotation: string;
  readonly #multiline: MultilineAnnotations;
  readonly #now: () => number;
  /** Deleted (retained) pods by uid: when events last asked for them, once per call at most. */
  readonly #asked = new Map<string, number>();
  /** Whether the output carries namespace / node metadata at all (else its absence is no news). */
  readonly #showsNamespace: boolean;
  readonly #showsNode: boolean;
  readonly #files = new Map<string, FileState>();
  /**
   * The same FileStates by recentSlot(), checked first. Every event parsed from a request brings
   * its own copy of its path, which a Map lookup would hash in full (as costly as a third of
   * JSON.stringify of the message); this costs one string comparison.
   */
  readonly #recentFiles: (FileState | undefined)[] = new Array<FileState | undefined>(RECENT_FILES).fill(undefined);
  /** The state of events without a file field. */
  readonly missingFile = new FileState(undefined);
  /**
   * Bumped on every call into the enricher. The store only changes between its synchronous calls,
   * so within one call (a whole batch) a file's pod, namespace and node are looked up once, not per line.
   */
  #epoch = 0;

  constructor(options: FileMetadataOptions) {
    this.#store = options.store;
    this.#layout = options.layout;
    this.#maps = options.maps;
    this.#clusterName = options.clusterName;
    this.#exclude = options.exclude;
    this.#parseJson = options.parseJson;
    this.#parseJsonAnnotation = options.parseJsonAnnotation;
    this.#multiline = options.multiline;
    this.#now = options.now;
    // In opt-in mode a namespace can let its pods in: until namespaces are listed, that is pending.
    this.#showsNamespace = options.maps.shows('namespace') || options.exclude.mode === 'opt-in';
    this.#showsNode = options.maps.shows('node');
  }

  /** Starts a call: the store may have changed since the last one. */
  nextEpoch(): void {
    this.#epoch++;
  }

  fileState(file: string): FileState {
    const slot = recentSlot(file);
    const recent = this.#recentFiles[slot];
    if (recent !== undefined && recent.file === file) return recent;
    let fs = this.#files.get(file);
    if (fs === undefined) {
      if (this.#files.size >= MAX_FILES) {
        this.#files.clear();
        this.#recentFiles.fill(undefined);
      }
      fs = new FileState(file);
      this.#files.set(file, fs);
    }
    this.#recentFiles[slot] = fs;
    return fs;
  }

  /**
   * The file's current metadata: re-rendered only when its pod, namespace or node changed, which
   * includes one arriving, or its kind completing its initial list (NOT_SYNCED becomes ABSENT).
   * `ask` false: a look that is not a use (/v1/lookup, the file source's exclusion check), so it
   * does not keep a deleted pod (RetentionHint).
   */
  metaFor(fs: FileState, ask = true): MetaState {
    if (fs.epoch === this.#epoch && fs.meta !== undefined) return fs.meta;
    fs.epoch = this.#epoch;
    const id = fs.identity;
    const store = this.#store;
    let pod: StoreEntry<PodMeta> | undefined;
    if (id !== undefined) pod = id.podUid !== undefined ? store.podByUid(id.podUid) : store.podByName(id.namespace, id.podName);
    if (pod?.deletedAt !== undefined && ask) this.#noteAsked(pod.object.uid);
    const namespaceName = pod !== undefined ? pod.object.namespace : id?.namespace;
    const namespace = namespaceName === undefined ? undefined : store.namespace(namespaceName);
    const nodeName = pod?.object.nodeName;
    const node = nodeName === undefined ? undefined : store.node(nodeName);
    // Whether a kind is still syncing is asked only of what is missing (and shown).
    const podVersion = pod !== undefined ? pod.version : id !== undefined && store.pending('pods') ? NOT_SYNCED : ABSENT;
    const namespaceVersion =
      namespace !== undefined ? namespace.version : namespaceName !== undefined && this.#showsNamespace && store.pending('namespaces') ? NOT_SYNCED : ABSENT;
    const nodeVersion = node !== undefined ? node.version : nodeName !== undefined && this.#showsNode && store.pending('nodes') ? NOT_SYNCED : ABSENT;
    if (fs.meta !== undefined && podVersion === fs.podVersion && namespaceVersion === fs.namespaceVersion && nodeVersion === fs.nodeVersion) {
      return fs.meta;
    }
    fs.podVersion = podVersion;
    fs.namespaceVersion = namespaceVersion;
    fs.nodeVersion = nodeVersion;
    fs.podEntry = pod;
    fs.meta = this.#buildMeta(fs, pod?.object, namespace?.object, node?.object);
    return fs.meta;
  }

  /** When events last asked for a deleted pod (the enricher's RetentionHint). */
  podAskedAt(uid: string): number | undefined {
    return this.#asked.get(uid);
  }

  #noteAsked(uid: string): void {
    const now = this.#now();
    this.#asked.set(uid, now);
    if (this.#asked.size < ASKED_PRUNE_AT) return;
    for (const [key, at] of this.#asked) if (now - at > ASKED_MAX_AGE_MS) this.#asked.delete(key);
  }

  /** Renders a metadata state's template for one stream variant and keeps it in meta.templates. */
  renderTemplate(fs: FileState, meta: MetaState, variant: StreamVariant): Template {
    const fileJson = fs.file === undefined ? undefined : fs.fileJson;
    const template = renderTemplate(this.#layout, meta.ctx, { streamJson: STREAM_JSON[variant], fileJson, omitMessage: variant >= 3 });
    meta.templates[variant] = template;
    return template;
  }

  /** Builds from the objects found and fs's versions (set by metaFor). */
  #buildMeta(fs: FileState, pod: PodMeta | undefined, namespace: NamespaceMeta | undefined, node: NodeMeta | undefined): MetaState {
    const id = fs.identity;
    let reason: UnmatchedReason | undefined = fs.pathReason;
    let container: ContainerMeta | undefined;
    if (reason === undefined) {
      if (pod === undefined) reason = 'pod_not_found';
      else {
        container = pod.containers.find((c) => c.name === id!.containerName);
        if (container === undefined) reason = 'container_not_found';
        else if (id!.containerId !== undefined && container.containerId !== undefined && !bareContainerId(container.containerId).startsWith(id!.containerId)) {
          // A /var/log/containers file of another container instance: likely an earlier pod of the
          // same name, whose metadata we no longer have. Better no pod metadata than the wrong one.
          reason = 'container_not_found';
          container = undefined;
          pod = undefined;
          node = undefined;
        }
      }
    }
    let pending = 0;
    if (fs.podVersion === NOT_SYNCED) pending |= PENDING_POD;
    if (fs.namespaceVersion === NOT_SYNCED) pending |= PENDING_NAMESPACE;
    // Not when the pod was dropped above: then its node is not this event's.
    if (fs.nodeVersion === NOT_SYNCED && pod !== undefined) pending |= PENDING_NODE;
    const ctx: MetaContext = {
      identity: id,
      reason,
      pending: PENDING_LISTS[pending],
      pod,
      container,
      namespace,
      node,
      workload: pod === undefined ? undefined : workloadOf(pod),
      maps: this.#maps,
      clusterName: this.#clusterName,
    };
    const parseJson = this.#parseJson || (pod !== undefined && annotationAsksJson(pod.annotations[this.#parseJsonAnnotation], id?.containerName));
    const multiline = pod === undefined ? undefined : this.#multiline.ruleFor(pod.annotations, id?.containerName);
    return new MetaState(ctx, this.#isExcluded(pod, namespace, id?.containerName, fs), pending, parseJson, multiline);
  }

  /**
   * Opt-out: the pod, its namespace or its container says exclude. Opt-in: besides, neither the
   * pod nor its namespace says include; an event whose pod is not known is then left out too,
   * except while the pods are still being listed (it goes out marked pending, not lost).
   */
  #isExcluded(pod: PodMeta | undefined, namespace: NamespaceMeta | undefined, containerName: string | undefined, fs: FileState): boolean {
    const ex = this.#exclude;
    if (pod !== undefined && (says(pod, ex.label, ex.annotation) || listsContainer(pod.annotations[ex.containersAnnotation], containerName))) return true;
    if (namespace !== undefined && says(namespace, ex.label, ex.annotation)) return true;
    if (ex.mode === 'opt-out') return false;
    if (pod === undefined) return fs.podVersion !== NOT_SYNCED;
    if (says(pod, ex.optInKey, ex.optInKey)) return false;
    if (namespace !== undefined) return !says(namespace, ex.optInKey, ex.optInKey);
    // The namespace is not known (yet): out only once namespaces have been listed.
    return fs.namespaceVersion !== NOT_SYNCED;
  }
}
