/**
 * enrichment.fields, enrichment.dedot and enrichment.clusterName through the real enricher and
 * store, in all three schemas: which labels and annotations are carried and under which keys,
 * and the rules' bad inputs refused by the config schema and by the enricher, naming the field.
 */
import t, { type Test } from 'tap';
import { loadConfig } from '../../src/config/index.ts';
import type { FieldRule } from '../../src/enrich/index.ts';
import type { PodJson } from '../../src/sim/index.ts';
import { criLine } from '../builders/lines.ts';
import { defaultEnricherOptions } from '../builders/defaults.ts';
import { createEnricher, EnrichConfigError } from '../../src/enrich/index.ts';
import { createMetrics } from '../../src/metrics/index.ts';
import { cluster, harness, k8s, logPath, type Cluster } from './helpers.ts';

const TS = '2026-11-23T10:00:00.123456789Z';

function fixture(t: Test): { c: Cluster; pod: PodJson } {
  const c = cluster();
  c.addNamespace({ name: 'shop', labels: { team: 'shop', 'kubernetes.io/metadata.name': 'shop' }, annotations: { 'owner.example.com/slack': '#shop' } });
  c.addNode({ name: 'node-a', labels: { 'topology.kubernetes.io/zone': 'eu-west-1a', 'kubernetes.io/hostname': 'node-a' } });
  const pod = c.addPod({
    name: 'cart-0',
    namespace: 'shop',
    nodeName: 'node-a',
    labels: { 'app.kubernetes.io/name': 'cart', 'app.kubernetes.io/version': '1.4', 'pod-template-hash': '7d9f', tier: 'web' },
    annotations: { 'prometheus.io/scrape': 'true', 'kubectl.kubernetes.io/last-applied-configuration': '{"huge":true}' },
    containers: [{ name: 'cart', image: 'registry.example.com/shop/cart:1.4' }],
  });
  t.teardown(() => c.close());
  return { c, pod };
}

function nodeLabels(c: Cluster): Record<string, string> {
  return { ...c.store.reader().node('node-a')!.object.labels };
}

const RULES: FieldRule[] = [
  // The first matching rule decides: the hash is dropped before the catch-all includes the rest.
  { from: 'pod', kind: 'label', key: 'pod-template-hash', action: 'exclude' },
  { from: 'pod', kind: 'label', keyPattern: 'app\\.kubernetes\\.io/(.+)', as: 'app_$1', action: 'include' },
  { from: 'pod', kind: 'label', keyPattern: '.*', action: 'include' },
  { from: 'pod', kind: 'annotation', key: 'prometheus.io/scrape', as: 'scrape', action: 'include' },
  { from: 'namespace', kind: 'label', key: 'team', action: 'include' },
  { from: 'node', kind: 'label', keyPattern: 'topology\\.kubernetes\\.io/(zone|region)', as: '$1', action: 'include' },
];

t.test('rules choose and rename, in the vector schema', async (t) => {
  const { c, pod } = fixture(t);
  const h = harness(c, { schema: 'vector', fields: RULES, clusterName: 'prod-eu' });
  const [event] = h.parsed([{ file: logPath(pod), line: criLine({ ts: TS, message: 'hello' }) }]);
  const k = k8s(event);
  t.same(k.pod_labels, { app_name: 'cart', app_version: '1.4', tier: 'web' }, 'hash excluded, app.kubernetes.io/* renamed with $1, the rest as they are');
  t.same(k.pod_annotations, { scrape: 'true' }, 'only the named annotation, renamed');
  t.same(k.namespace_labels, { team: 'shop' });
  t.same(k.node_labels, { zone: 'eu-west-1a', region: nodeLabels(c)['topology.kubernetes.io/region'] }, 'both groups of the pattern, by $1');
  t.equal(k.cluster_name, 'prod-eu');
  t.equal(k.pod_name, 'cart-0', 'the rest of the event unchanged');
});

t.test('the same rules in the fluentbit and otel schemas', async (t) => {
  const { c, pod } = fixture(t);
  const fb = harness(c, { schema: 'fluentbit', fields: RULES, clusterName: 'prod-eu' });
  const [f] = fb.parsed([{ file: logPath(pod), line: criLine({ ts: TS, message: 'hello' }) }]);
  t.same(k8s(f).labels, { app_name: 'cart', app_version: '1.4', tier: 'web' });
  t.same(k8s(f).annotations, { scrape: 'true' });
  t.equal(k8s(f).cluster_name, 'prod-eu');
  t.same((f!.kubernetes_namespace as Record<string, unknown>).labels, { team: 'shop' }, 'namespace labels shown because a rule includes some');

  const otel = harness(c, { schema: 'otel', fields: RULES, clusterName: 'prod-eu' });
  const [o] = otel.parsed([{ file: logPath(pod), line: criLine({ ts: TS, message: 'hello' }) }]);
  const resource = o!.resource as Record<string, unknown>;
  const carried = Object.keys(resource).filter((key) => /^k8s\.(pod|namespace|node)\.(label|annotation)\./.test(key)).sort();
  t.same(carried, [
    'k8s.namespace.label.team',
    'k8s.node.label.region',
    'k8s.node.label.zone',
    'k8s.pod.annotation.scrape',
    'k8s.pod.label.app_name',
    'k8s.pod.label.app_version',
    'k8s.pod.label.tier',
  ]);
  t.equal(resource['k8s.cluster.name'], 'prod-eu');
});

t.test('dedot, with and without rules', async (t) => {
  const { c, pod } = fixture(t);
  const whole = harness(c, { schema: 'vector', dedot: '_' });
  const [a] = whole.parsed([{ file: logPath(pod), line: criLine({ ts: TS, message: 'x' }) }]);
  t.same(k8s(a).pod_labels, { 'app_kubernetes_io/name': 'cart', 'app_kubernetes_io/version': '1.4', 'pod-template-hash': '7d9f', tier: 'web' }, 'every group carried whole, dots replaced');
  t.same(k8s(a).node_labels, Object.fromEntries(Object.entries(nodeLabels(c)).map(([key, value]) => [key.replaceAll('.', '_'), value])));
  t.notOk('namespace_annotations' in k8s(a), 'the include booleans still apply without rules');

  const ruled = harness(c, { schema: 'otel', dedot: '_', fields: [{ from: 'pod', kind: 'annotation', keyPattern: 'prometheus\\..*', action: 'include' }] });
  const [b] = ruled.parsed([{ file: logPath(pod), line: criLine({ ts: TS, message: 'x' }) }]);
  const resource = b!.resource as Record<string, unknown>;
  t.equal(resource['k8s.pod.annotation.prometheus_io/scrape'], 'true', 'the carried key dedotted, the attribute prefix kept');
  t.notOk(Object.keys(resource).some((key) => key.startsWith('k8s.pod.label.')), 'no rule includes pod labels: none carried');
});

t.test('no rules: exactly today\'s output', async (t) => {
  const { c, pod } = fixture(t);
  const before = harness(c, { schema: 'vector' }).parsed([{ file: logPath(pod), line: criLine({ ts: TS, message: 'x' }) }]);
  const after = harness(c, { schema: 'vector', fields: [] }).parsed([{ file: logPath(pod), line: criLine({ ts: TS, message: 'x' }) }]);
  t.same(after, before);
  t.same(k8s(after[0]).pod_labels, pod.metadata.labels, 'all pod labels');
  t.notOk('cluster_name' in k8s(after[0]), 'no cluster name unless configured');
});

t.test('a relabelled pod is re-rendered through the rules', async (t) => {
  const { c, pod } = fixture(t);
  const h = harness(c, { schema: 'vector', fields: RULES });
  h.parsed([{ file: logPath(pod), line: criLine({ ts: TS, message: 'x' }) }]);
  const relabelled = { ...pod, metadata: { ...pod.metadata, resourceVersion: '999', labels: { 'app.kubernetes.io/name': 'basket' } } };
  c.store.apply('pods', 'MODIFIED', relabelled);
  const [event] = h.parsed([{ file: logPath(pod), line: criLine({ ts: TS, message: 'y' }) }]);
  t.same(k8s(event).pod_labels, { app_name: 'basket' });
});

t.test('bad rules: the config names the field, the enricher refuses them too', async (t) => {
  const cases: [unknown, string][] = [
    [{ from: 'pod', kind: 'label', action: 'include' }, 'enrichment.fields[0].key'],
    [{ from: 'pod', kind: 'label', key: 'a', keyPattern: 'b' }, 'enrichment.fields[0].key'],
    [{ from: 'pod', kind: 'label', keyPattern: '(unclosed' }, 'enrichment.fields[0].keyPattern'],
    [{ from: 'pod', kind: 'label', key: 'a', as: 'b', action: 'exclude' }, 'enrichment.fields[0].as'],
    [{ from: 'pods', kind: 'label', key: 'a' }, 'enrichment.fields[0].from'],
    [{ from: 'pod', kind: 'labels', key: 'a' }, 'enrichment.fields[0].kind'],
    [{ from: 'pod', kind: 'label', key: 'a', extra: 1 }, 'enrichment.fields[0]'],
  ];
  for (const [rule, field] of cases) {
    const result = loadConfig({ argv: ['--config', 'c.json'], env: {}, cwd: '/', readFile: () => JSON.stringify({ enrichment: { fields: [rule] } }) });
    t.equal(result.ok, false, `${JSON.stringify(rule)}: refused`);
    t.match(JSON.stringify(result), field, `${JSON.stringify(rule)}: names ${field}`);
  }
  const env = loadConfig({ argv: [], env: { KLE_ENRICHMENT_FIELDS: '[{"from":"pod","kind":"label","key":"app"}]' }, cwd: '/' });
  t.same(env.ok ? env.config.enrichment.fields : env.errors, [{ from: 'pod', kind: 'label', key: 'app', action: 'include' }], 'rules from the environment, as JSON');
  const notJson = loadConfig({ argv: [], env: { KLE_ENRICHMENT_FIELDS: 'from=pod' }, cwd: '/' });
  t.equal(notJson.ok, false, 'rules that are not JSON: refused');
  t.match(JSON.stringify(notJson), 'KLE_ENRICHMENT_FIELDS', 'naming the variable');

  const metrics = createMetrics(undefined, { processMetrics: false });
  const c = cluster();
  t.teardown(() => c.close());
  t.throws(
    () => createEnricher(defaultEnricherOptions({ fields: [{ from: 'pod', kind: 'label', keyPattern: '[', action: 'include' }] }), { store: c.store.reader(), metrics, now: c.clock.now }),
    EnrichConfigError,
    'an invalid pattern that skipped the config is refused at construction, never per event',
  );
});
