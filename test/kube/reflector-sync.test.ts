/** Reflectors with the real client against the simulated API server: the happy paths. */
import t, { type Test } from 'tap';
import { generateCluster, loadCluster, namespaceFor, podFor } from '../../src/sim/index.ts';
import { metricValue, readyWithin, startHarness, startSim, waitFor } from './helpers.ts';

const NODE = 'node-a';

t.test('initial sync fills the store with this node\'s pods, all namespaces and this node; then ready', async (t) => {
  const sim = await startSim(t);
  const cluster = generateCluster({ seed: 7, nodes: 3, podsPerNode: 6, namespaces: 3 });
  loadCluster(sim, cluster);
  const nodeName = cluster.nodes[1]!.metadata.name;
  const h = startHarness(t, sim, { nodeName });
  t.same(h.reflectors.status().map((s) => s.synced), [false, false, false], 'not synced before the first list');
  await readyWithin(h.reflectors);
  t.same(
    h.reflectors.status().map(({ lastEventAgeSeconds, lastContactAgeSeconds, ...rest }) => ({ ...rest, ages: typeof lastEventAgeSeconds === 'number' && typeof lastContactAgeSeconds === 'number' })),
    [
      { kind: 'pods', synced: true, lastError: undefined, ages: true },
      { kind: 'namespaces', synced: true, lastError: undefined, ages: true },
      { kind: 'nodes', synced: true, lastError: undefined, ages: true },
    ],
  );

  const reader = h.store.reader();
  const mine = cluster.pods.filter((p) => p.spec.nodeName === nodeName);
  const others = cluster.pods.filter((p) => p.spec.nodeName !== nodeName);
  t.ok(mine.length > 0 && others.length > 0);
  for (const pod of mine) {
    const entry = reader.podByUid(pod.metadata.uid!);
    t.equal(entry?.object.name, pod.metadata.name, `pod ${pod.metadata.name} stored`);
    t.equal(entry?.deletedAt, undefined);
  }
  for (const pod of others) t.equal(reader.podByUid(pod.metadata.uid!), undefined, `pod of ${pod.spec.nodeName} not stored`);
  for (const ns of cluster.namespaces) t.same(reader.namespace(ns.metadata.name)?.object.labels, ns.metadata.labels);
  t.equal(reader.node(nodeName)?.object.name, nodeName);
  t.equal(reader.node(cluster.nodes[0]!.metadata.name), undefined, 'other nodes are not watched');
  t.same(h.store.counts(), [
    { kind: 'pods', live: mine.length, retained: 0 },
    { kind: 'namespaces', live: cluster.namespaces.length, retained: 0 },
    { kind: 'nodes', live: 1, retained: 0 },
  ]);
  for (const kind of ['pods', 'namespaces', 'nodes']) t.equal(await metricValue(h.metrics, 'reflector_synced', { kind }), 1, `${kind} synced metric`);
  t.equal(await metricValue(h.metrics, 'store_objects', { kind: 'pods', state: 'live' }), mine.length);

  // Static (mirror) pods of this node are found by the config hash the kubelet names their log dir by.
  const mirror = mine.find((p) => p.metadata.annotations?.['kubernetes.io/config.mirror'] !== undefined);
  if (mirror !== undefined) {
    const hash = mirror.metadata.annotations!['kubernetes.io/config.mirror']!;
    t.equal(reader.podByUid(hash)?.object.uid, mirror.metadata.uid, 'static pod found by its config hash');
  }
  // Slimming happened: nothing bulky made it into the store.
  const sample = reader.podByUid(mine[0]!.metadata.uid!)!.object;
  t.notMatch(JSON.stringify(sample), /managedFields|last-applied-configuration|volumeMounts/);
});

t.test('watch events: add, update, delete; deleted pods retained for the delay, then evicted', async (t) => {
  const sim = await startSim(t);
  sim.create('namespaces', namespaceFor({ name: 'shop' }));
  const h = startHarness(t, sim, { nodeName: NODE, deletionDelayMs: 400 });
  await readyWithin(h.reflectors);
  const reader = h.store.reader();

  const created = sim.create('pods', podFor({ name: 'cart-1', namespace: 'shop', nodeName: NODE, labels: { app: 'cart' } }));
  const uid = created.metadata.uid!;
  const added = await waitFor(() => reader.podByUid(uid), 'the new pod');
  t.same(added.object.labels, { app: 'cart' });

  sim.patchLabels('pods', 'shop', 'cart-1', { version: 'v2' });
  const updated = await waitFor(() => (reader.podByUid(uid)?.object.labels.version === 'v2' ? reader.podByUid(uid) : undefined), 'the label update');
  t.ok(updated.version > added.version, 'the update gave a new version');

  sim.delete('pods', 'shop', 'cart-1', { graceful: true });
  const deleted = await waitFor(() => (reader.podByUid(uid)?.deletedAt !== undefined ? reader.podByUid(uid) : undefined), 'the deletion');
  t.equal(deleted.expiresAt, deleted.deletedAt! + 400);
  t.equal(reader.podByName('shop', 'cart-1')?.object.uid, uid, 'still answers by name while retained');
  t.same(h.store.counts()[0], { kind: 'pods', live: 0, retained: 1 });

  await waitFor(() => h.store.counts()[0]!.retained === 0, 'eviction after the deletion delay');
  t.equal(reader.podByUid(uid), undefined, 'gone after the delay');
  t.equal(reader.podByName('shop', 'cart-1'), undefined);
  t.equal(await metricValue(h.metrics, 'store_evictions_total', { kind: 'pods' }), 1);
});

t.test('a pod re-created under the same name keeps the old one answerable by uid', async (t) => {
  const sim = await startSim(t);
  const h = startHarness(t, sim, { nodeName: NODE });
  await readyWithin(h.reflectors);
  const reader = h.store.reader();
  sim.create('pods', podFor({ name: 'db-0', namespace: 'default', nodeName: NODE, uid: 'uid-old' }));
  await waitFor(() => reader.podByUid('uid-old'), 'the first db-0');
  sim.delete('pods', 'default', 'db-0');
  sim.create('pods', podFor({ name: 'db-0', namespace: 'default', nodeName: NODE, uid: 'uid-new' }));
  await waitFor(() => reader.podByUid('uid-new'), 'the second db-0');
  t.not(reader.podByUid('uid-old')?.deletedAt, undefined, 'the old one is retained');
  t.equal(reader.podByUid('uid-old')?.object.name, 'db-0');
  t.equal(reader.podByName('default', 'db-0')?.object.uid, 'uid-new', 'by name: the live one');
});

t.test('namespace and node label changes are visible at once', async (t) => {
  const sim = await startSim(t);
  const cluster = generateCluster({ seed: 3, nodes: 1, podsPerNode: 1, namespaces: 1 });
  loadCluster(sim, cluster);
  const nodeName = cluster.nodes[0]!.metadata.name;
  const h = startHarness(t, sim, { nodeName });
  await readyWithin(h.reflectors);
  const reader = h.store.reader();
  const before = reader.namespace('default')!;
  sim.patchLabels('namespaces', undefined, 'default', { team: 'platform' });
  sim.patchLabels('nodes', undefined, nodeName, { 'node.kubernetes.io/pool': 'spot' });
  const ns = await waitFor(() => (reader.namespace('default')?.object.labels.team === 'platform' ? reader.namespace('default') : undefined), 'namespace label');
  t.ok(ns.version > before.version);
  await waitFor(() => reader.node(nodeName)?.object.labels['node.kubernetes.io/pool'] === 'spot', 'node label');
  sim.patchLabels('namespaces', undefined, 'default', { team: null });
  await waitFor(() => reader.namespace('default')?.object.labels.team === undefined, 'label removal');
  t.pass('label changes arrived');
});

t.test('selectors reach the list and watch URLs: pods of another node never arrive', async (t) => {
  const sim = await startSim(t);
  const h = startHarness(t, sim, {
    nodeName: NODE,
    podFieldSelector: 'status.phase=Running',
    podLabelSelector: 'tier!=debug',
    namespaceLabelSelector: 'env=prod',
  });
  await readyWithin(h.reflectors);
  const reader = h.store.reader();
  sim.create('namespaces', namespaceFor({ name: 'prod-ns', labels: { env: 'prod' } }));
  sim.create('namespaces', namespaceFor({ name: 'dev-ns', labels: { env: 'dev' } }));
  sim.create('pods', podFor({ name: 'elsewhere', nodeName: 'node-b', uid: 'u-elsewhere' }));
  sim.create('pods', podFor({ name: 'pending', nodeName: NODE, uid: 'u-pending', phase: 'Pending' }));
  sim.create('pods', podFor({ name: 'debug', nodeName: NODE, uid: 'u-debug', labels: { tier: 'debug' } }));
  sim.create('pods', podFor({ name: 'mine', nodeName: NODE, uid: 'u-mine' }));
  // Events arrive in resourceVersion order: once the last one is here, the others would be too.
  await waitFor(() => reader.podByUid('u-mine'), 'this node\'s pod');
  await waitFor(() => reader.namespace('prod-ns'), 'the selected namespace');
  t.equal(reader.podByUid('u-elsewhere'), undefined, 'another node\'s pod never arrives');
  t.equal(reader.podByUid('u-pending'), undefined, 'podFieldSelector applies');
  t.equal(reader.podByUid('u-debug'), undefined, 'podLabelSelector applies');
  t.equal(reader.namespace('dev-ns'), undefined, 'namespaceLabelSelector applies');

  const podWatches = sim.requests.filter((r) => r.kind === 'pods' && r.verb === 'watch');
  t.ok(podWatches.length >= 1);
  for (const r of podWatches) {
    t.equal(r.query.fieldSelector, `spec.nodeName=${NODE},status.phase=Running`, 'field selector on the watch URL');
    t.equal(r.query.labelSelector, 'tier!=debug');
    t.equal(r.query.allowWatchBookmarks, 'true', 'bookmarks requested');
    t.match(r.query.timeoutSeconds, /^\d+$/, 'server-side watch timeout requested');
  }
  const podList = sim.requests.find((r) => r.kind === 'pods' && r.verb === 'list')!;
  t.equal(podList.query.fieldSelector, `spec.nodeName=${NODE},status.phase=Running`, 'and on the list URL');
  const nodeWatch = sim.requests.find((r) => r.kind === 'nodes' && r.verb === 'watch')!;
  t.equal(nodeWatch.query.fieldSelector, `metadata.name=${NODE}`, 'only this node is watched');
});

t.test('without a node name: all pods and all nodes; watchNodes/watchNamespaces false skip those kinds', async (t) => {
  const sim = await startSim(t);
  const cluster = generateCluster({ seed: 5, nodes: 2, podsPerNode: 3, namespaces: 1 });
  loadCluster(sim, cluster);
  const h = startHarness(t, sim, { watchNodes: false, watchNamespaces: false });
  await readyWithin(h.reflectors);
  t.same(h.reflectors.status().map((s) => s.kind), ['pods']);
  t.same(h.store.counts(), [
    { kind: 'pods', live: cluster.pods.length, retained: 0 },
    { kind: 'namespaces', live: 0, retained: 0 },
    { kind: 'nodes', live: 0, retained: 0 },
  ]);
  t.notOk(sim.requests.some((r) => r.kind === 'nodes' || r.kind === 'namespaces'), 'no request for unwatched kinds');
  t.equal(sim.requests.find((r) => r.kind === 'pods')!.query.fieldSelector, undefined);
});

/** Pods synced with 5 per page from a sim whose watch cache treats `limit` so; the pod list requests. */
async function syncedInPages(t: Test, watchCacheLimit: 'ignored' | 'honoured') {
  const sim = await startSim(t, { watchCacheLimit });
  const cluster = generateCluster({ seed: 9, nodes: 1, podsPerNode: 23, namespaces: 2 });
  loadCluster(sim, cluster);
  const h = startHarness(t, sim, { listPageSize: 5, watchNodes: false, watchNamespaces: false });
  await readyWithin(h.reflectors);
  t.equal(h.store.counts()[0]!.live, cluster.pods.length, 'every pod stored');
  return { sim, cluster, lists: sim.requests.filter((r) => r.kind === 'pods' && r.verb === 'list') };
}

t.test('a list in pages (an API server whose watch cache honours limit): every page stored, the watch from the list\'s RV', async (t) => {
  const { sim, cluster, lists } = await syncedInPages(t, 'honoured');
  t.equal(lists.length, Math.ceil(cluster.pods.length / 5), 'one request per page');
  t.same(lists[0]!.query, { limit: '5', resourceVersion: '0' }, 'the first page from the watch cache');
  t.ok(lists.slice(1).every((r) => typeof r.query.continue === 'string' && r.query.resourceVersion === undefined && r.query.limit === '5'), 'pages after the first carry the continue token only');
  const watch = await waitFor(() => sim.requests.find((r) => r.kind === 'pods' && r.verb === 'watch'), 'the watch');
  t.equal(watch.query.resourceVersion, sim.resourceVersion);
});

t.test('an API server whose watch cache ignores limit answers in one page: that is the whole list', async (t) => {
  const { lists } = await syncedInPages(t, 'ignored');
  t.same(lists.map((r) => r.query), [{ limit: '5', resourceVersion: '0' }], 'one request');
});
