/**
 * A deterministic generator of realistic cluster contents (Namespaces, Nodes, Pods as the API
 * serves them), and builders for single objects in tests. Same seed and sizes, same cluster.
 *
 * Pods come the ways they do on a real cluster: Deployments (ReplicaSet owner, pod-template-hash),
 * StatefulSets (ordinal names), DaemonSets (one per node), Jobs of CronJobs (`<cronjob>-<minutes>`),
 * bare pods applied with kubectl (multi-KB last-applied-configuration), and static pods whose mirror
 * carries the kubelet's config hash and a Node owner.
 */
import { SeededRandom, sha256Hex } from './random.ts';
import type {
  ContainerJson, ContainerStatusJson, EnvVarJson, KubeObject, ManagedFieldsEntryJson, NamespaceJson, NodeJson,
  OwnerReferenceJson, PodJson, StringMap, VolumeJson,
} from './types.ts';

// ---------------------------------------------------------------- shared helpers

function rfc3339(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** `nginx:1.27` → `docker.io/library/nginx:1.27`, as containerd reports it in status.image. */
export function normalizeImage(image: string): string {
  const firstSlash = image.indexOf('/');
  const first = firstSlash >= 0 ? image.slice(0, firstSlash) : '';
  const hasRegistry = firstSlash >= 0 && (first.includes('.') || first.includes(':') || first === 'localhost');
  if (hasRegistry) return image;
  return firstSlash >= 0 ? `docker.io/${image}` : `docker.io/library/${image}`;
}

/** `docker.io/library/nginx@sha256:<64 hex>`: the repository digest status.imageID carries. */
export function imageIdOf(image: string): string {
  const normalized = normalizeImage(image);
  const at = normalized.indexOf('@');
  const withoutDigest = at >= 0 ? normalized.slice(0, at) : normalized;
  const lastColon = withoutDigest.lastIndexOf(':');
  const repo = lastColon > withoutDigest.lastIndexOf('/') ? withoutDigest.slice(0, lastColon) : withoutDigest;
  return `${repo}@sha256:${sha256Hex(`image:${withoutDigest}`)}`;
}

/** Server-side-apply field sets (`f:` keys, `k:{...}` list items), built from the object they manage. */
function fieldsV1Of(value: unknown): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  addFieldsV1(value, out);
  return out;
}

/**
 * Adds the field set of `value` to `out` (built in place rather than spread level by level: the
 * generator makes tens of thousands of these). Returns whether it added any field.
 */
function addFieldsV1(value: unknown, out: Record<string, unknown>): boolean {
  if (value === null || typeof value !== 'object') return false;
  let added = false;
  if (Array.isArray(value)) {
    for (const item of value as unknown[]) {
      if (item !== null && typeof item === 'object' && !Array.isArray(item)) {
        const record = item as Record<string, unknown>;
        let key: string;
        if (typeof record.uid === 'string') key = `k:{"uid":"${record.uid}"}`;
        else if (typeof record.name === 'string') key = `k:{"name":"${record.name}"}`;
        else if (typeof record.containerPort === 'number') key = `k:{"containerPort":${record.containerPort},"protocol":"${String(record.protocol ?? 'TCP')}"}`;
        else if (typeof record.type === 'string') key = `k:{"type":"${record.type}"}`;
        else if (typeof record.ip === 'string') key = `k:{"ip":"${record.ip}"}`;
        else if (typeof record.key === 'string') key = `k:{"key":"${record.key}"}`;
        else continue;
        const entry: Record<string, unknown> = { '.': {} };
        addFieldsV1(record, entry);
        out[key] = entry;
        added = true;
      } else if (typeof item === 'string') {
        out[`v:"${item}"`] = {};
        added = true;
      }
    }
    return added;
  }
  const record = value as Record<string, unknown>;
  for (const key of Object.keys(record)) {
    const child = record[key];
    if (child === undefined) continue;
    added = true;
    if (child === null || typeof child !== 'object') {
      out[`f:${key}`] = {};
    } else if (Array.isArray(child)) {
      const nested: Record<string, unknown> = {};
      addFieldsV1(child, nested);
      out[`f:${key}`] = nested;
    } else {
      // A map with fields gets '.' (the map itself) first; an empty one is just {}.
      const nested: Record<string, unknown> = { '.': {} };
      out[`f:${key}`] = addFieldsV1(child, nested) ? nested : {};
    }
  }
  return added;
}

function managedEntry(manager: string, operation: 'Apply' | 'Update', time: string, fields: unknown, subresource?: string): ManagedFieldsEntryJson {
  const entry: ManagedFieldsEntryJson = { manager, operation, apiVersion: 'v1', time, fieldsType: 'FieldsV1', fieldsV1: fieldsV1Of(fields) };
  if (subresource) entry.subresource = subresource;
  return entry;
}

// ---------------------------------------------------------------- pods

export interface ContainerInput {
  name: string;
  image?: string;
  ports?: number[];
  env?: StringMap;
}

export interface PodOwnerInput {
  kind: string;
  name: string;
  uid?: string;
  apiVersion?: string;
}

/** What a test chooses about one pod; everything else is filled in realistically. */
export interface PodOptions {
  name: string;
  namespace?: string;
  /** Default `node-a`; null leaves the pod unscheduled (Pending, no IPs). */
  nodeName?: string | null;
  uid?: string;
  labels?: StringMap;
  annotations?: StringMap;
  /** Names (image derived) or full inputs; default one container named after the pod's app. */
  containers?: (string | ContainerInput)[];
  initContainers?: (string | ContainerInput)[];
  owner?: PodOwnerInput;
  /** Makes a static (mirror) pod: config.hash/mirror/source annotations and a Node owner. */
  staticHash?: string;
  phase?: 'Pending' | 'Running' | 'Succeeded' | 'Failed';
  podIP?: string;
  hostIP?: string;
  /** Per container name; a count above 0 adds a lastState.terminated. */
  restartCounts?: Record<string, number>;
  creationTimestamp?: string;
  /** Include managedFields (default true). */
  managedFields?: boolean;
  /** Seeds ids (container ids, uid) so the same options build the same pod. */
  seed?: number;
}

interface BuiltContainer {
  spec: ContainerJson;
  init: boolean;
}

const ENV_POOL: readonly EnvVarJson[] = [
  { name: 'LOG_LEVEL', value: 'info' },
  { name: 'LOG_FORMAT', value: 'json' },
  { name: 'OTEL_EXPORTER_OTLP_ENDPOINT', value: 'http://otel-collector.monitoring.svc.cluster.local:4317' },
  { name: 'OTEL_SERVICE_NAME', value: '' },
  { name: 'GOMAXPROCS', valueFrom: { resourceFieldRef: { resource: 'limits.cpu', divisor: '1' } } },
  { name: 'POD_NAME', valueFrom: { fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.name' } } },
  { name: 'POD_NAMESPACE', valueFrom: { fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.namespace' } } },
  { name: 'POD_IP', valueFrom: { fieldRef: { apiVersion: 'v1', fieldPath: 'status.podIP' } } },
  { name: 'NODE_NAME', valueFrom: { fieldRef: { apiVersion: 'v1', fieldPath: 'spec.nodeName' } } },
  { name: 'DATABASE_URL', valueFrom: { secretKeyRef: { name: 'db-credentials', key: 'url' } } },
  { name: 'REDIS_ADDR', value: 'redis-master.data.svc.cluster.local:6379' },
  { name: 'FEATURE_FLAGS', value: 'new-checkout=true,async-payments=false,recommendations-v2=true' },
  { name: 'JAVA_TOOL_OPTIONS', value: '-XX:MaxRAMPercentage=75.0 -XX:+UseG1GC -Dfile.encoding=UTF-8' },
  { name: 'HTTP_LISTEN_ADDR', value: ':8080' },
];

function defaultImageFor(name: string): string {
  return `registry.example.com/apps/${name}:1.${name.length % 9}.${name.charCodeAt(0) % 17}`;
}

function buildContainer(rng: SeededRandom, input: ContainerInput, appName: string, init: boolean): BuiltContainer {
  const image = input.image ?? defaultImageFor(input.name);
  const spec: ContainerJson = { name: input.name, image, imagePullPolicy: 'IfNotPresent' };
  if (init) {
    spec.command = ['/bin/sh', '-c'];
    spec.args = [`echo "preparing ${appName}" && /usr/local/bin/${input.name} --wait-for-dependencies --timeout=120s`];
  }
  if (!init && input.ports !== undefined && input.ports.length > 0) {
    spec.ports = input.ports.map((port, i) => ({ name: i === 0 ? 'http' : `port-${port}`, containerPort: port, protocol: 'TCP' }));
  }
  const env: EnvVarJson[] = input.env ? Object.entries(input.env).map(([name, value]) => ({ name, value })) : [];
  const envCount = init ? rng.int(1, 3) : rng.int(3, 8);
  const start = rng.int(0, ENV_POOL.length - 1);
  for (let i = 0; i < envCount; i++) {
    const entry = ENV_POOL[(start + i) % ENV_POOL.length] as EnvVarJson;
    if (env.some((e) => e.name === entry.name)) continue;
    env.push(entry.name === 'OTEL_SERVICE_NAME' ? { name: entry.name, value: appName } : structuredClone(entry));
  }
  spec.env = env;
  spec.resources = init
    ? { requests: { cpu: '10m', memory: '16Mi' }, limits: { memory: '64Mi' } }
    : { requests: { cpu: `${rng.pick([50, 100, 250, 500])}m`, memory: `${rng.pick([64, 128, 256, 512])}Mi` }, limits: { memory: `${rng.pick([256, 512, 1024])}Mi` } };
  spec.volumeMounts = [];
  if (!init && spec.ports) {
    const port = spec.ports[0]?.containerPort ?? 8080;
    spec.livenessProbe = { httpGet: { path: '/healthz', port, scheme: 'HTTP' }, initialDelaySeconds: 10, periodSeconds: 10, timeoutSeconds: 1, successThreshold: 1, failureThreshold: 3 };
    spec.readinessProbe = { httpGet: { path: '/readyz', port, scheme: 'HTTP' }, periodSeconds: 5, timeoutSeconds: 1, successThreshold: 1, failureThreshold: 3 };
  }
  spec.terminationMessagePath = '/dev/termination-log';
  spec.terminationMessagePolicy = 'File';
  spec.securityContext = { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] }, readOnlyRootFilesystem: true, runAsNonRoot: true };
  return { spec, init };
}

function containerInputs(list: (string | ContainerInput)[] | undefined): ContainerInput[] | undefined {
  return list?.map((c) => (typeof c === 'string' ? { name: c } : c));
}

function containerStatus(rng: SeededRandom, seedText: string, container: ContainerJson, phase: string, startedMs: number, restarts: number, init: boolean): ContainerStatusJson {
  const containerId = `containerd://${sha256Hex(`container:${seedText}:${container.name}:${restarts}`)}`;
  const status: ContainerStatusJson = {
    name: container.name,
    image: normalizeImage(container.image),
    imageID: imageIdOf(container.image),
    containerID: containerId,
    ready: false,
    started: false,
    restartCount: restarts,
    state: {},
  };
  if (phase === 'Pending') {
    delete status.containerID;
    status.state = { waiting: { reason: init ? 'PodInitializing' : 'ContainerCreating' } };
    return status;
  }
  const started = rfc3339(startedMs);
  const finished = rfc3339(startedMs + rng.int(2, 90) * 1000);
  if (init || phase === 'Succeeded' || phase === 'Failed') {
    const exitCode = phase === 'Failed' && !init ? 1 : 0;
    status.state = { terminated: { exitCode, reason: exitCode === 0 ? 'Completed' : 'Error', startedAt: started, finishedAt: finished, containerID: containerId } };
    status.ready = false;
    status.started = false;
  } else {
    status.state = { running: { startedAt: started } };
    status.ready = true;
    status.started = true;
  }
  if (restarts > 0) {
    status.lastState = {
      terminated: {
        exitCode: 137, reason: 'OOMKilled', startedAt: rfc3339(startedMs - 3_600_000), finishedAt: rfc3339(startedMs - 1000),
        containerID: `containerd://${sha256Hex(`container:${seedText}:${container.name}:${restarts - 1}`)}`,
      },
    };
  }
  return status;
}

interface PodBuild extends PodOptions {
  /** Epoch ms the pod was created. */
  createdMs: number;
  /** The node's uid, for a static pod's owner reference. */
  nodeUid?: string;
  /** Applied with kubectl: carries last-applied-configuration. */
  kubectlApplied?: boolean;
  /** Extra spec fields (affinity, tolerations, hostname...). */
  specExtra?: Record<string, unknown>;
  volumesExtra?: VolumeJson[];
  serviceAccountName?: string;
  priorityClassName?: string;
  hostNetwork?: boolean;
}

function appNameOf(options: PodOptions): string {
  return options.labels?.['app.kubernetes.io/name'] ?? options.labels?.app ?? options.labels?.['k8s-app'] ?? options.labels?.component ?? options.name.replace(/-[a-z0-9]{5}$/, '');
}

function buildPod(rng: SeededRandom, build: PodBuild): PodJson {
  const namespace = build.namespace ?? 'default';
  const nodeName = build.nodeName === null ? undefined : (build.nodeName ?? 'node-a');
  const appName = appNameOf(build);
  const phase = build.phase ?? (nodeName === undefined ? 'Pending' : 'Running');
  const created = build.creationTimestamp ?? rfc3339(build.createdMs);
  const createdMs = Date.parse(created);
  const isStatic = build.staticHash !== undefined;
  const mainInputs = containerInputs(build.containers) ?? [{ name: appName, ports: [8080] }];
  const initInputs = containerInputs(build.initContainers) ?? [];
  const containers = mainInputs.map((c) => buildContainer(rng, c, appName, false));
  const initContainers = initInputs.map((c) => buildContainer(rng, c, appName, true));

  const volumes: VolumeJson[] = [...(build.volumesExtra ?? [])];
  if (!isStatic) {
    // Every pod with a service account gets the projected token volume, mounted in every container.
    const tokenVolume = `kube-api-access-${rng.suffix(5)}`;
    volumes.push({
      name: tokenVolume,
      projected: {
        defaultMode: 420,
        sources: [
          { serviceAccountToken: { expirationSeconds: 3607, path: 'token' } },
          { configMap: { name: 'kube-root-ca.crt', items: [{ key: 'ca.crt', path: 'ca.crt' }] } },
          { downwardAPI: { items: [{ path: 'namespace', fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.namespace' } }] } },
        ],
      },
    });
    for (const c of [...initContainers, ...containers]) {
      c.spec.volumeMounts?.push({ name: tokenVolume, mountPath: '/var/run/secrets/kubernetes.io/serviceaccount', readOnly: true });
    }
  }
  if (!isStatic && rng.chance(0.5)) {
    volumes.push({ name: 'config', configMap: { name: `${appName}-config`, defaultMode: 420 } });
    volumes.push({ name: 'tmp', emptyDir: {} });
    for (const c of containers) {
      c.spec.volumeMounts?.push({ name: 'config', mountPath: '/etc/config', readOnly: true });
      c.spec.volumeMounts?.push({ name: 'tmp', mountPath: '/tmp' });
    }
  }
  for (const volume of build.volumesExtra ?? []) {
    const first = containers[0];
    if (first) first.spec.volumeMounts?.push({ name: volume.name, mountPath: volume.name === 'data' ? '/var/lib/data' : `/mnt/${volume.name}` });
  }

  const labels: StringMap = { ...build.labels };
  const annotations: StringMap = { ...build.annotations };
  const ownerReferences: OwnerReferenceJson[] = [];
  if (isStatic) {
    const hash = build.staticHash as string;
    annotations['kubernetes.io/config.hash'] = hash;
    annotations['kubernetes.io/config.mirror'] = hash;
    annotations['kubernetes.io/config.seen'] = new Date(createdMs - 5000).toISOString().replace('Z', '000000Z').replace(/\.(\d{3})000000Z$/, '.$1123456Z');
    annotations['kubernetes.io/config.source'] = 'file';
    if (nodeName !== undefined) {
      ownerReferences.push({ apiVersion: 'v1', kind: 'Node', name: nodeName, uid: build.nodeUid ?? rng.uuid(), controller: true });
    }
  } else if (build.owner) {
    const apiVersion = build.owner.apiVersion ?? (build.owner.kind === 'Job' ? 'batch/v1' : build.owner.kind === 'Node' ? 'v1' : 'apps/v1');
    ownerReferences.push({ apiVersion, kind: build.owner.kind, name: build.owner.name, uid: build.owner.uid ?? rng.uuid(), controller: true, blockOwnerDeletion: true });
  }

  const spec: PodJson['spec'] = {
    ...(initContainers.length > 0 ? { initContainers: initContainers.map((c) => c.spec) } : {}),
    containers: containers.map((c) => c.spec),
    ...(volumes.length > 0 ? { volumes } : {}),
    restartPolicy: build.owner?.kind === 'Job' ? 'OnFailure' : 'Always',
    terminationGracePeriodSeconds: 30,
    dnsPolicy: build.hostNetwork ? 'ClusterFirstWithHostNet' : 'ClusterFirst',
    serviceAccountName: build.serviceAccountName ?? (isStatic ? undefined : 'default'),
    ...(nodeName !== undefined ? { nodeName } : {}),
    ...(build.hostNetwork ? { hostNetwork: true } : {}),
    securityContext: isStatic ? {} : { fsGroup: 2000, runAsUser: 1000, runAsGroup: 3000, seccompProfile: { type: 'RuntimeDefault' } },
    schedulerName: 'default-scheduler',
    tolerations: [
      { key: 'node.kubernetes.io/not-ready', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 },
      { key: 'node.kubernetes.io/unreachable', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 },
    ],
    ...(build.priorityClassName ? { priorityClassName: build.priorityClassName, priority: build.priorityClassName === 'system-node-critical' ? 2000001000 : 2000000000 } : { priority: 0 }),
    enableServiceLinks: true,
    preemptionPolicy: 'PreemptLowerPriority',
    ...build.specExtra,
  };
  if (spec.serviceAccountName === undefined) delete spec.serviceAccountName;

  const seedText = `${namespace}/${build.name}/${build.uid ?? ''}/${build.seed ?? 0}`;
  const startedMs = createdMs + rng.int(1, 20) * 1000;
  const hostIP = build.hostIP ?? (nodeName !== undefined ? `10.0.${rng.int(0, 63)}.${rng.int(2, 254)}` : undefined);
  const podIP = phase === 'Pending' && nodeName === undefined ? undefined : build.hostNetwork ? hostIP : (build.podIP ?? `10.244.${rng.int(0, 255)}.${rng.int(2, 254)}`);
  const restarts = build.restartCounts ?? {};
  const ready = phase === 'Running' ? 'True' : 'False';
  const status: PodJson['status'] = {
    phase,
    conditions: [
      { type: 'PodReadyToStartContainers', status: phase === 'Pending' ? 'False' : 'True', lastProbeTime: null, lastTransitionTime: rfc3339(startedMs - 1000) },
      { type: 'Initialized', status: phase === 'Pending' && initContainers.length > 0 ? 'False' : 'True', lastProbeTime: null, lastTransitionTime: rfc3339(startedMs) },
      { type: 'Ready', status: ready, lastProbeTime: null, lastTransitionTime: rfc3339(startedMs + 4000) },
      { type: 'ContainersReady', status: ready, lastProbeTime: null, lastTransitionTime: rfc3339(startedMs + 4000) },
      { type: 'PodScheduled', status: nodeName !== undefined ? 'True' : 'False', lastProbeTime: null, lastTransitionTime: created },
    ],
    qosClass: 'Burstable',
  };
  if (nodeName !== undefined && hostIP !== undefined) {
    status.hostIP = hostIP;
    status.hostIPs = [{ ip: hostIP }];
    status.startTime = rfc3339(startedMs - 2000);
  }
  if (podIP !== undefined) {
    status.podIP = podIP;
    status.podIPs = [{ ip: podIP }];
  }
  if (nodeName !== undefined) {
    if (initContainers.length > 0) {
      status.initContainerStatuses = initContainers.map((c) => containerStatus(rng, seedText, c.spec, phase, startedMs - 3000, 0, true));
    }
    status.containerStatuses = containers.map((c) => containerStatus(rng, seedText, c.spec, phase, startedMs, restarts[c.spec.name] ?? 0, false));
  }

  const metadata: PodJson['metadata'] = { name: build.name, namespace };
  if (build.owner && !isStatic) metadata.generateName = build.name.replace(/[a-z0-9]{5}$/, '');
  if (build.uid !== undefined) metadata.uid = build.uid;
  metadata.creationTimestamp = created;
  if (Object.keys(labels).length > 0) metadata.labels = labels;
  if (build.kubectlApplied) {
    // What `kubectl apply` recorded: the manifest as written, without the fields the server filled in.
    const { nodeName: _node, volumes: allVolumes, ...writtenSpec } = spec;
    const applied = { apiVersion: 'v1', kind: 'Pod', metadata: { annotations: { ...annotations }, labels, name: build.name, namespace }, spec: { ...writtenSpec, volumes: (allVolumes ?? []).filter((v) => !v.name.startsWith('kube-api-access-')) } };
    annotations['kubectl.kubernetes.io/last-applied-configuration'] = `${JSON.stringify(applied)}\n`;
  }
  if (Object.keys(annotations).length > 0) metadata.annotations = annotations;
  if (ownerReferences.length > 0) metadata.ownerReferences = ownerReferences;

  const pod: PodJson = { metadata, spec, status };
  if (build.managedFields !== false) {
    const writer = isStatic ? 'kubelet' : build.owner?.kind === 'Job' ? 'kube-controller-manager' : build.owner ? 'kube-controller-manager' : build.kubectlApplied ? 'kubectl-client-side-apply' : 'kubectl-create';
    metadata.managedFields = [
      managedEntry(writer, 'Update', created, { metadata: { annotations: metadata.annotations, generateName: metadata.generateName, labels: metadata.labels, ownerReferences: metadata.ownerReferences }, spec }),
      managedEntry('kubelet', 'Update', rfc3339(startedMs + 4000), { status: { ...status, containerStatuses: undefined, initContainerStatuses: undefined, conditions: status.conditions, podIPs: status.podIPs, hostIPs: status.hostIPs } }, 'status'),
    ];
  }
  return pod;
}

/** One realistic pod with the chosen name/namespace/node/labels/containers (a test fixture builder). */
export function podFor(options: PodOptions): PodJson {
  const rng = new SeededRandom(options.seed ?? hashSeed(`${options.namespace ?? 'default'}/${options.name}`));
  const createdMs = options.creationTimestamp ? Date.parse(options.creationTimestamp) : Date.now() - 60_000;
  return buildPod(rng, { ...options, createdMs });
}

function hashSeed(text: string): number {
  return parseInt(sha256Hex(text).slice(0, 8), 16);
}

// ---------------------------------------------------------------- namespaces and nodes

export interface NamespaceOptions {
  name: string;
  labels?: StringMap;
  annotations?: StringMap;
  uid?: string;
  creationTimestamp?: string;
}

export function namespaceFor(options: NamespaceOptions): NamespaceJson {
  const metadata: NamespaceJson['metadata'] = {
    name: options.name,
    labels: { 'kubernetes.io/metadata.name': options.name, ...options.labels },
  };
  if (options.uid) metadata.uid = options.uid;
  if (options.creationTimestamp) metadata.creationTimestamp = options.creationTimestamp;
  if (options.annotations) metadata.annotations = { ...options.annotations };
  return { metadata, spec: { finalizers: ['kubernetes'] }, status: { phase: 'Active' } };
}

export interface NodeOptions {
  name: string;
  labels?: StringMap;
  annotations?: StringMap;
  uid?: string;
  zone?: string;
  instanceType?: string;
  internalIP?: string;
  podCIDR?: string;
  /** Images present on the node (status.images). */
  images?: string[];
  creationTimestamp?: string;
  controlPlane?: boolean;
}

export function nodeFor(options: NodeOptions): NodeJson {
  const zone = options.zone ?? 'eu-west-1a';
  const region = zone.replace(/[a-z]$/, '');
  const instanceType = options.instanceType ?? 'm6i.xlarge';
  const internalIP = options.internalIP ?? '10.0.1.10';
  const podCIDR = options.podCIDR ?? '10.244.1.0/24';
  const created = options.creationTimestamp ?? '2026-01-10T07:12:44Z';
  const labels: StringMap = {
    'beta.kubernetes.io/arch': 'amd64',
    'beta.kubernetes.io/instance-type': instanceType,
    'beta.kubernetes.io/os': 'linux',
    'failure-domain.beta.kubernetes.io/region': region,
    'failure-domain.beta.kubernetes.io/zone': zone,
    'kubernetes.io/arch': 'amd64',
    'kubernetes.io/hostname': options.name,
    'kubernetes.io/os': 'linux',
    'node.kubernetes.io/instance-type': instanceType,
    'topology.kubernetes.io/region': region,
    'topology.kubernetes.io/zone': zone,
    ...(options.controlPlane ? { 'node-role.kubernetes.io/control-plane': '', 'node.kubernetes.io/exclude-from-external-load-balancers': '' } : { 'node-role.kubernetes.io/worker': '' }),
    ...options.labels,
  };
  const annotations: StringMap = {
    'alpha.kubernetes.io/provided-node-ip': internalIP,
    'node.alpha.kubernetes.io/ttl': '0',
    'volumes.kubernetes.io/controller-managed-attach-detach': 'true',
    'csi.volume.kubernetes.io/nodeid': `{"ebs.csi.aws.com":"i-0${sha256Hex(options.name).slice(0, 16)}"}`,
    ...options.annotations,
  };
  const metadata: NodeJson['metadata'] = { name: options.name, labels, annotations };
  if (options.uid) metadata.uid = options.uid;
  metadata.creationTimestamp = created;
  const heartbeat = '2026-01-15T08:59:30Z';
  const condition = (type: string, status: string, reason: string, message: string) => ({ type, status, lastHeartbeatTime: heartbeat, lastTransitionTime: created, reason, message });
  const images = [...new Set(options.images ?? [])].map((image) => ({
    names: [imageIdOf(image), normalizeImage(image)],
    sizeBytes: 10_000_000 + (parseInt(sha256Hex(image).slice(0, 6), 16) % 400_000_000),
  }));
  return {
    metadata,
    spec: {
      podCIDR,
      podCIDRs: [podCIDR],
      providerID: `aws:///${zone}/i-0${sha256Hex(options.name).slice(0, 16)}`,
      ...(options.controlPlane ? { taints: [{ key: 'node-role.kubernetes.io/control-plane', effect: 'NoSchedule' }] } : {}),
    },
    status: {
      capacity: { cpu: '4', 'ephemeral-storage': '104845292Ki', 'hugepages-1Gi': '0', 'hugepages-2Mi': '0', memory: '16044348Ki', pods: '110' },
      allocatable: { cpu: '3920m', 'ephemeral-storage': '95551679124', 'hugepages-1Gi': '0', 'hugepages-2Mi': '0', memory: '15027516Ki', pods: '110' },
      conditions: [
        condition('MemoryPressure', 'False', 'KubeletHasSufficientMemory', 'kubelet has sufficient memory available'),
        condition('DiskPressure', 'False', 'KubeletHasNoDiskPressure', 'kubelet has no disk pressure'),
        condition('PIDPressure', 'False', 'KubeletHasSufficientPID', 'kubelet has sufficient PID available'),
        condition('Ready', 'True', 'KubeletReady', 'kubelet is posting ready status'),
      ],
      addresses: [
        { type: 'InternalIP', address: internalIP },
        { type: 'InternalDNS', address: options.name },
        { type: 'Hostname', address: options.name },
      ],
      daemonEndpoints: { kubeletEndpoint: { Port: 10250 } },
      nodeInfo: {
        machineID: sha256Hex(`machine:${options.name}`).slice(0, 32),
        systemUUID: `ec2${sha256Hex(`uuid:${options.name}`).slice(0, 5)}-${sha256Hex(options.name).slice(8, 12)}-${sha256Hex(options.name).slice(12, 16)}-${sha256Hex(options.name).slice(16, 20)}-${sha256Hex(options.name).slice(20, 32)}`,
        bootID: `${sha256Hex(`boot:${options.name}`).slice(0, 8)}-${sha256Hex(`boot:${options.name}`).slice(8, 12)}-4${sha256Hex(`boot:${options.name}`).slice(13, 16)}-a${sha256Hex(`boot:${options.name}`).slice(17, 20)}-${sha256Hex(`boot:${options.name}`).slice(20, 32)}`,
        kernelVersion: '6.1.128-136.201.amzn2023.x86_64',
        osImage: 'Amazon Linux 2023.6.20250203',
        containerRuntimeVersion: 'containerd://1.7.25',
        kubeletVersion: 'v1.33.2',
        kubeProxyVersion: 'v1.33.2',
        operatingSystem: 'linux',
        architecture: 'amd64',
      },
      images,
    },
  };
}

// ---------------------------------------------------------------- the cluster generator

export interface ClusterOptions {
  seed?: number;
  nodes?: number;
  podsPerNode?: number;
  /** Application namespaces (kube-system and default always exist besides). */
  namespaces?: number;
  /** "Now" of the generated cluster: creation times lie before it (default 2026-01-15T09:00:00Z). */
  now?: Date;
}

export interface GeneratedCluster {
  namespaces: NamespaceJson[];
  nodes: NodeJson[];
  pods: PodJson[];
}

type WorkloadKind = 'Deployment' | 'StatefulSet' | 'CronJob' | 'Pod';

interface AppTemplate {
  name: string;
  kind: WorkloadKind;
  image: string;
  port?: number;
  component: string;
  replicas: [number, number];
  sidecar?: ContainerInput;
  init?: ContainerInput;
}

const APP_CATALOG: readonly AppTemplate[] = [
  { name: 'frontend', kind: 'Deployment', image: 'nginx:1.27.3-alpine', port: 8080, component: 'web', replicas: [2, 4] },
  { name: 'cart', kind: 'Deployment', image: 'ghcr.io/acme/cart:2.14.0', port: 8080, component: 'api', replicas: [2, 3], init: { name: 'wait-for-redis', image: 'busybox:1.37' } },
  { name: 'postgres', kind: 'StatefulSet', image: 'postgres:16.6', port: 5432, component: 'database', replicas: [1, 3], sidecar: { name: 'postgres-exporter', image: 'quay.io/prometheuscommunity/postgres-exporter:v0.16.0', ports: [9187] } },
  { name: 'report-generator', kind: 'CronJob', image: 'ghcr.io/acme/report-generator:0.9.2', component: 'batch', replicas: [1, 3] },
  { name: 'checkout', kind: 'Deployment', image: 'ghcr.io/acme/checkout:3.2.1', port: 8080, component: 'api', replicas: [2, 3], sidecar: { name: 'istio-proxy', image: 'docker.io/istio/proxyv2:1.24.2', ports: [15090] }, init: { name: 'istio-init', image: 'docker.io/istio/proxyv2:1.24.2' } },
  { name: 'redis', kind: 'StatefulSet', image: 'redis:7.4.2', port: 6379, component: 'cache', replicas: [1, 3] },
  { name: 'debug-shell', kind: 'Pod', image: 'nicolaka/netshoot:v0.13', component: 'debug', replicas: [1, 1] },
  { name: 'payments-api', kind: 'Deployment', image: 'registry.example.com/payments/api:5.0.3', port: 8443, component: 'api', replicas: [2, 4] },
  { name: 'kafka', kind: 'StatefulSet', image: 'docker.io/bitnami/kafka:3.9.0', port: 9092, component: 'broker', replicas: [3, 3] },
  { name: 'db-backup', kind: 'CronJob', image: 'ghcr.io/acme/pg-backup:1.3.0', component: 'batch', replicas: [1, 3] },
  { name: 'grafana', kind: 'Deployment', image: 'docker.io/grafana/grafana:11.4.0', port: 3000, component: 'dashboard', replicas: [1, 1], sidecar: { name: 'grafana-sc-dashboard', image: 'quay.io/kiwigrid/k8s-sidecar:1.28.0' } },
  { name: 'search-indexer', kind: 'Deployment', image: 'ghcr.io/acme/search-indexer:0.31.4', port: 9200, component: 'worker', replicas: [1, 3] },
  { name: 'migration-runner', kind: 'Pod', image: 'ghcr.io/acme/migrate:4.18.1', component: 'maintenance', replicas: [1, 1] },
  { name: 'keycloak', kind: 'StatefulSet', image: 'quay.io/keycloak/keycloak:26.0.7', port: 8080, component: 'identity', replicas: [1, 2] },
  { name: 'notification-worker', kind: 'Deployment', image: 'ghcr.io/acme/notifier:1.7.0', component: 'worker', replicas: [1, 3] },
  { name: 'ingress-nginx-controller', kind: 'Deployment', image: 'registry.k8s.io/ingress-nginx/controller:v1.12.0', port: 443, component: 'controller', replicas: [2, 2] },
];

const NAMESPACE_NAMES: readonly [string, string][] = [
  ['shop', 'storefront'], ['payments', 'fintech'], ['monitoring', 'platform'], ['data', 'data-eng'], ['auth', 'identity'],
  ['search', 'discovery'], ['batch', 'data-eng'], ['ingress-nginx', 'platform'], ['notifications', 'engagement'], ['media', 'content'],
];

const STATIC_COMPONENTS: readonly { name: string; image: string }[] = [
  { name: 'etcd', image: 'registry.k8s.io/etcd:3.5.21-0' },
  { name: 'kube-apiserver', image: 'registry.k8s.io/kube-apiserver:v1.33.2' },
  { name: 'kube-controller-manager', image: 'registry.k8s.io/kube-controller-manager:v1.33.2' },
  { name: 'kube-scheduler', image: 'registry.k8s.io/kube-scheduler:v1.33.2' },
];

const ZONES = ['eu-west-1a', 'eu-west-1b', 'eu-west-1c'];
const INSTANCE_TYPES = ['m6i.xlarge', 'm6i.2xlarge', 'c6i.xlarge', 'r6i.large'];

/** Generates a cluster: namespaces, nodes and nodes × podsPerNode pods, reproducibly from the seed. */
export function generateCluster(options: ClusterOptions = {}): GeneratedCluster {
  const rng = new SeededRandom(options.seed ?? 1);
  const nodeCount = Math.max(1, options.nodes ?? 3);
  const podsPerNode = Math.max(0, options.podsPerNode ?? 10);
  const appNamespaceCount = Math.max(1, options.namespaces ?? 4);
  const nowMs = (options.now ?? new Date('2026-01-15T09:00:00Z')).getTime();
  const clusterBornMs = nowMs - 40 * 86_400_000;
  const at = (daysAgoMax: number): number => nowMs - rng.int(60, daysAgoMax * 86_400) * 1000;

  // Namespaces
  const namespaces: NamespaceJson[] = [
    namespaceFor({ name: 'default', uid: rng.uuid(), creationTimestamp: rfc3339(clusterBornMs) }),
    namespaceFor({ name: 'kube-system', uid: rng.uuid(), creationTimestamp: rfc3339(clusterBornMs) }),
  ];
  const appNamespaces: string[] = [];
  for (let i = 0; i < appNamespaceCount; i++) {
    const [base, team] = NAMESPACE_NAMES[i % NAMESPACE_NAMES.length] as [string, string];
    const name = i < NAMESPACE_NAMES.length ? base : `${base}-${Math.floor(i / NAMESPACE_NAMES.length) + 1}`;
    appNamespaces.push(name);
    namespaces.push(namespaceFor({
      name, uid: rng.uuid(), creationTimestamp: rfc3339(clusterBornMs + (i + 1) * 3_600_000),
      labels: { team, environment: 'production', 'pod-security.kubernetes.io/enforce': 'baseline', ...(rng.chance(0.5) ? { 'istio-injection': 'enabled' } : {}) },
      annotations: { 'owner.example.com/slack': `#team-${team}`, 'scheduler.alpha.kubernetes.io/node-selector': '' },
    }));
  }

  // Nodes (images are filled in once pods are placed)
  const nodeUids: string[] = [];
  const nodeSpecs: NodeOptions[] = [];
  for (let i = 0; i < nodeCount; i++) {
    const zoneIndex = i % ZONES.length;
    const ip = `10.0.${zoneIndex * 16 + rng.int(0, 15)}.${rng.int(10, 250)}`;
    const name = `ip-${ip.replaceAll('.', '-')}.eu-west-1.compute.internal`;
    const uid = rng.uuid();
    nodeUids.push(uid);
    nodeSpecs.push({
      name, uid, zone: ZONES[zoneIndex], instanceType: rng.pick(INSTANCE_TYPES), internalIP: ip, podCIDR: `10.244.${i}.0/24`,
      creationTimestamp: rfc3339(clusterBornMs + i * 600_000), controlPlane: i === 0,
      labels: { 'eks.amazonaws.com/nodegroup': i === 0 ? 'control-plane' : 'general-purpose', 'eks.amazonaws.com/capacityType': rng.chance(0.3) ? 'SPOT' : 'ON_DEMAND' },
    });
  }

  const pods: PodJson[] = [];
  const free = nodeSpecs.map(() => podsPerNode);
  const podIpNext = nodeSpecs.map(() => 2);
  const nodeImages = nodeSpecs.map(() => new Set<string>());

  const place = (nodeIndex: number, build: Omit<PodBuild, 'nodeName' | 'hostIP' | 'podIP' | 'createdMs'> & { createdMs?: number }): void => {
    const node = nodeSpecs[nodeIndex] as NodeOptions;
    free[nodeIndex] = (free[nodeIndex] ?? 0) - 1;
    const podIP = `10.244.${nodeIndex}.${podIpNext[nodeIndex] ?? 2}`;
    podIpNext[nodeIndex] = (podIpNext[nodeIndex] ?? 2) + 1;
    const pod = buildPod(rng, {
      ...build, nodeName: node.name, hostIP: node.internalIP, podIP, createdMs: build.createdMs ?? at(30), nodeUid: nodeUids[nodeIndex], seed: options.seed ?? 1,
    });
    for (const c of [...pod.spec.containers, ...(pod.spec.initContainers ?? [])]) nodeImages[nodeIndex]?.add(c.image);
    pods.push(pod);
  };

  // Static control-plane pods on the first node, then one pod of each DaemonSet on every node.
  for (const component of STATIC_COMPONENTS) {
    if ((free[0] ?? 0) <= 0) break;
    const hash = sha256Hex(`static:${options.seed ?? 1}:${component.name}`).slice(0, 32);
    place(0, {
      name: `${component.name}-${nodeSpecs[0]?.name ?? 'node'}`, namespace: 'kube-system', uid: rng.uuid(), staticHash: hash,
      labels: { component: component.name, tier: 'control-plane' },
      annotations: component.name === 'kube-apiserver' ? { 'kubeadm.kubernetes.io/kube-apiserver.advertise-address.endpoint': `${nodeSpecs[0]?.internalIP ?? ''}:6443` } : {},
      containers: [{ name: component.name, image: component.image }], hostNetwork: true, priorityClassName: 'system-node-critical',
      createdMs: clusterBornMs + 120_000,
    });
  }
  const daemonSets: { name: string; namespace: string; image: string; labels: StringMap; hostNetwork: boolean; init: ContainerInput[] | undefined }[] = [
    { name: 'kube-proxy', namespace: 'kube-system', image: 'registry.k8s.io/kube-proxy:v1.33.2', labels: { 'k8s-app': 'kube-proxy' }, hostNetwork: true, init: undefined },
    { name: 'cilium', namespace: 'kube-system', image: 'quay.io/cilium/cilium:v1.16.5', labels: { 'k8s-app': 'cilium', 'app.kubernetes.io/name': 'cilium-agent', 'app.kubernetes.io/part-of': 'cilium' }, hostNetwork: true,
      init: ['config', 'mount-cgroup', 'apply-sysctl-overwrites', 'mount-bpf-fs', 'clean-cilium-state', 'install-cni-binaries'].map((name) => ({ name, image: 'quay.io/cilium/cilium:v1.16.5' })) },
    { name: 'node-exporter', namespace: appNamespaces.includes('monitoring') ? 'monitoring' : 'kube-system', image: 'quay.io/prometheus/node-exporter:v1.8.2', labels: { 'app.kubernetes.io/name': 'node-exporter', 'app.kubernetes.io/component': 'metrics', 'app.kubernetes.io/part-of': 'kube-prometheus' }, hostNetwork: true, init: undefined },
  ];
  for (const ds of daemonSets) {
    const revision = rng.suffix(10);
    const dsUid = rng.uuid();
    for (let n = 0; n < nodeCount; n++) {
      if ((free[n] ?? 0) <= 0) continue;
      const node = nodeSpecs[n] as NodeOptions;
      place(n, {
        name: `${ds.name}-${rng.suffix(5)}`, namespace: ds.namespace, uid: rng.uuid(), owner: { kind: 'DaemonSet', name: ds.name, uid: dsUid },
        labels: { ...ds.labels, 'controller-revision-hash': revision, 'pod-template-generation': '1' },
        containers: [{ name: ds.name === 'cilium' ? 'cilium-agent' : ds.name, image: ds.image }], initContainers: ds.init,
        hostNetwork: ds.hostNetwork, priorityClassName: 'system-node-critical', serviceAccountName: ds.name,
        specExtra: { affinity: { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchFields: [{ key: 'metadata.name', operator: 'In', values: [node.name] }] }] } } } },
        createdMs: Date.parse(node.creationTimestamp ?? rfc3339(clusterBornMs)) + 30_000,
      });
    }
  }

  // Application workloads until every node is full.
  let cursor = rng.int(0, nodeCount - 1);
  const nextNode = (): number | undefined => {
    for (let i = 0; i < nodeCount; i++) {
      const n = (cursor + i) % nodeCount;
      if ((free[n] ?? 0) > 0) {
        cursor = n + 1;
        return n;
      }
    }
    return undefined;
  };
  const usedNames = new Set<string>();
  for (let w = 0; nextNode() !== undefined; w++) {
    cursor = Math.max(0, cursor - 1);
    const template = w === 0 ? { name: 'coredns', kind: 'Deployment' as const, image: 'registry.k8s.io/coredns/coredns:v1.12.0', port: 53, component: 'dns', replicas: [2, 2] as [number, number] } : (APP_CATALOG[(w - 1) % APP_CATALOG.length] as AppTemplate);
    const namespace = w === 0 ? 'kube-system' : (appNamespaces[(w - 1) % appNamespaces.length] as string);
    let name = template.name;
    for (let round = 2; usedNames.has(`${namespace}/${name}`); round++) name = `${template.name}-${round}`;
    usedNames.add(`${namespace}/${name}`);
    placeWorkload(template, name, namespace);
  }

  function placeWorkload(template: AppTemplate, name: string, namespace: string): void {
    const replicas = rng.int(template.replicas[0], template.replicas[1]);
    const version = template.image.slice(template.image.lastIndexOf(':') + 1);
    const commonLabels: StringMap = template.name === 'coredns' ? { 'k8s-app': 'kube-dns' } : {
      'app.kubernetes.io/name': template.name,
      'app.kubernetes.io/instance': name,
      'app.kubernetes.io/component': template.component,
      'app.kubernetes.io/part-of': namespace,
      'app.kubernetes.io/version': version,
      ...(rng.chance(0.5) ? { 'app.kubernetes.io/managed-by': 'Helm', 'helm.sh/chart': `${template.name}-${rng.int(0, 3)}.${rng.int(0, 20)}.${rng.int(0, 9)}` } : {}),
    };
    const annotations: StringMap = {};
    if (template.port !== undefined && rng.chance(0.6)) {
      annotations['prometheus.io/scrape'] = 'true';
      annotations['prometheus.io/port'] = String(template.port);
    }
    if (rng.chance(0.4)) annotations['checksum/config'] = sha256Hex(`${name}:${rng.next()}`);
    if (rng.chance(0.2)) annotations['kubectl.kubernetes.io/restartedAt'] = rfc3339(at(5));
    if (rng.chance(0.3)) annotations['cluster-autoscaler.kubernetes.io/safe-to-evict'] = rng.chance(0.5) ? 'true' : 'false';
    const containers: ContainerInput[] = [{ name: template.name === 'coredns' ? 'coredns' : name, image: template.image, ports: template.port !== undefined ? [template.port] : [] }];
    if (template.sidecar) containers.push(template.sidecar);
    const initContainers = template.init ? [template.init] : undefined;
    const ownerUid = rng.uuid();
    const templateHash = rng.suffix(10);

    for (let r = 0; r < replicas; r++) {
      const nodeIndex = nextNode();
      if (nodeIndex === undefined) return;
      const restartCounts = rng.chance(0.1) ? { [containers[0]?.name ?? name]: rng.int(1, 12) } : undefined;
      const common = { namespace, uid: rng.uuid(), annotations: { ...annotations }, containers, initContainers, restartCounts };
      switch (template.kind) {
        case 'Deployment': {
          const rsName = `${name}-${templateHash}`;
          place(nodeIndex, { ...common, name: `${rsName}-${rng.suffix(5)}`, owner: { kind: 'ReplicaSet', name: rsName, uid: ownerUid }, labels: { ...commonLabels, 'pod-template-hash': templateHash }, serviceAccountName: name });
          break;
        }
        case 'StatefulSet': {
          const podName = `${name}-${r}`;
          place(nodeIndex, {
            ...common, name: podName, owner: { kind: 'StatefulSet', name, uid: ownerUid },
            labels: { ...commonLabels, 'apps.kubernetes.io/pod-index': String(r), 'controller-revision-hash': `${name}-${sha256Hex(name).slice(0, 10)}`, 'statefulset.kubernetes.io/pod-name': podName },
            specExtra: { hostname: podName, subdomain: `${name}-headless` },
            volumesExtra: [{ name: 'data', persistentVolumeClaim: { claimName: `data-${podName}` } }],
          });
          break;
        }
        case 'CronJob': {
          // Job names carry the scheduled time in minutes since the epoch, like the CronJob controller's.
          const scheduledMinutes = Math.floor(nowMs / 60_000 / 15) * 15 - r * 15;
          const jobName = `${name}-${scheduledMinutes}`;
          const jobUid = rng.uuid();
          place(nodeIndex, {
            ...common, name: `${jobName}-${rng.suffix(5)}`, owner: { kind: 'Job', name: jobName, uid: jobUid },
            labels: { ...commonLabels, 'batch.kubernetes.io/controller-uid': jobUid, 'batch.kubernetes.io/job-name': jobName, 'controller-uid': jobUid, 'job-name': jobName },
            annotations: { ...annotations, 'batch.kubernetes.io/job-tracking': '' },
            phase: r === 0 && rng.chance(0.5) ? 'Running' : 'Succeeded', createdMs: scheduledMinutes * 60_000 + 2000, restartCounts: undefined,
          });
          break;
        }
        case 'Pod': {
          // Hand-written manifests tend to inline their configuration, which makes last-applied big.
          const inlineConfig = {
            MIGRATION_PLAN: JSON.stringify({ steps: Array.from({ length: 12 }, (_, i) => ({ id: `${2025_01_00 + i}_${rng.suffix(6)}`, table: rng.pick(['orders', 'carts', 'users', 'payments', 'events']), online: rng.chance(0.7) })) }),
            CA_BUNDLE_PEM: `-----BEGIN CERTIFICATE-----\n${Array.from({ length: 10 }, () => sha256Hex(rng.suffix(8)).slice(0, 64)).join('\n')}\n-----END CERTIFICATE-----`,
          };
          const withConfig = containers.map((c, i) => (i === 0 ? { ...c, env: { ...c.env, ...inlineConfig } } : c));
          place(nodeIndex, { ...common, containers: withConfig, name: replicas > 1 ? `${name}-${r}` : name, labels: { run: name, ...commonLabels }, kubectlApplied: true });
          break;
        }
          break;
      }
    }
  }

  const nodes = nodeSpecs.map((spec, i) => nodeFor({ ...spec, images: [...(nodeImages[i] ?? [])] }));
  return { namespaces, nodes, pods };
}

/** Anything that stores objects by kind: the simulated API server. */
export interface ObjectSink {
  createAll(kind: 'pods' | 'namespaces' | 'nodes', objects: readonly KubeObject[]): void;
}

/** Loads a generated cluster into the simulated server: namespaces, then nodes, then pods. */
export function loadCluster(sink: ObjectSink, cluster: GeneratedCluster): void {
  sink.createAll('namespaces', cluster.namespaces);
  sink.createAll('nodes', cluster.nodes);
  sink.createAll('pods', cluster.pods);
}
