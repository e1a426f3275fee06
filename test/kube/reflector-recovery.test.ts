/** Reflectors with the real client against the simulated API server: faults and recovery. */
import t from 'tap';
import { namespaceFor, nodeFor, podFor } from '../../src/sim/index.ts';
import { Registry } from 'prom-client';
import { createMetrics } from '../../src/metrics/index.ts';
import { RetainingStore } from '../../src/store/index.ts';
import { Reflector } from '../../src/kube/reflector.ts';
import { FAST_BACKOFF, captureLogger, kubeConfigFor, metricValue, readyWithin, startHarness, startSim, waitFor } from './helpers.ts';

const NODE = 'node-a';
const pod = (name: string, uid: string) => podFor({ name, uid, nodeName: NODE, namespace: 'default' });

t.test('a watch closed by the server is re-opened from the same resourceVersion, without a relist', async (t) => {
  const sim = await startSim(t);
  sim.create('pods', pod('a', 'ua'));
  const h = startHarness(t, sim, { nodeName: NODE, watchNodes: false, watchNamespaces: false });
  await readyWithin(h.reflectors);
  await sim.waitForWatchCount(1);
  const rvBefore = sim.resourceVersion;
  sim.faults.closeWatches();
  sim.create('pods', pod('b', 'ub'));
  await waitFor(() => h.store.reader().podByUid('ub'), 'the pod created after the close');
  const watches = sim.requests.filter((r) => r.verb === 'watch');
  t.ok(watches.length >= 2, 're-watched');
  t.equal(watches[1]!.query.resourceVersion, rvBefore, 'from the last resourceVersion');
  t.equal(sim.requests.filter((r) => r.verb === 'list').length, 1, 'no relist');
  t.equal(await metricValue(h.metrics, 'watch_restarts_total', { kind: 'pods', reason: 'closed' }), 1);
  t.equal(await metricValue(h.metrics, 'relists_total', {}), 0);
});

t.test('410 Expired: relist, and objects deleted during the gap are marked deleted (retained)', async (t) => {
  const sim = await startSim(t);
  sim.create('pods', pod('stays', 'u-stays'));
  sim.create('pods', pod('goes', 'u-goes'));
  const h = startHarness(t, sim, { nodeName: NODE, watchNodes: false, watchNamespaces: false });
  await readyWithin(h.reflectors);
  const reader = h.store.reader();
  await sim.waitForWatchCount(1);

  // The API server goes away; meanwhile a pod is deleted, one is created, and history is compacted.
  await sim.stop();
  sim.delete('pods', 'default', 'goes');
  sim.create('pods', pod('new', 'u-new'));
  sim.faults.compact();
  await sim.restart();

  await waitFor(() => reader.podByUid('u-new'), 'the pod created during the gap');
  const gone = reader.podByUid('u-goes');
  t.not(gone?.deletedAt, undefined, 'the pod deleted during the gap is marked deleted');
  t.equal(reader.podByName('default', 'goes')?.object.uid, 'u-goes', 'and is still answerable (retained)');
  t.equal(reader.podByUid('u-stays')?.deletedAt, undefined);
  t.same(h.store.counts()[0], { kind: 'pods', live: 2, retained: 1 });
  t.equal(await metricValue(h.metrics, 'relists_total', { kind: 'pods', reason: 'expired' }), 1);
  t.equal(await metricValue(h.metrics, 'watch_restarts_total', { kind: 'pods', reason: 'expired' }), 1);
  t.equal(h.reflectors.status()[0]!.lastError, undefined, 'error cleared after recovery');

  // Later events keep flowing after the relist.
  sim.create('pods', pod('after', 'u-after'));
  await waitFor(() => reader.podByUid('u-after'), 'a pod created after the relist');
});

t.test('API server down at start-up, then up: retries with backoff, synced once it answers', async (t) => {
  const sim = await startSim(t);
  sim.create('pods', pod('a', 'ua'));
  await sim.stop();
  const h = startHarness(t, sim, { nodeName: NODE, watchNodes: false, watchNamespaces: false });
  const status = await waitFor(() => h.reflectors.status()[0]!.lastError, 'a recorded connection error');
  t.match(status, /cannot reach the API server/);
  t.equal(h.reflectors.status()[0]!.synced, false);
  await waitFor(async () => (await metricValue(h.metrics, 'api_errors_total', { kind: 'pods', code: 'connection' })) >= 3, 'several retries');
  t.equal(h.lines.filter((l) => l.code === 'connection' && l.level >= 40).length, 1, 'one warning for the whole outage, not one per retry');

  await sim.restart();
  await readyWithin(h.reflectors);
  t.ok(h.store.reader().podByUid('ua'));
  t.equal(h.reflectors.status()[0]!.lastError, undefined);
  t.ok(h.lines.some((l) => l.level === 30 && /working again/.test(l.msg)), 'recovery logged');
});

t.test('500s for a while, on lists and on watches: retried, then recovered with nothing lost', async (t) => {
  const sim = await startSim(t);
  sim.create('pods', pod('a', 'ua'));
  sim.faults.failNext(4, 500, { verb: 'list', kind: 'pods' });
  const h = startHarness(t, sim, { nodeName: NODE, watchNodes: false, watchNamespaces: false });
  await readyWithin(h.reflectors);
  t.equal(await metricValue(h.metrics, 'api_errors_total', { kind: 'pods', code: 'http_5xx' }), 4);
  t.equal(h.lines.filter((l) => l.code === 'http_5xx' && l.level >= 40).length, 1, 'one log line for the failing state');

  await sim.waitForWatchCount(1);
  sim.faults.failNext(3, 503, { verb: 'watch', kind: 'pods' });
  sim.faults.closeWatches();
  sim.create('pods', pod('b', 'ub'));
  await waitFor(() => h.store.reader().podByUid('ub'), 'the pod created while watches failed');
  t.equal(await metricValue(h.metrics, 'api_errors_total', { kind: 'pods', code: 'http_5xx' }), 7);
  t.equal(await metricValue(h.metrics, 'watch_restarts_total', { kind: 'pods', reason: 'http_5xx' }), 3);
  t.equal(sim.requests.filter((r) => r.verb === 'list').length, 5, 'watch failures re-watch, they do not relist');
});

t.test('a watch socket destroyed mid-stream is re-opened', async (t) => {
  const sim = await startSim(t);
  const h = startHarness(t, sim, { nodeName: NODE, watchNodes: false, watchNamespaces: false });
  await readyWithin(h.reflectors);
  await sim.waitForWatchCount(1);
  sim.faults.destroyWatches();
  sim.create('pods', pod('b', 'ub'));
  await waitFor(() => h.store.reader().podByUid('ub'), 'the pod created after the cut');
  t.ok((await metricValue(h.metrics, 'watch_restarts_total', { kind: 'pods' })) >= 1);
});

t.test('a dead connection that sends nothing is detected within watchTimeoutMs and re-opened', async (t) => {
  const sim = await startSim(t);
  const h = startHarness(t, sim, { nodeName: NODE, watchNodes: false, watchNamespaces: false, watchTimeoutMs: 300 });
  await readyWithin(h.reflectors);
  await sim.waitForWatchCount(1);
  sim.faults.silenceWatches(true);
  sim.create('pods', pod('unseen', 'u-unseen'));
  await waitFor(async () => (await metricValue(h.metrics, 'watch_restarts_total', { kind: 'pods', reason: 'timeout' })) >= 1, 'a timeout restart');
  t.equal(h.store.reader().podByUid('u-unseen'), undefined, 'nothing arrives over a dead connection');
  sim.faults.silenceWatches(false);
  await waitFor(() => h.store.reader().podByUid('u-unseen'), 'the pod, once a live watch is open again');
  t.equal(sim.requests.filter((r) => r.verb === 'list').length, 1, 'resumed from the resourceVersion, no relist');
});

t.test('bookmarks keep the resourceVersion fresh: a re-watch after compaction needs no relist', async (t) => {
  const sim = await startSim(t, { bookmarkIntervalMs: 30 });
  sim.create('nodes', nodeFor({ name: 'node-z' }));
  const metrics = createMetrics(new Registry(), { processMetrics: false });
  const store = new RetainingStore({ deletionDelayMs: 60_000 });
  const reflector = new Reflector({
    kind: 'pods', path: '/api/v1/pods', fieldSelector: `spec.nodeName=${NODE}`,
    kubeConfig: kubeConfigFor(t, sim), writer: store.writer(), metrics, logger: captureLogger().logger, backoff: FAST_BACKOFF, watchTimeoutMs: 5000,
  });
  reflector.start();
  t.teardown(async () => {
    await reflector.stop();
    store.close();
  });
  await waitFor(() => reflector.status().synced, 'the initial list');
  const listedAt = reflector.resourceVersion;
  // Changes elsewhere (another kind) move the global resourceVersion on; no pod event will come.
  for (let i = 0; i < 5; i++) sim.patchLabels('nodes', undefined, 'node-z', { round: String(i) });
  sim.create('namespaces', namespaceFor({ name: 'elsewhere' }));
  const target = sim.resourceVersion;
  t.not(target, listedAt);
  await waitFor(() => reflector.resourceVersion === target, 'a BOOKMARK carrying the current resourceVersion');

  sim.faults.compact();
  sim.faults.closeWatches();
  await waitFor(() => sim.requests.filter((r) => r.verb === 'watch').length >= 2, 'the re-watch');
  t.equal(sim.requests.filter((r) => r.verb === 'watch')[1]!.query.resourceVersion, target, 're-watched from the bookmark\'s resourceVersion');
  sim.create('pods', pod('late', 'u-late'));
  await waitFor(() => store.reader().podByUid('u-late'), 'events after the re-watch');
  t.equal(await metricValue(metrics, 'relists_total', {}), 0, 'no relist needed');
  t.equal(sim.requests.filter((r) => r.verb === 'list').length, 1);
});

t.test('without bookmarks the same gap costs a relist (the reason to ask for them)', async (t) => {
  const sim = await startSim(t); // bookmarks every 60 s: none during this test
  sim.create('nodes', nodeFor({ name: 'node-z' }));
  const h = startHarness(t, sim, { nodeName: NODE, watchNodes: false, watchNamespaces: false });
  await readyWithin(h.reflectors);
  await sim.waitForWatchCount(1);
  sim.patchLabels('nodes', undefined, 'node-z', { round: '1' });
  sim.faults.compact();
  sim.faults.closeWatches();
  await waitFor(() => sim.requests.filter((r) => r.verb === 'list' && r.status === 200).length === 2, 'a relist after 410');
  t.equal(await metricValue(h.metrics, 'relists_total', { kind: 'pods', reason: 'expired' }), 1);
});
