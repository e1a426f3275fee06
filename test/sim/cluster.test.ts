import t from 'tap';
import { generateCluster, loadCluster, podFor, namespaceFor, nodeFor, normalizeImage, imageIdOf, startSimApiServer } from '../../src/sim/index.ts';
import { parseLabelSelector } from '../../src/selectors/index.ts';
import type { PodJson, GeneratedCluster } from '../../src/sim/index.ts';

const options = { seed: 42, nodes: 4, podsPerNode: 25, namespaces: 5 };
const cluster = generateCluster(options);

function ownerKind(pod: PodJson): string {
  return pod.metadata.ownerReferences?.[0]?.kind ?? 'none';
}

function podsBy(c: GeneratedCluster, kind: string): PodJson[] {
  return c.pods.filter((p) => ownerKind(p) === kind);
}

t.test('deterministic: same seed and sizes, same cluster; another seed, another one', async (t) => {
  t.equal(JSON.stringify(generateCluster(options)), JSON.stringify(cluster));
  t.not(JSON.stringify(generateCluster({ ...options, seed: 43 })), JSON.stringify(cluster));
});

t.test('sizes: nodes × podsPerNode pods on existing nodes and namespaces, unique names and uids', async (t) => {
  t.equal(cluster.nodes.length, 4);
  t.equal(cluster.pods.length, 100);
  t.equal(cluster.namespaces.length, 7, 'default, kube-system and 5 application namespaces');
  const nodeNames = new Set(cluster.nodes.map((n) => n.metadata.name));
  const nsNames = new Set(cluster.namespaces.map((n) => n.metadata.name));
  for (const node of nodeNames) t.equal(cluster.pods.filter((p) => p.spec.nodeName === node).length, 25, `pods on ${node}`);
  t.ok(cluster.pods.every((p) => nsNames.has(p.metadata.namespace ?? '')), 'every pod in a generated namespace');
  t.equal(new Set(cluster.pods.map((p) => `${p.metadata.namespace}/${p.metadata.name}`)).size, 100, 'unique pod names');
  const uids = [...cluster.pods, ...cluster.nodes, ...cluster.namespaces].map((o) => o.metadata.uid);
  t.equal(new Set(uids).size, uids.length, 'unique uids');
  t.ok(uids.every((u) => /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/.test(u ?? '')), 'UUID v4');
  const small = generateCluster({ seed: 1, nodes: 2, podsPerNode: 3, namespaces: 1 });
  t.equal(small.pods.length, 6, 'small sizes are exact too');
});

t.test('every label is a valid Kubernetes label (selectable)', async (t) => {
  const objects = [...cluster.pods, ...cluster.nodes, ...cluster.namespaces];
  let checked = 0;
  for (const o of objects) {
    for (const [key, value] of Object.entries(o.metadata.labels ?? {})) {
      const parsed = parseLabelSelector(`${key}=${value}`);
      if (!parsed.ok) t.fail(`${o.metadata.name}: ${parsed.error}`);
      checked++;
    }
  }
  t.ok(checked > 500, `${checked} labels checked`);
});

t.test('Deployment pods: ReplicaSet owner named <deployment>-<pod-template-hash>, shared by replicas', async (t) => {
  const pods = podsBy(cluster, 'ReplicaSet');
  t.ok(pods.length >= 10);
  for (const pod of pods) {
    const owner = pod.metadata.ownerReferences?.[0];
    const hash = pod.metadata.labels?.['pod-template-hash'] ?? '';
    t.match(hash, /^[bcdfghjklmnpqrstvwxz2456789]{10}$/);
    t.ok(owner?.name.endsWith(`-${hash}`), `${owner?.name} ends with its hash`);
    t.match(pod.metadata.name, new RegExp(`^${owner?.name}-[a-z0-9]{5}$`));
    t.equal(pod.metadata.generateName, `${owner?.name}-`);
    t.match(owner, { apiVersion: 'apps/v1', kind: 'ReplicaSet', controller: true, blockOwnerDeletion: true });
  }
  const byOwner = new Map<string, Set<string>>();
  for (const pod of pods) {
    const uid = pod.metadata.ownerReferences?.[0]?.uid ?? '';
    byOwner.set(uid, (byOwner.get(uid) ?? new Set()).add(pod.metadata.labels?.['pod-template-hash'] ?? ''));
  }
  t.ok([...byOwner.values()].every((hashes) => hashes.size === 1), 'one hash per ReplicaSet');
  t.ok(pods.some((p) => p.metadata.labels?.['app.kubernetes.io/name']), 'app.kubernetes.io labels');
});

t.test('StatefulSet, DaemonSet and CronJob pods look like their controllers make them', async (t) => {
  const sts = podsBy(cluster, 'StatefulSet');
  t.ok(sts.length > 0);
  for (const pod of sts) {
    const owner = pod.metadata.ownerReferences?.[0]?.name ?? '';
    t.match(pod.metadata.name, new RegExp(`^${owner}-\\d+$`));
    t.equal(pod.metadata.labels?.['statefulset.kubernetes.io/pod-name'], pod.metadata.name);
    t.equal(pod.spec.hostname, pod.metadata.name);
  }
  const ds = podsBy(cluster, 'DaemonSet');
  const perDaemonSet = new Map<string, string[]>();
  for (const pod of ds) {
    const owner = pod.metadata.ownerReferences?.[0]?.name ?? '';
    perDaemonSet.set(owner, [...(perDaemonSet.get(owner) ?? []), pod.spec.nodeName ?? '']);
  }
  t.same([...perDaemonSet.keys()].sort(), ['cilium', 'kube-proxy', 'node-exporter']);
  for (const nodes of perDaemonSet.values()) t.equal(new Set(nodes).size, cluster.nodes.length, 'one pod per node');
  const cilium = ds.find((p) => p.metadata.ownerReferences?.[0]?.name === 'cilium');
  t.ok((cilium?.spec.initContainers?.length ?? 0) >= 3, 'init containers');
  t.ok((cilium?.status.initContainerStatuses ?? []).every((s) => 'terminated' in s.state), 'init containers terminated');

  const jobs = generateCluster({ seed: 5, nodes: 6, podsPerNode: 30, namespaces: 8 }).pods.filter((p) => ownerKind(p) === 'Job');
  t.ok(jobs.length > 0);
  for (const pod of jobs) {
    const job = pod.metadata.ownerReferences?.[0];
    t.match(job?.name, /^[a-z0-9-]+-\d{8}$/, 'Job named <cronjob>-<scheduled minutes>');
    t.equal(job?.apiVersion, 'batch/v1');
    t.equal(pod.metadata.labels?.['job-name'], job?.name);
    t.equal(pod.metadata.labels?.['batch.kubernetes.io/controller-uid'], job?.uid);
    t.match(pod.metadata.name, new RegExp(`^${job?.name}-[a-z0-9]{5}$`));
    t.ok(['Running', 'Succeeded'].includes(pod.status.phase));
  }
});

t.test('static pods: config hash = mirror annotation, Node owner with the node uid, name <component>-<node>', async (t) => {
  const statics = podsBy(cluster, 'Node');
  t.equal(statics.length, 4);
  const controlPlane = cluster.nodes.find((n) => n.metadata.labels?.['node-role.kubernetes.io/control-plane'] === '');
  t.ok(controlPlane);
  for (const pod of statics) {
    const a = pod.metadata.annotations ?? {};
    t.match(a['kubernetes.io/config.hash'], /^[0-9a-f]{32}$/);
    t.equal(a['kubernetes.io/config.mirror'], a['kubernetes.io/config.hash']);
    t.equal(a['kubernetes.io/config.source'], 'file');
    t.ok(a['kubernetes.io/config.seen']);
    t.not(pod.metadata.uid, a['kubernetes.io/config.hash'], 'the API uid is not the hash');
    t.match(pod.metadata.ownerReferences, [{ apiVersion: 'v1', kind: 'Node', name: controlPlane?.metadata.name, uid: controlPlane?.metadata.uid, controller: true }]);
    t.equal(pod.metadata.name, `${pod.metadata.labels?.component}-${controlPlane?.metadata.name}`);
    t.equal(pod.spec.hostNetwork, true);
  }
});

t.test('bare pods carry a multi-KB last-applied-configuration; pods carry KBs of managedFields', async (t) => {
  const bare = podsBy(cluster, 'none');
  t.ok(bare.length > 0);
  for (const pod of bare) {
    const applied = pod.metadata.annotations?.['kubectl.kubernetes.io/last-applied-configuration'] ?? '';
    t.ok(applied.length > 2048, `${applied.length} chars`);
    t.match(JSON.parse(applied), { apiVersion: 'v1', kind: 'Pod', metadata: { name: pod.metadata.name } });
  }
  for (const pod of cluster.pods) {
    const size = JSON.stringify(pod.metadata.managedFields).length;
    if (size < 1500 || size > 30_000) t.fail(`${pod.metadata.name}: managedFields ${size} chars`);
    t.match(pod.metadata.managedFields?.[1], { manager: 'kubelet', operation: 'Update', subresource: 'status', fieldsType: 'FieldsV1' });
  }
  t.pass('sizes checked');
});

t.test('pod status: containerd ids, image digests, IPs in the node CIDR, host IP of the node', async (t) => {
  const nodes = new Map(cluster.nodes.map((n) => [n.metadata.name, n]));
  for (const pod of cluster.pods) {
    const node = nodes.get(pod.spec.nodeName ?? '');
    const internal = ((node?.status?.addresses ?? []) as { type: string; address: string }[]).find((a) => a.type === 'InternalIP')?.address;
    t.equal(pod.status.hostIP, internal);
    t.same(pod.status.hostIPs, [{ ip: internal }]);
    if (!pod.spec.hostNetwork) t.ok(pod.status.podIP?.startsWith((node?.spec?.podCIDR ?? '').replace(/0\/24$/, '')), `${pod.status.podIP} in ${node?.spec?.podCIDR}`);
    t.same(pod.status.podIPs, [{ ip: pod.status.podIP }]);
    t.equal(pod.status.containerStatuses?.length, pod.spec.containers.length);
    for (const s of [...(pod.status.containerStatuses ?? []), ...(pod.status.initContainerStatuses ?? [])]) {
      if (!/^containerd:\/\/[0-9a-f]{64}$/.test(s.containerID ?? '')) t.fail(`containerID ${s.containerID}`);
      if (!/@sha256:[0-9a-f]{64}$/.test(s.imageID)) t.fail(`imageID ${s.imageID}`);
    }
  }
  const nginx = cluster.pods.flatMap((p) => p.status.containerStatuses ?? []).find((s) => s.image.includes('nginx'));
  t.match(nginx, { image: 'docker.io/library/nginx:1.27.3-alpine', imageID: /^docker\.io\/library\/nginx@sha256:[0-9a-f]{64}$/ });
  t.ok(cluster.pods.some((p) => (p.status.containerStatuses ?? []).some((s) => s.restartCount > 0 && s.lastState)), 'some containers restarted');
  const ids = cluster.pods.flatMap((p) => (p.status.containerStatuses ?? []).map((s) => s.containerID));
  t.equal(new Set(ids).size, ids.length, 'unique container ids');
});

t.test('nodes and namespaces: realistic labels, node images of its pods', async (t) => {
  for (const node of cluster.nodes) {
    const labels = node.metadata.labels ?? {};
    t.equal(labels['kubernetes.io/hostname'], node.metadata.name);
    t.match(labels['topology.kubernetes.io/zone'], /^eu-west-1[abc]$/);
    t.ok(labels['node.kubernetes.io/instance-type']);
    t.equal(labels['kubernetes.io/os'], 'linux');
    const images = (node.status?.images ?? []) as { names: string[]; sizeBytes: number }[];
    const podImages = cluster.pods.filter((p) => p.spec.nodeName === node.metadata.name).flatMap((p) => p.spec.containers.map((c) => normalizeImage(c.image)));
    for (const image of podImages) t.ok(images.some((i) => i.names.includes(image)), `${image} listed on ${node.metadata.name}`);
  }
  for (const ns of cluster.namespaces) {
    t.equal(ns.metadata.labels?.['kubernetes.io/metadata.name'], ns.metadata.name);
    t.equal(ns.status?.phase, 'Active');
  }
  t.ok(cluster.namespaces.filter((n) => n.metadata.labels?.team).length === 5, 'application namespaces have a team');
});

t.test('image helpers', async (t) => {
  t.equal(normalizeImage('nginx:1.27'), 'docker.io/library/nginx:1.27');
  t.equal(normalizeImage('bitnami/kafka:3'), 'docker.io/bitnami/kafka:3');
  t.equal(normalizeImage('ghcr.io/acme/app:1'), 'ghcr.io/acme/app:1');
  t.equal(normalizeImage('localhost:5000/app:1'), 'localhost:5000/app:1');
  t.match(imageIdOf('nginx:1.27'), /^docker\.io\/library\/nginx@sha256:[0-9a-f]{64}$/);
  t.match(imageIdOf('localhost:5000/app'), /^localhost:5000\/app@sha256:/);
  t.equal(imageIdOf('nginx:1.27'), imageIdOf('docker.io/library/nginx:1.27'), 'same image, same digest');
});

t.test('podFor builds one realistic pod with the chosen fields', async (t) => {
  const pod = podFor({
    name: 'cart-7d9f8-x2x4q', namespace: 'shop', nodeName: 'node-b', labels: { app: 'cart' }, annotations: { note: 'x' },
    containers: ['cart', { name: 'proxy', image: 'envoyproxy/envoy:v1.32.1', ports: [9901] }], initContainers: ['migrate'],
    owner: { kind: 'ReplicaSet', name: 'cart-7d9f8' }, uid: '0b6c1d2e-3f40-4a5b-8c6d-7e8f90a1b2c3', podIP: '10.1.2.3', restartCounts: { cart: 2 },
  });
  t.match(pod.metadata, { name: 'cart-7d9f8-x2x4q', namespace: 'shop', uid: '0b6c1d2e-3f40-4a5b-8c6d-7e8f90a1b2c3', labels: { app: 'cart' }, annotations: { note: 'x' }, generateName: 'cart-7d9f8-' });
  t.match(pod.metadata.ownerReferences, [{ kind: 'ReplicaSet', name: 'cart-7d9f8', apiVersion: 'apps/v1', controller: true }]);
  t.same(pod.spec.containers.map((c) => c.name), ['cart', 'proxy']);
  t.same(pod.spec.initContainers?.map((c) => c.name), ['migrate']);
  t.equal(pod.spec.nodeName, 'node-b');
  t.same(pod.status.podIPs, [{ ip: '10.1.2.3' }]);
  t.match(pod.status.containerStatuses, [{ name: 'cart', restartCount: 2, lastState: { terminated: {} } }, { name: 'proxy', image: 'docker.io/envoyproxy/envoy:v1.32.1', restartCount: 0 }]);
  t.equal(JSON.stringify(podFor({ name: 'same', seed: 3 })), JSON.stringify(podFor({ name: 'same', seed: 3 })), 'seeded builds repeat');

  const pending = podFor({ name: 'waiting', nodeName: null });
  t.equal(pending.status.phase, 'Pending');
  t.equal(pending.spec.nodeName, undefined);
  t.equal(pending.status.podIP, undefined);
  t.equal(pending.status.containerStatuses, undefined);

  const mirror = podFor({ name: 'kube-apiserver-node-a', namespace: 'kube-system', staticHash: 'f'.repeat(32), containers: ['kube-apiserver'] });
  t.match(mirror.metadata.annotations, { 'kubernetes.io/config.mirror': 'f'.repeat(32), 'kubernetes.io/config.hash': 'f'.repeat(32), 'kubernetes.io/config.source': 'file' });
  t.match(mirror.metadata.ownerReferences, [{ kind: 'Node', name: 'node-a' }]);
  t.equal(podFor({ name: 'slim', managedFields: false }).metadata.managedFields, undefined);

  t.match(namespaceFor({ name: 'shop', labels: { team: 'a' } }).metadata.labels, { 'kubernetes.io/metadata.name': 'shop', team: 'a' });
  t.match(nodeFor({ name: 'node-a', zone: 'us-east-1b' }).metadata.labels, { 'kubernetes.io/hostname': 'node-a', 'topology.kubernetes.io/zone': 'us-east-1b', 'topology.kubernetes.io/region': 'us-east-1' });
});

t.test('a generated cluster loads into the simulated server and lists back whole', async (t) => {
  const sim = await startSimApiServer();
  t.teardown(() => sim.close());
  loadCluster(sim, cluster);
  const res = await fetch(`${sim.url}/api/v1/pods?limit=40`);
  const page = (await res.json()) as { items: PodJson[]; metadata: { remainingItemCount?: number } };
  t.equal(page.items.length, 40);
  t.equal(page.metadata.remainingItemCount, 60);
  const node = cluster.nodes[1]?.metadata.name ?? '';
  const onNode = (await (await fetch(`${sim.url}/api/v1/pods?fieldSelector=spec.nodeName%3D${encodeURIComponent(node)}`)).json()) as { items: PodJson[] };
  t.equal(onNode.items.length, 25);
  const stored = sim.get<PodJson>('pods', cluster.pods[0]?.metadata.namespace, cluster.pods[0]?.metadata.name ?? '');
  t.equal(stored?.metadata.uid, cluster.pods[0]?.metadata.uid, 'generated uids are kept');
  t.equal(stored?.metadata.creationTimestamp, cluster.pods[0]?.metadata.creationTimestamp, 'generated timestamps are kept');
});
