// `serve` as the runtime starts it (src/runtime/service.ts): server.grpcListen brings up the
// OTLP/gRPC receiver beside the HTTP API, with the same token and sink; a taken port stops the
// start with a message naming the key.
import t from 'tap';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import * as grpc from '@grpc/grpc-js';
import { OTLPLogExporter } from '@opentelemetry/exporter-logs-otlp-grpc';
import { parseConfig } from '../../src/config/index.ts';
import { startService } from '../../src/runtime/service.ts';
import { namespaceFor, nodeFor, podFor } from '../../src/sim/index.ts';
import { criLine, podLogPath } from '../builders/lines.ts';
import { waitFor } from '../builders/wait.ts';
import { captureLogger, kubeConfigFor, startSim } from '../kube/helpers.ts';
import { sdkLogger } from './stack.ts';
import { readFileSync } from 'node:fs';

function config(values: Record<string, unknown>) {
  const result = parseConfig(values);
  if (!result.ok) throw new Error(result.errors.map((e) => e.message).join('; '));
  return result.config;
}

t.test('server.grpcListen: the OTLP/gRPC receiver runs beside the HTTP API, with its token and sink', async (t) => {
  const sim = await startSim(t);
  sim.create('namespaces', namespaceFor({ name: 'shop' }));
  sim.create('nodes', nodeFor({ name: 'node-a' }));
  const pod = sim.create('pods', podFor({ name: 'web-0', namespace: 'shop', labels: { app: 'web' }, containers: ['web'], seed: 5 }));
  const out = join(t.testdir(), 'out.ndjson');
  const { logger, lines } = captureLogger();
  const service = await startService(
    config({ server: { listen: '127.0.0.1:0', grpcListen: '127.0.0.1:0', authToken: 'sesame' }, source: { sink: `file:${out}` } }),
    { env: {}, homeDir: undefined, logger, stdout: new PassThrough() },
    { kubeConfig: kubeConfigFor(t, sim) },
  );
  t.teardown(() => service.stop());
  await service.reflectors.ready();
  const started = lines.find((l) => l.msg === 'enrichment service listening') as { grpc?: string } | undefined;
  t.match(started?.grpc, /^127\.0\.0\.1:[1-9]\d*$/, 'the start-up line gives the gRPC address');

  const metadata = new grpc.Metadata();
  metadata.set('authorization', 'Bearer sesame');
  const { provider, logger: otel } = sdkLogger(new OTLPLogExporter({ url: `http://${started!.grpc}`, metadata }));
  t.teardown(() => provider.shutdown());
  const file = podLogPath({ namespace: 'shop', pod: 'web-0', uid: pod.metadata.uid!, container: 'web' });
  otel.emit({ body: criLine({ message: 'through serve' }), attributes: { 'log.file.path': file } });
  await provider.forceFlush();
  const line = await waitFor(() => {
    try {
      return readFileSync(out, 'utf8').split('\n')[0] || undefined;
    } catch {
      return undefined;
    }
  }, 'the record at the sink');
  t.match(line, /"k8s\.pod\.name","value":\{"stringValue":"web-0"\}/);
  t.match(line, /"stringValue":"through serve"/);
});

t.test('a taken server.grpcListen port stops the start, naming the key', async (t) => {
  const sim = await startSim(t);
  const taken = createServer();
  await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
  t.teardown(() => taken.close());
  const port = (taken.address() as AddressInfo).port;
  const { logger } = captureLogger();
  await t.rejects(
    startService(config({ server: { listen: '127.0.0.1:0', grpcListen: `127.0.0.1:${port}` } }), { env: {}, homeDir: undefined, logger, stdout: new PassThrough() }, { kubeConfig: kubeConfigFor(t, sim) }),
    { name: 'StartupError', code: 'address_in_use', message: `server.grpcListen: 127.0.0.1:${port} is already in use` },
  );
});
