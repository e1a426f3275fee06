/**
 * kubernetes.podSource: kubelet, against the simulated kubelet (src/sim/kubelet.ts) over real
 * HTTP(S): pods of this node polled from /pods into the store, namespaces and nodes still from the
 * simulated API server; relabels the kubelet makes without a new resourceVersion, deletion with
 * retention, static pods, the kubelet down and back, token rotation and TLS with a CA.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { kubeletKubeConfig, type KubeletConnection } from '../../src/kube/index.ts';
import { namespaceFor, nodeFor, podFor, startSimKubelet, type SimApiServer, type SimKubelet, type SimKubeletOptions } from '../../src/sim/index.ts';
import { makeCertificate } from '../server/harness.ts';
import { metricValue, readyWithin, startHarness, startSim, tempDir, waitFor, type Harness } from './helpers.ts';

const NODE = 'node-a';
const HASH = 'a1b2c3d4e5f60718293a4b5c6d7e8f90';
const POLL_MS = 100;

function cluster(sim: SimApiServer): void {
  sim.create('namespaces', namespaceFor({ name: 'shop', labels: { team: 'web' } }));
  sim.create('nodes', nodeFor({ name: NODE }));
  sim.create('nodes', nodeFor({ name: 'node-b' }));
  sim.create('pods', podFor({ name: 'cart-1', namespace: 'shop', nodeName: NODE, labels: { app: 'cart', track: 'stable' } }));
  sim.create('pods', podFor({ name: 'pay-1', namespace: 'shop', nodeName: NODE, labels: { app: 'pay' } }));
  sim.create('pods', podFor({ name: 'elsewhere', namespace: 'shop', nodeName: 'node-b', labels: { app: 'other' } }));
  sim.create('pods', podFor({ name: `etcd-${NODE}`, namespace: 'kube-system', nodeName: NODE, staticHash: HASH }));
}

interface KubeletSetup {
  kubelet: SimKubelet;
  tokenFile: string;
  dir: string;
}

async function startKubelet(t: Tap, sim: SimApiServer, options: Partial<SimKubeletOptions> = {}): Promise<KubeletSetup> {
  const dir = tempDir(t);
  const tokenFile = join(dir, 'token');
  writeFileSync(tokenFile, 'kubelet-token-1\n');
  const kubelet = await startSimKubelet(sim, { nodeName: NODE, token: 'kubelet-token-1', ...options });
  t.teardown(() => kubelet.close());
  return { kubelet, tokenFile, dir };
}

type Tap = Parameters<typeof tempDir>[0];

function harness(t: Tap, sim: SimApiServer, connection: KubeletConnection, deletionDelayMs = 60_000): Harness {
  return startHarness(t, sim, { nodeName: NODE, deletionDelayMs, kubelet: { kubeConfig: kubeletKubeConfig(connection), pollIntervalMs: POLL_MS } });
}

function plain(setup: KubeletSetup): KubeletConnection {
  return { url: setup.kubelet.url, tokenFile: setup.tokenFile, insecureSkipTlsVerify: true };
}

/** A simulated cluster and kubelet, and a harness polling it, synced. */
async function startSynced(t: Tap): Promise<{ sim: SimApiServer; setup: KubeletSetup; h: Harness }> {
  const sim = await startSim(t);
  cluster(sim);
  const setup = await startKubelet(t, sim);
  const h = harness(t, sim, plain(setup));
  await readyWithin(h.reflectors);
  return { sim, setup, h };
}

function podsStatus(h: Harness) {
  return h.reflectors.status().find((s) => s.kind === 'pods')!;
}

t.test('pods of this node come from the kubelet: added, relabelled, deleted and retained; static pods by their hash', async (t) => {
  const { sim, h } = await startSynced(t);
  const reader = h.store.reader();

  t.match(reader.podByName('shop', 'cart-1')?.object, { labels: { app: 'cart', track: 'stable' }, nodeName: NODE });
  t.ok(reader.podByName('shop', 'pay-1'), 'every pod of the node');
  t.equal(reader.podByName('shop', 'elsewhere'), undefined, 'no pod of another node');
  t.ok(reader.namespace('shop'), 'namespaces still come from the API server');
  t.ok(reader.node(NODE), 'and the node too');
  const staticPod = reader.podByUid(HASH);
  t.equal(staticPod?.object.name, `etcd-${NODE}`, 'a static pod is found by the config hash its log directory is named by');
  t.equal(staticPod?.object.uid, HASH, 'the kubelet lists the static pod itself, not its mirror');
  t.notOk(sim.requests.some((r) => r.kind === 'pods'), 'no pods list or watch on the API server');

  // A relabel: the kubelet applies it without a new resourceVersion, so only the item's text says so.
  const before = reader.podByName('shop', 'cart-1')!;
  sim.patchLabels('pods', 'shop', 'cart-1', { track: 'canary' });
  const relabelled = await waitFor(() => {
    const e = reader.podByName('shop', 'cart-1');
    return e?.object.labels.track === 'canary' ? e : undefined;
  }, 'the relabel reaches the store');
  t.equal(relabelled.object.resourceVersion, before.object.resourceVersion, 'same resourceVersion as before: the kubelet keeps the first one');
  t.ok(relabelled.version > before.version, 'a new entry version, so readers re-render');

  // A new pod, then a deletion: the deleted pod stays readable for the deletion delay.
  sim.create('pods', podFor({ name: 'cart-2', namespace: 'shop', nodeName: NODE, labels: { app: 'cart' } }));
  await waitFor(() => reader.podByName('shop', 'cart-2'), 'a new pod is added');
  sim.delete('pods', 'shop', 'pay-1', { graceful: true });
  const deleted = await waitFor(() => {
    const e = reader.podByName('shop', 'pay-1');
    return e?.deletedAt !== undefined ? e : undefined;
  }, 'the deleted pod is marked deleted');
  t.match(deleted.object, { name: 'pay-1', labels: { app: 'pay' } }, 'and retained with its metadata');
  t.equal(h.store.counts().find((c) => c.kind === 'pods')?.retained, 1);

  // Unchanged pods are recognised by their text and not parsed again.
  const unchanged = await metricValue(h.metrics, 'kubelet_pod_changes_total', { change: 'unchanged' });
  t.ok(unchanged > 0, `unchanged pods skipped (${unchanged})`);
  t.equal(await metricValue(h.metrics, 'kubelet_pod_changes_total', { change: 'deleted' }), 1);
  t.ok((await metricValue(h.metrics, 'kubelet_polls_total', { result: 'ok' })) >= 3);
  t.ok((await metricValue(h.metrics, 'kubelet_response_bytes_total', {})) > 0);
  t.equal(await metricValue(h.metrics, 'reflector_synced', { kind: 'pods' }), 1);
});

t.test('one poll per interval, whatever the traffic', async (t) => {
  const sim = await startSim(t);
  cluster(sim);
  const setup = await startKubelet(t, sim);
  const started = performance.now();
  const h = harness(t, sim, plain(setup));
  await readyWithin(h.reflectors);
  // Lookups of pods that do not exist (cache misses) must not cause requests.
  for (let i = 0; i < 10_000; i++) h.store.reader().podByUid(`missing-${i}`);
  await waitFor(() => setup.kubelet.requests.length >= 5, 'five polls');
  const elapsed = performance.now() - started;
  const polls = setup.kubelet.requests.length;
  t.ok(polls <= Math.ceil(elapsed / POLL_MS) + 1, `${polls} polls in ${Math.round(elapsed)} ms at most one per ${POLL_MS} ms`);
});

t.test('kubelet down: known pods are kept, the error shows; back: changes made meanwhile arrive', async (t) => {
  const { sim, setup, h } = await startSynced(t);
  await setup.kubelet.stop();
  await waitFor(() => podsStatus(h).lastError, 'the failed poll is reported');
  t.match(podsStatus(h).lastError, /kubelet http:\/\/127\.0\.0\.1:\d+\/pods: cannot reach the kubelet/);
  t.ok(h.lines.some((l) => l.code === 'connection' && /cannot reach the kubelet/.test(l.msg)), 'logged once, saying what failed');
  t.ok(h.store.reader().podByName('shop', 'cart-1')?.deletedAt === undefined, 'what is known stays live');
  t.ok((await metricValue(h.metrics, 'kubelet_polls_total', { result: 'connection' })) >= 1);
  t.ok((await metricValue(h.metrics, 'api_errors_total', { kind: 'pods', code: 'connection' })) >= 1);

  sim.create('pods', podFor({ name: 'while-down', namespace: 'shop', nodeName: NODE }));
  await setup.kubelet.listen();
  await waitFor(() => h.store.reader().podByName('shop', 'while-down'), 'the pod created while the kubelet was down');
  await waitFor(() => podsStatus(h).lastError === undefined, 'the error is cleared');
  t.ok(h.lines.some((l) => /kubelet \/pods polls working again/.test(l.msg)));

  // Server errors keep what is known too (no answer is no "every pod is gone").
  setup.kubelet.failNext(2, 500);
  await waitFor(() => podsStatus(h).lastError?.includes('500'), 'a 500 is reported');
  t.ok(h.store.reader().podByName('shop', 'cart-1')?.deletedAt === undefined);
});

t.test('not ready until the first poll succeeds; a 403 names the permission', async (t) => {
  const sim = await startSim(t);
  cluster(sim);
  const setup = await startKubelet(t, sim);
  setup.kubelet.failNext(2, 403);
  const h = harness(t, sim, plain(setup));
  await waitFor(() => podsStatus(h).lastError, 'the refused poll is reported');
  t.equal(podsStatus(h).synced, false, 'not synced: /readyz answers 503 with this error');
  t.ok(h.store.reader().pending('pods'), 'readers are told pods are not known yet');
  t.ok(h.lines.some((l) => l.code === 'http_403' && /grant the service account get on nodes\/proxy/.test(l.msg)));
  await readyWithin(h.reflectors);
  t.equal(h.store.reader().pending('pods'), false);
});

t.test('the token file is re-read on every poll: a rotated token is used at once', async (t) => {
  const { sim, setup, h } = await startSynced(t);

  // The kubelet starts accepting only the new token before the file is rewritten: a 401 meanwhile.
  setup.kubelet.requireToken('kubelet-token-2');
  await waitFor(() => podsStatus(h).lastError?.includes('401'), 'the old token is refused');
  t.ok(h.lines.some((l) => l.code === 'http_401' && /rejected our token/.test(l.msg)));
  writeFileSync(setup.tokenFile, 'kubelet-token-2\n');
  await waitFor(() => podsStatus(h).lastError === undefined, 'the rotated token works');
  sim.patchLabels('pods', 'shop', 'cart-1', { rotated: 'yes' });
  await waitFor(() => h.store.reader().podByName('shop', 'cart-1')?.object.labels.rotated === 'yes', 'changes flow again');
});

t.test('TLS: the kubelet certificate is checked against caFile', async (t) => {
  const dir = tempDir(t);
  const material = makeCertificate(dir);
  if (material === undefined) {
    t.pass('skipped: openssl is not available to make a test certificate');
    return;
  }
  const caFile = join(dir, 'cert.pem');
  const sim = await startSim(t);
  cluster(sim);
  const setup = await startKubelet(t, sim, { tls: material });
  t.match(setup.kubelet.url, /^https:/);

  const withCa = harness(t, sim, { url: setup.kubelet.url, tokenFile: setup.tokenFile, caFile, insecureSkipTlsVerify: false });
  await readyWithin(withCa.reflectors);
  t.ok(withCa.store.reader().podByName('shop', 'cart-1'), 'pods read over TLS, certificate checked');

  const withoutCa = harness(t, sim, { url: setup.kubelet.url, tokenFile: setup.tokenFile, insecureSkipTlsVerify: false });
  await waitFor(() => podsStatus(withoutCa).lastError, 'a certificate no CA vouches for is refused');
  t.equal(podsStatus(withoutCa).synced, false);

  const insecure = harness(t, sim, { url: setup.kubelet.url, tokenFile: setup.tokenFile, insecureSkipTlsVerify: true });
  await readyWithin(insecure.reflectors);
  t.pass('insecureSkipTlsVerify reads it unchecked');
});

t.test('an answer that is not a PodList fails the poll and leaves the store alone', async (t) => {
  const sim = await startSim(t);
  cluster(sim);
  const setup = await startKubelet(t, sim);
  setup.kubelet.failNext(1, 200, '{"kind":"Status","apiVersion":"v1","status":"Success"}');
  const h = harness(t, sim, plain(setup));
  await waitFor(() => podsStatus(h).lastError, 'the poll fails');
  t.match(podsStatus(h).lastError, /not a PodList/);
  await readyWithin(h.reflectors);

  // Once pods are known, a broken answer must not read as "every pod is gone".
  setup.kubelet.failNext(1, 200, '{"kind":"PodList","items":[{"metadata":');
  await waitFor(() => podsStatus(h).lastError?.includes('invalid JSON'), 'the truncated answer is refused');
  t.equal(h.store.counts().find((c) => c.kind === 'pods')?.retained, 0, 'nothing marked deleted');
  t.ok((await metricValue(h.metrics, 'kubelet_polls_total', { result: 'decode' })) >= 2);
});
