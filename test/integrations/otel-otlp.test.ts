/**
 * The "OTLP out" recipe of docs/integrations.md: our configuration names the collector's OTLP/gRPC
 * receiver as it is configured in the collector recipe, implies the otel schema, and events
 * enriched with it reach an OTLP/gRPC receiver (built from proto/, standing in for the collector)
 * as records with their pod's resource.
 */
import t from 'tap';
import { createSink, parseSinkSpec } from '../../src/sink/index.ts';
import { criLine } from '../builders/lines.ts';
import { recordsOf, startOtlpGrpcReceiver } from '../builders/otlp-receivers.ts';
import { serviceConfig, yamlRecipe } from './recipes.ts';
import { send, startRecipeStack } from './stack.ts';

interface CollectorConfig {
  receivers: { otlp: { protocols: { grpc: { endpoint: string }; http: { endpoint: string } } } };
  service: { pipelines: { logs: { receivers: string[] } } };
}

const collector = yamlRecipe('otel-otlp/collector.yaml') as unknown as CollectorConfig;
const config = serviceConfig('otel-otlp/kube-log-enricher.yaml');

t.test('the recipe is self-consistent', async (t) => {
  t.equal(config.enrichment.schema, 'otel', 'implied by the OTLP sink');
  const sink = parseSinkSpec(config.source.sink);
  t.match(sink, { ok: true, spec: { kind: 'otlp', transport: 'grpc' } });
  const port = sink.ok && sink.spec.kind === 'otlp' ? sink.spec.url.port : '';
  t.equal(collector.receivers.otlp.protocols.grpc.endpoint.split(':').at(-1), port, 'the collector listens where our sink sends');
  t.same(collector.service.pipelines.logs.receivers, ['otlp']);
});

t.test('events enriched with the recipe\'s configuration arrive as OTLP records with their pod\'s resource', async (t) => {
  const receiver = await startOtlpGrpcReceiver();
  t.teardown(() => receiver.close());
  const sink = createSink(receiver.sink);
  t.teardown(() => sink.close());
  const stack = await startRecipeStack(t, { config, sink });
  const cart = stack.pod('cart');
  const res = await send(`${stack.url}/v1/forward`, { headers: { 'content-type': 'application/x-ndjson' }, body: JSON.stringify({ file: cart.file, line: criLine({ ts: '2026-11-23T10:00:00.123456789Z', message: 'GET /healthz 200' }) }) });
  t.equal(res.status, 200, res.text);
  const [record] = recordsOf(receiver.accepted());
  t.match(record, {
    resource: { 'k8s.pod.name': cart.name, 'k8s.namespace.name': cart.namespace, 'k8s.container.name': cart.container },
    attributes: { 'log.file.path': cart.file, 'log.iostream': 'stdout' },
    body: 'GET /healthz 200',
    timeUnixNano: '1795428000123456789',
  });
});
