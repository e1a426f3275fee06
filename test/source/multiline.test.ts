/**
 * Multi-line messages in the agent (src/runtime/agent.ts as the command starts it, the store
 * synced from a simulated API server, real files, a file sink): the pod's multiline annotation
 * makes the file source join a record's lines before enrichment, and a record still held is
 * never behind the checkpoint.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { startAgent } from '../../src/runtime/agent.ts';
import { testConfig } from '../builders/defaults.ts';
import { testRuntime } from '../builders/runtime.ts';
import { GO_TRACE, JAVA_TRACE, PLAIN_LINES, PYTHON_TRACE } from '../builders/traces.ts';
import { FAST_KUBERNETES, simulatedCluster, type PodSpec } from './cluster.ts';
import { append, completeLines, criLine, metricValue, podDir, waitFor } from './fixtures.ts';

interface Enriched {
  message: string;
  file: string;
  stream: string;
  timestamp: string;
  kubernetes: { pod_name: string; container_name: string };
}

const ANNOTATION = 'logs.kube-log-enricher.io/multiline';

const PODS: PodSpec[] = [
  {
    namespace: 'shop',
    name: 'traces',
    uid: '0b6c1f0e-0000-4000-8000-00000000a001',
    containers: ['java', 'python', 'go', 'custom', 'invalid'],
    annotations: {
      [ANNOTATION]: 'java',
      [`${ANNOTATION}-python`]: 'python',
      [`${ANNOTATION}-go`]: 'go',
      [`${ANNOTATION}-custom`]: '^\\d{4}-\\d{2}-\\d{2} ',
      [`${ANNOTATION}-invalid`]: '(unclosed',
    },
  },
  { namespace: 'shop', name: 'plain', uid: '0b6c1f0e-0000-4000-8000-00000000a002', containers: ['app'] },
];

function readEnriched(path: string): Enriched[] {
  return completeLines(path).map((l) => JSON.parse(l) as Enriched);
}

function setup(t: Test, multiline: Record<string, string>) {
  const root = t.testdir({ pods: {}, data: {} });
  const podsDir = join(root, 'pods');
  const out = join(root, 'out.ndjson');
  const config = testConfig({
    server: { listen: '127.0.0.1:0' },
    kubernetes: FAST_KUBERNETES,
    enrichment: { multiline },
    source: { podsDir, dataDir: join(root, 'data'), sink: `file:${out}`, rescanInterval: '200ms', checkpointInterval: '50ms', batchMaxEvents: 100, batchMaxWait: '10ms' },
  });
  const log = (pod: PodSpec, container: string) => podDir(podsDir, pod.namespace, pod.name, pod.uid, container).log;
  return { root, out, config, log };
}

t.test('agent: Java, Python, Go and custom-regex records joined per container; stdout between stderr lines stays apart', async (t) => {
  const { out, config, log } = setup(t, { flushTimeout: '300ms' });
  const { kubeConfig } = await simulatedCluster(t, PODS);
  const agent = await startAgent(config, testRuntime(), { kubeConfig });
  t.teardown(() => agent.stop());
  const [traces, plain] = PODS as [PodSpec, PodSpec];

  // Java on stderr, a stdout line written between each of its lines.
  let java = criLine(PLAIN_LINES[0]!, 'stdout');
  JAVA_TRACE.forEach((line, i) => (java += criLine(line, 'stderr') + criLine(`request ${i}`, 'stdout')));
  append(log(traces, 'java'), java);
  append(log(traces, 'python'), [PLAIN_LINES[1]!, ...PYTHON_TRACE, PLAIN_LINES[2]!].map((l) => criLine(l, 'stderr')).join(''));
  append(log(traces, 'go'), [...GO_TRACE, 'exit status 2'].map((l) => criLine(l, 'stderr')).join(''));
  const custom = ['2026-12-05 10:00:00 INFO start', '2026-12-05 10:00:01 ERROR failed', '  detail one', '  detail two', '2026-12-05 10:00:02 INFO next'];
  append(log(traces, 'custom'), custom.map((l) => criLine(l)).join(''));
  append(log(traces, 'invalid'), JAVA_TRACE.map((l) => criLine(l, 'stderr')).join(''));
  append(log(plain, 'app'), JAVA_TRACE.map((l) => criLine(l, 'stderr')).join(''));

  const expected = 1 + JAVA_TRACE.length + 1 + 3 + 2 + 3 + JAVA_TRACE.length * 2;
  await waitFor('every event, the last records flushed by the timeout', () => readEnriched(out).length >= expected);
  await waitFor('all delivered', () => agent.source.stats().eventsDelivered >= expected);
  const events = readEnriched(out);
  t.equal(events.length, expected);
  const of = (pod: PodSpec, container: string, stream?: string) => events.filter((e) => e.file === log(pod, container) && (stream === undefined || e.stream === stream));

  const javaErr = of(traces, 'java', 'stderr');
  t.same(javaErr.map((e) => e.message), [JAVA_TRACE.join('\n')], 'the stderr trace is one event');
  t.same(of(traces, 'java', 'stdout').map((e) => e.message), [PLAIN_LINES[0], ...JAVA_TRACE.map((_, i) => `request ${i}`)], 'stdout lines stay events of their own');
  const firstTs = readFileSync(log(traces, 'java'), 'utf8').split('\n')[1]!.split(' ')[0];
  t.equal(javaErr[0]!.timestamp, firstTs, "the first line's timestamp");
  t.equal(javaErr[0]!.kubernetes.container_name, 'java');
  t.same(of(traces, 'python').map((e) => e.message), [PLAIN_LINES[1], PYTHON_TRACE.join('\n'), PLAIN_LINES[2]], 'per-container annotation: python');
  t.same(of(traces, 'go').map((e) => e.message), [GO_TRACE.join('\n'), 'exit status 2'], 'per-container annotation: go');
  t.same(of(traces, 'custom').map((e) => e.message), [custom[0], custom.slice(1, 4).join('\n'), custom[4]], 'a custom regex');
  t.same(of(traces, 'invalid').map((e) => e.message), JAVA_TRACE, 'an invalid regex is ignored: lines as they are');
  t.same(of(plain, 'app').map((e) => e.message), JAVA_TRACE, 'a pod without the annotation: lines as they are');

  const metrics = agent.service.metrics;
  t.equal(await metricValue(metrics, 'kube_log_enricher_multiline_events_total'), 4);
  t.equal(await metricValue(metrics, 'kube_log_enricher_multiline_lines_joined_total'), JAVA_TRACE.length - 1 + PYTHON_TRACE.length - 1 + GO_TRACE.length - 1 + 2);
  t.ok((await metricValue(metrics, 'kube_log_enricher_multiline_invalid_annotations_total'))! >= 1, 'the invalid annotation is counted');
});

t.test('agent: maxBytes sends a long record in parts, nothing lost', async (t) => {
  const { out, config, log } = setup(t, { flushTimeout: '200ms', maxBytes: '256B' });
  const { kubeConfig } = await simulatedCluster(t, PODS);
  const agent = await startAgent(config, testRuntime(), { kubeConfig });
  t.teardown(() => agent.stop());
  const trace = ['java.lang.RuntimeException: deep', ...Array.from({ length: 30 }, (_, i) => `\tat com.example.Frame${i}.call(Frame.java:${i})`)];
  append(log(PODS[0]!, 'java'), trace.map((l) => criLine(l, 'stderr')).join(''));
  await waitFor('the whole trace', () => readEnriched(out).reduce((n, e) => n + e.message.split('\n').length, 0) >= trace.length);
  const parts = readEnriched(out).map((e) => e.message);
  t.ok(parts.length > 1, `${parts.length} parts`);
  for (const p of parts) t.ok(Buffer.byteLength(p) <= 256);
  t.equal(parts.join('\n'), trace.join('\n'));
  t.equal(await metricValue(agent.service.metrics, 'kube_log_enricher_multiline_splits_total'), parts.length - 1);
});

t.test('agent: a record still held is not checkpointed; after a restart it comes out whole, once', async (t) => {
  // A flush timeout that never fires during the test: only the next record ends the trace.
  const { root, out, config, log } = setup(t, { flushTimeout: '1h' });
  const { kubeConfig } = await simulatedCluster(t, PODS);
  const file = log(PODS[0]!, 'java');
  const before = criLine('before the trace', 'stderr');
  append(file, before + JAVA_TRACE.slice(0, 3).map((l) => criLine(l, 'stderr')).join(''));
  const first = await startAgent(config, testRuntime(), { kubeConfig });
  await waitFor('the line before the trace', () => readEnriched(out).length >= 1);
  const checkpoint = () => (JSON.parse(readFileSync(join(root, 'data', 'checkpoints.json'), 'utf8')) as { files: { path: string; offset: number }[] }).files.find((f) => f.path === file)?.offset;
  await waitFor('its checkpoint', () => checkpoint() === Buffer.byteLength(before));
  // Stopping does not flush what is held (as a crash would not): its lines are behind the checkpoint.
  await first.stop();
  t.equal(checkpoint(), Buffer.byteLength(before), 'the checkpoint stops at the held record');
  t.same(readEnriched(out).map((e) => e.message), ['before the trace']);

  append(file, JAVA_TRACE.slice(3).map((l) => criLine(l, 'stderr')).join('') + criLine('after the trace', 'stderr'));
  const second = await startAgent(config, testRuntime(), { kubeConfig });
  t.teardown(() => second.stop());
  await waitFor('the trace and the line after it', () => readEnriched(out).length >= 3);
  await second.stop();
  t.same(readEnriched(out).map((e) => e.message), ['before the trace', JAVA_TRACE.join('\n'), 'after the trace']);
});
