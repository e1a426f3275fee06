/**
 * Saying what is not known yet: an event enriched before its namespace or node (or pod) synced
 * carries `pending_metadata` and is counted; once the kind syncs, the file's metadata is rendered
 * again. First on a store fed by hand, then through the real reflectors and the simulated server.
 */
import t from 'tap';
import { createEnricher, type SchemaName } from '../../src/enrich/index.ts';
import { defaultEnricherOptions } from '../builders/defaults.ts';
import { namespaceFor, nodeFor, podFor } from '../../src/sim/index.ts';
import { criLine, podUid } from '../builders/lines.ts';
import { readyWithin, startHarness, startSim, waitFor } from '../kube/helpers.ts';
import { cluster, counterValue, harness, k8s, logPath } from './helpers.ts';

const line = criLine({ message: 'hello' });

t.test('before namespaces and nodes synced: the marker, counted; each kind that syncs drops out of it', async (t) => {
  const c = cluster();
  t.teardown(() => c.close());
  c.store.expectSync('namespaces');
  c.store.expectSync('nodes');
  const h = harness(c);
  const pod = c.addPod({ name: 'cart-1', namespace: 'shop', nodeName: 'node-a', labels: { app: 'cart' } });
  const file = logPath(pod);

  const [early] = h.parsed([{ file, line }, { file, line }]);
  t.same(k8s(early).pending_metadata, ['namespace', 'node']);
  t.same(k8s(early).pod_labels, { app: 'cart' }, 'the pod itself is known');
  t.notOk('unmatched_reason' in k8s(early), 'matched: the marker is not an unmatched reason');
  t.notOk('namespace_labels' in k8s(early));
  t.equal(await counterValue(h.metrics, 'eventsPendingMetadata', { kind: 'namespaces' }), 2);
  t.equal(await counterValue(h.metrics, 'eventsPendingMetadata', { kind: 'nodes' }), 2);
  t.equal(await counterValue(h.metrics, 'eventsPendingMetadata', { kind: 'pods' }), 0);

  // The namespace list completes: the same file's next line has its labels, no re-check per line needed.
  c.store.replace('namespaces', [namespaceFor({ name: 'shop', uid: 'ns-shop', labels: { team: 'checkout' } })]);
  const [namespaced] = h.parsed([{ file, line }]);
  t.same(k8s(namespaced).pending_metadata, ['node']);
  t.match(k8s(namespaced).namespace_labels, { team: 'checkout' });

  // The node list completes without this node (say a selector left it out): known to be absent now.
  c.store.replace('nodes', []);
  const [synced] = h.parsed([{ file, line }]);
  t.notOk('pending_metadata' in k8s(synced), 'no marker once every kind synced, even with the node absent');
  t.equal(await counterValue(h.metrics, 'eventsPendingMetadata', { kind: 'nodes' }), 3);
  t.equal(await counterValue(h.metrics, 'eventsPendingMetadata', { kind: 'namespaces' }), 2);
});

t.test('the marker in each schema, on the in-process path too', async (t) => {
  const expected: Record<SchemaName, (record: Record<string, unknown>) => unknown> = {
    vector: (r) => k8s(r).pending_metadata,
    fluentbit: (r) => k8s(r).pending_metadata,
    otel: (r) => (r.attributes as Record<string, unknown>)['kube_log_enricher.pending_metadata'],
  };
  for (const schema of ['vector', 'fluentbit', 'otel'] as const) {
    const c = cluster();
    t.teardown(() => c.close());
    c.store.expectSync('nodes');
    const h = harness(c, { schema });
    const pod = c.addPod({ name: 'web-1', namespace: 'shop', nodeName: 'node-a' });
    c.addNamespace({ name: 'shop' });
    const [record] = h.parsed([{ file: logPath(pod), line }]);
    t.same(expected[schema](record!), ['node'], `${schema}: batch`);
    const [message] = h.enricher.enrichMessages([logPath(pod)], [{ timestamp: '2026-11-23T10:00:00Z', stream: 'stdout', message: 'hi' }]);
    t.same(expected[schema](JSON.parse(message!.json) as Record<string, unknown>), ['node'], `${schema}: in-process`);
    t.equal(await counterValue(h.metrics, 'eventsPendingMetadata', { kind: 'nodes' }), 2);
  }
});

t.test('pods not synced: an unmatched event says so as well; metadata the output leaves out is never pending', async (t) => {
  const c = cluster();
  t.teardown(() => c.close());
  for (const kind of ['pods', 'namespaces', 'nodes'] as const) c.store.expectSync(kind);
  const uid = podUid('shop/api-1');
  const pod = podFor({ name: 'api-1', namespace: 'shop', uid });
  const file = logPath(pod);

  const all = harness(c);
  const [unknown] = all.parsed([{ file, line }]);
  t.equal(k8s(unknown).unmatched_reason, 'pod_not_found');
  t.same(k8s(unknown).pending_metadata, ['pod', 'namespace'], 'no node: an unknown pod names none');
  t.equal(await counterValue(all.metrics, 'eventsPendingMetadata', { kind: 'pods' }), 1);

  const withoutGroups = harness(c, { include: { namespaceLabels: false, namespaceAnnotations: false, nodeLabels: false, nodeAnnotations: false } });
  c.addPod({ name: 'api-1', namespace: 'shop', uid, nodeName: 'node-a' });
  const [known] = withoutGroups.parsed([{ file, line }]);
  t.notOk('pending_metadata' in k8s(known), 'namespace and node metadata are not in this output: nothing is missing');
  t.equal(await counterValue(withoutGroups.metrics, 'eventsPendingMetadata', {}), 0);
});

t.test('through the reflectors: namespaces and nodes refused (403) at first, events marked; allowed, labels and no marker', async (t) => {
  const sim = await startSim(t);
  sim.create('namespaces', namespaceFor({ name: 'shop', labels: { team: 'checkout' } }));
  sim.create('nodes', nodeFor({ name: 'node-a', labels: { pool: 'spot' } }));
  const pod = sim.create('pods', podFor({ name: 'cart-1', namespace: 'shop', nodeName: 'node-a', labels: { app: 'cart' } }));
  sim.faults.forbid('namespaces');
  sim.faults.forbid('nodes');
  const h = startHarness(t, sim, { nodeName: 'node-a' });
  const enricher = createEnricher(defaultEnricherOptions(), { store: h.store.reader(), metrics: h.metrics });
  const enrich = (): Record<string, unknown> => {
    const result = enricher.enrichBatch([{ file: logPath(pod), line }], enricher.newSession());
    return k8s(JSON.parse(result.records[0]!.json) as Record<string, unknown>);
  };

  await waitFor(() => h.reflectors.status().find((s) => s.kind === 'pods')?.synced, 'the pods reflector\'s initial list', 20_000);
  const early = enrich();
  t.same(early.pod_labels, { app: 'cart' });
  t.same(early.pending_metadata, ['namespace', 'node']);
  t.notOk('namespace_labels' in early);
  t.equal(await counterValue(h.metrics, 'eventsPendingMetadata', { kind: 'namespaces' }), 1);

  sim.faults.forbid(undefined);
  await readyWithin(h.reflectors, 20_000);
  const late = enrich();
  t.match(late.namespace_labels, { team: 'checkout' });
  t.match(late.node_labels, { pool: 'spot' });
  t.notOk('pending_metadata' in late);
  t.equal(await counterValue(h.metrics, 'eventsPendingMetadata', { kind: 'nodes' }), 1, 'counted once, for the early event');
});
