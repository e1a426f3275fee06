/**
 * Issue #16 in the agent: a deleted pod keeps its metadata while its files still have lines to
 * read (kubernetes.maxRetention caps it), and a followed file whose pod becomes excluded is
 * passed over unread, its position checkpointed at its end so that a pod included again starts
 * at new lines (files excluded from the start are parked: agent-parked.test.ts).
 * The agent is started as the command starts it (src/runtime/agent.ts), against the simulated
 * API server, with real files and a real HTTP receiver as its sink.
 */
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { startAgent } from '../../src/runtime/agent.ts';
import { namespaceFor } from '../../src/sim/index.ts';
import { testConfig } from '../builders/defaults.ts';
import { testRuntime } from '../builders/runtime.ts';
import { FAST_KUBERNETES, simulatedCluster, type PodSpec } from './cluster.ts';
import { append, completeLines, criLine, metricValue, podDir, waitFor } from './fixtures.ts';

interface Enriched {
  message: string;
  file: string;
  kubernetes?: { pod_name?: string; pod_labels?: Record<string, string> };
}

/** An HTTP receiver that takes `delayMs` to acknowledge each batch: a sink that is slower than the input. */
async function slowReceiver(t: Test, delayMs: number): Promise<{ url: string; received: Enriched[] }> {
  const received: Enriched[] = [];
  const server = createHttpServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      setTimeout(() => {
        for (const line of Buffer.concat(chunks).toString().split('\n')) if (line !== '') received.push(JSON.parse(line) as Enriched);
        res.writeHead(200).end();
      }, delayMs);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  }));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/logs`, received };
}

async function lookup(url: string, file: string): Promise<{ pod: { state: string; keptBy: string | null } | null }> {
  const res = await fetch(`${url}/v1/lookup?file=${encodeURIComponent(file)}`);
  return (await res.json()) as { pod: { state: string; keptBy: string | null } | null };
}

const CART: PodSpec = { namespace: 'shop', name: 'cart-1', uid: '0b6c1f0e-0000-4000-8000-0000000000c1', containers: ['cart'] };

t.test('a pod deleted while the agent is behind on its file (slow sink) keeps its metadata to the last line, then goes', async (t) => {
  const root = t.testdir({ pods: {}, data: {} });
  const podsDir = join(root, 'pods');
  const { sim, kubeConfig } = await simulatedCluster(t, [CART]);
  const sink = await slowReceiver(t, 700);
  const log = podDir(podsDir, CART.namespace, CART.name, CART.uid, 'cart').log;
  const messages = Array.from({ length: 3000 }, (_, i) => `cart line ${i} ${'x'.repeat(40)}`);
  append(log, messages.map((m) => criLine(m)).join(''));
  const config = testConfig({
    server: { listen: '127.0.0.1:0' },
    kubernetes: { ...FAST_KUBERNETES, deletionDelay: '200ms', maxRetention: '1h' },
    // 64 KiB in flight, 500 lines a batch at 700 ms each: the file takes seconds to read, and no
    // line of it is enriched for longer than deletionDelay (so events asking for the pod would not keep it).
    source: { podsDir, dataDir: join(root, 'data'), sink: sink.url, maxBufferedBytes: '64KiB', batchMaxEvents: 500, batchMaxWait: '10ms', checkpointInterval: '50ms' },
  });
  const agent = await startAgent(config, testRuntime(), { kubeConfig });
  t.teardown(() => agent.stop());
  await waitFor('the first batches out', () => sink.received.length >= 100);

  sim.delete('pods', CART.namespace, CART.name);
  await waitFor('the pod kept past its deletion delay', async () => (await metricValue(agent.service.metrics, 'kube_log_enricher_store_retention_extensions_total', { reason: 'unread_files' })) >= 1);
  t.ok(sink.received.length < messages.length, `still behind when the delay ran out (${sink.received.length} of ${messages.length} out)`);
  const kept = await lookup(agent.service.url, log);
  t.match(kept.pod, { state: 'retained', keptBy: 'unread_files' }, '/v1/lookup says why the pod is still there');

  await waitFor('every line out', () => sink.received.length >= messages.length, 120_000);
  t.same(sink.received.map((e) => e.message), messages, 'every line once, in order');
  const bare = sink.received.filter((e) => e.kubernetes?.pod_name !== CART.name || e.kubernetes.pod_labels?.app !== CART.name);
  t.equal(bare.length, 0, 'every line, the last included, has the pod\'s metadata');

  // Read to its end: forgotten deletionDelay later (not kept until maxRetention).
  await waitFor('the pod forgotten once its file was read', async () => (await lookup(agent.service.url, log)).pod === null);
});

t.test('a followed file whose pod becomes excluded is passed over unread; included again, it starts at new lines', async (t) => {
  const root = t.testdir({ pods: {}, data: {} });
  const podsDir = join(root, 'pods');
  const pods: PodSpec[] = [
    { namespace: 'shop', name: 'cart-1', uid: '0b6c1f0e-0000-4000-8000-0000000000d1', containers: ['cart'], labels: { 'logs.kube-log-enricher.io/include': 'true' } },
    { namespace: 'shop', name: 'noisy-1', uid: '0b6c1f0e-0000-4000-8000-0000000000d2', containers: ['noisy'], labels: { 'logs.kube-log-enricher.io/include': 'true' } },
    { namespace: 'batch', name: 'job-1', uid: '0b6c1f0e-0000-4000-8000-0000000000d3', containers: ['job'] },
  ];
  const { sim, kubeConfig } = await simulatedCluster(t, pods);
  // Opt-in mode: cart and (for now) noisy ask to be included; the namespace batch is included as a whole, but excludes itself below.
  sim.update('namespaces', namespaceFor({ name: 'batch', labels: { team: 'batch', 'logs.kube-log-enricher.io/include': 'true', 'logs.kube-log-enricher.io/exclude': 'true' } }));
  const logs = Object.fromEntries(pods.map((p) => [p.name, podDir(podsDir, p.namespace, p.name, p.uid, p.containers[0]).log]));
  for (const p of pods) append(logs[p.name]!, criLine(`${p.name} before start 1`) + criLine(`${p.name} before start 2`));
  const out = join(root, 'out.ndjson');
  const config = testConfig({
    server: { listen: '127.0.0.1:0' },
    kubernetes: FAST_KUBERNETES,
    enrichment: { exclude: { mode: 'opt-in' } },
    source: { podsDir, dataDir: join(root, 'data'), sink: `file:${out}`, rescanInterval: '200ms', checkpointInterval: '50ms', batchMaxEvents: 100, batchMaxWait: '10ms' },
  });
  const agent = await startAgent(config, testRuntime(), { kubeConfig });
  t.teardown(() => agent.stop());
  const { metrics } = agent.service;
  const messagesOut = () => completeLines(out).map((l) => (JSON.parse(l) as Enriched).message);
  await waitFor('the included pods\' lines', () => messagesOut().length >= 4);
  t.equal(agent.source.stats().pathsParked, 1, 'the excluded namespace\'s file is parked (agent-parked.test.ts)');

  // noisy opts out while its file is followed: from now on its data is passed over.
  const readBefore = statSync(logs['noisy-1']!).size;
  sim.patchLabels('pods', 'shop', 'noisy-1', { 'logs.kube-log-enricher.io/include': null });
  await waitFor('the store sees the label gone', () => agent.service.enricher.fileView(logs['noisy-1']!).excluded);
  for (const p of pods) append(logs[p.name]!, criLine(`${p.name} running`));
  // noisy is in the middle of writing a line.
  const half = criLine('noisy-1 was writing').slice(0, -1);
  append(logs['noisy-1']!, half);
  await waitFor('the included pod\'s new line', () => messagesOut().includes('cart-1 running'));
  const excludedBytes = statSync(logs['noisy-1']!).size - half.length - readBefore;
  await waitFor('the excluded file passed over', async () => (await metricValue(metrics, 'kube_log_enricher_bytes_passed_over_total')) >= excludedBytes);
  t.equal(await metricValue(metrics, 'kube_log_enricher_bytes_passed_over_total'), excludedBytes, 'every complete line written since passed over, the incomplete one left for later');
  t.equal(await metricValue(metrics, 'kube_log_enricher_bytes_read_total'), statSync(logs['cart-1']!).size + readBefore, 'only the included file was read, and noisy while it was included');
  t.equal(await metricValue(metrics, 'kube_log_enricher_events_excluded_total'), 0, 'no line of an excluded pod was read to be dropped');

  // noisy opts in again: what it writes from now on is read, beginning with the line it was writing.
  sim.patchLabels('pods', 'shop', 'noisy-1', { 'logs.kube-log-enricher.io/include': 'true' });
  await waitFor('the store sees the label', () => !agent.service.enricher.fileView(logs['noisy-1']!).excluded);
  append(logs['noisy-1']!, ' this\n' + criLine('noisy-1 included'));
  await waitFor('noisy\'s lines after its inclusion', () => messagesOut().includes('noisy-1 included'));
  await agent.stop();
  const out2 = messagesOut();
  t.same(out2.filter((m) => m.startsWith('noisy')), ['noisy-1 before start 1', 'noisy-1 before start 2', 'noisy-1 was writing this', 'noisy-1 included'], 'only what was written while included (the incomplete line whole)');
  t.same(out2.filter((m) => m.startsWith('cart')), ['cart-1 before start 1', 'cart-1 before start 2', 'cart-1 running']);
  t.notOk(out2.some((m) => m.startsWith('job-1')), 'the excluded namespace\'s pod never');
  const saved = JSON.parse(readFileSync(join(root, 'data', 'checkpoints.json'), 'utf8')) as { files: { path: string; offset: number }[] };
  t.equal(saved.files.find((f) => f.path === logs['job-1'])?.offset, statSync(logs['job-1']!).size, 'an excluded file is checkpointed at its end');
});
