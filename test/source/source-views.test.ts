/**
 * Issue #16 item 3 in `source` mode: the real `source` (src/runtime/source.ts, as the command
 * starts it) against a real `serve` (src/runtime/service.ts, a simulated API server), over HTTP
 * and over the WebSocket, on real files. The source asks the service about files (POST
 * /v1/views) before opening them: an excluded pod's files are parked, never opened (checked in
 * /proc/self/fd: both run in this process, and the service opens no log file), and followed from
 * the lines written after the pod is included; multi-line records are joined by the source
 * (across batches, the last one flushed by its timeout while the container is quiet) and not
 * again by the service. With the service down at the start, files are followed as before.
 */
import { realpathSync } from 'node:fs';
import { createServer as createNetServer, type AddressInfo, type Socket } from 'node:net';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import type { DestinationStream } from 'pino';
import { createLogger } from '../../src/log/index.ts';
import { startService } from '../../src/runtime/service.ts';
import { startRemoteSource, type RemoteSource } from '../../src/runtime/source.ts';
import { testConfig } from '../builders/defaults.ts';
import { testRuntime } from '../builders/runtime.ts';
import { JAVA_TRACE } from '../builders/traces.ts';
import { FAST_KUBERNETES, simulatedCluster, type PodSpec } from './cluster.ts';
import { append, completeLines, criLine, freePort, metricValue, openFiles, podDir, waitFor } from './fixtures.ts';

const EXCLUDE = 'logs.kube-log-enricher.io/exclude';
const INCLUDE = 'logs.kube-log-enricher.io/include';
const MULTILINE = 'logs.kube-log-enricher.io/multiline';

interface Enriched {
  message: string;
  file: string;
  kubernetes?: { pod_name: string; container_name: string };
}

function readEnriched(path: string, file?: string): Enriched[] {
  return completeLines(path)
    .map((l) => JSON.parse(l) as Enriched)
    .filter((e) => file === undefined || e.file === file);
}

const messages = (out: string, file?: string): string[] => readEnriched(out, file).map((e) => e.message);
const cri = (lines: readonly string[], stream: 'stdout' | 'stderr' = 'stdout'): string => lines.map((m) => criLine(m, stream)).join('');

/** A logger keeping its lines, parsed. */
function memoryLogger() {
  const lines: { level: number; msg: string }[] = [];
  const destination: DestinationStream = { write: (line: string) => void lines.push(JSON.parse(line) as { level: number; msg: string }) };
  return { logger: createLogger({ level: 'info', destination }), lines };
}

/** `serve` on `port` against a simulated cluster holding `pods`. */
async function serve(t: Test, pods: readonly PodSpec[], port: number, mode: 'opt-out' | 'opt-in' = 'opt-out') {
  const { sim, kubeConfig } = await simulatedCluster(t, pods);
  const config = testConfig({ server: { listen: `127.0.0.1:${port}` }, kubernetes: FAST_KUBERNETES, enrichment: { exclude: { mode } } });
  const service = await startService(config, testRuntime(), { kubeConfig, sink: null });
  t.teardown(() => service.stop());
  await service.reflectors.ready();
  return { sim, service };
}

interface SourceSetup {
  podsDir: string;
  dataDir: string;
  out: string;
}

function dirs(t: Test): SourceSetup {
  const root = t.testdir({ pods: {}, data: {} });
  return { podsDir: join(root, 'pods'), dataDir: join(root, 'data'), out: join(root, 'out.ndjson') };
}

/** `source` as the command starts it, tuned fast. */
async function source(t: Test, s: SourceSetup, port: number, transport: 'http' | 'websocket', logger = memoryLogger().logger, flushTimeout = '300ms'): Promise<RemoteSource> {
  const config = testConfig({
    enrichment: { multiline: { flushTimeout } },
    source: {
      service: `http://127.0.0.1:${port}`,
      transport,
      podsDir: s.podsDir,
      dataDir: s.dataDir,
      sink: `file:${s.out}`,
      rescanInterval: '200ms',
      checkpointInterval: '50ms',
      batchMaxEvents: 100,
      batchMaxWait: '10ms',
    },
  });
  const started = await startRemoteSource(config, testRuntime(logger));
  t.teardown(() => started.stop());
  return started;
}

const CART: PodSpec = { namespace: 'shop', name: 'cart-1', uid: '0b6c1f0e-0000-4000-8000-0000000000d1', containers: ['cart'], labels: { [INCLUDE]: 'true' } };
const SHY: PodSpec = { namespace: 'shop', name: 'shy-1', uid: '0b6c1f0e-0000-4000-8000-0000000000d2', containers: ['shy'] };
const NOISY: PodSpec = { namespace: 'shop', name: 'noisy-1', uid: '0b6c1f0e-0000-4000-8000-0000000000d3', containers: ['noisy'], labels: { [INCLUDE]: 'true', [EXCLUDE]: 'true' } };
const TRACES: PodSpec = { namespace: 'shop', name: 'traces-1', uid: '0b6c1f0e-0000-4000-8000-0000000000d4', containers: ['java'], annotations: { [MULTILINE]: 'java' } };

const logOf = (s: SourceSetup, p: PodSpec) => podDir(s.podsDir, p.namespace, p.name, p.uid, p.containers[0]).log;

for (const transport of ['http', 'websocket'] as const) {
  t.test(`source over ${transport}, opt-in: excluded pods' files are never opened; an opt-in at runtime starts at the new lines`, async (t) => {
    const s = dirs(t);
    const port = await freePort();
    const { sim } = await serve(t, [CART, SHY, NOISY], port, 'opt-in');
    const [cart, shy, noisy] = [logOf(s, CART), logOf(s, SHY), logOf(s, NOISY)];
    append(cart, cri(['cart before start']));
    append(shy, cri(['shy before start']));
    append(noisy, cri(['noisy before start']));
    const remote = await source(t, s, port, transport);
    await waitFor('the included pod\'s line', () => messages(s.out).includes('cart before start'));
    // A pod that appears while the source runs, excluded too: asked about before it is opened.
    const late: PodSpec = { namespace: 'shop', name: 'late-1', uid: '0b6c1f0e-0000-4000-8000-0000000000d5', containers: ['late'] };
    const lateLog = logOf(s, late);
    append(lateLog, cri(['late, never opted in']));
    append(shy, cri(['shy while excluded']));
    append(cart, cri(['cart running']));
    await waitFor('three files parked', () => remote.source.stats().pathsParked === 3);
    await waitFor('cart running', () => messages(s.out).includes('cart running'));
    const open = openFiles();
    t.ok(open.has(realpathSync(cart)), 'the included pod\'s file is open');
    for (const f of [shy, noisy, lateLog]) t.notOk(open.has(realpathSync(f)), `${f} was never opened`);
    t.equal(await metricValue(remote.metrics, 'kube_log_enricher_files_parked'), 3);
    t.equal(await metricValue(remote.metrics, 'kube_log_enricher_bytes_passed_over_total'), 0, 'nothing opened to be passed over');
    t.equal(await metricValue(remote.metrics, 'kube_log_enricher_source_view_failures_total'), 0);

    // The shy pod opts in: followed at the next refresh, from what is written after.
    sim.patchLabels('pods', SHY.namespace, SHY.name, { [INCLUDE]: 'true' });
    await waitFor('shy followed', () => remote.source.stats().pathsParked === 2 && openFiles().has(realpathSync(shy)));
    append(shy, cri(['shy included 1', 'shy included 2']));
    await waitFor('shy\'s new lines', () => messages(s.out, shy).length >= 2);
    await remote.stop();
    t.same(messages(s.out, shy), ['shy included 1', 'shy included 2'], 'only the lines written after the opt-in');
    t.same(messages(s.out, cart), ['cart before start', 'cart running']);
    t.same(messages(s.out, noisy), []);
    t.match(readEnriched(s.out, shy)[0]?.kubernetes, { pod_name: SHY.name, container_name: 'shy' }, 'enriched by the service');
  });

  t.test(`source over ${transport}: a Java stack trace joined by the source across batches, the last one flushed while the container is quiet`, async (t) => {
    const s = dirs(t);
    const port = await freePort();
    const { service } = await serve(t, [TRACES, CART], port);
    const log = logOf(s, TRACES);
    const cart = logOf(s, CART);
    append(log, cri(['starting']));
    // Long enough that the record is not flushed between the two parts on a loaded machine.
    const remote = await source(t, s, port, transport, undefined, '5s');
    await waitFor('the first line', () => messages(s.out, log).includes('starting'));
    // A trace written in two parts, the second once the first was read: two batches, one record.
    append(log, cri(JAVA_TRACE.slice(0, 3), 'stderr'));
    await waitFor('the first part read', async () => (await metricValue(remote.metrics, 'kube_log_enricher_lines_read_total')) >= 4);
    append(cart, cri(['cart between']));
    await waitFor('a batch of another file in between', () => messages(s.out, cart).includes('cart between'));
    append(log, cri(JAVA_TRACE.slice(3), 'stderr') + cri(['next request'], 'stderr') + cri(JAVA_TRACE, 'stderr'));
    // Nothing follows the last trace: it goes out by the source's timeout (5 s), not waiting for more.
    await waitFor('the last trace', () => messages(s.out, log).length >= 4);
    t.same(messages(s.out, log), ['starting', JAVA_TRACE.join('\n'), 'next request', JAVA_TRACE.join('\n')]);
    t.match(readEnriched(s.out, log)[3]?.kubernetes, { pod_name: TRACES.name, container_name: 'java' }, 'enriched by the service');
    t.equal(await metricValue(remote.metrics, 'kube_log_enricher_multiline_events_total'), 2, 'joined by the source');
    t.equal(await metricValue(service.metrics, 'kube_log_enricher_multiline_events_total'), 0, 'not by the service');
    await remote.stop();
  });
}

t.test('service down at the start: files are followed (reading never waits), the failure logged once; views apply once it answers', async (t) => {
  const s = dirs(t);
  const port = await freePort();
  const [cart, noisy] = [logOf(s, CART), logOf(s, NOISY)];
  append(cart, cri(['cart 1']));
  append(noisy, cri(['noisy 1']));
  const { logger, lines } = memoryLogger();
  const remote = await source(t, s, port, 'http', logger);
  await waitFor('both files followed', () => remote.source.stats().pathsFollowed === 2);
  t.equal(remote.source.stats().pathsParked, 0, 'nothing parked: the service could not say');
  await waitFor('a few failed refreshes', async () => (await metricValue(remote.metrics, 'kube_log_enricher_source_view_failures_total')) >= 3);
  t.equal(lines.filter((l) => /POST \/v1\/views/.test(l.msg)).length, 1, 'logged once for the outage');
  t.ok(remote.views.stats().failing);

  // Up (opt-out: NOISY is excluded by its label): the lines come through, noisy's dropped by the service.
  await serve(t, [CART, NOISY], port);
  await waitFor('cart 1 enriched', () => messages(s.out, cart).includes('cart 1'));
  await waitFor('the views answered', () => !remote.views.stats().failing && remote.views.stats().answered === 2);
  t.ok(lines.some((l) => /answers POST \/v1\/views again/.test(l.msg)), 'the recovery is logged');
  // The followed file of an excluded pod is passed over from now on.
  append(noisy, cri(['noisy 2']));
  append(cart, cri(['cart 2']));
  await waitFor('cart 2', () => messages(s.out, cart).includes('cart 2'));
  await waitFor('noisy 2 passed over', async () => (await metricValue(remote.metrics, 'kube_log_enricher_bytes_passed_over_total')) > 0);
  await remote.stop();
  t.same(messages(s.out, noisy), [], 'the excluded pod\'s lines never came out');
});

t.test('a restart with the pod still excluded: the parked file is not opened either; the lines written meanwhile are never read', async (t) => {
  const s = dirs(t);
  const port = await freePort();
  const { sim } = await serve(t, [CART, NOISY], port);
  const [cart, noisy] = [logOf(s, CART), logOf(s, NOISY)];
  append(cart, cri(['cart 1']));
  append(noisy, cri(['noisy 1']));
  let remote = await source(t, s, port, 'http');
  await waitFor('cart 1', () => messages(s.out, cart).includes('cart 1'));
  t.equal(remote.source.stats().pathsParked, 1);
  await remote.stop();

  append(noisy, cri(['noisy while the source is down']));
  remote = await source(t, s, port, 'http');
  t.equal(remote.source.stats().pathsParked, 1, 'parked again at start-up: the service was asked before anything was opened');
  t.notOk(openFiles().has(realpathSync(noisy)), 'not opened after the restart');
  sim.patchLabels('pods', NOISY.namespace, NOISY.name, { [EXCLUDE]: null });
  await waitFor('noisy followed', () => remote.source.stats().pathsParked === 0);
  append(noisy, cri(['noisy included']));
  await waitFor('noisy\'s line', () => messages(s.out, noisy).includes('noisy included'));
  await remote.stop();
  t.same(messages(s.out, noisy), ['noisy included']);
});

t.test('a service that accepts connections but never answers: files are followed all the same once the question times out', async (t) => {
  const s = dirs(t);
  const sockets = new Set<Socket>();
  const silent = createNetServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  const port = (silent.address() as AddressInfo).port;
  const cart = logOf(s, CART);
  append(cart, cri(['cart 1']));
  const remote = await source(t, s, port, 'http');
  // start() returned: the question at start-up gave up (5 s) and the file is followed.
  await waitFor('cart followed', () => remote.source.stats().pathsFollowed === 1 && openFiles().has(realpathSync(cart)));
  t.ok(remote.views.stats().failing, 'the failure is known');
  // While failing, a new container's file does not wait for an answer.
  const late = logOf(s, NOISY);
  append(late, cri(['late 1']));
  await waitFor('the new file followed', () => remote.source.stats().pathsFollowed === 2);
  t.ok((await metricValue(remote.metrics, 'kube_log_enricher_source_view_failures_total')) >= 1);
  // The service goes away for good: what is in flight fails, and the source stops.
  for (const socket of sockets) socket.destroy();
  silent.close();
  await remote.stop();
});
