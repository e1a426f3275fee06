/**
 * The three output schemas as field lists, each field named as the mirrored project names it
 * (sources cited in docs/schemas.md). Values fall back to the identity parsed from the path when
 * the pod is unknown, which is also what Vector and Fluent Bit do when their lookup fails.
 */
import type { Labels } from '../store/types.ts';
import { bareContainerId, fluentBitHash, parseImage } from './derive.ts';
import {
  line,
  meta,
  spread,
  SLOT_FILE,
  SLOT_MESSAGE,
  SLOT_OBSERVED_NANOS,
  SLOT_STREAM,
  SLOT_TIME_NANOS,
  SLOT_TIMESTAMP_RAW,
  SLOT_TIMESTAMP_UTC,
  type Field,
  type MetaContext,
} from './layout.ts';
import type { InputFieldNames, SchemaName } from './options.ts';

const podName = (c: MetaContext): string | undefined => c.pod?.name ?? c.identity?.podName;
const podNamespace = (c: MetaContext): string | undefined => c.pod?.namespace ?? c.identity?.namespace;
const podUid = (c: MetaContext): string | undefined => c.pod?.uid ?? c.identity?.podUid;
const containerName = (c: MetaContext): string | undefined => c.identity?.containerName;
const image = (c: MetaContext): string | undefined => (c.container?.image === '' ? undefined : c.container?.image);

const podLabels = (c: MetaContext): Labels | undefined => c.maps.map('pod', 'label', c.pod?.labels);
const podAnnotations = (c: MetaContext): Labels | undefined => c.maps.map('pod', 'annotation', c.pod?.annotations);
const namespaceLabels = (c: MetaContext): Labels | undefined => c.maps.map('namespace', 'label', c.namespace?.labels);
const namespaceAnnotations = (c: MetaContext): Labels | undefined => c.maps.map('namespace', 'annotation', c.namespace?.annotations);
const nodeLabels = (c: MetaContext): Labels | undefined => c.maps.map('node', 'label', c.node?.labels);
const nodeAnnotations = (c: MetaContext): Labels | undefined => c.maps.map('node', 'annotation', c.node?.annotations);
const clusterName = (c: MetaContext): string | undefined => c.clusterName;

/** The marker on an event returned without (full) metadata, per schema. */
export const UNMATCHED_MARKER: Readonly<Record<SchemaName, string>> = {
  vector: 'kubernetes.unmatched_reason',
  fluentbit: 'kubernetes.unmatched_reason',
  otel: 'attributes."kube_log_enricher.unmatched_reason"',
};

/** The marker on an event enriched before some of its metadata had synced, per schema. */
export const PENDING_MARKER: Readonly<Record<SchemaName, string>> = {
  vector: 'kubernetes.pending_metadata',
  fluentbit: 'kubernetes.pending_metadata',
  otel: 'attributes."kube_log_enricher.pending_metadata"',
};

/** Vector's `kubernetes_logs` source event (pod_metadata_annotator.rs and friends). */
function vectorFields(): Field[] {
  const k = (name: string): string[] => ['kubernetes', name];
  return [
    line(['timestamp'], SLOT_TIMESTAMP_UTC),
    line(['message'], SLOT_MESSAGE),
    line(['stream'], SLOT_STREAM),
    line(['file'], SLOT_FILE),
    meta(['source_type'], () => 'kubernetes_logs'),
    // Not in Vector: enrichment.clusterName, under the name Fluentd's and mmkubernetes' users know.
    meta(k('cluster_name'), clusterName),
    meta(k('pod_name'), podName),
    meta(k('pod_namespace'), podNamespace),
    meta(k('pod_uid'), podUid),
    meta(k('pod_ip'), (c) => c.pod?.podIP),
    meta(k('pod_ips'), (c) => (c.pod === undefined || c.pod.podIPs.length === 0 ? undefined : c.pod.podIPs)),
    meta(k('pod_labels'), podLabels),
    meta(k('pod_annotations'), podAnnotations),
    meta(k('pod_node_name'), (c) => c.pod?.nodeName),
    meta(k('pod_owner'), (c) => (c.pod?.owner === undefined ? undefined : `${c.pod.owner.kind}/${c.pod.owner.name}`)),
    meta(k('container_name'), containerName),
    meta(k('container_id'), (c) => c.container?.containerId),
    meta(k('container_image'), image),
    meta(k('container_image_id'), (c) => c.container?.imageId),
    meta(k('namespace_labels'), namespaceLabels),
    // Not in Vector (off by default): the include groups Vector has no field for.
    meta(k('namespace_annotations'), namespaceAnnotations),
    meta(k('node_labels'), nodeLabels),
    meta(k('node_annotations'), nodeAnnotations),
    meta(k('unmatched_reason'), (c) => c.reason),
    meta(k('pending_metadata'), (c) => c.pending),
  ];
}

/** Fluent Bit's tail record (`log`, `stream`, `time`, Path_Key) after its kubernetes filter. */
function fluentBitFields(input: InputFieldNames): Field[] {
  const k = (name: string): string[] => ['kubernetes', name];
  const hasNamespaceMeta = (c: MetaContext): boolean => c.maps.shows('namespace');
  return [
    line(['log'], SLOT_MESSAGE),
    line(['stream'], SLOT_STREAM),
    line(['time'], SLOT_TIMESTAMP_RAW),
    // Fluent Bit puts the path under its tail's Path_Key: the same name the input uses.
    line([input.file], SLOT_FILE),
    // Not in Fluent Bit: enrichment.clusterName.
    meta(k('cluster_name'), clusterName),
    meta(k('pod_name'), podName),
    meta(k('namespace_name'), podNamespace),
    meta(k('pod_id'), (c) => c.pod?.uid),
    meta(k('labels'), podLabels),
    meta(k('annotations'), podAnnotations),
    meta(k('host'), (c) => c.pod?.nodeName),
    meta(k('pod_ip'), (c) => c.pod?.podIP),
    meta(k('container_name'), containerName),
    meta(k('docker_id'), (c) => c.identity?.containerId ?? (c.container?.containerId === undefined ? undefined : fluentBitHash(c.container.containerId))),
    meta(k('container_hash'), (c) => (c.container?.imageId === undefined ? undefined : fluentBitHash(c.container.imageId))),
    meta(k('container_image'), image),
    // Not in Fluent Bit: node metadata (its filter has none).
    meta(k('node_labels'), nodeLabels),
    meta(k('node_annotations'), nodeAnnotations),
    meta(k('unmatched_reason'), (c) => c.reason),
    meta(k('pending_metadata'), (c) => c.pending),
    // Fluent Bit's Namespace_Labels / Namespace_Annotations: a separate top-level record key.
    meta(['kubernetes_namespace', 'name'], (c) => (hasNamespaceMeta(c) ? (c.namespace?.name ?? podNamespace(c)) : undefined)),
    meta(['kubernetes_namespace', 'labels'], namespaceLabels),
    meta(['kubernetes_namespace', 'annotations'], namespaceAnnotations),
  ];
}

/**
 * A flattened OpenTelemetry log record: resource attributes as the filelog receiver's container
 * parser and the k8sattributes processor set them, then the record's own fields.
 */
function otelFields(): Field[] {
  const r = (name: string): string[] => ['resource', name];
  return [
    meta(r('k8s.cluster.name'), clusterName),
    meta(r('k8s.namespace.name'), podNamespace),
    meta(r('k8s.pod.name'), podName),
    meta(r('k8s.pod.uid'), podUid),
    meta(r('k8s.pod.ip'), (c) => c.pod?.podIP),
    meta(r('k8s.pod.start_time'), (c) => c.pod?.creationTimestamp),
    meta(r('k8s.node.name'), (c) => c.pod?.nodeName),
    meta(r('k8s.container.name'), containerName),
    meta(r('k8s.container.restart_count'), (c) => (c.identity?.restartCount === undefined ? undefined : String(c.identity.restartCount))),
    meta(r('container.id'), (c) => c.identity?.containerId ?? (c.container?.containerId === undefined ? undefined : bareContainerId(c.container.containerId))),
    meta(r('container.image.name'), (c) => parseImage(image(c) ?? '')?.name),
    meta(r('container.image.tag'), (c) => parseImage(image(c) ?? '')?.tag),
    meta(r('k8s.deployment.name'), (c) => c.workload?.deployment),
    meta(r('k8s.replicaset.name'), (c) => c.workload?.replicaSet),
    meta(r('k8s.statefulset.name'), (c) => c.workload?.statefulSet),
    meta(r('k8s.daemonset.name'), (c) => c.workload?.daemonSet),
    meta(r('k8s.job.name'), (c) => c.workload?.job),
    meta(r('k8s.cronjob.name'), (c) => c.workload?.cronJob),
    spread(['resource'], 'k8s.pod.label.', podLabels),
    spread(['resource'], 'k8s.pod.annotation.', podAnnotations),
    spread(['resource'], 'k8s.namespace.label.', namespaceLabels),
    spread(['resource'], 'k8s.namespace.annotation.', namespaceAnnotations),
    spread(['resource'], 'k8s.node.label.', nodeLabels),
    spread(['resource'], 'k8s.node.annotation.', nodeAnnotations),
    line(['time_unix_nano'], SLOT_TIME_NANOS),
    line(['observed_time_unix_nano'], SLOT_OBSERVED_NANOS),
    line(['body'], SLOT_MESSAGE),
    line(['attributes', 'log.file.path'], SLOT_FILE),
    line(['attributes', 'log.iostream'], SLOT_STREAM),
    meta(['attributes', 'kube_log_enricher.unmatched_reason'], (c) => c.reason),
    meta(['attributes', 'kube_log_enricher.pending_metadata'], (c) => c.pending),
  ];
}

export function schemaFields(schema: SchemaName, input: InputFieldNames): Field[] {
  switch (schema) {
    case 'vector':
      return vectorFields();
    case 'fluentbit':
      return fluentBitFields(input);
    case 'otel':
      return otelFields();
  }
}
