// The chart's templates, rendered by test/packaging/gotemplate.ts (no helm binary here) for
// the default values and the options that change the pod, then checked as Kubernetes
// objects: RBAC, security, mounts, probes, ports, env; and the config each container would
// load, run through the service's own loader (src/config) with the pod's env and files.
import { execFileSync } from 'node:child_process';
import t from 'tap';
import { loadConfig } from '../../src/config/index.ts';
import { COMMANDS } from '../../src/cli/index.ts';
import { toKubeletConnection } from '../../src/runtime/options.ts';
import { TemplateError, parseTemplates } from './gotemplate.ts';
import { CHART_SCENARIOS, findObject, loadChart, release, renderChart } from './chart.ts';
import type { Json, JsonObject, Manifest, Rendered } from './chart.ts';
import { configEnvNames } from './config-env.ts';

const chart = loadChart();

// --- small typed views of the rendered objects --------------------------------------------

interface EnvVar { name: string; value?: string; valueFrom?: { fieldRef?: { fieldPath: string } } }
interface VolumeMount { name: string; mountPath: string; readOnly?: boolean }
interface Probe { httpGet: { path: string; port: string | number; scheme: string } }
interface Container {
  name: string;
  image: string;
  args?: string[];
  command?: string[];
  env?: EnvVar[];
  ports?: { name: string; containerPort: number; hostPort?: number }[];
  livenessProbe?: Probe;
  readinessProbe?: Probe;
  resources?: { requests?: Record<string, Json>; limits?: Record<string, Json> };
  securityContext?: {
    runAsUser?: number;
    runAsNonRoot?: boolean;
    allowPrivilegeEscalation?: boolean;
    readOnlyRootFilesystem?: boolean;
    capabilities?: { drop?: string[]; add?: string[] };
    seccompProfile?: { type: string };
  };
  volumeMounts?: VolumeMount[];
}
interface Volume {
  name: string;
  hostPath?: { path: string; type: string };
  configMap?: { name: string };
  secret?: { secretName: string; items?: { key: string; path: string }[] };
  emptyDir?: JsonObject;
}
interface PodSpec {
  serviceAccountName: string;
  enableServiceLinks?: boolean;
  priorityClassName?: string;
  securityContext: { runAsUser: number; runAsGroup: number; runAsNonRoot: boolean; fsGroup: number; supplementalGroups?: number[]; seccompProfile?: { type: string } };
  initContainers?: Container[];
  containers: Container[];
  volumes: Volume[];
  tolerations?: { operator: string; key?: string }[];
}
interface DaemonSetSpec {
  selector: { matchLabels: Record<string, string> };
  updateStrategy: { type: string; rollingUpdate?: { maxUnavailable: number | string; maxSurge?: unknown } };
  template: { metadata: { labels: Record<string, string>; annotations?: Record<string, string> }; spec: PodSpec };
}

function daemonSet(rendered: Rendered): DaemonSetSpec {
  const ds = findObject(rendered, 'DaemonSet');
  if (ds === undefined) throw new Error('no DaemonSet rendered');
  return ds.spec as unknown as DaemonSetSpec;
}

function podSpec(rendered: Rendered): PodSpec {
  return daemonSet(rendered).template.spec;
}

function container(rendered: Rendered, name: string): Container {
  const found = podSpec(rendered).containers.find((c) => c.name === name);
  if (found === undefined) throw new Error(`no container ${name}`);
  return found;
}

function volumeOf(rendered: Rendered, mount: VolumeMount): Volume {
  const volume = podSpec(rendered).volumes.find((v) => v.name === mount.name);
  if (volume === undefined) throw new Error(`mount ${mount.mountPath} names no volume ${mount.name}`);
  return volume;
}

function under(path: string, dir: string): boolean {
  return path === dir || path.startsWith(dir.endsWith('/') ? dir : `${dir}/`);
}

// --- the pod as the kubelet would run it -----------------------------------------------------

const pod = { nodeName: 'node-a', name: 'kle-kube-log-enricher-x2x4q', uid: '7d3e4c1a-0b6c-4e5f-9a8b-1c2d3e4f5a6b', hostIP: '10.0.0.5' };

/** Variables Kubernetes injects for every Service in the namespace, unless enableServiceLinks is false. */
function serviceLinkEnv(rendered: Rendered): Record<string, string> {
  const env: Record<string, string> = {};
  if (podSpec(rendered).enableServiceLinks === false) return env;
  for (const service of rendered.all.filter((m) => m.kind === 'Service')) {
    const prefix = service.metadata.name.toUpperCase().replaceAll('-', '_');
    const ports = ((service.spec as JsonObject).ports ?? []) as { name: string; port: number; protocol: string }[];
    const first = ports[0];
    env[`${prefix}_SERVICE_HOST`] = '10.96.0.10';
    if (first !== undefined) {
      env[`${prefix}_SERVICE_PORT`] = String(first.port);
      env[`${prefix}_PORT`] = `tcp://10.96.0.10:${first.port}`;
    }
    for (const port of ports) {
      env[`${prefix}_SERVICE_PORT_${port.name.toUpperCase()}`] = String(port.port);
      const base = `${prefix}_PORT_${port.port}_${port.protocol}`;
      Object.assign(env, { [base]: `tcp://10.96.0.10:${port.port}`, [`${base}_PROTO`]: 'tcp', [`${base}_PORT`]: String(port.port), [`${base}_ADDR`]: '10.96.0.10' });
    }
  }
  return env;
}

function containerEnv(rendered: Rendered, c: Container): Record<string, string> {
  const fields: Record<string, string> = { 'spec.nodeName': pod.nodeName, 'metadata.name': pod.name, 'metadata.uid': pod.uid, 'status.hostIP': pod.hostIP };
  const env: Record<string, string> = { ...serviceLinkEnv(rendered) };
  for (const variable of c.env ?? []) {
    const fieldPath = variable.valueFrom?.fieldRef?.fieldPath;
    if (fieldPath !== undefined) {
      const value = fields[fieldPath];
      if (value === undefined) throw new Error(`${variable.name}: unexpected fieldRef ${fieldPath}`);
      env[variable.name] = value;
    } else {
      env[variable.name] = variable.value ?? '';
    }
  }
  return env;
}

/** The files a container sees from ConfigMap and Secret volumes. */
function containerFiles(rendered: Rendered, c: Container): Map<string, string> {
  const files = new Map<string, string>();
  for (const mount of c.volumeMounts ?? []) {
    const volume = volumeOf(rendered, mount);
    if (volume.configMap !== undefined) {
      const configMap = rendered.all.find((m) => m.kind === 'ConfigMap' && m.metadata.name === volume.configMap?.name);
      for (const [key, text] of Object.entries((configMap?.data ?? {}) as Record<string, string>)) files.set(`${mount.mountPath}/${key}`, text);
    }
    if (volume.secret !== undefined) {
      for (const item of volume.secret.items ?? []) files.set(`${mount.mountPath}/${item.path}`, 'test-token');
    }
  }
  return files;
}

/** Runs the service's config loader the way the container's command line would. */
function loadContainerConfig(rendered: Rendered, c: Container) {
  const [subcommand, ...argv] = c.args ?? [];
  const command = COMMANDS.find((cmd) => cmd.name === subcommand);
  if (command === undefined) throw new Error(`${c.name}: ${subcommand} is not a kube-log-enricher command`);
  const files = containerFiles(rendered, c);
  return loadConfig({
    argv,
    env: containerEnv(rendered, c),
    cwd: '/app',
    flags: command.flags,
    readFile: (path) => {
      const text = files.get(path);
      if (text === undefined) throw Object.assign(new Error(`ENOENT: ${path}`), { code: 'ENOENT' });
      return text;
    },
  });
}

// --- scenarios: the option combinations that change the pod ----------------------------------

const scenarios = CHART_SCENARIOS;

/** The modes that tail files themselves (serve leaves that to the node's log shipper). */
const tailsFiles = (rendered: Rendered): boolean => rendered.values.mode !== 'serve';

const renders = scenarios.map((s) => ({ ...s, rendered: renderChart(chart, s.values) }));
const defaults = renderChart(chart);

// --- static checks of the template text --------------------------------------------------------

t.test('every .Values reference in the templates exists in values.yaml', async (t) => {
  const hasPath = (values: Json, path: string[]): boolean => {
    let node: Json = values;
    for (const key of path) {
      if (node === null || typeof node !== 'object' || Array.isArray(node) || !(key in node)) return false;
      node = node[key] as Json;
    }
    return true;
  };
  let count = 0;
  for (const [file, text] of Object.entries(chart.templates)) {
    for (const match of text.matchAll(/\.Values((?:\.[A-Za-z_][A-Za-z0-9_]*)+)/g)) {
      count++;
      const path = (match[1] ?? '').split('.').filter(Boolean);
      t.ok(hasPath(chart.values, path), `${file}: .Values.${path.join('.')}`);
    }
  }
  t.ok(count > 30, `found ${count} references`);
});

t.test('every value in values.yaml is used by a template', async (t) => {
  const referenced = new Set<string>();
  for (const text of Object.values(chart.templates)) {
    for (const match of text.matchAll(/\.Values((?:\.[A-Za-z_][A-Za-z0-9_]*)+)/g)) referenced.add((match[1] ?? '').slice(1));
  }
  const leaves = (node: Json, prefix: string): string[] =>
    node !== null && typeof node === 'object' && !Array.isArray(node) && Object.keys(node).length > 0
      ? Object.entries(node).flatMap(([k, v]) => leaves(v, prefix === '' ? k : `${prefix}.${k}`))
      : [prefix];
  for (const leaf of leaves(chart.values, '')) {
    const parts = leaf.split('.');
    const used = parts.some((_, i) => referenced.has(parts.slice(0, i + 1).join('.')));
    t.ok(used, `${leaf} is read by a template (itself or a parent)`);
  }
});

t.test('every template parses; the test renderer fails loudly on what it does not know', async (t) => {
  t.doesNotThrow(() => parseTemplates(Object.fromEntries(Object.entries(chart.templates).map(([f, text]) => [`kle/templates/${f}`, text]))));
  t.throws(() => parseTemplates({ x: '{{ if .Values.a }}never closed' }), { code: 'unclosed_block' });
  t.throws(() => renderChart({ ...chart, templates: { 'x.yaml': '{{ .Values.nothing.here }}' } }), { code: 'nil_pointer' });
  t.throws(() => renderChart({ ...chart, templates: { 'x.yaml': '{{ lookup "v1" "Pod" "" "" }}' } }), { code: 'unknown_function' });
});

// --- rendered objects -----------------------------------------------------------------------------

t.test('every scenario renders valid YAML objects with the standard labels', async (t) => {
  for (const { name, rendered } of renders) {
    t.ok(rendered.all.length >= 2, `${name}: ${rendered.all.map((m) => m.kind).join(', ')}`);
    for (const object of rendered.all) {
      const labels = object.metadata.labels ?? {};
      for (const label of ['app.kubernetes.io/name', 'app.kubernetes.io/instance', 'app.kubernetes.io/version', 'app.kubernetes.io/managed-by', 'helm.sh/chart']) {
        t.ok(labels[label], `${name}: ${object.kind} has ${label}`);
      }
      t.ok(object.metadata.name.length <= 63, `${name}: ${object.kind} name fits a DNS label`);
    }
    t.match(rendered.notes, new RegExp(`daemonset/${findObject(rendered, 'DaemonSet')?.metadata.name}`), `${name}: NOTES names the DaemonSet`);
  }
});

t.test('the default render: ServiceAccount, ClusterRole, ClusterRoleBinding, ConfigMap, DaemonSet, Service; no ServiceMonitor or Secret', async (t) => {
  t.same(defaults.all.map((m) => m.kind).sort(), ['ClusterRole', 'ClusterRoleBinding', 'ConfigMap', 'DaemonSet', 'Service', 'ServiceAccount']);
  const withMonitor = renders.find((r) => r.name === 'auth with a chart-made Secret')?.rendered as Rendered;
  t.ok(findObject(withMonitor, 'ServiceMonitor'), 'ServiceMonitor when enabled');
  t.equal(findObject(withMonitor, 'ServiceMonitor')?.apiVersion, 'monitoring.coreos.com/v1');
  const bare = renders.find((r) => r.name === 'no RBAC, no ServiceAccount, no Service')?.rendered as Rendered;
  t.same(bare.all.map((m) => m.kind).sort(), ['ConfigMap', 'DaemonSet']);
  t.equal(podSpec(bare).serviceAccountName, 'existing', 'uses the named ServiceAccount');
});

t.test('RBAC: exactly get/list/watch on pods, namespaces and nodes in the core group, bound to the pod\'s ServiceAccount', async (t) => {
  const role = findObject(defaults, 'ClusterRole') as Manifest;
  const rules = role.rules as { apiGroups: string[]; resources: string[]; verbs: string[]; resourceNames?: string[] }[];
  const granted = rules.flatMap((rule) => rule.apiGroups.flatMap((group) => rule.resources.flatMap((resource) => rule.verbs.map((verb) => `${group}/${resource}/${verb}`))));
  const expected = ['namespaces', 'nodes', 'pods'].flatMap((resource) => ['get', 'list', 'watch'].map((verb) => `/${resource}/${verb}`));
  t.same([...granted].sort(), expected.sort());
  t.notOk(rules.some((r) => r.verbs.includes('*') || r.resources.includes('*') || r.apiGroups.includes('*')), 'no wildcards');
  const binding = findObject(defaults, 'ClusterRoleBinding') as Manifest;
  t.same(binding.roleRef, { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: role.metadata.name });
  const account = findObject(defaults, 'ServiceAccount') as Manifest;
  t.same(binding.subjects, [{ kind: 'ServiceAccount', name: account.metadata.name, namespace: release.Namespace }]);
  t.equal(podSpec(defaults).serviceAccountName, account.metadata.name);
});

t.test('RBAC with podSource: kubelet: get on nodes/proxy, namespaces and nodes as before, and no pods at all', async (t) => {
  for (const { name, rendered } of renders.filter((r) => r.rendered.values.podSource === 'kubelet')) {
    const rules = (findObject(rendered, 'ClusterRole') as Manifest).rules as { apiGroups: string[]; resources: string[]; verbs: string[] }[];
    const granted = rules.flatMap((rule) => rule.apiGroups.flatMap((group) => rule.resources.flatMap((resource) => rule.verbs.map((verb) => `${group}/${resource}/${verb}`))));
    const expected = [...['namespaces', 'nodes'].flatMap((resource) => ['get', 'list', 'watch'].map((verb) => `/${resource}/${verb}`)), '/nodes/proxy/get'];
    t.same([...granted].sort(), expected.sort(), `${name}: exactly these`);
    t.notOk(granted.some((g) => g.startsWith('/pods/')), `${name}: no pods list/watch`);
  }
});

t.test('security: non-root by default, every container drops ALL capabilities, read-only root, no escalation, RuntimeDefault seccomp', async (t) => {
  for (const { name, rendered } of renders) {
    const spec = podSpec(rendered);
    t.equal(spec.securityContext.seccompProfile?.type, 'RuntimeDefault', `${name}: pod seccomp`);
    t.equal(spec.securityContext.runAsNonRoot, spec.securityContext.runAsUser !== 0, `${name}: runAsNonRoot follows runAsUser`);
    for (const c of [...spec.containers, ...(spec.initContainers ?? [])]) {
      const sc = c.securityContext;
      t.same(sc?.capabilities?.drop, ['ALL'], `${name}/${c.name}: drops ALL`);
      t.equal(sc?.readOnlyRootFilesystem, true, `${name}/${c.name}: read-only root`);
      t.equal(sc?.allowPrivilegeEscalation, false, `${name}/${c.name}: no privilege escalation`);
      t.equal(sc?.seccompProfile?.type, 'RuntimeDefault', `${name}/${c.name}: seccomp`);
      t.ok(c.resources?.requests && c.resources.limits, `${name}/${c.name}: requests and limits`);
    }
    for (const c of spec.containers) t.same(c.securityContext?.capabilities?.add ?? [], [], `${name}/${c.name}: adds no capability`);
  }
  const spec = podSpec(defaults);
  t.equal(spec.securityContext.runAsUser, 65532, 'default UID matches the image USER');
  t.same(spec.securityContext.supplementalGroups, [0], 'group 0 reads containerd\'s 0640 root:root log files');
  const init = spec.initContainers?.[0];
  t.same(init?.command?.slice(0, 3), ['chown', '-R', '65532:65532'], 'the init container hands the data dir to the service user');
  t.same(init?.securityContext?.capabilities?.add, ['CHOWN', 'DAC_READ_SEARCH'], 'and may do nothing else');
  const root = renders.find((r) => r.name === 'root (CRI-O)')?.rendered as Rendered;
  t.equal(podSpec(root).initContainers, undefined, 'no init container when running as root');
});

t.test('mounts: logs read-only at the node\'s paths, the data dir writable and DirectoryOrCreate, nothing else from the host', async (t) => {
  for (const { name, rendered, values } of renders) {
    const spec = podSpec(rendered);
    const hostVolumes = spec.volumes.filter((v) => v.hostPath !== undefined);
    const dataDir = rendered.values.dataDir as { hostPath: string };
    const expectedHost = tailsFiles(rendered) ? [(rendered.values.hostPaths as { logs: string }).logs, dataDir.hostPath] : [];
    if (tailsFiles(rendered) && (values.hostPaths as { dockerContainers?: { enabled: boolean } } | undefined)?.dockerContainers?.enabled === true) expectedHost.push('/var/lib/docker/containers');
    t.same(hostVolumes.map((v) => v.hostPath?.path).sort(), expectedHost.sort(), `${name}: host paths`);
    for (const c of [...spec.containers, ...(spec.initContainers ?? [])]) {
      for (const mount of c.volumeMounts ?? []) {
        const volume = volumeOf(rendered, mount);
        if (volume.hostPath === undefined) continue;
        t.equal(mount.mountPath, volume.hostPath.path, `${name}/${c.name}: ${volume.hostPath.path} at the same path in the container`);
        if (volume.hostPath.path === dataDir.hostPath) {
          t.equal(volume.hostPath.type, 'DirectoryOrCreate', `${name}: data dir is created if missing`);
          t.notOk(mount.readOnly, `${name}/${c.name}: data dir writable`);
        } else {
          t.equal(mount.readOnly, true, `${name}/${c.name}: ${mount.mountPath} read-only`);
        }
      }
      const writable = (c.volumeMounts ?? []).filter((m) => m.readOnly !== true).map((m) => m.mountPath);
      t.ok(writable.every((p) => p === '/tmp' || p === dataDir.hostPath), `${name}/${c.name}: writes only to /tmp and the data dir (${writable.join(', ')})`);
    }
  }
  const agent = container(defaults, 'agent');
  const logs = agent.volumeMounts?.find((m) => m.mountPath === '/var/log');
  t.equal(logs?.readOnly, true, 'the agent mounts /var/log read-only');
});

t.test('probes and ports: /healthz and /readyz on the container port the Service targets', async (t) => {
  for (const { name, rendered } of renders) {
    const api = podSpec(rendered).containers.find((c) => (c.ports ?? []).length > 0);
    t.ok(api, `${name}: one container serves the API`);
    if (api === undefined) continue;
    t.equal(podSpec(rendered).containers.filter((c) => (c.ports ?? []).length > 0).length, 1, `${name}: only one`);
    const port = api.ports?.[0];
    t.equal(port?.containerPort, (rendered.values.api as { port: number }).port, `${name}: containerPort = api.port`);
    t.equal(api.livenessProbe?.httpGet.path, '/healthz', `${name}: liveness`);
    t.equal(api.readinessProbe?.httpGet.path, '/readyz', `${name}: readiness`);
    for (const probe of [api.livenessProbe, api.readinessProbe]) {
      t.ok(probe?.httpGet.port === port?.name || probe?.httpGet.port === port?.containerPort, `${name}: probe targets the API port`);
      const tls = (rendered.values.config as { server?: { tls?: unknown } }).server?.tls !== undefined;
      t.equal(probe?.httpGet.scheme, tls ? 'HTTPS' : 'HTTP', `${name}: probe scheme follows server.tls`);
    }
    const service = findObject(rendered, 'Service');
    if (service === undefined) continue;
    const servicePorts = (service.spec as { ports: { targetPort: string | number; port: number }[] }).ports;
    for (const sp of servicePorts) t.ok(sp.targetPort === port?.name || sp.targetPort === port?.containerPort, `${name}: Service targetPort ${sp.targetPort} is the container port`);
    t.same((service.spec as { selector: Json }).selector, daemonSet(rendered).selector.matchLabels, `${name}: Service selects the DaemonSet's pods`);
    t.equal((service.spec as { internalTrafficPolicy: string }).internalTrafficPolicy, 'Local', `${name}: clients reach their own node's agent`);
  }
});

t.test('env: only real config variables (and Node\'s NODE_OPTIONS, glibc\'s MALLOC_ARENA_MAX); node and pod identity from the downward API', async (t) => {
  const valid = new Set([...configEnvNames(), 'NODE_OPTIONS', 'MALLOC_ARENA_MAX']);
  for (const { name, rendered } of renders) {
    for (const c of podSpec(rendered).containers) {
      for (const variable of c.env ?? []) t.ok(valid.has(variable.name), `${name}/${c.name}: ${variable.name} is a config variable`);
      const byName = new Map((c.env ?? []).map((v) => [v.name, v]));
      t.equal(byName.get('NODE_NAME')?.valueFrom?.fieldRef?.fieldPath, 'spec.nodeName', `${name}/${c.name}: NODE_NAME`);
      t.equal(byName.get('POD_NAME')?.valueFrom?.fieldRef?.fieldPath, 'metadata.name', `${name}/${c.name}: POD_NAME`);
      t.equal(byName.get('POD_UID')?.valueFrom?.fieldRef?.fieldPath, 'metadata.uid', `${name}/${c.name}: POD_UID`);
      t.notOk([...byName.values()].some((v) => /TOKEN$/.test(v.name)), `${name}/${c.name}: no token in the environment, only token files`);
      t.equal(byName.get('NODE_OPTIONS')?.value, rendered.values.nodeOptions, `${name}/${c.name}: NODE_OPTIONS from nodeOptions`);
      const arenas = (rendered.values as { mallocArenaMax?: number | null }).mallocArenaMax;
      t.equal(byName.get('MALLOC_ARENA_MAX')?.value, arenas == null ? undefined : String(arenas), `${name}/${c.name}: MALLOC_ARENA_MAX from mallocArenaMax`);
    }
  }
});

t.test('the default nodeOptions are flags Node accepts in NODE_OPTIONS, and they cap the heap', async (t) => {
  const nodeOptions = (renders[0]!.rendered.values as { nodeOptions: string }).nodeOptions;
  const out = execFileSync(process.execPath, ['-e', 'console.log(require("v8").getHeapStatistics().heap_size_limit)'], { env: { ...process.env, NODE_OPTIONS: nodeOptions }, encoding: 'utf8' });
  const limitMiB = Number(out.trim()) / 2 ** 20;
  const oldSpace = Number(/--max-old-space-size=(\d+)/.exec(nodeOptions)?.[1]);
  t.ok(limitMiB >= oldSpace && limitMiB < oldSpace + 64, `V8 heap limit ${limitMiB.toFixed(0)} MiB for max-old-space-size=${oldSpace}`);
  const memoryLimit = (renders[0]!.rendered.values as { resources: { limits: { memory: string } } }).resources.limits.memory;
  t.ok(oldSpace * 2 ** 20 <= parseMemory(memoryLimit) / 2, `the old space (${oldSpace} MiB) is at most half of the memory limit (${memoryLimit})`);
});

function parseMemory(quantity: string): number {
  const m = /^(\d+)(Mi|Gi)$/.exec(quantity);
  if (m === null) throw new Error(`unexpected memory quantity ${quantity}`);
  return Number(m[1]) * (m[2] === 'Gi' ? 2 ** 30 : 2 ** 20);
}

t.test('each container\'s effective config, loaded by src/config from its args, env and mounted files', async (t) => {
  for (const { name, rendered } of renders) {
    const spec = podSpec(rendered);
    const port = (rendered.values.api as { port: number }).port;
    const dataDir = (rendered.values.dataDir as { hostPath: string }).hostPath;
    for (const c of spec.containers) {
      const result = loadContainerConfig(rendered, c);
      t.ok(result.ok, `${name}/${c.name}: config loads${result.ok ? '' : `: ${result.errors.map((e) => `${e.path} ${e.message}`).join('; ')}`}`);
      if (!result.ok) continue;
      const config = result.config;
      const mounts = c.volumeMounts ?? [];
      t.equal(config.kubernetes.nodeName, pod.nodeName, `${name}/${c.name}: watches its own node's pods`);
      t.equal(config.source.selfPodUid, pod.uid, `${name}/${c.name}: knows its own pod UID`);
      t.equal(config.source.selfPodName, pod.name, `${name}/${c.name}: knows its own pod name`);
      const subcommand = c.args?.[0];
      if (subcommand === 'agent' || subcommand === 'serve') {
        const kubelet = rendered.values.podSource === 'kubelet';
        t.equal(config.kubernetes.podSource, kubelet ? 'kubelet' : 'apiserver', `${name}/${c.name}: pods from ${String(rendered.values.podSource)}`);
        if (kubelet) t.equal(toKubeletConnection(config, containerEnv(rendered, c))?.url, `https://${pod.hostIP}:10250`, `${name}/${c.name}: the kubelet of its own node`);
      }
      if (subcommand === 'agent' || subcommand === 'serve') {
        t.match(config.server.listen, new RegExp(`:${port}$`), `${name}/${c.name}: listens on the container port`);
        t.notMatch(config.server.listen, /^127\.0\.0\.1:/, `${name}/${c.name}: reachable from the kubelet and the Service`);
        if ((rendered.values.auth as { enabled: boolean }).enabled) {
          const file = config.server.authTokenFile ?? '';
          t.ok(containerFiles(rendered, c).has(file), `${name}/${c.name}: token file ${file} is mounted from the Secret`);
        }
      }
      if (subcommand === 'agent' || subcommand === 'source') {
        t.equal(config.source.dataDir, dataDir, `${name}/${c.name}: checkpoints in the data dir`);
        t.ok(mounts.some((m) => m.mountPath === config.source.dataDir && m.readOnly !== true), `${name}/${c.name}: data dir mounted writable`);
        t.ok(mounts.some((m) => m.readOnly === true && under(config.source.podsDir, m.mountPath) && volumeOf(rendered, m).hostPath !== undefined), `${name}/${c.name}: podsDir ${config.source.podsDir} is under a host mount`);
      }
      if (subcommand === 'source') {
        t.match(config.source.service, new RegExp(`^https?://127\\.0\\.0\\.1:${port}$`), `${name}/source: posts to the serve container over loopback`);
        if ((rendered.values.auth as { enabled: boolean }).enabled) t.ok(containerFiles(rendered, c).has(config.source.serviceTokenFile ?? ''), `${name}/source: service token file mounted`);
      }
    }
  }
});

t.test('modes: agent runs one container; split runs serve and source in one pod; serve runs serve alone', async (t) => {
  t.same(podSpec(defaults).containers.map((c) => c.args?.[0]), ['agent']);
  t.same(podSpec(defaults).containers.map((c) => c.args?.slice(1)), [['--config', '/etc/kube-log-enricher/config.yaml']]);
  const split = renders.find((r) => r.name === 'split mode')?.rendered as Rendered;
  t.same(podSpec(split).containers.map((c) => c.args?.[0]), ['serve', 'source']);
  t.notOk((container(split, 'serve').volumeMounts ?? []).some((m) => volumeOf(split, m).hostPath !== undefined), 'serve mounts nothing from the host');

  const serve = renders.find((r) => r.name === 'serve mode')?.rendered as Rendered;
  const spec = podSpec(serve);
  t.same(spec.containers.map((c) => [c.name, ...(c.args ?? [])]), [['serve', 'serve', '--config', '/etc/kube-log-enricher/config.yaml']], 'one container, running serve');
  t.equal(spec.initContainers, undefined, 'no data-dir init container: no data dir');
  t.same(spec.volumes.filter((v) => v.hostPath !== undefined), [], 'no hostPath volume: no /var/log, no data dir');
  t.same(spec.volumes.map((v) => v.name).sort(), ['config', 'tmp']);
  t.notOk(container(serve, 'serve').env?.some((e) => e.name.startsWith('KLE_SOURCE_')), 'no file-source settings');
  t.equal(container(serve, 'serve').ports?.[0]?.hostPort, undefined, 'no hostPort unless asked');
  const loaded = loadContainerConfig(serve, container(serve, 'serve'));
  t.equal(loaded.ok ? loaded.config.source.sink : undefined, 'http://vector.logging.svc:8081/', '/v1/forward delivers to config.source.sink');
  t.match(serve.notes, /-c serve /, 'NOTES reads the serve container\'s log');
  t.match(serve.notes, /tails the files and posts them to\n\/v1\/forward, which delivers the enriched events to config\.source\.sink \(http:\/\/vector\.logging\.svc:8081\/\)/);
  t.notMatch(serve.notes, /permission denied/, 'no log-file permission hint: serve reads no files');
  t.notMatch(serve.notes, /With the stdout sink/, 'no stdout warning with an HTTP sink');
  const serveStdout = renderChart(chart, { mode: 'serve' });
  t.match(serveStdout.notes, /With the stdout sink the enriched events become this pod's log/, 'NOTES warns that a shipper tailing this pod would loop its events');

  const published = renders.find((r) => r.name === 'serve mode on a hostPort, with auth, no Service')?.rendered as Rendered;
  t.same(container(published, 'serve').ports, [{ name: 'http', containerPort: 8080, hostPort: 18080, protocol: 'TCP' }], 'the API port published on the node');
  t.equal(findObject(published, 'Service'), undefined);
  t.match(published.notes, /port 18080 of every node's IP: a shipper posts to\n {2}http:\/\/\$\(HOST_IP\):18080\/v1\/forward/);
  t.notMatch(published.notes, /consider auth\.enabled/, 'no auth hint when auth is on');
  t.match(renderChart(chart, { api: { hostPort: 18080 } }).notes, /consider auth\.enabled/, 'hostPort without auth: NOTES says so');
  t.equal(container(renderChart(chart, { api: { hostPort: 18080 } }), 'agent').ports?.[0]?.hostPort, 18080, 'hostPort works in agent mode too');
});

t.test('scheduling and rollout: every node, RollingUpdate without surge, checksum restarts', async (t) => {
  const ds = daemonSet(defaults);
  t.same(podSpec(defaults).tolerations, [{ operator: 'Exists' }], 'tolerates every taint');
  t.equal(ds.updateStrategy.type, 'RollingUpdate');
  t.equal(ds.updateStrategy.rollingUpdate?.maxUnavailable, 1);
  const percent = daemonSet(renderChart(chart, { updateStrategy: { rollingUpdate: { maxUnavailable: '10%' } } }));
  t.equal(percent.updateStrategy.rollingUpdate?.maxUnavailable, '10%', 'a percentage stays a string');
  t.equal(ds.updateStrategy.rollingUpdate?.maxSurge, undefined, 'no surge: two agents would read the same files');
  t.equal(podSpec(defaults).enableServiceLinks, false, 'no injected KLE_* service variables');
  t.match(ds.template.metadata.annotations?.['checksum/config'] ?? '', /^[a-f0-9]{64}$/);
  const changed = daemonSet(renderChart(chart, { config: { logging: { level: 'debug' } } }));
  t.not(changed.template.metadata.annotations?.['checksum/config'], ds.template.metadata.annotations?.['checksum/config'], 'a config change rolls the pods');
  t.equal(podSpec(defaults).priorityClassName, undefined, 'no priority class unless asked');
  const critical = renders.find((r) => r.name === 'TLS, IPv6, priority class')?.rendered as Rendered;
  t.equal(podSpec(critical).priorityClassName, 'system-node-critical');
  t.equal(container(critical, 'agent').env?.find((e) => e.name === 'KLE_SERVER_LISTEN')?.value, '[::]:9443', 'IPv6 host in brackets');
});

t.test('auth: the token comes from a Secret file; ServiceMonitor scrapes with it', async (t) => {
  const made = renders.find((r) => r.name === 'auth with a chart-made Secret')?.rendered as Rendered;
  const secret = findObject(made, 'Secret') as Manifest;
  t.equal(Buffer.from(String((secret.data as Record<string, string>).token), 'base64').toString(), 's3cret');
  t.notMatch(JSON.stringify(findObject(made, 'ConfigMap')), /s3cret/, 'the token is not in the ConfigMap');
  t.notMatch(JSON.stringify(findObject(made, 'DaemonSet')), /s3cret/, 'nor in the pod spec');
  const monitor = findObject(made, 'ServiceMonitor') as Manifest;
  const endpoint = (monitor.spec as { endpoints: JsonObject[] }).endpoints[0] as JsonObject;
  t.equal(endpoint.path, '/metrics');
  t.same(endpoint.authorization, { type: 'Bearer', credentials: { name: secret.metadata.name, key: 'token' } });
  const existing = renders.find((r) => r.name === 'split mode with auth from an existing Secret')?.rendered as Rendered;
  t.equal(findObject(existing, 'Secret'), undefined, 'no Secret made when one exists');
  const auth = podSpec(existing).volumes.find((v) => v.name === 'auth');
  t.same(auth?.secret?.items, [{ key: 'api-token', path: 'token' }]);
  t.equal(auth?.secret?.secretName, 'my-token');
});

t.test('values the schema cannot check fail the render with a message naming them', async (t) => {
  const failure = (values: JsonObject): TemplateError | undefined => {
    try {
      renderChart(chart, values);
      return undefined;
    } catch (error) {
      return error instanceof TemplateError ? error : undefined;
    }
  };
  t.match(failure({ config: { source: { podsDir: '/data/pods' } } })?.message, /config\.source\.podsDir "\/data\/pods" must lie under hostPaths\.logs/);
  t.match(failure({ auth: { enabled: true } })?.message, /auth\.existingSecret/);
  t.match(failure({ serviceMonitor: { enabled: true }, service: { enabled: false } })?.message, /serviceMonitor\.enabled needs service\.enabled/);
  t.equal(failure({ hostPaths: { logs: '/data' }, config: { source: { podsDir: '/data/pods' } } }), undefined, 'a pods dir under a moved log mount is fine');
  t.match(failure({ mode: 'serve', service: { enabled: false } })?.message, /mode serve needs service\.enabled or api\.hostPort/);
  t.equal(failure({ mode: 'serve', config: { source: { podsDir: '/data/pods' } } }), undefined, 'serve mounts no logs: podsDir is not checked');
});

t.test('image: repository:appVersion by default, pinned by digest when given', async (t) => {
  const images = (rendered: Rendered) => {
    const spec = podSpec(rendered);
    return [...new Set([...spec.containers, ...(spec.initContainers ?? [])].map((c) => c.image))];
  };
  t.same(images(defaults), [`ghcr.io/kube-log-enricher/kube-log-enricher:${String(chart.meta.appVersion)}`], 'one image for every container, tagged with the appVersion');
  const digest = `sha256:${'a'.repeat(64)}`;
  t.same(images(renderChart(chart, { image: { digest, tag: 'ignored' } })), [`ghcr.io/kube-log-enricher/kube-log-enricher@${digest}`]);
  t.same(images(renderChart(chart, { image: { tag: '0.2.0-rc.1' } })), ['ghcr.io/kube-log-enricher/kube-log-enricher:0.2.0-rc.1']);
});
