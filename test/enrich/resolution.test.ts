/**
 * From a log path to the right pod: retention after deletion, static pods, a pod re-created under
 * the same name, the /var/log/containers layout, and every reason an event comes back unmatched.
 */
import t from 'tap';
import type { DecodedMessage } from '../../src/enrich/index.ts';
import { criLine, configHash, containerId, containerLogPath, podLogPath } from '../builders/lines.ts';
import { cluster, counterValue, DELETION_DELAY_MS, harness, k8s, logPath } from './helpers.ts';

t.test('a pod deleted seconds ago still enriches; after the deletion delay it is not found', async (t) => {
  const c = cluster();
  t.teardown(() => c.close());
  const h = harness(c);
  const pod = c.addPod({ name: 'batch-worker', namespace: 'default', labels: { app: 'batch' } });
  const file = logPath(pod);
  c.deletePod(pod);
  c.clock.advance(5_000);

  const [late] = h.parsed([{ file, line: criLine({ message: 'last words' }) }]);
  t.equal(k8s(late).pod_name, 'batch-worker');
  t.same(k8s(late).pod_labels, { app: 'batch' });
  t.notOk('unmatched_reason' in k8s(late));
  const resolution = h.enricher.resolve(file);
  t.equal(resolution.matched, true);
  t.equal(resolution.pod?.deletedAt, c.clock.ms - 5_000, 'the lookup says the pod is deleted and retained');
  t.equal(resolution.pod?.expiresAt, c.clock.ms - 5_000 + DELETION_DELAY_MS);

  c.clock.advance(DELETION_DELAY_MS);
  const [gone] = h.parsed([{ file, line: criLine({ message: 'too late' }) }]);
  t.equal(k8s(gone).unmatched_reason, 'pod_not_found');
  t.equal(k8s(gone).pod_name, 'batch-worker', 'the identity from the path is kept');
  t.notOk('pod_labels' in k8s(gone));
});

t.test('static pods: the directory uid is the config hash, answered by the mirror pod', async (t) => {
  const c = cluster();
  t.teardown(() => c.close());
  const h = harness(c);
  const hash = configHash('etcd manifest');
  const mirror = c.addPod({
    name: 'etcd-node-a',
    namespace: 'kube-system',
    nodeName: 'node-a',
    staticHash: hash,
    labels: { component: 'etcd', tier: 'control-plane' },
    containers: [{ name: 'etcd', image: 'registry.k8s.io/etcd:3.5.16-0' }],
  });
  t.not(mirror.metadata.uid, hash, 'the mirror pod has its own API uid');
  const file = podLogPath({ namespace: 'kube-system', pod: 'etcd-node-a', uid: hash, container: 'etcd' });
  const [event] = h.parsed([{ file, line: criLine({ message: 'raft: elected leader' }) }]);
  t.equal(k8s(event).pod_uid, mirror.metadata.uid, 'pod_uid is the API uid (metadata.uid), as Vector reports it');
  t.same(k8s(event).pod_labels, { component: 'etcd', tier: 'control-plane' });
  t.equal(k8s(event).container_image, 'registry.k8s.io/etcd:3.5.16-0');
  t.equal(k8s(event).pod_owner, 'Node/node-a');
  t.notOk('unmatched_reason' in k8s(event));
});

t.test('a pod re-created under the same name: each file gets its own pod', async (t) => {
  const c = cluster();
  t.teardown(() => c.close());
  const h = harness(c);
  const old = c.addPod({ name: 'web-0', namespace: 'default', uid: '11111111-1111-4111-8111-111111111111', labels: { revision: 'old' }, seed: 1 });
  c.deletePod(old);
  c.clock.advance(1_000);
  const current = c.addPod({ name: 'web-0', namespace: 'default', uid: '22222222-2222-4222-8222-222222222222', labels: { revision: 'new' }, seed: 2 });

  const [fromOld, fromNew] = h.parsed([
    { file: logPath(old), line: criLine({ message: 'shutting down' }) },
    { file: logPath(current), line: criLine({ message: 'starting' }) },
  ]);
  t.same(k8s(fromOld).pod_labels, { revision: 'old' }, 'the old file (old uid in its path) gets the old pod');
  t.equal(k8s(fromOld).pod_uid, old.metadata.uid);
  t.same(k8s(fromNew).pod_labels, { revision: 'new' });
  t.equal(k8s(fromNew).pod_uid, current.metadata.uid);
});

t.test('/var/log/containers: found by namespace and name, checked against the container id', async (t) => {
  const c = cluster();
  t.teardown(() => c.close());
  const h = harness(c);
  const old = c.addPod({ name: 'web-0', namespace: 'default', uid: '11111111-1111-4111-8111-111111111111', labels: { revision: 'old' }, containers: ['web'], seed: 1 });
  c.deletePod(old);
  const current = c.addPod({ name: 'web-0', namespace: 'default', uid: '22222222-2222-4222-8222-222222222222', labels: { revision: 'new' }, containers: ['web'], seed: 2 });
  const idOf = (p: typeof current): string => p.status.containerStatuses![0]!.containerID!.replace('containerd://', '');

  const currentFile = containerLogPath({ namespace: 'default', pod: 'web-0', container: 'web', containerId: idOf(current) });
  const oldFile = containerLogPath({ namespace: 'default', pod: 'web-0', container: 'web', containerId: idOf(old) });
  const [live, stale] = h.parsed([
    { file: currentFile, line: criLine({ message: 'a' }) },
    { file: oldFile, line: criLine({ message: 'b' }) },
  ]);
  t.same(k8s(live).pod_labels, { revision: 'new' });
  t.equal(k8s(live).pod_uid, current.metadata.uid);
  t.notOk('unmatched_reason' in k8s(live));
  // The name answers the live pod, whose container has another id: not this file's pod.
  t.equal(k8s(stale).unmatched_reason, 'container_not_found');
  t.notOk('pod_labels' in k8s(stale), 'no metadata rather than the wrong pod\'s');
  t.equal(k8s(stale).pod_name, 'web-0', 'path identity kept');

  // A pod whose status does not know the id yet (Pending): accepted by name.
  const pending = c.addPod({ name: 'queue-0', namespace: 'default', nodeName: null, containers: ['queue'] });
  const [p] = h.parsed([{ file: containerLogPath({ namespace: 'default', pod: 'queue-0', container: 'queue', containerId: containerId('x') }), line: criLine({ message: 'c' }) }]);
  t.equal(k8s(p).pod_uid, pending.metadata.uid);
  t.notOk('unmatched_reason' in k8s(p));
});

t.test('unmatched events come back with the path identity and a reason, never dropped', async (t) => {
  const c = cluster();
  t.teardown(() => c.close());
  c.addNamespace({ name: 'shop', labels: { team: 'shop' } });
  const pod = c.addPod({ name: 'cart-0', namespace: 'shop', containers: ['cart'] });
  const h = harness(c);
  const unknownUid = '33333333-3333-4333-8333-333333333333';
  const events = [
    { file: podLogPath({ namespace: 'shop', pod: 'ghost', uid: unknownUid, container: 'app' }), line: criLine({ message: '1' }) },
    { file: '/var/log/syslog', line: criLine({ message: '2' }) },
    { file: logPath(pod, 'sidecar'), line: criLine({ message: '3' }) },
    { line: criLine({ message: '4' }) },
  ];
  const result = h.run(events);
  t.equal(result.records.length, 4, 'every event comes back');
  t.same(result.errors, []);
  const [notFound, notRecognised, noContainer, noFile] = result.records.map((r) => JSON.parse(r.json) as Record<string, unknown>);

  t.same(k8s(notFound), {
    pod_name: 'ghost',
    pod_namespace: 'shop',
    pod_uid: unknownUid,
    container_name: 'app',
    namespace_labels: { 'kubernetes.io/metadata.name': 'shop', team: 'shop' }, // the namespace is known even if the pod is not
    unmatched_reason: 'pod_not_found',
  });
  t.same(k8s(notRecognised), { unmatched_reason: 'path_not_recognised' });
  t.equal(notRecognised!.file, '/var/log/syslog');
  t.equal(k8s(noContainer).unmatched_reason, 'container_not_found');
  t.equal(k8s(noContainer).pod_uid, pod.metadata.uid, 'the pod is certain (uid in the path): its metadata stays');
  t.equal(k8s(noContainer).container_name, 'sidecar');
  t.notOk('container_image' in k8s(noContainer));
  t.same(k8s(noFile), { unmatched_reason: 'missing_file' });
  t.notOk('file' in noFile!);
  t.equal(noFile!.message, '4');

  t.same(
    result.records.map((r) => [r.origin.namespace, r.origin.podName, r.origin.containerName]),
    [
      ['shop', 'ghost', 'app'],
      [undefined, undefined, undefined],
      ['shop', 'cart-0', 'sidecar'],
      [undefined, undefined, undefined],
    ],
    'records carry what is known for /v1/stream filters',
  );
  for (const reason of ['pod_not_found', 'path_not_recognised', 'container_not_found', 'missing_file']) {
    t.equal(await counterValue(h.metrics, 'eventsUnmatched', { reason }), 1, `events_unmatched_total{reason="${reason}"}`);
  }

  const resolution = h.enricher.resolve('/var/log/syslog');
  t.same({ ...resolution }, { file: '/var/log/syslog', identity: undefined, matched: false, reason: 'path_not_recognised', pod: undefined, pending: [] });
});

t.test('the marker is named per schema', async (t) => {
  const c = cluster();
  t.teardown(() => c.close());
  const fb = harness(c, { schema: 'fluentbit' });
  const [f] = fb.parsed([{ file: '/tmp/x.log', line: criLine({ message: 'x' }) }]);
  t.equal(k8s(f).unmatched_reason, 'path_not_recognised');
  const otel = harness(c, { schema: 'otel' });
  const [o] = otel.parsed([{ file: '/tmp/x.log', line: criLine({ message: 'x' }) }]);
  t.equal((o!.attributes as Record<string, unknown>)['kube_log_enricher.unmatched_reason'], 'path_not_recognised');
});

t.test('enrichMessages: the in-process source\'s path', async (t) => {
  const c = cluster();
  t.teardown(() => c.close());
  const h = harness(c, { schema: 'otel' });
  const pod = c.addPod({ name: 'api-0', namespace: 'default', containers: ['api'] });
  const [record, other, ...rest] = h.enricher.enrichMessages(
    [logPath(pod, 'api', 2), '/var/log/elsewhere.log'],
    [{ timestamp: '2026-11-23T10:00:01Z', stream: 'stderr', message: 'panic: boom' }, { timestamp: '2026-11-23T10:00:02Z', stream: 'stdout', message: 'second' }],
  );
  t.ok(record);
  t.same(rest, [], 'one record per line');
  t.equal((JSON.parse(other!.json) as { body: string }).body, 'second', 'in order, unmatched ones too');
  const event = JSON.parse(record!.json) as Record<string, Record<string, unknown>>;
  t.equal(event.body as unknown, 'panic: boom');
  t.equal(event.time_unix_nano as unknown, '1795428001000000000');
  t.equal(event.resource!['k8s.container.restart_count'], '2');
  t.same(event.attributes, { 'log.file.path': logPath(pod, 'api', 2), 'log.iostream': 'stderr' });
  t.equal(record!.origin.pod?.uid, pod.metadata.uid);
  t.equal(await counterValue(h.metrics, 'eventsIn', { route: 'agent' }), 2);
  t.equal(await counterValue(h.metrics, 'eventsOut', { route: 'agent' }), 2);
  t.equal(await counterValue(h.metrics, 'eventsUnmatched', { reason: 'path_not_recognised' }), 1);
  t.same(h.enricher.enrichMessages([], []), [], 'an empty batch');
});

t.test('enrichMessages survives a caller handing over a bad timestamp or stream', async (t) => {
  const c = cluster();
  t.teardown(() => c.close());
  const h = harness(c);
  const pod = c.addPod({ name: 'api-0', namespace: 'default', containers: ['api'] });
  const bad = { timestamp: 'not a time', stream: 'stdin', message: 'x' } as unknown as DecodedMessage;
  const event = JSON.parse(h.enricher.enrichMessages([logPath(pod)], [bad])[0]!.json) as Record<string, unknown>;
  t.equal(event.timestamp, new Date(c.clock.ms).toISOString(), 'the time seen instead');
  t.notOk('stream' in event);
  t.equal(event.message, 'x');
});

t.test('lookup of a /var/log/containers file whose id belongs to another pod reports no pod', async (t) => {
  const c = cluster();
  t.teardown(() => c.close());
  const h = harness(c);
  c.addPod({ name: 'web-0', namespace: 'default', containers: ['web'] });
  const file = containerLogPath({ namespace: 'default', pod: 'web-0', container: 'web', containerId: containerId('an older incarnation') });
  const r = h.enricher.resolve(file);
  t.equal(r.matched, false);
  t.equal(r.reason, 'container_not_found');
  t.equal(r.pod, undefined);
  t.equal(r.identity?.layout, 'containers');
});
