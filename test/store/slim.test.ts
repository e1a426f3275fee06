import t from 'tap';
import { DROPPED_ANNOTATIONS, MIRROR_ANNOTATION, StringInterner, slimNamespace, slimNode, slimPod } from '../../src/store/index.ts';
import { rawNamed, rawPod } from './builders.ts';

t.test('slimPod keeps what enrichment needs and nothing else', async (t) => {
  const raw = rawPod({
    name: 'cart-1',
    namespace: 'shop',
    uid: 'u-1',
    containers: ['cart', 'sidecar'],
    annotations: { 'kubectl.kubernetes.io/last-applied-configuration': '{"huge":true}', team: 'shop' },
  });
  (raw.spec as Record<string, unknown>).initContainers = [{ name: 'init', image: 'busybox:1' }];
  (raw.status as Record<string, unknown>).initContainerStatuses = [{ name: 'init', imageID: 'sha256:abc', containerID: 'containerd://init1' }];
  const pod = slimPod(raw)!;
  t.same(Object.keys(pod).sort(), [
    'annotations', 'containers', 'creationTimestamp', 'labels', 'mirrorHash', 'name', 'namespace', 'nodeName', 'owner', 'podIP', 'podIPs', 'resourceVersion', 'uid',
  ]);
  t.equal(pod.uid, 'u-1');
  t.equal(pod.namespace, 'shop');
  t.equal(pod.nodeName, 'node-a');
  t.same(pod.labels, { app: 'cart-1' });
  t.same(pod.annotations, { team: 'shop' }, 'last-applied-configuration is dropped');
  t.ok(DROPPED_ANNOTATIONS.has('kubectl.kubernetes.io/last-applied-configuration'));
  t.same(pod.owner, { kind: 'ReplicaSet', name: 'cart-1-rs', uid: (raw.metadata as { ownerReferences: { uid: string }[] }).ownerReferences[0]!.uid });
  t.equal(pod.podIP, '10.1.2.3');
  t.same(pod.podIPs, ['10.1.2.3']);
  t.same(pod.containers.map((c) => [c.name, c.init, c.containerId]), [
    ['init', true, 'containerd://init1'],
    ['cart', false, `containerd://${'0'.repeat(64)}`],
    ['sidecar', false, `containerd://${'1'.repeat(64)}`],
  ]);
  t.equal(pod.containers[1]!.image, 'registry.example/cart:1.0');
  t.equal(pod.containers[1]!.imageId, `registry.example/cart@sha256:${'a'.repeat(64)}`);
  t.equal(pod.creationTimestamp, '2026-11-23T10:00:00Z');
  t.equal(pod.mirrorHash, undefined);
  t.notMatch(JSON.stringify(pod), /managedFields|volumes|env|conditions|phase|huge/);
});

t.test('slimPod: pending pod without status, mirror pod, non-controller owner, Date timestamps', async (t) => {
  const pod = slimPod({
    metadata: {
      name: 'kube-apiserver-node-a',
      namespace: 'kube-system',
      uid: 'mirror-uid',
      creationTimestamp: new Date('2026-11-23T10:00:00Z'),
      annotations: { [MIRROR_ANNOTATION]: 'cfghash123' },
      ownerReferences: [{ kind: 'Node', name: 'node-a', uid: 'n1' }],
    },
    spec: { containers: [{ name: 'apiserver', image: 'k8s/apiserver:1.31' }] },
  })!;
  t.equal(pod.mirrorHash, 'cfghash123');
  t.equal(pod.creationTimestamp, '2026-11-23T10:00:00Z');
  t.same(pod.owner, { kind: 'Node', name: 'node-a', uid: 'n1' });
  t.equal(pod.nodeName, undefined);
  t.equal(pod.podIP, undefined);
  t.same(pod.podIPs, []);
  t.same(pod.containers, [{ name: 'apiserver', image: 'k8s/apiserver:1.31', imageId: undefined, containerId: undefined, init: false }]);
  t.equal(pod.resourceVersion, '');
});

t.test('slim functions reject objects without metadata.uid or name', async (t) => {
  for (const bad of [undefined, null, 42, 'pod', [], {}, { metadata: {} }, { metadata: { name: 'x' } }, { metadata: { uid: 'u' } }, { metadata: { name: 7, uid: 'u' } }]) {
    t.equal(slimPod(bad), undefined, `pod ${JSON.stringify(bad)}`);
    t.equal(slimNamespace(bad), undefined, `namespace ${JSON.stringify(bad)}`);
    t.equal(slimNode(bad), undefined, `node ${JSON.stringify(bad)}`);
  }
  // Garbage inside an otherwise valid object is skipped, not thrown on.
  const pod = slimPod({ metadata: { name: 'p', uid: 'u', labels: { ok: 'yes', bad: 3 }, ownerReferences: 'nope' }, spec: { containers: [null, { image: 'x' }] }, status: 5 })!;
  t.same(pod.labels, { ok: 'yes' });
  t.same(pod.containers, []);
  t.equal(pod.owner, undefined);
});

t.test('slimNamespace and slimNode keep labels and annotations', async (t) => {
  const ns = slimNamespace(rawNamed('shop', { team: 'shop' }, 'ns-uid'))!;
  t.same(ns, { name: 'shop', uid: 'ns-uid', resourceVersion: ns.resourceVersion, labels: { team: 'shop' }, annotations: {} });
  const node = slimNode({ metadata: { name: 'node-a', uid: 'n', labels: { 'kubernetes.io/hostname': 'node-a' } }, status: { images: [{ names: ['x'] }] } })!;
  t.same(node, { name: 'node-a', uid: 'n', resourceVersion: '', labels: { 'kubernetes.io/hostname': 'node-a' }, annotations: {} });
});

t.test('interning shares repeated strings and stays bounded', async (t) => {
  const interner = new StringInterner({ maxEntries: 50 });
  for (let i = 0; i < 10; i++) slimPod(rawPod({ name: `web-${i}`, labels: { app: 'web', tier: 'frontend' } }), interner);
  const afterTen = interner.size;
  slimPod(rawPod({ name: 'web-10', labels: { app: 'web', tier: 'frontend' } }), interner);
  t.ok(interner.size - afterTen <= 4, 'an 11th similar pod adds only its own few strings');
  for (let i = 0; i < 200; i++) interner.intern(`unique-${i}`);
  t.ok(interner.size <= 50, 'the pool never exceeds its bound');
  t.equal(interner.intern('x'.repeat(1000)).length, 1000, 'long strings pass through');
});
