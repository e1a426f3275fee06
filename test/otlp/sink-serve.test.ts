/**
 * `serve` with an OTLP sink: what /v1/forward enriches (events of the implied otel schema) and
 * what the OTLP receiver /v1/logs regroups (an OTLP/JSON request) both go on to the OTLP receiver
 * behind it, here a @grpc/grpc-js server built from proto/; 200 only once it accepted them.
 */
import { PassThrough } from 'node:stream';
import t from 'tap';
import { startService } from '../../src/runtime/service.ts';
import { namespaceFor, nodeFor, podFor } from '../../src/sim/index.ts';
import { testConfig } from '../builders/defaults.ts';
import { criLine, podLogPath } from '../builders/lines.ts';
import { recordsOf, startOtlpGrpcReceiver } from '../builders/otlp-receivers.ts';
import { kubeConfigFor, startSim } from '../kube/helpers.ts';
import { createLogger } from '../../src/log/index.ts';

t.test('serve → otlp+grpc: /v1/forward and /v1/logs deliver to the OTLP receiver', async (t) => {
  const sim = await startSim(t);
  sim.create('namespaces', namespaceFor({ name: 'shop' }));
  sim.create('nodes', nodeFor({ name: 'node-a' }));
  const pod = sim.create('pods', podFor({ name: 'web-0', namespace: 'shop', labels: { app: 'web' }, containers: ['web'], seed: 5 }));
  const receiver = await startOtlpGrpcReceiver();
  t.teardown(() => receiver.close());
  const service = await startService(
    testConfig({ server: { listen: '127.0.0.1:0' }, source: { sink: receiver.sink } }),
    { env: {}, homeDir: undefined, logger: createLogger({ level: 'silent' }), stdout: new PassThrough() },
    { kubeConfig: kubeConfigFor(t, sim) },
  );
  t.teardown(() => service.stop());
  await service.reflectors.ready();
  const file = podLogPath({ namespace: 'shop', pod: 'web-0', uid: pod.metadata.uid!, container: 'web' });

  const forward = await fetch(`${service.url}/v1/forward`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-ndjson' },
    body: `${JSON.stringify({ file, line: criLine({ message: 'forwarded' }) })}\n`,
  });
  t.equal(forward.status, 200, await forward.text());
  const otlpJson = { resourceLogs: [{ scopeLogs: [{ logRecords: [{ body: { stringValue: 'over /v1/logs' }, attributes: [{ key: 'log.file.path', value: { stringValue: file } }] }] }] }] };
  const logs = await fetch(`${service.url}/v1/logs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(otlpJson) });
  t.equal(logs.status, 200, await logs.text());

  const records = recordsOf(receiver.accepted());
  t.same(records.map((r) => r.body), ['forwarded', 'over /v1/logs'], 'each acknowledged by the receiver before the answer');
  for (const r of records) t.match(r.resource, { 'k8s.namespace.name': 'shop', 'k8s.pod.name': 'web-0', 'k8s.container.name': 'web', 'k8s.pod.label.app': 'web' });
});
