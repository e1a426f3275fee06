// The real @kubernetes/client-node informer against the simulated server: what the reflector relies on.
import t from 'tap';
import { CoreV1Api, KubeConfig, ListWatch, Watch, makeInformer } from '@kubernetes/client-node';
import type { V1Pod } from '@kubernetes/client-node';
import { startSimApiServer, podFor, namespaceFor } from '../../src/sim/index.ts';
import type { SimApiServer } from '../../src/sim/index.ts';
import { eventually } from './watch-reader.ts';

function kubeConfigFor(sim: SimApiServer, token?: string): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromString(token === undefined ? sim.kubeconfigYaml() : sim.kubeconfigYaml({ token }));
  return kc;
}

function cachedNames(informer: { list(): ReadonlyArray<V1Pod> }): string[] {
  return informer.list().map((p) => `${p.metadata?.namespace}/${p.metadata?.name}`).sort();
}

t.test('a ListWatch on one node (field selector) keeps a correct cache through add/update/delete and a 410', async (t) => {
  const sim = await startSimApiServer();
  t.teardown(() => sim.close());
  sim.create('namespaces', namespaceFor({ name: 'shop' }));
  sim.create('pods', podFor({ name: 'a', namespace: 'shop', nodeName: 'node-a', labels: { app: 'cart' } }));
  sim.create('pods', podFor({ name: 'b', namespace: 'shop', nodeName: 'node-a' }));
  sim.create('pods', podFor({ name: 'elsewhere', namespace: 'shop', nodeName: 'node-b' }));

  const kc = kubeConfigFor(sim);
  const api = kc.makeApiClient(CoreV1Api);
  const fieldSelector = 'spec.nodeName=node-a';
  const errors: unknown[] = [];
  const informer = new ListWatch<V1Pod>('/api/v1/pods', new Watch(kc), () => api.listPodForAllNamespaces({ fieldSelector }), false, undefined, fieldSelector);
  informer.on('error', (err) => errors.push(err));
  t.teardown(() => informer.stop());
  await informer.start();
  t.same(cachedNames(informer), ['shop/a', 'shop/b'], 'the initial list, filtered by node');
  await sim.waitForWatchCount(1);
  const watchRequest = sim.requests.find((r) => r.verb === 'watch');
  t.match(watchRequest, { path: '/api/v1/pods', query: { watch: 'true', fieldSelector, resourceVersion: /^\d+$/ } });

  sim.create('pods', podFor({ name: 'c', namespace: 'shop', nodeName: 'node-a' }));
  sim.create('pods', podFor({ name: 'd', namespace: 'shop', nodeName: 'node-b' }));
  sim.patchLabels('pods', 'shop', 'a', { app: 'basket' });
  sim.delete('pods', 'shop', 'b');
  await eventually(() => cachedNames(informer).join() === 'shop/a,shop/c', 'add and delete reach the cache');
  t.equal(informer.get('a', 'shop')?.metadata?.labels?.app, 'basket', 'the update reached the cache');
  t.equal(informer.latestResourceVersion(), sim.resourceVersion);

  // Dead connection while things change, history compacted, then the stream ends: the client's
  // re-watch from its old RV gets 410, so it relists and the cache converges.
  sim.faults.silenceWatches(true);
  sim.delete('pods', 'shop', 'c');
  sim.create('pods', podFor({ name: 'e', namespace: 'shop', nodeName: 'node-a' }));
  sim.patchLabels('pods', 'shop', 'a', { app: 'cart-v2' });
  sim.faults.compact();
  sim.faults.silenceWatches(false);
  const listsBefore = sim.requests.filter((r) => r.verb === 'list').length;
  sim.faults.closeWatches();
  await eventually(() => cachedNames(informer).join() === 'shop/a,shop/e' && informer.get('a', 'shop')?.metadata?.labels?.app === 'cart-v2', 'relist after 410');
  t.ok(sim.requests.filter((r) => r.verb === 'list').length > listsBefore, 'the client relisted');
  t.ok(sim.requests.some((r) => r.verb === 'watch' && r.status === 200), 'watches answered');
  await eventually(() => sim.watchCount === 1, 'the client watches again');
  sim.create('pods', podFor({ name: 'f', namespace: 'shop', nodeName: 'node-a' }));
  await eventually(() => cachedNames(informer).includes('shop/f'), 'events flow after the relist');
  t.same(errors, [], 'no error surfaced');
});

t.test('makeInformer with a label selector and a bearer token; ADDED/DELETED on selector transitions', async (t) => {
  const sim = await startSimApiServer({ token: 'sim-secret' });
  t.teardown(() => sim.close());
  sim.create('pods', podFor({ name: 'a', namespace: 'shop', labels: { app: 'cart' } }));
  sim.create('pods', podFor({ name: 'b', namespace: 'shop', labels: { app: 'web' } }));
  const kc = kubeConfigFor(sim);
  const api = kc.makeApiClient(CoreV1Api);
  const labelSelector = 'app=cart';
  const informer = makeInformer<V1Pod>(kc, '/api/v1/namespaces/shop/pods', () => api.listNamespacedPod({ namespace: 'shop', labelSelector }), labelSelector);
  const seen: string[] = [];
  informer.on('add', (p) => seen.push(`add ${p.metadata?.name}`));
  informer.on('update', (p) => seen.push(`update ${p.metadata?.name}`));
  informer.on('delete', (p) => seen.push(`delete ${p.metadata?.name}`));
  t.teardown(() => informer.stop());
  await informer.start();
  t.same(cachedNames(informer), ['shop/a']);
  await sim.waitForWatchCount(1);
  sim.patchLabels('pods', 'shop', 'a', { app: 'other' });
  sim.patchLabels('pods', 'shop', 'b', { app: 'cart' });
  await eventually(() => cachedNames(informer).join() === 'shop/b', 'selector transitions reach the cache');
  t.same(seen, ['add a', 'delete a', 'add b']);
  t.ok(sim.requests.every((r) => r.status === 200), 'every request carried the token');

  const wrong = kubeConfigFor(sim, 'wrong');
  await t.rejects(wrong.makeApiClient(CoreV1Api).listNamespacedPod({ namespace: 'shop' }), { code: 401 });
});

t.test('client-node stops on a failing list and on a destroyed watch socket (what the reflector must handle)', async (t) => {
  const sim = await startSimApiServer();
  t.teardown(() => sim.close());
  sim.create('pods', podFor({ name: 'a', namespace: 'shop' }));
  const kc = kubeConfigFor(sim);
  const api = kc.makeApiClient(CoreV1Api);
  const errors: unknown[] = [];
  const informer = new ListWatch<V1Pod>('/api/v1/pods', new Watch(kc), () => api.listPodForAllNamespaces(), false);
  informer.on('error', (err) => errors.push(err));
  t.teardown(() => informer.stop());

  sim.faults.failNext(1, 503, { verb: 'list', kind: 'pods' });
  await informer.start();
  t.equal(errors.length, 1, 'start() resolved, the error callback fired');
  t.match(errors[0], { code: 503 });
  t.equal(sim.watchCount, 0, 'no watch after a failed list');

  await informer.start();
  await sim.waitForWatchCount(1);
  t.same(cachedNames(informer), ['shop/a']);
  sim.faults.destroyWatches();
  await eventually(() => errors.length === 2, 'the destroyed socket is reported');
  t.match(String(errors[1]), /terminated/);
});
