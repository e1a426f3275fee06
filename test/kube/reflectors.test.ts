/** startReflectors' own duties: which kinds with which selectors, readiness, and a clean stop. */
import t from 'tap';
import { reflectorTargets } from '../../src/kube/index.ts';
import { readyWithin, startHarness, startSim, waitFor } from './helpers.ts';

t.test('targets: node name, user selectors and the watch flags map onto paths and selectors', async (t) => {
  t.same(reflectorTargets({ nodeName: 'node-a', podFieldSelector: ' status.phase!=Succeeded ', podLabelSelector: 'app', namespaceLabelSelector: 'team=x', watchNodes: true, watchNamespaces: true }), [
    { kind: 'pods', path: '/api/v1/pods', labelSelector: 'app', fieldSelector: 'spec.nodeName=node-a,status.phase!=Succeeded' },
    { kind: 'namespaces', path: '/api/v1/namespaces', labelSelector: 'team=x', fieldSelector: undefined },
    { kind: 'nodes', path: '/api/v1/nodes', labelSelector: undefined, fieldSelector: 'metadata.name=node-a' },
  ]);
  t.same(reflectorTargets({ nodeName: '  ', podLabelSelector: '', watchNodes: true, watchNamespaces: false }), [
    { kind: 'pods', path: '/api/v1/pods', labelSelector: undefined, fieldSelector: undefined },
    { kind: 'nodes', path: '/api/v1/nodes', labelSelector: undefined, fieldSelector: undefined },
  ], 'a blank node name means all pods and all nodes');
});

t.test('ready() resolves at once when synced; stop() ends every loop, even mid-backoff', async (t) => {
  const sim = await startSim(t);
  const h = startHarness(t, sim, { nodeName: 'node-a' });
  await readyWithin(h.reflectors);
  await h.reflectors.ready();
  await sim.stop();
  // Let the reflectors fail and go to sleep in a long backoff, then stop them.
  const slow = startHarness(t, sim, { nodeName: 'node-a', backoff: { initialMs: 60_000, maxMs: 60_000, factor: 1, jitter: 0 } });
  const notReady = slow.reflectors.ready();
  await waitFor(() => slow.reflectors.status().every((s) => s.lastError !== undefined), 'every reflector failed once');
  await slow.reflectors.stop();
  await t.rejects(notReady, /stopped before their initial sync/);
  await t.rejects(slow.reflectors.ready(), /stopped before their initial sync/);
  t.same(slow.reflectors.status().map((s) => s.synced), [false, false, false]);
  await h.reflectors.stop();
  await h.reflectors.stop(); // idempotent
  t.pass('stopped; this file exits by itself');
});
