/**
 * `agent` shipping straight to an OTLP receiver (source.sink otlp+http:// and otlp+grpc://),
 * started as the command starts it, against a simulated API server and receivers built from the
 * official definitions: records arrive with their pod's metadata as resource attributes, one
 * resource per container, and checkpoints move only once the receiver accepted them.
 */
import { join } from 'node:path';
import t from 'tap';
import { startAgent } from '../../src/runtime/agent.ts';
import { testConfig } from '../builders/defaults.ts';
import { recordsOf, startOtlpGrpcReceiver, startOtlpHttpReceiver } from '../builders/otlp-receivers.ts';
import { testRuntime } from '../builders/runtime.ts';
import { FAST_KUBERNETES, simulatedCluster } from './cluster.ts';
import { append, criLine, podDir, waitFor } from './fixtures.ts';

const PODS = [
  { namespace: 'shop', name: 'cart-7d9f8-x2x4q', uid: '0b6c1f0e-0000-4000-8000-000000000001', containers: ['cart', 'proxy'] },
  { namespace: 'pay', name: 'api-5c4b7-abcde', uid: '0b6c1f0e-0000-4000-8000-000000000002', containers: ['api'] },
];

for (const [transport, start] of [['http', startOtlpHttpReceiver], ['grpc', startOtlpGrpcReceiver]] as const) {
  t.test(`agent → otlp+${transport}: enriched records by pod container, acknowledged after the receiver took them`, async (t) => {
    const root = t.testdir({ pods: {}, data: {} });
    const podsDir = join(root, 'pods');
    const receiver = await start();
    t.teardown(() => receiver.close());
    // The first request is refused with a retry hint: the lines must come again, not be lost.
    receiver.script({ kind: 'fail', status: transport === 'http' ? 503 : 14, retryAfterSeconds: 1 });
    const { kubeConfig } = await simulatedCluster(t, PODS);
    const config = testConfig({
      server: { listen: '127.0.0.1:0' },
      kubernetes: FAST_KUBERNETES,
      source: { podsDir, dataDir: join(root, 'data'), sink: receiver.sink, rescanInterval: '200ms', checkpointInterval: '50ms', batchMaxWait: '10ms' },
    });
    t.equal(config.enrichment.schema, 'otel', 'implied by the sink');
    const agent = await startAgent(config, testRuntime(), { kubeConfig });
    t.teardown(() => agent.stop());
    const files = PODS.flatMap((p) => p.containers.map((c) => ({ pod: p, container: c, log: podDir(podsDir, p.namespace, p.name, p.uid, c).log })));
    for (const f of files) append(f.log, criLine(`${f.container} says hi`) + criLine(`${f.container} ends`, 'stderr'));
    await waitFor('every line acknowledged', () => agent.source.stats().eventsDelivered >= 6);
    await agent.stop();

    t.ok(receiver.arrivals.length >= 2, 'the refused request was sent again');
    const records = recordsOf(receiver.accepted());
    t.equal(records.length, 6, 'every line once');
    for (const f of files) {
      const mine = records.filter((r) => r.attributes['log.file.path'] === f.log);
      t.same(mine.map((r) => [r.attributes['log.iostream'], r.body]), [['stdout', `${f.container} says hi`], ['stderr', `${f.container} ends`]], f.log);
      t.match(mine[0]?.resource, { 'k8s.namespace.name': f.pod.namespace, 'k8s.pod.name': f.pod.name, 'k8s.pod.uid': f.pod.uid, 'k8s.container.name': f.container, 'k8s.pod.label.app': f.pod.name, 'k8s.namespace.label.team': f.pod.namespace });
      t.match(mine[0]?.timeUnixNano, /^\d{19}$/, 'the runtime\'s time, in nanoseconds');
    }
    for (const request of receiver.accepted()) {
      const keys = request.resourceLogs!.map((rl) => JSON.stringify(rl.resource));
      t.equal(new Set(keys).size, keys.length, 'one resource per pod container in a request');
    }
  });
}
