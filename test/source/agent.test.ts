/**
 * The two feeds end to end on real files: in-process (`agent`, started as the command starts it:
 * the store synced from a simulated API server, the enricher, the event bus, a file sink) and
 * remote (`source`: the service started as `serve` starts it, on loopback, down for a while, over
 * HTTP and over the WebSocket), plus a sink that is down for a while.
 */
import { spawn } from 'node:child_process';
import { createServer as createHttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import t, { type Test } from 'tap';
import { startAgent } from '../../src/runtime/agent.ts';
import { startService } from '../../src/runtime/service.ts';
import { createFileSink, createHttpSink } from '../../src/sink/index.ts';
import { createRemoteStage, createRemoteWebSocketStage } from '../../src/client/index.ts';
import { createSerialisingStage, startFileSource } from '../../src/source/index.ts';
import { testConfig } from '../builders/defaults.ts';
import { testRuntime } from '../builders/runtime.ts';
import { FAST_KUBERNETES, simulatedCluster } from './cluster.ts';
import { append, completeLines, criLine, freePort, metricValue, podDir, recordingLogger, sourceOptions, testMetrics, waitFor } from './fixtures.ts';

interface Enriched {
  message: string;
  file: string;
  stream: string;
  timestamp: string;
  kubernetes: { pod_name: string; pod_namespace: string; pod_uid: string; container_name: string; pod_labels: Record<string, string>; namespace_labels?: Record<string, string> };
}

function readEnriched(path: string): Enriched[] {
  return completeLines(path).map((l) => JSON.parse(l) as Enriched);
}

const REPO = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

const PODS = [
  { namespace: 'shop', name: 'cart-7d9f8-x2x4q', uid: '0b6c1f0e-0000-4000-8000-000000000001', containers: ['cart', 'proxy'] },
  { namespace: 'pay', name: 'api-5c4b7-abcde', uid: '0b6c1f0e-0000-4000-8000-000000000002', containers: ['api'] },
  { namespace: 'shop', name: 'noisy-1', uid: '0b6c1f0e-0000-4000-8000-000000000003', containers: ['noisy'], labels: { 'logs.kube-log-enricher.io/exclude': 'true' } },
];

t.test('agent: in-process enrichment, event bus, file sink; excluded pods are parked, their checkpoints at their end', async (t) => {
  const root = t.testdir({ pods: {}, data: {} });
  const podsDir = join(root, 'pods');
  const out = join(root, 'out.ndjson');
  const { kubeConfig } = await simulatedCluster(t, PODS);
  // Started as the `agent` command starts (src/runtime/agent.ts), with the file source tuned fast.
  const config = testConfig({
    server: { listen: '127.0.0.1:0' },
    kubernetes: FAST_KUBERNETES,
    source: { podsDir, dataDir: join(root, 'data'), sink: `file:${out}`, rescanInterval: '200ms', checkpointInterval: '50ms', batchMaxEvents: 100, batchMaxWait: '10ms' },
  });
  const agent = await startAgent(config, testRuntime(), { kubeConfig });
  t.teardown(() => agent.stop());
  const { metrics, bus } = agent.service;
  const published: Enriched[] = [];
  let skipped = 0;
  bus.subscribe(
    {},
    {
      deliver: (chunk) => published.push(...chunk.bytes.toString('utf8').trimEnd().split('\n').map((l) => JSON.parse(l) as Enriched)),
      skip: (count) => (skipped += count),
    },
  );
  const files = PODS.flatMap((p) => p.containers.map((c) => ({ pod: p, container: c, log: podDir(podsDir, p.namespace, p.name, p.uid, c).log })));
  for (const f of files) append(f.log, criLine(`${f.container} says hi`) + criLine(`${f.container} ends`, 'stderr'));
  await waitFor('all lines of the included pods', () => readEnriched(out).length >= 6);
  await waitFor('all lines acknowledged', () => agent.source.stats().eventsDelivered >= 6);
  // The bus's fan-out runs after the publish, between the event loop's other work.
  await waitFor('the fan-out to the event bus', () => published.length + skipped >= 6);
  await agent.stop();

  const events = readEnriched(out);
  t.equal(events.length, 6, 'the excluded pod\'s two lines are not output');
  for (const f of files.filter((f) => f.pod.name !== 'noisy-1')) {
    const mine = events.filter((e) => e.file === f.log);
    t.same(mine.map((e) => [e.stream, e.message]), [['stdout', `${f.container} says hi`], ['stderr', `${f.container} ends`]]);
    t.match(mine[0]?.kubernetes, { pod_name: f.pod.name, pod_namespace: f.pod.namespace, pod_uid: f.pod.uid, container_name: f.container, pod_labels: { app: f.pod.name } });
  }
  t.equal(published.length, 6, 'published to the event bus too');
  t.ok(published.every((e) => typeof e.kubernetes.pod_name === 'string'), 'with their pods');
  t.equal(await metricValue(metrics, 'kube_log_enricher_events_out_total', { route: 'agent' }), 6);
  const noisy = files.find((f) => f.pod.name === 'noisy-1')!;
  t.equal(await metricValue(metrics, 'kube_log_enricher_events_excluded_total'), 0, 'the excluded pod\'s lines are not even read');
  t.equal(await metricValue(metrics, 'kube_log_enricher_bytes_passed_over_total'), 0, 'never opened, so nothing passed over');
  t.equal(await metricValue(metrics, 'kube_log_enricher_bytes_read_total'), files.filter((f) => f !== noisy).reduce((n, f) => n + statSync(f.log).size, 0), 'only the included files were read');
  const saved = JSON.parse(readFileSync(join(root, 'data', 'checkpoints.json'), 'utf8')) as { files: { path: string; offset: number }[] };
  t.equal(saved.files.find((f) => f.path === noisy.log)?.offset, statSync(noisy.log).size, 'excluded lines are acknowledged as handled');
});

/** The enrichment service as `serve` starts it (src/runtime/service.ts), on `port`, knowing PODS. */
async function service(t: Test, port: number, options: { token?: string; maxBodyBytes?: number } = {}) {
  const { kubeConfig } = await simulatedCluster(t, PODS);
  const server: Record<string, unknown> = { listen: `127.0.0.1:${port}` };
  if (options.token !== undefined) server.authToken = options.token;
  if (options.maxBodyBytes !== undefined) server.maxBodyBytes = `${options.maxBodyBytes}B`;
  const started = await startService(testConfig({ server, kubernetes: FAST_KUBERNETES }), testRuntime(), { kubeConfig, sink: null });
  t.teardown(() => started.stop());
  await started.reflectors.ready();
  return { metrics: started.metrics };
}

for (const transport of ['http', 'websocket'] as const) {
  const remoteStage = transport === 'http' ? createRemoteStage : createRemoteWebSocketStage;

  t.test(`source over ${transport}: the service is down for a while: retried, nothing lost or repeated`, async (t) => {
    const root = t.testdir({ pods: {}, data: {} });
    const podsDir = join(root, 'pods');
    const out = join(root, 'out.ndjson');
    const port = await freePort();
    const metrics = testMetrics();
    const logger = recordingLogger();
    const stage = remoteStage({ service: `http://127.0.0.1:${port}`, token: 'secret-token-123', logger });
    t.teardown(() => stage.close());
    const files = PODS.slice(0, 2).flatMap((p) => p.containers.map((c) => podDir(podsDir, p.namespace, p.name, p.uid, c).log));
    const written = new Map(files.map((f) => [f, [] as string[]]));
    const write = () => {
      for (const f of files) {
        const m = `${f.slice(-20)} line ${written.get(f)!.length}`;
        written.get(f)!.push(m);
        append(f, criLine(m));
      }
    };
    for (let i = 0; i < 100; i++) write();
    const source = await startFileSource(sourceOptions(podsDir, join(root, 'data')), { enrich: stage, sink: createFileSink(out), metrics, logger });
    t.teardown(() => source.stop());
    await waitFor('failed attempts while the service is down', () => source.stats().failedAttempts >= 3);
    t.match(logger.records.find((r) => r.level === 'warn')?.obj, { stage: 'service', error: /unreachable: ECONNREFUSED/ });
    for (let i = 0; i < 100; i++) write();
    await service(t, port, { token: 'secret-token-123' });
    await waitFor('everything delivered', () => readEnriched(out).length >= 600);
    await source.stop();
    const events = readEnriched(out);
    for (const f of files) t.same(events.filter((e) => e.file === f).map((e) => e.message), written.get(f), `${f}: all lines once, in order`);
    t.match(events.find((e) => e.file === files[0])?.kubernetes, { pod_namespace: 'shop', pod_name: 'cart-7d9f8-x2x4q', container_name: 'cart' }, 'enriched by the service');
    t.ok(await metricValue(metrics, 'kube_log_enricher_sink_errors_total', { sink: 'service' }) >= 3);
    t.notOk(JSON.stringify(logger.records).includes('secret-token-123'), 'the token is never logged');
  });

  t.test(`source over ${transport}: a wrong token is reported as a refusal with a hint; an oversized batch is split`, async (t) => {
    const root = t.testdir({ pods: {}, data: {} });
    const podsDir = join(root, 'pods');
    const port = await freePort();
    const { metrics: serviceMetrics } = await service(t, port, { token: 'right', maxBodyBytes: 4096 });
    const log = podDir(podsDir, 'shop', PODS[0]!.name, PODS[0]!.uid, 'cart').log;
    const messages = Array.from({ length: 100 }, (_, i) => `line ${i} ${'z'.repeat(60)}`);
    append(log, messages.map((m) => criLine(m)).join(''));

    const wrongLogger = recordingLogger();
    const wrong = remoteStage({ service: `http://127.0.0.1:${port}/`, token: 'wrong' });
    t.teardown(() => wrong.close());
    let source = await startFileSource(sourceOptions(podsDir, join(root, 'data-wrong'), { retryBackoff: { initialMs: 10, maxMs: 50, factor: 2, jitter: 0 } }), {
      enrich: wrong, sink: createFileSink(join(root, 'wrong.ndjson')), metrics: testMetrics(), logger: wrongLogger,
    });
    await waitFor('a refusal', () => wrongLogger.records.some((r) => r.level === 'error'));
    await source.stop({ timeoutMs: 10 });
    const refusal = wrongLogger.records.find((r) => r.level === 'error')!;
    t.match(refusal.msg, /delivery refused; keeping the batch/);
    t.match(refusal.obj, { stage: 'service', error: /answered HTTP 401 \(check serviceToken \/ serviceTokenFile\)/ });

    const out = join(root, 'right.ndjson');
    const rightLogger = recordingLogger();
    const right = remoteStage({ service: `http://127.0.0.1:${port}`, token: 'right', logger: rightLogger });
    t.teardown(() => right.close());
    source = await startFileSource(sourceOptions(podsDir, join(root, 'data-right')), { enrich: right, sink: createFileSink(out), metrics: testMetrics(), logger: rightLogger });
    t.teardown(() => source.stop());
    await waitFor('all lines through a 4 KiB body limit', () => readEnriched(out).length >= 100);
    await source.stop();
    t.same(readEnriched(out).map((e) => e.message), messages);
    if (transport === 'http') {
      const answers = (await serviceMetrics.httpDuration.get()).values.filter((v) => v.metricName?.endsWith('_count'));
      t.ok(answers.some((v) => v.labels.status_code === 413 || v.labels.status_code === '413'), 'the service did answer 413 before the split');
    } else {
      t.ok(
        rightLogger.records.some((r) => r.level === 'debug' && /sending it in halves/.test(r.msg ?? '')),
        'the service closed an oversized message (1009) and the source came back with halves',
      );
    }
  });
}

t.test('the `source` command with source.transport websocket, as a user runs it', async (t) => {
  const root = t.testdir({ pods: {}, data: {} });
  const podsDir = join(root, 'pods');
  const out = join(root, 'out.ndjson');
  const port = await freePort();
  await service(t, port, { token: 'cli-token' });
  const log = podDir(podsDir, 'pay', PODS[1]!.name, PODS[1]!.uid, 'api').log;
  const messages = Array.from({ length: 50 }, (_, i) => `cli line ${i}`);
  append(log, messages.map((m) => criLine(m)).join(''));
  const child = spawn(
    process.execPath,
    [join(REPO, 'src', 'cli', 'main.ts'), 'source', '--service', `http://127.0.0.1:${port}`, '--pods-dir', podsDir, '--data-dir', join(root, 'data'), '--sink', `file:${out}`],
    { env: { PATH: process.env.PATH ?? '', KLE_SOURCE_TRANSPORT: 'websocket', KLE_SOURCE_SERVICE_TOKEN: 'cli-token' }, stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  t.teardown(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });
  await waitFor('every line through the service', () => readEnriched(out).length >= 50);
  child.kill('SIGTERM');
  t.equal(await exited, 0, 'exits 0 on SIGTERM');
  t.same(readEnriched(out).map((e) => e.message), messages);
  t.match(readEnriched(out)[0]?.kubernetes, { pod_name: PODS[1]!.name, container_name: 'api' });
  t.match(stderr, /"transport":"websocket"/, 'the start-up line names the transport');
  t.notOk(stderr.includes('cli-token'), 'the token is never logged');
});

t.test('a sink that is down for a while: reading pauses, then everything arrives once', async (t) => {
  const root = t.testdir({ pods: {}, data: {} });
  const podsDir = join(root, 'pods');
  let refusals = 0;
  const received: string[] = [];
  const receiver = createHttpServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (refusals < 8) {
        refusals++;
        res.writeHead(503).end('down for maintenance');
        return;
      }
      received.push(...Buffer.concat(chunks).toString().split('\n').filter((l) => l !== ''));
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => {
    receiver.closeAllConnections();
    receiver.close(() => resolve());
  }));
  const sink = createHttpSink(new URL(`http://127.0.0.1:${(receiver.address() as AddressInfo).port}/logs`), { attempts: 1 });
  t.teardown(() => sink.close());
  const log = podDir(podsDir, 'ns', 'p', 'u1').log;
  const messages = Array.from({ length: 3000 }, (_, i) => `line ${i}`);
  append(log, messages.map((m) => criLine(m)).join(''));
  const metrics = testMetrics();
  const source = await startFileSource(sourceOptions(podsDir, join(root, 'data'), { maxBufferedBytes: 16 * 1024, readChunkBytes: 4096 }), {
    enrich: createSerialisingStage(), sink, metrics, logger: recordingLogger(),
  });
  t.teardown(() => source.stop());
  await waitFor('everything delivered', () => received.length >= 3000);
  await source.stop();
  t.same(received.map((l) => (JSON.parse(l) as { message: string }).message), messages);
  t.equal(refusals, 8);
  t.equal(await metricValue(metrics, 'kube_log_enricher_sink_errors_total', { sink: 'sink' }), 8);
  t.ok(await metricValue(metrics, 'kube_log_enricher_bytes_read_total') >= statSync(log).size);
});
