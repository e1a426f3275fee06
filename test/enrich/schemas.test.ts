/**
 * One golden event per schema, built field by field from the API objects by the rules of the
 * project each schema mirrors (the comments name the source of each field). docs/schemas.md has
 * the same table for users.
 */
import t, { type Test } from 'tap';
import type { PodJson } from '../../src/sim/index.ts';
import { criLine, dockerLine } from '../builders/lines.ts';
import { cluster, harness, logPath, START_MS, type Cluster } from './helpers.ts';

const TS = '2026-11-23T10:00:00.123456789Z';

function fixture(t: Test): { c: Cluster; pod: PodJson } {
  const c = cluster();
  c.addNamespace({ name: 'shop', labels: { team: 'shop' }, annotations: { 'owner.example.com/slack': '#shop' } });
  c.addNode({ name: 'node-a', labels: { 'topology.kubernetes.io/zone': 'eu-west-1a' } });
  const pod = c.addPod({
    name: 'cart-7d9f8c6b5d-x2x4q',
    namespace: 'shop',
    nodeName: 'node-a',
    labels: { app: 'cart', 'pod-template-hash': '7d9f8c6b5d' },
    annotations: { 'prometheus.io/scrape': 'true' },
    owner: { kind: 'ReplicaSet', name: 'cart-7d9f8c6b5d', uid: '5e1f4a7c-0000-4000-8000-000000000001' },
    containers: [
      { name: 'cart', image: 'registry.example.com/shop/cart:1.4' },
      { name: 'envoy', image: 'envoyproxy/envoy:v1.31.0' },
    ],
    initContainers: [{ name: 'migrate', image: 'registry.example.com/shop/cart-migrate:1.4' }],
    podIP: '10.244.1.7',
  });
  t.teardown(() => c.close());
  return { c, pod };
}

function statusOf(pod: PodJson, container: string) {
  const status = pod.status.containerStatuses?.find((s) => s.name === container);
  if (status === undefined) throw new Error(`no status for ${container}`);
  return status;
}

function nodeLabels(c: Cluster): Record<string, string> {
  return { ...c.store.reader().node('node-a')!.object.labels };
}

t.test('vector: the kubernetes_logs source event', async (t) => {
  const { c, pod } = fixture(t);
  const h = harness(c, { schema: 'vector' });
  const file = logPath(pod, 'cart');
  const [event] = h.parsed([{ file, line: criLine({ ts: TS, stream: 'stderr', message: 'GET /healthz 200' }) }]);
  const status = statusOf(pod, 'cart');
  // Field names: vectordotdev/vector src/sources/kubernetes_logs/pod_metadata_annotator.rs
  // (FieldsSpec::default), namespace_metadata_annotator.rs, node_metadata_annotator.rs, and the
  // source's output docs (website/cue/reference/components/sources/kubernetes_logs.cue).
  t.same(event, {
    timestamp: TS, // the runtime's timestamp, in UTC (Vector parses it into the event timestamp)
    message: 'GET /healthz 200', // the decoded line (parser/cri.rs)
    stream: 'stderr', // parser/cri.rs
    file, // the file source's `file` key
    source_type: 'kubernetes_logs',
    kubernetes: {
      pod_name: pod.metadata.name, // metadata.name
      pod_namespace: 'shop', // metadata.namespace
      pod_uid: pod.metadata.uid, // metadata.uid
      pod_ip: '10.244.1.7', // status.podIP
      pod_ips: ['10.244.1.7'], // status.podIPs[].ip
      pod_labels: { app: 'cart', 'pod-template-hash': '7d9f8c6b5d' }, // metadata.labels
      pod_annotations: { 'prometheus.io/scrape': 'true' }, // metadata.annotations
      pod_node_name: 'node-a', // spec.nodeName
      pod_owner: 'ReplicaSet/cart-7d9f8c6b5d', // `${ownerReferences[0].kind}/${ownerReferences[0].name}`
      container_name: 'cart', // from the file path (annotate_from_file_info)
      container_id: status.containerID, // status.containerStatuses[].containerID, runtime prefix kept
      container_image: 'registry.example.com/shop/cart:1.4', // spec.containers[].image
      container_image_id: status.imageID, // status.containerStatuses[].imageID
      namespace_labels: { 'kubernetes.io/metadata.name': 'shop', team: 'shop' }, // namespace metadata.labels
      node_labels: nodeLabels(c), // node metadata.labels
    },
  });
  t.match(status.containerID, /^containerd:\/\/[0-9a-f]{64}$/, 'the sim gives a realistic container id');
});

t.test('vector: an offset timestamp is written in UTC, digits kept', async (t) => {
  const { c, pod } = fixture(t);
  const h = harness(c, { schema: 'vector' });
  const [event] = h.parsed([{ file: logPath(pod), line: criLine({ ts: '2026-11-23T11:00:00.5+01:00', message: 'x' }) }]);
  t.equal(event!.timestamp, '2026-11-23T10:00:00.5Z');
});

t.test('fluentbit: the tail record after the kubernetes filter', async (t) => {
  const { c, pod } = fixture(t);
  const h = harness(c, { schema: 'fluentbit', include: { namespaceAnnotations: true }, input: { file: 'filename' } });
  const file = logPath(pod, 'envoy');
  const ts = '2026-11-23T11:00:00.123456789+01:00';
  const [event] = h.parsed([{ filename: file, line: dockerLine({ time: ts, stream: 'stdout', message: '[info] upstream ok' }) }]);
  const status = statusOf(pod, 'envoy');
  const hash = (s: string): string => s.slice(s.indexOf('://') + 3);
  // Field names: fluent/fluent-bit plugins/filter_kubernetes/kube_meta.c (merge_pod_meta,
  // merge_namespace_meta, extract_container_hash) and kubernetes.c (the `kubernetes` and
  // `kubernetes_namespace` record keys); record keys `log`/`stream`/`time` from the docker/cri parsers.
  t.same(event, {
    log: '[info] upstream ok', // the parser's `log` (Docker's trailing newline removed)
    stream: 'stdout',
    time: ts, // the parser keeps `time` as written (Time_Keep On)
    filename: file, // tail's Path_Key: here configured as `filename`, the input's file field
    kubernetes: {
      pod_name: pod.metadata.name, // from the tag / path
      namespace_name: 'shop', // from the tag / path
      pod_id: pod.metadata.uid, // metadata.uid
      labels: { app: 'cart', 'pod-template-hash': '7d9f8c6b5d' }, // metadata.labels (Labels On)
      annotations: { 'prometheus.io/scrape': 'true' }, // metadata.annotations (Annotations On)
      host: 'node-a', // spec.nodeName
      pod_ip: '10.244.1.7', // status.podIP
      container_name: 'envoy', // from the tag / path
      docker_id: hash(status.containerID!), // extract_hash(status.containerStatuses[].containerID)
      container_hash: status.imageID, // extract_hash(imageID): a `repo@sha256:` id has no `://`, kept whole
      // Deviation (docs/schemas.md): Fluent Bit copies status.containerStatuses[].image (the
      // runtime's normalised name); the store keeps the spec's image.
      container_image: 'envoyproxy/envoy:v1.31.0',
      node_labels: nodeLabels(c), // not in Fluent Bit: our node metadata, same map as Vector's
    },
    kubernetes_namespace: {
      name: 'shop', // Namespace_Labels / Namespace_Annotations: a separate record key
      labels: { 'kubernetes.io/metadata.name': 'shop', team: 'shop' },
      annotations: { 'owner.example.com/slack': '#shop' },
    },
  });
});

t.test('fluentbit: no kubernetes_namespace key without namespace groups', async (t) => {
  const { c, pod } = fixture(t);
  const h = harness(c, { schema: 'fluentbit', include: { namespaceLabels: false } });
  const [event] = h.parsed([{ file: logPath(pod), line: criLine({ message: 'x' }) }]);
  t.notOk('kubernetes_namespace' in event!);
});

t.test('otel: resource attributes of the filelog container parser and k8sattributes', async (t) => {
  const { c, pod } = fixture(t);
  c.clock.ms = START_MS + 1234;
  const h = harness(c, { schema: 'otel' });
  const file = logPath(pod, 'cart', 3);
  const [event] = h.parsed([{ file, line: criLine({ ts: TS, stream: 'stdout', message: 'order placed' }) }]);
  const status = statusOf(pod, 'cart');
  const nodeAttrs = Object.fromEntries(Object.entries(nodeLabels(c)).map(([k, v]) => [`k8s.node.label.${k}`, v]));
  // Names: OpenTelemetry semantic conventions (k8s.*, container.*), as set by
  // opentelemetry-collector-contrib pkg/stanza container parser (path metadata, log.iostream,
  // log.file.path) and processor/k8sattributesprocessor internal/kube/client.go (the rest).
  t.same(event, {
    resource: {
      'k8s.namespace.name': 'shop', // path / metadata.namespace
      'k8s.pod.name': pod.metadata.name, // path / metadata.name
      'k8s.pod.uid': pod.metadata.uid, // path / metadata.uid
      'k8s.pod.ip': '10.244.1.7', // status.podIP (extract rule k8s.pod.ip)
      'k8s.pod.start_time': '2026-11-20T08:00:00Z', // metadata.creationTimestamp (k8sattributes' start_time)
      'k8s.node.name': 'node-a', // spec.nodeName
      'k8s.container.name': 'cart', // path
      'k8s.container.restart_count': '3', // path (a string, as the container parser sets it)
      'container.id': status.containerID!.slice('containerd://'.length), // containerID without the runtime prefix
      'container.image.name': 'registry.example.com/shop/cart', // spec image, tag cut (docker.ParseImageName)
      'container.image.tag': '1.4',
      'k8s.deployment.name': 'cart', // ReplicaSet name minus its pod-template-hash
      'k8s.replicaset.name': 'cart-7d9f8c6b5d', // owner reference of kind ReplicaSet
      'k8s.pod.label.app': 'cart', // k8s.pod.label.<key>
      'k8s.pod.label.pod-template-hash': '7d9f8c6b5d',
      'k8s.pod.annotation.prometheus.io/scrape': 'true', // k8s.pod.annotation.<key>
      'k8s.namespace.label.kubernetes.io/metadata.name': 'shop', // k8s.namespace.label.<key>
      'k8s.namespace.label.team': 'shop',
      ...nodeAttrs, // k8s.node.label.<key>
    },
    time_unix_nano: '1795428000123456789', // the runtime's timestamp, nanoseconds since the epoch, exact
    observed_time_unix_nano: String(START_MS + 1234) + '000000', // when the enricher saw the line
    body: 'order placed',
    attributes: { 'log.file.path': file, 'log.iostream': 'stdout' },
  });
  t.equal(BigInt(Date.parse('2026-11-23T10:00:00Z')) * 1_000_000n + 123_456_789n, 1795428000123456789n, 'time_unix_nano checked independently');
});

t.test('otel: workloads from owner references, as k8sattributes derives them', async (t) => {
  const c = cluster();
  t.teardown(() => c.close());
  const h = harness(c, { schema: 'otel' });
  const cases: { owner: { kind: string; name: string }; labels?: Record<string, string>; want: Record<string, string> }[] = [
    { owner: { kind: 'StatefulSet', name: 'db' }, want: { 'k8s.statefulset.name': 'db' } },
    { owner: { kind: 'DaemonSet', name: 'agent' }, want: { 'k8s.daemonset.name': 'agent' } },
    { owner: { kind: 'Job', name: 'report-29390940' }, want: { 'k8s.job.name': 'report-29390940', 'k8s.cronjob.name': 'report' } },
    { owner: { kind: 'Job', name: 'one-off' }, want: { 'k8s.job.name': 'one-off' } },
    // No pod-template-hash label: k8sattributes' rule (a 10-char last part) decides.
    { owner: { kind: 'ReplicaSet', name: 'web-5d8f7c9b6a' }, want: { 'k8s.replicaset.name': 'web-5d8f7c9b6a', 'k8s.deployment.name': 'web' } },
    { owner: { kind: 'ReplicaSet', name: 'bare-rs' }, want: { 'k8s.replicaset.name': 'bare-rs' } },
    // A short pod-template-hash (they can be shorter than 10): the label says where the suffix starts.
    { owner: { kind: 'ReplicaSet', name: 'api-v2-6f7b9' }, labels: { 'pod-template-hash': '6f7b9' }, want: { 'k8s.replicaset.name': 'api-v2-6f7b9', 'k8s.deployment.name': 'api-v2' } },
  ];
  const workloadKeys = ['k8s.deployment.name', 'k8s.replicaset.name', 'k8s.statefulset.name', 'k8s.daemonset.name', 'k8s.job.name', 'k8s.cronjob.name'];
  for (const [i, kase] of cases.entries()) {
    const pod = c.addPod({ name: `w${i}`, namespace: 'default', owner: kase.owner, labels: kase.labels ?? { app: `w${i}` } });
    const [event] = h.parsed([{ file: logPath(pod), line: criLine({ message: 'x' }) }]);
    const resource = event!.resource as Record<string, string>;
    const got = Object.fromEntries(workloadKeys.filter((k) => k in resource).map((k) => [k, resource[k]]));
    t.same(got, kase.want, `${kase.owner.kind}/${kase.owner.name}`);
  }
});

t.test('renames move, re-nest and drop output fields', async (t) => {
  const { c, pod } = fixture(t);
  const h = harness(c, {
    schema: 'vector',
    rename: { 'kubernetes.pod_labels': 'kubernetes.labels', message: 'log.msg', 'kubernetes.pod_annotations': '', 'kubernetes.node_labels': 'node."labels.v1"' },
  });
  const [event] = h.parsed([{ file: logPath(pod), line: criLine({ message: 'hello' }) }]);
  const k = event!.kubernetes as Record<string, unknown>;
  t.same(k.labels, { app: 'cart', 'pod-template-hash': '7d9f8c6b5d' });
  t.notOk('pod_labels' in k);
  t.notOk('pod_annotations' in k, 'an empty target drops the field');
  t.same(event!.log, { msg: 'hello' });
  t.notOk('message' in event!);
  t.same((event!.node as Record<string, unknown>)['labels.v1'], nodeLabels(c));

  const otel = harness(c, { schema: 'otel', rename: { 'resource.k8s.pod.name': 'resource.service.instance.id', attributes: 'attrs' } });
  const [o] = otel.parsed([{ file: logPath(pod), line: criLine({ message: 'hello' }) }]);
  const resource = o!.resource as Record<string, unknown>;
  t.equal(resource['service.instance.id'], pod.metadata.name, 'a key kept in its flat attribute map');
  t.notOk('k8s.pod.name' in resource);
  t.same(o!.attrs, { 'log.file.path': logPath(pod), 'log.iostream': 'stdout' });
});
