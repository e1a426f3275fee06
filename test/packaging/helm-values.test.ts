// values.yaml against values.schema.json (ajv, as `helm install` would validate), and the
// schema's `config` block against the service's own config schema in src/config.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv } from 'ajv';
import type { ErrorObject } from 'ajv';
import { configKeys, parseConfig, parseDuration, parseSize } from '../../src/config/index.ts';
import { loadChart, mergeValues, repoRoot } from './chart.ts';
import type { JsonObject } from './chart.ts';

const chart = loadChart();
const ajv = new Ajv({ allErrors: true, strict: true, allowUnionTypes: true });
const validate = ajv.compile(chart.schema);

function errorsFor(values: JsonObject): ErrorObject[] {
  return validate(values) ? [] : [...(validate.errors ?? [])];
}

/** Keys of the service's config that the chart sets itself (env, downward API, mounts). */
const CHART_OWNED_CONFIG_KEYS = [
  'kubernetes.nodeName',
  'kubernetes.podSource',
  'server.listen',
  'server.authToken',
  'server.authTokenFile',
  'source.dataDir',
  'source.service',
  'source.serviceToken',
  'source.serviceTokenFile',
  'source.selfPodUid',
  'source.selfPodName',
];

type SchemaNode = { [key: string]: unknown };

function resolveRef(node: SchemaNode): SchemaNode {
  const ref = node.$ref;
  if (typeof ref !== 'string') return node;
  const name = ref.replace('#/definitions/', '');
  return (chart.schema.definitions as Record<string, SchemaNode>)[name] as SchemaNode;
}

/** Leaves of the config block: dotted id -> schema. Maps (additionalProperties schema) are leaves. */
function configLeaves(node: SchemaNode, prefix: string[] = []): Map<string, SchemaNode> {
  const leaves = new Map<string, SchemaNode>();
  const properties = node.properties as Record<string, SchemaNode> | undefined;
  if (node.type === 'object' && properties !== undefined) {
    for (const [name, child] of Object.entries(properties)) {
      for (const [id, leaf] of configLeaves(resolveRef(child), [...prefix, name])) leaves.set(id, leaf);
    }
  } else {
    leaves.set(prefix.join('.'), node);
  }
  return leaves;
}

t.test('Chart.yaml: apiVersion v2, the chart\'s name, appVersion = package.json version', async (t) => {
  const packageJson = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { version: string };
  t.equal(chart.meta.apiVersion, 'v2');
  t.equal(chart.meta.name, 'kube-log-enricher');
  t.equal(chart.meta.appVersion, packageJson.version, 'the default image tag is the version being built');
  t.match(String(chart.meta.version), /^\d+\.\d+\.\d+/, 'semver chart version');
});

t.test('values.yaml validates against values.schema.json', async (t) => {
  t.same(errorsFor(chart.values), []);
  t.match(String(chart.schema.$schema), /draft-07/, 'draft-07, which every Helm 3 release understands');
});

t.test('every value in the schema is typed, and objects are closed unless they are maps or Kubernetes objects', async (t) => {
  // Kubernetes types passed through verbatim (validated by the API server, not here).
  const freeForm = new Set(['global', 'affinity', 'extraVolumes[]', 'extraVolumeMounts[]', 'extraEnv[]']);
  const visit = (node: SchemaNode, where: string): void => {
    node = resolveRef(node);
    const typed = node.type !== undefined || node.enum !== undefined || node.const !== undefined
      || (Array.isArray(node.anyOf) && (node.anyOf as SchemaNode[]).every((n) => resolveRef(n).type !== undefined));
    t.ok(typed, `${where} has a type`);
    if (node.type === 'object' && !freeForm.has(where)) {
      t.not(node.additionalProperties, undefined, `${where} says what other keys it allows`);
    }
    for (const [name, child] of Object.entries((node.properties ?? {}) as Record<string, SchemaNode>)) visit(child, where === '' ? name : `${where}.${name}`);
    if (typeof node.items === 'object') visit(node.items as SchemaNode, `${where}[]`);
    if (typeof node.additionalProperties === 'object') visit(node.additionalProperties as SchemaNode, `${where}.*`);
  };
  visit(chart.schema, '');
});

t.test('invalid values are rejected, naming the value', async (t) => {
  const cases: { name: string; values: JsonObject; path: string }[] = [
    { name: 'port as a string', values: { api: { port: '8080' } }, path: '/api/port' },
    { name: 'unknown top-level key', values: { replicaCount: 2 }, path: '' },
    { name: 'unknown nested key', values: { service: { nodePort: 30080 } }, path: '/service' },
    { name: 'unknown mode', values: { mode: 'sidecar' }, path: '/mode' },
    { name: 'typo in a config key', values: { config: { source: { podDir: '/var/log/pods' } } }, path: '/config/source' },
    { name: 'duration without a unit', values: { config: { kubernetes: { deletionDelay: 60 } } }, path: '/config/kubernetes/deletionDelay' },
    { name: 'size without a unit', values: { config: { server: { maxBodyBytes: '8' } } }, path: '/config/server/maxBodyBytes' },
    { name: 'unknown enrichment schema', values: { config: { enrichment: { schema: 'loki' } } }, path: '/config/enrichment/schema' },
    { name: 'chart-owned key in config', values: { config: { server: { listen: '0.0.0.0:9090' } } }, path: '/config/server' },
    { name: 'token in the ConfigMap', values: { config: { server: { authToken: 'secret' } } }, path: '/config/server' },
    { name: 'auth enabled without a token source', values: { auth: { enabled: true } }, path: '/auth' },
    { name: 'relative host path', values: { hostPaths: { logs: 'var/log' } }, path: '/hostPaths/logs' },
    { name: 'negative UID', values: { securityContext: { runAsUser: -1 } }, path: '/securityContext/runAsUser' },
    { name: 'bad toleration operator', values: { tolerations: [{ operator: 'Any' }] }, path: '/tolerations/0/operator' },
    { name: 'maxSurge (two agents on a node would read files twice)', values: { updateStrategy: { rollingUpdate: { maxSurge: 1 } } }, path: '/updateStrategy/rollingUpdate' },
    { name: 'field rule with both key and keyPattern', values: { config: { enrichment: { fields: [{ from: 'pod', kind: 'label', key: 'a', keyPattern: 'b' }] } } }, path: '/config/enrichment/fields/0' },
    { name: 'field rule from an unknown source', values: { config: { enrichment: { fields: [{ from: 'pods', kind: 'label', key: 'a' }] } } }, path: '/config/enrichment/fields/0/from' },
    { name: 'bad sink', values: { config: { source: { sink: 'kafka://broker' } } }, path: '/config/source/sink' },
    { name: 'image digest not sha256', values: { image: { digest: 'latest' } }, path: '/image/digest' },
    { name: 'hostPort out of range', values: { mode: 'serve', api: { hostPort: 70000 } }, path: '/api/hostPort' },
    { name: 'hostPort as a string', values: { api: { hostPort: '8080' } }, path: '/api/hostPort' },
    { name: 'serve mode with a bad sink', values: { mode: 'serve', config: { source: { sink: 'vector:8081' } } }, path: '/config/source/sink' },
    { name: 'unknown pod source', values: { podSource: 'etcd' }, path: '/podSource' },
    { name: 'pod source in config (the chart\'s RBAC follows podSource)', values: { config: { kubernetes: { podSource: 'kubelet' } } }, path: '/config/kubernetes' },
    { name: 'kubelet URL without a scheme', values: { podSource: 'kubelet', config: { kubernetes: { kubelet: { url: '10.0.0.5:10250' } } } }, path: '/config/kubernetes/kubelet/url' },
    { name: 'kubelet poll interval without a unit', values: { podSource: 'kubelet', config: { kubernetes: { kubelet: { pollInterval: 5 } } } }, path: '/config/kubernetes/kubelet/pollInterval' },
  ];
  for (const c of cases) {
    const errors = errorsFor(mergeValues(chart.values, c.values));
    t.ok(errors.length > 0, `${c.name}: rejected`);
    t.ok(errors.some((e) => e.instancePath === c.path), `${c.name}: error at "${c.path}" (got ${errors.map((e) => `"${e.instancePath}" ${e.message}`).join(', ')})`);
  }
});

t.test('valid variations are accepted', async (t) => {
  const cases: { name: string; values: JsonObject }[] = [
    { name: 'split mode', values: { mode: 'split' } },
    { name: 'serve mode with an HTTP sink', values: { mode: 'serve', config: { source: { sink: 'http://vector.logging.svc:8081/' } } } },
    { name: 'an OTLP/gRPC sink', values: { config: { source: { sink: 'otlp+grpc://otel-collector.logging.svc:4317' } } } },
    { name: 'an OTLP/HTTP sink over TLS', values: { config: { source: { sink: 'otlp+https://otlp.example.com' } } } },
    { name: 'serve mode on a hostPort', values: { mode: 'serve', api: { hostPort: 8080 }, service: { enabled: false } } },
    { name: 'auth from an existing Secret', values: { auth: { enabled: true, existingSecret: 'kle-token' } } },
    { name: 'auth with a chart-made Secret', values: { auth: { enabled: true, token: 's3cret' } } },
    { name: 'root for CRI-O', values: { securityContext: { runAsUser: 0, runAsGroup: 0 } } },
    { name: 'percentage maxUnavailable', values: { updateStrategy: { rollingUpdate: { maxUnavailable: '10%' } } } },
    { name: 'full config', values: { config: { kubernetes: { backoff: { initial: '1s', factor: 1.5, jitter: 0.1 }, watchTimeout: '1h30m' }, server: { tls: { certFile: '/tls/tls.crt', keyFile: '/tls/tls.key' } }, enrichment: { rename: { 'kubernetes.pod_labels': 'kubernetes.labels' }, include: { nodeAnnotations: true } }, source: { include: ['**/*.log'], maxLineBytes: '512Ki', sink: 'https://collector:8443/ingest' } } } },
    { name: 'field rules, dedot and a cluster name', values: { config: { enrichment: { fields: [{ from: 'pod', kind: 'label', keyPattern: 'app\\.kubernetes\\.io/(.*)', as: 'app_$1' }, { from: 'node', kind: 'label', key: 'topology.kubernetes.io/zone', action: 'include' }], dedot: '_', clusterName: 'prod-eu' } } } },
    { name: 'docker runtime', values: { hostPaths: { dockerContainers: { enabled: true, path: '/data/docker/containers' } } } },
    { name: 'globals from a parent chart', values: { global: { imageRegistry: 'registry.example.com' } } },
    { name: 'pods from the kubelet, checked against a CA', values: { podSource: 'kubelet', config: { kubernetes: { kubelet: { pollInterval: '10s', caFile: '/kubelet-ca/ca.crt' } } } } },
  ];
  for (const c of cases) t.same(errorsFor(mergeValues(chart.values, c.values)), [], c.name);
});

t.test('the schema\'s config block covers exactly the service\'s config keys, minus those the chart sets', async (t) => {
  const leaves = configLeaves((chart.schema.properties as Record<string, SchemaNode>).config as SchemaNode);
  const expected = configKeys.map((k) => k.id).filter((id) => !CHART_OWNED_CONFIG_KEYS.includes(id));
  t.same([...leaves.keys()].sort(), [...expected].sort(), 'same keys as src/config');
  for (const owned of CHART_OWNED_CONFIG_KEYS) t.ok(configKeys.some((k) => k.id === owned), `${owned} is a real config key`);

  const jsonType: Record<string, string> = {
    string: 'string', url: 'string', listen: 'string', sink: 'string', duration: 'string', size: 'string', enum: 'string',
    boolean: 'boolean', integer: 'integer', number: 'number', stringList: 'array', stringMap: 'object', objectList: 'array',
  };
  for (const key of configKeys) {
    const leaf = leaves.get(key.id);
    if (leaf === undefined) continue;
    t.equal(leaf.type, jsonType[key.kind], `${key.id}: ${key.kind} is a JSON ${jsonType[key.kind]}`);
    if (key.kind === 'enum') t.same(leaf.enum, key.values, `${key.id}: same choices`);
    if (key.kind === 'duration') t.equal(leaf, resolveRef({ $ref: '#/definitions/duration' }), `${key.id}: a duration`);
    if (key.kind === 'size') t.equal(leaf, resolveRef({ $ref: '#/definitions/size' }), `${key.id}: a size`);
  }
});

t.test('the duration and size patterns accept what the service accepts', async (t) => {
  const definitions = chart.schema.definitions as Record<string, { pattern: string }>;
  const durationPattern = new RegExp(definitions.duration?.pattern ?? '');
  const sizePattern = new RegExp(definitions.size?.pattern ?? '');
  const durations = ['500ms', '60s', '5m', '1h', '1h30m', '1.5s', '0s', '60', '', '5 m', '1d', '-1s', '5x', 's', '10us', '2h45m30s'];
  for (const text of durations) t.equal(durationPattern.test(text), parseDuration(text).ok, `duration "${text}"`);
  const sizes = ['512B', '64KiB', '1MiB', '1GiB', '10KB', '10kB', '10MB', '1GB', '512Ki', '1Mi', '1.5MiB', '8', '', '1TiB', 'MiB', '-1MiB', '1 MiB'];
  for (const text of sizes) t.equal(sizePattern.test(text), parseSize(text).ok, `size "${text}"`);
});

t.test('the default values.config is a valid service config', async (t) => {
  const result = parseConfig(chart.values.config);
  t.ok(result.ok, result.ok ? 'valid' : result.errors.map((e) => e.message).join('; '));
});
