// The OTLP/gRPC logs receiver (LogsService/Export), fed by the OpenTelemetry JS SDK's gRPC
// exporter and by a bare @grpc/grpc-js client for what the exporter would not send.
import t from 'tap';
import * as grpc from '@grpc/grpc-js';
import { OTLPLogExporter } from '@opentelemetry/exporter-logs-otlp-grpc';
import { decodeLogsResponse, encodeLogsRequest, retryDelayOf } from '../../src/otlp/proto.ts';
import type { ExportLogsResponse, LogsRequest } from '../../src/otlp/types.ts';
import { criLine } from '../builders/lines.ts';
import { waitFor } from '../builders/wait.ts';
import { deliveredRecords, sdkLogger, startOtlpStack, SwitchableSink, type OtlpStack } from './stack.ts';

/** A client that sends whatever bytes it is given as the request message. */
const RawClient = grpc.makeGenericClientConstructor(
  {
    Export: {
      path: '/opentelemetry.proto.collector.logs.v1.LogsService/Export',
      requestStream: false,
      responseStream: false,
      requestSerialize: (bytes: Buffer) => bytes,
      requestDeserialize: (bytes: Buffer) => bytes,
      responseSerialize: (bytes: Buffer) => bytes,
      responseDeserialize: (bytes: Buffer) => decodeLogsResponse(bytes),
    },
  },
  'LogsService',
);

function rawExport(stack: OtlpStack, bytes: Uint8Array, token?: string): Promise<{ response?: ExportLogsResponse; error?: grpc.ServiceError }> {
  const client = new RawClient(stack.grpcAddress!, grpc.credentials.createInsecure());
  const metadata = new grpc.Metadata();
  if (token !== undefined) metadata.set('authorization', `Bearer ${token}`);
  return new Promise((resolve) => {
    client.makeUnaryRequest('/opentelemetry.proto.collector.logs.v1.LogsService/Export', (b: Buffer) => b, decodeLogsResponse, Buffer.from(bytes), metadata, (error, response) => {
      client.close();
      resolve(error ? { error } : { response: response as ExportLogsResponse });
    });
  });
}

function request(stack: OtlpStack, bodies: string[], path = stack.fileOf(stack.cart)): LogsRequest {
  const logRecords = bodies.map((body) => ({ body: { stringValue: body }, attributes: [{ key: 'log.file.path', value: { stringValue: path } }] }));
  return { resourceLogs: [{ scopeLogs: [{ logRecords }] }] };
}

t.test('@opentelemetry/exporter-logs-otlp-grpc: records arrive at the sink with their pod\'s metadata', async (t) => {
  const stack = await startOtlpStack(t, { grpc: true, server: { authToken: 'sesame' } });
  const metadata = new grpc.Metadata();
  metadata.set('authorization', 'Bearer sesame');
  const exporter = new OTLPLogExporter({ url: `http://${stack.grpcAddress}`, metadata, compression: 'gzip' as never });
  const { provider, logger } = sdkLogger(exporter);
  t.teardown(() => provider.shutdown());
  logger.emit({ body: criLine({ message: 'over grpc', stream: 'stderr' }), attributes: { 'log.file.path': stack.fileOf(stack.cart) } });
  logger.emit({ body: 'db over grpc', attributes: { 'log.file.path': stack.fileOf(stack.db), 'log.iostream': 'stdout' } });
  await provider.forceFlush();
  const records = await waitFor(() => {
    const r = deliveredRecords(stack);
    return r.length === 2 ? r : undefined;
  }, 'both records at the sink');
  t.equal(stack.delivered()[0]!.resourceLogs?.length, 2, 'one resource per pod');
  const cart = records.find((r) => r.body === 'over grpc')!;
  t.match(cart.resource, { 'k8s.pod.name': stack.cart.metadata.name, 'k8s.deployment.name': 'cart', 'k8s.pod.label.app': 'cart', 'service.name': 'node-log-shipper' });
  t.equal(cart.attributes['log.iostream'], 'stderr');
  t.match(records.find((r) => r.body === 'db over grpc')!.resource, { 'k8s.pod.name': 'db-0', 'k8s.namespace.name': 'data' });
});

t.test('bad input and refusals get the OTLP/gRPC status, and the server carries on', async (t) => {
  const sink = new SwitchableSink(false);
  const stack = await startOtlpStack(t, { grpc: true, sink, server: { authToken: 'sesame', maxBodyBytes: 4096 } });
  const good = encodeLogsRequest(request(stack, [criLine({ message: 'fine' })]));

  t.equal((await rawExport(stack, good)).error?.code, grpc.status.UNAUTHENTICATED, 'no token');
  t.equal((await rawExport(stack, good, 'wrong')).error?.code, grpc.status.UNAUTHENTICATED, 'a wrong token');

  const garbage = await rawExport(stack, Buffer.from([0xff, 0xff, 0xff, 0xff, 0x0f, 0x01]), 'sesame');
  t.equal(garbage.error?.code, grpc.status.INVALID_ARGUMENT, 'garbage protobuf');
  t.match(garbage.error?.details, /not a protobuf ExportLogsServiceRequest/);

  const oversize = await rawExport(stack, encodeLogsRequest(request(stack, ['x'.repeat(5000)])), 'sesame');
  t.equal(oversize.error?.code, grpc.status.RESOURCE_EXHAUSTED, 'a message over server.maxBodyBytes');

  const partial = await rawExport(stack, encodeLogsRequest({ resourceLogs: [...request(stack, ['kept']).resourceLogs!, ...request(stack, ['no path'], '').resourceLogs!] }), 'sesame');
  t.match(partial.response, { partialSuccess: { rejectedLogRecords: '1', errorMessage: /resourceLogs\[1\]\.scopeLogs\[0\]\.logRecords\[0\]: no "log\.file\.path"/ } });

  sink.down = true;
  const refused = await rawExport(stack, good, 'sesame');
  t.equal(refused.error?.code, grpc.status.UNAVAILABLE, 'sink down');
  const details = refused.error?.metadata.get('grpc-status-details-bin')[0];
  t.ok(Buffer.isBuffer(details), 'a google.rpc.Status in grpc-status-details-bin');
  t.equal(retryDelayOf(details as Buffer), 7, 'with a RetryInfo of the sink\'s delay');
  sink.down = false;

  const ok = await rawExport(stack, good, 'sesame');
  t.same(ok.response, {}, 'accepted once the sink is back');
  t.same(sink.written, [1, 1], 'only the accepted requests reached the sink');
});
