/**
 * Memory: the OTLP sink's protocol modules (protobufjs with the parsed definitions, @grpc/grpc-js)
 * are loaded only when an otlp+ sink is configured and used. `agent` with a file sink, enriching
 * and delivering lines, loads neither; one with an otlp+http sink loads protobufjs, still not
 * grpc-js. Both are CommonJS packages, so what is loaded shows in the require cache.
 */
import { createRequire } from 'node:module';
import { join } from 'node:path';
import t from 'tap';
import { startAgent } from '../../src/runtime/agent.ts';
import { testConfig } from '../builders/defaults.ts';
import { closedPort } from '../builders/ports.ts';
import { testRuntime } from '../builders/runtime.ts';
import { FAST_KUBERNETES, simulatedCluster } from './cluster.ts';
import { append, completeLines, criLine, podDir, waitFor } from './fixtures.ts';

const cache = createRequire(import.meta.url).cache;

function loaded(pkg: string): boolean {
  return Object.keys(cache).some((path) => path.includes(`/node_modules/${pkg}/`));
}

const POD = { namespace: 'shop', name: 'cart-1', uid: '0b6c1f0e-0000-4000-8000-000000000001', containers: ['cart'] };


t.test('agent with a file sink loads neither protobufjs nor @grpc/grpc-js; an otlp+http sink loads protobufjs only', async (t) => {
  t.notOk(loaded('protobufjs') || loaded('@grpc/grpc-js'), 'nothing loaded them before');
  const { kubeConfig } = await simulatedCluster(t, [POD]);

  const root = t.testdir({ pods: {}, data: {}, data2: {} });
  const podsDir = join(root, 'pods');
  const log = podDir(podsDir, POD.namespace, POD.name, POD.uid, 'cart').log;
  append(log, criLine('hello'));
  const out = join(root, 'out.ndjson');
  const fast = { podsDir, rescanInterval: '200ms', checkpointInterval: '50ms', batchMaxWait: '10ms' };
  const agent = await startAgent(testConfig({ server: { listen: '127.0.0.1:0' }, kubernetes: FAST_KUBERNETES, source: { ...fast, dataDir: join(root, 'data'), sink: `file:${out}` } }), testRuntime(), { kubeConfig });
  await waitFor('the line in the file', () => completeLines(out).length === 1);
  await agent.stop();
  t.notOk(loaded('protobufjs'), 'file sink: protobufjs not loaded');
  t.notOk(loaded('@grpc/grpc-js'), 'file sink: @grpc/grpc-js not loaded');

  // The positive control: the same check sees them once an OTLP sink sends (here to a closed port).
  const otlp = await startAgent(
    testConfig({ server: { listen: '127.0.0.1:0' }, kubernetes: FAST_KUBERNETES, source: { ...fast, dataDir: join(root, 'data2'), sink: `otlp+http://127.0.0.1:${await closedPort()}` } }),
    testRuntime(),
    { kubeConfig },
  );
  t.teardown(() => otlp.stop());
  await waitFor('a failed delivery to the OTLP sink', async () => ((await otlp.service.metrics.registry.getSingleMetric('kube_log_enricher_sink_errors_total')?.get())?.values.length ?? 0) > 0);
  t.ok(loaded('protobufjs'), 'otlp+http sink: protobufjs loaded');
  t.notOk(loaded('@grpc/grpc-js'), 'otlp+http sink: @grpc/grpc-js still not loaded');
});
