/**
 * The pre-rendered metadata of a file is reused while nothing changes and re-rendered on the
 * next line once its pod, namespace or node changes in the store; include groups shape it.
 */
import t from 'tap';
import { criLine } from '../builders/lines.ts';
import { cluster, harness, k8s, logPath } from './helpers.ts';

t.test('namespace, node and pod changes show in the next event', async (t) => {
  const c = cluster();
  t.teardown(() => c.close());
  c.addNamespace({ name: 'shop', labels: { team: 'shop' } });
  c.addNode({ name: 'node-a', labels: { pool: 'general' } });
  const uid = '55555555-5555-4555-8555-555555555555';
  const pod = c.addPod({ name: 'cart-0', namespace: 'shop', uid, nodeName: 'node-a', labels: { version: '1' } });
  const h = harness(c);
  const file = logPath(pod);
  const next = (): Record<string, unknown> => k8s(h.parsed([{ file, line: criLine({ message: 'x' }) }])[0]);

  const first = next();
  t.equal((first.namespace_labels as Record<string, string>).team, 'shop');
  t.equal((first.node_labels as Record<string, string>).pool, 'general');
  t.same(next(), first, 'unchanged store, identical metadata');

  c.addNamespace({ name: 'shop', labels: { team: 'checkout' } });
  t.equal((next().namespace_labels as Record<string, string>).team, 'checkout', 'namespace label change');

  c.addNode({ name: 'node-a', labels: { pool: 'spot' } });
  t.equal((next().node_labels as Record<string, string>).pool, 'spot', 'node label change');

  c.addPod({ name: 'cart-0', namespace: 'shop', uid, nodeName: 'node-a', labels: { version: '2' } });
  t.same(next().pod_labels, { version: '2' }, 'pod label change');
});

t.test('a pod that appears after its first lines: later lines are matched', async (t) => {
  const c = cluster();
  t.teardown(() => c.close());
  const h = harness(c);
  const uid = '66666666-6666-4666-8666-666666666666';
  const file = logPath({ metadata: { name: 'late-0', namespace: 'default', uid }, spec: { containers: [{ name: 'late', image: 'x' }] }, status: { phase: 'Running' } });
  const [before] = h.parsed([{ file, line: criLine({ message: 'early' }) }]);
  t.equal(k8s(before).unmatched_reason, 'pod_not_found');
  c.addPod({ name: 'late-0', uid, containers: ['late'] });
  const [after] = h.parsed([{ file, line: criLine({ message: 'later' }) }]);
  t.notOk('unmatched_reason' in k8s(after));
  t.equal(k8s(after).container_name, 'late');
});

t.test('include groups: each label and annotation map can be switched on or off', async (t) => {
  const c = cluster();
  t.teardown(() => c.close());
  c.addNamespace({ name: 'shop', labels: { team: 'shop' }, annotations: { owner: 'alice' } });
  c.addNode({ name: 'node-a', annotations: { 'example.com/rack': 'r1' } });
  const pod = c.addPod({ name: 'cart-0', namespace: 'shop', nodeName: 'node-a', labels: { app: 'cart' }, annotations: { note: 'hi' } });
  const line = { file: logPath(pod), line: criLine({ message: 'x' }) };

  const none = harness(c, { include: { podLabels: false, podAnnotations: false, namespaceLabels: false, nodeLabels: false } });
  const bare = k8s(none.parsed([line])[0]);
  for (const key of ['pod_labels', 'pod_annotations', 'namespace_labels', 'namespace_annotations', 'node_labels', 'node_annotations']) t.notOk(key in bare, `${key} off`);
  t.equal(bare.pod_name, 'cart-0', 'identity fields stay');

  const all = harness(c, { include: { namespaceAnnotations: true, nodeAnnotations: true } });
  const full = k8s(all.parsed([line])[0]);
  t.same(full.namespace_annotations, { owner: 'alice' });
  t.equal((full.node_annotations as Record<string, string>)['example.com/rack'], 'r1');

  const otel = harness(c, { schema: 'otel', include: { podLabels: false, nodeLabels: false, namespaceLabels: false, podAnnotations: false } });
  const resource = otel.parsed([line])[0]!.resource as Record<string, unknown>;
  t.same(Object.keys(resource).filter((k) => /\.(label|annotation)\./.test(k)), [], 'no per-key attributes when off');
});

t.test('more files than the table of recent files has slots: every line gets its own pod', async (t) => {
  const c = cluster();
  t.teardown(() => c.close());
  // 1500 pods whose paths differ by little (same lengths, one counter in the name and uid), so
  // several share a slot of the 1024-slot table and evict each other, in both path layouts.
  const files: [string, string][] = [];
  for (let i = 0; i < 1500; i++) {
    const n = String(i).padStart(4, '0');
    const pod = c.addPod({ name: `web-${n}`, namespace: 'default', uid: `00000000-0000-4000-8000-00000000${n}`, containers: ['app'] });
    files.push([logPath(pod), `web-${n}`]);
  }
  const h = harness(c);
  // Twice through, interleaving far-apart files; each event carries its own copy of its path,
  // as one parsed from a request body does.
  const order = [...files.keys(), ...files.keys()].map((i) => (i * 7) % files.length);
  const events = order.map((i) => ({ file: `${files[i]![0]} `.trimEnd(), line: criLine({ message: files[i]![1] }) }));
  const out = h.parsed(events);
  t.equal(out.length, events.length);
  const wrong = out.filter((e, k) => k8s(e).pod_name !== files[order[k]!]![1] || e.message !== files[order[k]!]![1]);
  t.equal(wrong.length, 0, 'no line got another file\'s pod');
});
