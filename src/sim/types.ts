/**
 * JSON shapes of the objects the simulated API server stores and serves: what travels on the wire
 * (timestamps are RFC 3339 strings), not client-node's typed models (which turn them into Dates).
 * Only the fields the generator fills are spelled out; anything else may ride along.
 */

export type SimKind = 'pods' | 'namespaces' | 'nodes';
export type StringMap = Record<string, string>;

export interface OwnerReferenceJson {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
  controller?: boolean;
  blockOwnerDeletion?: boolean;
}

export interface ManagedFieldsEntryJson {
  manager: string;
  operation: 'Apply' | 'Update';
  apiVersion: string;
  time: string;
  fieldsType: 'FieldsV1';
  fieldsV1: Record<string, unknown>;
  subresource?: string;
}

export interface ObjectMetaJson {
  name: string;
  namespace?: string;
  generateName?: string;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  creationTimestamp?: string;
  deletionTimestamp?: string;
  deletionGracePeriodSeconds?: number;
  labels?: StringMap;
  annotations?: StringMap;
  ownerReferences?: OwnerReferenceJson[];
  finalizers?: string[];
  managedFields?: ManagedFieldsEntryJson[];
}

/** Any object the simulated server keeps. List items carry no kind/apiVersion; watch events do. */
export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata: ObjectMetaJson;
  [field: string]: unknown;
}

export interface EnvVarJson {
  name: string;
  value?: string;
  valueFrom?: Record<string, unknown>;
}

export interface ContainerJson {
  name: string;
  image: string;
  imagePullPolicy?: string;
  command?: string[];
  args?: string[];
  ports?: { name?: string; containerPort: number; protocol: string }[];
  env?: EnvVarJson[];
  resources?: { requests?: StringMap; limits?: StringMap };
  volumeMounts?: { name: string; mountPath: string; readOnly?: boolean }[];
  livenessProbe?: Record<string, unknown>;
  readinessProbe?: Record<string, unknown>;
  terminationMessagePath?: string;
  terminationMessagePolicy?: string;
  securityContext?: Record<string, unknown>;
}

export interface VolumeJson {
  name: string;
  [source: string]: unknown;
}

export interface PodSpecJson {
  containers: ContainerJson[];
  initContainers?: ContainerJson[];
  volumes?: VolumeJson[];
  nodeName?: string;
  serviceAccountName?: string;
  restartPolicy?: string;
  dnsPolicy?: string;
  schedulerName?: string;
  priority?: number;
  priorityClassName?: string;
  terminationGracePeriodSeconds?: number;
  enableServiceLinks?: boolean;
  preemptionPolicy?: string;
  hostNetwork?: boolean;
  securityContext?: Record<string, unknown>;
  tolerations?: Record<string, unknown>[];
  nodeSelector?: StringMap;
  hostname?: string;
  subdomain?: string;
  [field: string]: unknown;
}

export interface ContainerStatusJson {
  name: string;
  image: string;
  imageID: string;
  containerID?: string;
  ready: boolean;
  started?: boolean;
  restartCount: number;
  state: Record<string, unknown>;
  lastState?: Record<string, unknown>;
}

export interface PodStatusJson {
  phase: string;
  conditions?: { type: string; status: string; lastProbeTime: string | null; lastTransitionTime: string }[];
  hostIP?: string;
  hostIPs?: { ip: string }[];
  podIP?: string;
  podIPs?: { ip: string }[];
  startTime?: string;
  qosClass?: string;
  containerStatuses?: ContainerStatusJson[];
  initContainerStatuses?: ContainerStatusJson[];
  [field: string]: unknown;
}

export interface PodJson extends KubeObject {
  spec: PodSpecJson;
  status: PodStatusJson;
}

export interface NamespaceJson extends KubeObject {
  spec?: { finalizers?: string[] };
  status?: { phase: string };
}

export interface NodeJson extends KubeObject {
  spec?: { podCIDR?: string; podCIDRs?: string[]; providerID?: string; unschedulable?: boolean; taints?: Record<string, unknown>[] };
  status?: Record<string, unknown>;
}
