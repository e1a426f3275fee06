/**
 * Pods and containers opted out of log collection are skipped (counted, never returned).
 */
import t from 'tap';
import { criLine } from '../builders/lines.ts';
import { cluster, counterValue, harness, k8s, logPath } from './helpers.ts';

const LABEL = 'logs.kube-log-enricher.io/exclude';
const CONTAINERS = 'logs.kube-log-enricher.io/exclude-containers';

t.test('a pod labelled or annotated "true" is skipped', async (t) => {
  const c = cluster();
  t.teardown(() => c.close());
  const h = harness(c);
  const byLabel = c.addPod({ name: 'noisy-0', labels: { [LABEL]: 'true' } });
  const byAnnotation = c.addPod({ name: 'noisy-1', annotations: { [LABEL]: ' True ' } });
  const notExcluded = c.addPod({ name: 'quiet-0', labels: { [LABEL]: 'false' } });
  const result = h.run([
    { file: logPath(byLabel), line: criLine({ message: 'a' }) },
    { file: logPath(byAnnotation), line: criLine({ message: 'b' }) },
    { file: logPath(notExcluded), line: criLine({ message: 'c' }) },
  ]);
  t.same(result.records.map((r) => r.origin.podName), ['quiet-0']);
  t.equal(result.excluded, 2);
  t.same(result.errors, []);
  t.equal(await counterValue(h.metrics, 'eventsExcluded'), 2);
  t.equal(await counterValue(h.metrics, 'eventsIn', { route: 'enrich' }), 3);
  const fromSource = h.enricher.enrichMessages(
    [logPath(byLabel), logPath(notExcluded)],
    [{ timestamp: '2026-11-23T10:00:00Z', stream: 'stdout', message: 'x' }, { timestamp: '2026-11-23T10:00:00Z', stream: 'stdout', message: 'y' }],
  );
  t.same(fromSource.map((r) => r.origin.podName), ['quiet-0'], 'the source path skips it too');
  t.equal(await counterValue(h.metrics, 'eventsExcluded'), 3);
  t.equal(await counterValue(h.metrics, 'eventsIn', { route: 'agent' }), 2);
  t.equal(await counterValue(h.metrics, 'eventsOut', { route: 'agent' }), 1);
});

t.test('a comma-separated container list skips those containers only', async (t) => {
  const c = cluster();
  t.teardown(() => c.close());
  const h = harness(c);
  const pod = c.addPod({ name: 'mesh-0', containers: ['app', 'istio-proxy', 'log-shipper'], annotations: { [CONTAINERS]: 'istio-proxy, log-shipper' } });
  const result = h.run(['app', 'istio-proxy', 'log-shipper'].map((name) => ({ file: logPath(pod, name), line: criLine({ message: name }) })));
  t.same(result.records.map((r) => r.origin.containerName), ['app']);
  t.equal(result.excluded, 2);
});

t.test('the exclusion keys are configurable', async (t) => {
  const c = cluster();
  t.teardown(() => c.close());
  const h = harness(c, { exclude: { label: 'vector.dev/exclude', annotation: 'fluentbit.io/exclude', containersAnnotation: 'vector.dev/exclude-containers' } });
  const a = c.addPod({ name: 'a', labels: { 'vector.dev/exclude': 'true' } });
  const b = c.addPod({ name: 'b', annotations: { 'fluentbit.io/exclude': 'true' } });
  const d = c.addPod({ name: 'd', containers: ['x', 'y'], annotations: { 'vector.dev/exclude-containers': 'y' } });
  const e = c.addPod({ name: 'e', labels: { [LABEL]: 'true' } });
  const result = h.run([a, b, d, e].map((pod) => ({ file: logPath(pod, pod === d ? 'y' : undefined), line: criLine({ message: '.' }) })));
  t.same(result.records.map((r) => r.origin.podName), ['e'], 'the default keys no longer apply');
  t.equal(result.excluded, 3);
});

t.test('fragments of an excluded container are not held for merging', async (t) => {
  const c = cluster();
  t.teardown(() => c.close());
  const h = harness(c);
  const pod = c.addPod({ name: 'noisy', labels: { [LABEL]: 'true' } });
  const result = h.run([
    { file: logPath(pod), line: criLine({ partial: true, message: 'part' }) },
    { file: logPath(pod), line: criLine({ message: 'end' }) },
  ]);
  t.equal(result.excluded, 2);
  t.equal(h.session.pendingBytes, 0);
  t.same(h.session.flush().records, []);
});

t.test('labelling a running pod excluded takes effect on its next line', async (t) => {
  const c = cluster();
  t.teardown(() => c.close());
  const h = harness(c);
  const pod = c.addPod({ name: 'api-0', uid: '44444444-4444-4444-8444-444444444444' });
  const file = logPath(pod);
  t.equal(h.run([{ file, line: criLine({ message: 'before' }) }]).records.length, 1);
  c.addPod({ name: 'api-0', uid: '44444444-4444-4444-8444-444444444444', labels: { [LABEL]: 'true' } });
  t.equal(h.run([{ file, line: criLine({ message: 'after' }) }]).excluded, 1);
});

t.test('the exclude label or annotation on a namespace skips all its pods', async (t) => {
  const c = cluster();
  t.teardown(() => c.close());
  const h = harness(c);
  c.addNamespace({ name: 'noisy', labels: { [LABEL]: 'true' } });
  c.addNamespace({ name: 'chatty', annotations: { [LABEL]: 'true' } });
  c.addNamespace({ name: 'shop' });
  const pods = ['noisy', 'chatty', 'shop'].map((namespace) => c.addPod({ name: `app-${namespace}`, namespace }));
  const result = h.run(pods.map((pod) => ({ file: logPath(pod), line: criLine({ message: 'x' }) })));
  t.same(result.records.map((r) => r.origin.namespace), ['shop']);
  t.equal(result.excluded, 2);
});

t.test('opt-in: only pods, or pods of namespaces, that ask are emitted', async (t) => {
  const c = cluster();
  t.teardown(() => c.close());
  const INCLUDE = 'logs.kube-log-enricher.io/include';
  const h = harness(c, { exclude: { mode: 'opt-in' } });
  c.addNamespace({ name: 'team-a', labels: { [INCLUDE]: 'true' } });
  c.addNamespace({ name: 'team-b' });
  const inNamespace = c.addPod({ name: 'a-0', namespace: 'team-a' });
  const excludedInside = c.addPod({ name: 'a-1', namespace: 'team-a', labels: { [LABEL]: 'true' } });
  const byAnnotation = c.addPod({ name: 'b-0', namespace: 'team-b', annotations: { [INCLUDE]: 'true' } });
  const silent = c.addPod({ name: 'b-1', namespace: 'team-b' });
  const result = h.run([
    ...[inNamespace, excludedInside, byAnnotation, silent].map((pod) => ({ file: logPath(pod), line: criLine({ message: 'x' }) })),
    { file: '/var/log/pods/team-a_gone-0_9f0e2b7c-1111-4a4a-8b8b-000000000000/app/0.log', line: criLine({ message: 'unknown pod' }) },
  ]);
  t.same(result.records.map((r) => r.origin.podName), ['a-0', 'b-0'], 'a namespace that opts in, and a pod that does; exclusion still wins; an unknown pod is out');
  t.equal(result.excluded, 3);

  const custom = harness(c, { exclude: { mode: 'opt-in', optInKey: 'example.com/logs' } });
  const asks = c.addPod({ name: 'b-2', namespace: 'team-b', labels: { 'example.com/logs': 'true' } });
  t.same(custom.run([asks, inNamespace].map((pod) => ({ file: logPath(pod), line: criLine({ message: 'x' }) }))).records.map((r) => r.origin.podName), ['b-2'], 'the key is configurable');
});

t.test('opt-in while the pods are still being listed: lines go out marked pending, not lost', async (t) => {
  const c = cluster();
  t.teardown(() => c.close());
  for (const kind of ['pods', 'namespaces'] as const) c.store.expectSync(kind);
  const h = harness(c, { exclude: { mode: 'opt-in' } });
  const file = '/var/log/pods/team-a_early-0_9f0e2b7c-2222-4a4a-8b8b-000000000000/app/0.log';
  const [early] = h.parsed([{ file, line: criLine({ message: 'early' }) }]);
  t.same(k8s(early).pending_metadata, ['pod', 'namespace'], 'emitted, marked pending');
  const pod = c.addPod({ name: 'known-0', namespace: 'team-b' });
  const [known] = h.parsed([{ file: logPath(pod), line: criLine({ message: 'x' }) }]);
  t.same(k8s(known).pending_metadata, ['namespace'], 'its namespace could still let it in: emitted, marked');
});
