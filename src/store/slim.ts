/**
 * Slimming: API objects in, the few fields enrichment needs out (src/store/types.ts). Everything
 * else (managedFields, spec and status bulk, volumes, env, probes, conditions) is dropped here,
 * so that the store holds ~1-2 KiB per pod instead of the 5-20 KiB of a full pod.
 *
 * Dropped on purpose: the `kubectl.kubernetes.io/last-applied-configuration` annotation. It is a
 * full JSON copy of the object as last applied (often several KiB), useless on a log line.
 *
 * Inputs are raw JSON as the API server sends it (list items and watch event objects); a
 * `creationTimestamp` already turned into a Date by client-node's deserialiser is accepted too.
 */
import type { ContainerMeta, Labels, NamespaceMeta, NodeMeta, OwnerRef, PodMeta } from './types.ts';
import type { StringInterner } from './intern.ts';

/** Annotations never kept (see the file comment). */
export const DROPPED_ANNOTATIONS: ReadonlySet<string> = new Set(['kubectl.kubernetes.io/last-applied-configuration']);

/** The annotation a mirror pod carries: the config hash its static pod's log directory is named by. */
export const MIRROR_ANNOTATION = 'kubernetes.io/config.mirror';

const EMPTY_LABELS: Labels = Object.freeze({});
const EMPTY_LIST: readonly never[] = Object.freeze([]);

type Interned = (s: string) => string;
const identity: Interned = (s) => s;

function asRecord(value: unknown): Record<string, unknown> | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
}

function asString(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

function asArray(value: unknown): readonly unknown[] {
  return Array.isArray(value) ? value : EMPTY_LIST;
}

function timestamp(value: unknown): string | undefined {
  if (typeof value === 'string' && value !== '') return value;
  if (value instanceof Date && !Number.isNaN(value.getTime())) return value.toISOString().replace('.000Z', 'Z');
  return undefined;
}

/** Copies a string map, interning keys and values; non-string values are skipped. */
function slimLabels(value: unknown, intern: Interned, dropped?: ReadonlySet<string>): Labels {
  const source = asRecord(value);
  if (source === undefined) return EMPTY_LABELS;
  let out: Record<string, string> | undefined;
  for (const key in source) {
    const v = source[key];
    if (typeof v !== 'string' || dropped?.has(key) === true) continue;
    out ??= {};
    out[intern(key)] = intern(v);
  }
  return out ?? EMPTY_LABELS;
}

interface Metadata {
  uid: string;
  name: string;
  namespace: string | undefined;
  resourceVersion: string;
  raw: Record<string, unknown>;
}

function metadataOf(object: unknown): Metadata | undefined {
  const raw = asRecord(asRecord(object)?.metadata);
  if (raw === undefined) return undefined;
  const uid = asString(raw.uid);
  const name = asString(raw.name);
  if (uid === undefined || name === undefined) return undefined;
  return { uid, name, namespace: asString(raw.namespace), resourceVersion: asString(raw.resourceVersion) ?? '', raw };
}

/** The object's uid, name, namespace and resourceVersion, without slimming it; undefined when unusable. */
export function objectKey(object: unknown): { uid: string; name: string; namespace: string | undefined; resourceVersion: string } | undefined {
  const m = metadataOf(object);
  return m === undefined ? undefined : { uid: m.uid, name: m.name, namespace: m.namespace, resourceVersion: m.resourceVersion };
}

function ownerOf(value: unknown, intern: Interned): OwnerRef | undefined {
  const refs = asArray(value);
  let chosen: Record<string, unknown> | undefined;
  for (const ref of refs) {
    const r = asRecord(ref);
    if (r === undefined) continue;
    if (r.controller === true) {
      chosen = r;
      break;
    }
    chosen ??= r;
  }
  if (chosen === undefined) return undefined;
  const kind = asString(chosen.kind);
  const name = asString(chosen.name);
  if (kind === undefined || name === undefined) return undefined;
  return { kind: intern(kind), name: intern(name), uid: asString(chosen.uid) ?? '' };
}

function statusByName(statuses: unknown): Map<string, Record<string, unknown>> | undefined {
  let byName: Map<string, Record<string, unknown>> | undefined;
  for (const s of asArray(statuses)) {
    const r = asRecord(s);
    const name = asString(r?.name);
    if (r === undefined || name === undefined) continue;
    byName ??= new Map();
    byName.set(name, r);
  }
  return byName;
}

function pushContainers(out: ContainerMeta[], specs: unknown, statuses: unknown, init: boolean, intern: Interned): void {
  const byName = statusByName(statuses);
  for (const c of asArray(specs)) {
    const spec = asRecord(c);
    const name = asString(spec?.name);
    if (spec === undefined || name === undefined) continue;
    const status = byName?.get(name);
    const image = asString(spec.image) ?? asString(status?.image) ?? '';
    const imageId = asString(status?.imageID);
    out.push({
      name: intern(name),
      image: intern(image),
      imageId: imageId === undefined ? undefined : intern(imageId),
      containerId: asString(status?.containerID),
      init,
    });
  }
}

/** The slim pod, or undefined when the object has no metadata.uid/name. */
export function slimPod(object: unknown, interner?: StringInterner): PodMeta | undefined {
  const meta = metadataOf(object);
  if (meta === undefined) return undefined;
  const intern: Interned = interner === undefined ? identity : (s) => interner.intern(s);
  const pod = asRecord(object)!;
  const spec = asRecord(pod.spec);
  const status = asRecord(pod.status);

  const annotations = slimLabels(meta.raw.annotations, intern, DROPPED_ANNOTATIONS);
  const containers: ContainerMeta[] = [];
  pushContainers(containers, spec?.initContainers, status?.initContainerStatuses, true, intern);
  pushContainers(containers, spec?.containers, status?.containerStatuses, false, intern);
  // `kubectl debug` containers write logs under the pod too.
  pushContainers(containers, spec?.ephemeralContainers, status?.ephemeralContainerStatuses, false, intern);

  const podIP = asString(status?.podIP);
  let podIPs: readonly string[] = EMPTY_LIST;
  for (const entry of asArray(status?.podIPs)) {
    const ip = asString(asRecord(entry)?.ip);
    if (ip === undefined) continue;
    if (podIPs === EMPTY_LIST) podIPs = [];
    (podIPs as string[]).push(ip === podIP ? podIP : ip);
  }
  if (podIPs === EMPTY_LIST && podIP !== undefined) podIPs = [podIP];

  const nodeName = asString(spec?.nodeName);
  return {
    uid: meta.uid,
    name: meta.name,
    namespace: intern(meta.namespace ?? ''),
    resourceVersion: meta.resourceVersion,
    labels: slimLabels(meta.raw.labels, intern),
    annotations,
    nodeName: nodeName === undefined ? undefined : intern(nodeName),
    podIP,
    podIPs,
    owner: ownerOf(meta.raw.ownerReferences, intern),
    mirrorHash: annotations[MIRROR_ANNOTATION],
    containers,
    creationTimestamp: timestamp(meta.raw.creationTimestamp),
  };
}

/** Namespaces and nodes: enrichment needs only their names, labels and annotations. */
function slimLabelled(object: unknown, interner?: StringInterner): NamespaceMeta | NodeMeta | undefined {
  const meta = metadataOf(object);
  if (meta === undefined) return undefined;
  const intern: Interned = interner === undefined ? identity : (s) => interner.intern(s);
  return {
    name: intern(meta.name),
    uid: meta.uid,
    resourceVersion: meta.resourceVersion,
    labels: slimLabels(meta.raw.labels, intern),
    annotations: slimLabels(meta.raw.annotations, intern, DROPPED_ANNOTATIONS),
  };
}

export function slimNamespace(object: unknown, interner?: StringInterner): NamespaceMeta | undefined {
  return slimLabelled(object, interner);
}

export function slimNode(object: unknown, interner?: StringInterner): NodeMeta | undefined {
  return slimLabelled(object, interner);
}
