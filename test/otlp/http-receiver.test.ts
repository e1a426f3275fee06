// POST /v1/logs, the OTLP/HTTP logs receiver, fed by the OpenTelemetry JS SDK's own exporters
// (JSON and protobuf) and by hand-made bad requests; what arrives at the file sink is checked
// against the simulated cluster's pods.
import t from 'tap';
import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { SeverityNumber } from '@opentelemetry/api';
import { OTLPLogExporter as JsonExporter } from '@opentelemetry/exporter-logs-otlp-http';
import { OTLPLogExporter as ProtoExporter } from '@opentelemetry/exporter-logs-otlp-proto';
import { decodeLogsResponse, decodeStatus, encodeLogsRequest } from '../../src/otlp/proto.ts';
import type { LogsRequest } from '../../src/otlp/types.ts';
import { criLine } from '../builders/lines.ts';
import { waitFor } from '../builders/wait.ts';
import { deliveredRecords, sdkLogger, startOtlpStack, SwitchableSink, type OtlpStack } from './stack.ts';

for (const [name, Exporter] of [
  ['JSON (@opentelemetry/exporter-logs-otlp-http)', JsonExporter],
  ['protobuf (@opentelemetry/exporter-logs-otlp-proto)', ProtoExporter],
] as const) {
  t.test(`${name}: raw CRI lines and decoded messages arrive at the sink with their pod's metadata, regrouped by pod`, async (t) => {
    const stack = await startOtlpStack(t);
    const exporter = new Exporter({ url: `${stack.url}/v1/logs`, compression: 'gzip' as never });
    const { provider, logger } = sdkLogger(exporter);
    t.teardown(() => provider.shutdown());
    const cartFile = stack.fileOf(stack.cart);
    const dbFile = stack.fileOf(stack.db);
    // As the filelog receiver sends them without a parser: the raw runtime line, the path.
    logger.emit({ body: criLine({ message: 'cart started', stream: 'stderr' }), attributes: { 'log.file.path': cartFile } });
    // With the container parser: the decoded message, the stream, the record time.
    logger.emit({
      body: 'db ready',
      timestamp: new Date('2026-11-23T10:00:01.5Z'),
      severityNumber: SeverityNumber.INFO,
      severityText: 'INFO',
      attributes: { 'log.file.path': dbFile, 'log.iostream': 'stdout', 'app.extra': 42 },
    });
    logger.emit({ body: criLine({ message: 'cart second line' }), attributes: { 'log.file.path': cartFile } });
    await provider.forceFlush();

    const records = await waitFor(() => {
      const r = deliveredRecords(stack);
      return r.length === 3 ? r : undefined;
    }, 'three records at the sink');
    t.equal(stack.delivered().length, 1, 'one request, one sink line');
    t.equal(stack.delivered()[0]!.resourceLogs?.length, 2, 'two resources: one per pod container');

    const cart = records.filter((r) => r.resource['k8s.pod.name'] === stack.cart.metadata.name);
    t.same(cart.map((r) => r.body), ['cart started', 'cart second line'], 'CRI lines decoded, in order');
    t.match(cart[0]!.resource, {
      'k8s.namespace.name': 'shop',
      'k8s.pod.uid': stack.cart.metadata.uid,
      'k8s.container.name': 'cart',
      'k8s.node.name': 'node-a',
      'k8s.deployment.name': 'cart',
      'k8s.replicaset.name': 'cart-7d9f8c6b5d',
      'k8s.pod.label.app': 'cart',
      'service.name': 'node-log-shipper',
      'host.name': 'node-a',
    });
    t.equal(cart[0]!.attributes['log.iostream'], 'stderr', 'stream from the CRI line');
    t.equal(cart[0]!.attributes['log.file.path'], cartFile);
    t.equal(cart[0]!.record.timeUnixNano, '1795428000123456789', 'time from the CRI line, to the nanosecond');
    t.match(cart[0]!.scope, { name: 'filelog-test', version: '1.2.3' }, 'scope kept');

    const db = records.find((r) => r.resource['k8s.pod.name'] === 'db-0')!;
    t.equal(db.body, 'db ready', 'a decoded message is kept as it is');
    t.match(db.resource, { 'k8s.namespace.name': 'data', 'k8s.container.name': 'postgres', 'k8s.pod.label.app': 'db' });
    t.equal(db.attributes['log.iostream'], 'stdout');
    t.equal(db.attributes['app.extra'], '42', 'the shipper\'s own attributes kept');
    t.equal(db.record.timeUnixNano, '1795428001500000000', 'the record time kept');
    t.equal(db.record.severityText, 'INFO', 'severity kept');
  });
}

// --- Hand-made requests: partial success and bad input -------------------------------------------

function record(body: unknown, attributes: Record<string, string>): Record<string, unknown> {
  return {
    body: typeof body === 'string' ? { stringValue: body } : body,
    attributes: Object.entries(attributes).map(([key, value]) => ({ key, value: { stringValue: value } })),
  };
}

function jsonRequest(records: Record<string, unknown>[]): string {
  return JSON.stringify({ resourceLogs: [{ resource: { attributes: [] }, scopeLogs: [{ scope: { name: 'hand' }, logRecords: records }] }] });
}

async function post(stack: OtlpStack, body: string | Uint8Array, headers: Record<string, string>) {
  const response = await fetch(`${stack.url}/v1/logs`, { method: 'POST', body: typeof body === 'string' ? body : Buffer.from(body), headers });
  return { status: response.status, headers: response.headers, bytes: Buffer.from(await response.arrayBuffer()) };
}

const JSON_HEADERS = { 'content-type': 'application/json' };
const PROTO_HEADERS = { 'content-type': 'application/x-protobuf' };

t.test('records without log.file.path or with a non-string body are counted in partial_success; the others delivered', async (t) => {
  const stack = await startOtlpStack(t);
  const good = record(criLine({ message: 'kept' }), { 'log.file.path': stack.fileOf(stack.cart) });
  const noPath = record('no path here', { other: 'x' });
  const notString = record({ kvlistValue: { values: [{ key: 'a', value: { stringValue: 'b' } }] } }, { 'log.file.path': stack.fileOf(stack.db) });
  const notALine = record('2026-11-23T10:00:00Z stdout', { 'log.file.path': stack.fileOf(stack.db) });

  const answer = await post(stack, gzipSync(jsonRequest([good, noPath, notString])), { ...JSON_HEADERS, 'content-encoding': 'gzip' });
  t.equal(answer.status, 200);
  const body = JSON.parse(answer.bytes.toString()) as { partialSuccess: { rejectedLogRecords: string; errorMessage: string } };
  t.equal(body.partialSuccess.rejectedLogRecords, '2', 'int64 as a string (OTLP/JSON)');
  t.match(body.partialSuccess.errorMessage, /logRecords\[1\]: no "log\.file\.path"/);
  t.match(body.partialSuccess.errorMessage, /logRecords\[2\]: body is not a string/);
  t.same(deliveredRecords(stack).map((r) => r.body), ['kept']);

  // The same in protobuf: the answer is a protobuf ExportLogsServiceResponse.
  const request = JSON.parse(jsonRequest([noPath, good])) as LogsRequest;
  const proto = await post(stack, encodeLogsRequest(request), PROTO_HEADERS);
  t.equal(proto.status, 200);
  t.equal(proto.headers.get('content-type'), 'application/x-protobuf');
  t.match(decodeLogsResponse(proto.bytes), { partialSuccess: { rejectedLogRecords: '1', errorMessage: /logRecords\[0\]: no "log\.file\.path"/ } });

  // A body that is not a runtime line is an already decoded message, delivered as it is.
  const message = await post(stack, jsonRequest([notALine]), JSON_HEADERS);
  t.same(JSON.parse(message.bytes.toString()), {}, 'a message, not a malformed line');
  t.equal(deliveredRecords(stack).at(-1)?.body, '2026-11-23T10:00:00Z stdout');

  const all = await post(stack, jsonRequest([good]), JSON_HEADERS);
  t.same(JSON.parse(all.bytes.toString()), {}, 'everything delivered: an empty response');
});

t.test('bad input: the OTLP status, a google.rpc.Status in the request\'s type naming what is wrong, and the service carries on', async (t) => {
  const stack = await startOtlpStack(t, { server: { maxBodyBytes: 4096 } });
  const jsonStatus = (a: { bytes: Buffer }) => JSON.parse(a.bytes.toString()) as { code: number; message: string };

  const garbage = await post(stack, Buffer.from([0xff, 0xff, 0xff, 0xff, 0x0f, 0x01, 0x02]), PROTO_HEADERS);
  t.equal(garbage.status, 400, 'garbage protobuf');
  t.equal(garbage.headers.get('content-type'), 'application/x-protobuf');
  t.match(decodeStatus(garbage.bytes), { code: 3, message: /malformed OTLP request; body: not a protobuf ExportLogsServiceRequest/ });

  const invalidJson = await post(stack, '{"resourceLogs": [', JSON_HEADERS);
  t.equal(invalidJson.status, 400, 'invalid JSON');
  t.match(jsonStatus(invalidJson), { code: 3, message: /malformed OTLP request; body: .*JSON/ });

  const wrongShape = await post(stack, '{"resourceLogs": 5}', JSON_HEADERS);
  t.equal(wrongShape.status, 400, 'JSON that is not an ExportLogsServiceRequest');
  t.match(jsonStatus(wrongShape).message, /resourceLogs: array expected/);

  const notObject = await post(stack, '[1, 2]', JSON_HEADERS);
  t.equal(notObject.status, 400);
  t.match(jsonStatus(notObject).message, /is an object/);

  const badHex = await post(stack, jsonRequest([{ ...record('x', { 'log.file.path': '/p' }), traceId: 'not-hex' }]), JSON_HEADERS);
  t.equal(badHex.status, 400, 'a trace id that is not hex');
  t.match(jsonStatus(badHex).message, /resourceLogs\[0\]\.scopeLogs\[0\]\.logRecords\[0\]\.traceId: expected hex digits/);

  const oversize = await post(stack, jsonRequest([record('x'.repeat(5000), { 'log.file.path': '/p' })]), JSON_HEADERS);
  t.equal(oversize.status, 413, 'a body over server.maxBodyBytes');
  t.match(jsonStatus(oversize), { code: 3, message: /larger than 4096 bytes/ });

  const bomb = await post(stack, gzipSync(jsonRequest([record('y'.repeat(100_000), { 'log.file.path': '/p' })])), { ...JSON_HEADERS, 'content-encoding': 'gzip' });
  t.equal(bomb.status, 413, 'small compressed, too large once decompressed');
  t.match(jsonStatus(bomb).message, /once decoded/);

  const notGzip = await post(stack, 'plain', { ...JSON_HEADERS, 'content-encoding': 'gzip' });
  t.equal(notGzip.status, 400, 'a body that is not what its Content-Encoding says');
  t.match(jsonStatus(notGzip).message, /content-encoding/);

  const wrongType = await post(stack, 'hello', { 'content-type': 'text/plain' });
  t.equal(wrongType.status, 415, 'an unsupported media type');
  t.match(jsonStatus(wrongType), { code: 3, message: /content-type: OTLP\/HTTP takes application\/x-protobuf .* or application\/json/ });

  const ok = await post(stack, jsonRequest([record(criLine({ message: 'still here' }), { 'log.file.path': stack.fileOf(stack.cart) })]), JSON_HEADERS);
  t.equal(ok.status, 200, 'the service carries on');
  t.same(deliveredRecords(stack).map((r) => r.body), ['still here'], 'nothing of the refused requests reached the sink');
});

t.test('while the sink cannot take the records: 503 with Retry-After, as /v1/forward', async (t) => {
  const sink = new SwitchableSink(true);
  const stack = await startOtlpStack(t, { sink });
  const body = jsonRequest([record(criLine({ message: 'later' }), { 'log.file.path': stack.fileOf(stack.cart) })]);
  const refused = await post(stack, body, JSON_HEADERS);
  t.equal(refused.status, 503);
  t.equal(refused.headers.get('retry-after'), '7');
  t.match(JSON.parse(refused.bytes.toString()), { code: 14, message: /the downstream is away/ });
  sink.down = false;
  const accepted = await post(stack, body, JSON_HEADERS);
  t.equal(accepted.status, 200, 'taken once the sink is back');
  t.same(sink.written, [1]);
});

t.test('server.authToken: the bearer token is required, as on every other route', async (t) => {
  const stack = await startOtlpStack(t, { server: { authToken: 'sesame' } });
  const body = jsonRequest([record(criLine({ message: 'secret' }), { 'log.file.path': stack.fileOf(stack.cart) })]);
  t.equal((await post(stack, body, JSON_HEADERS)).status, 401);
  t.equal((await post(stack, body, { ...JSON_HEADERS, authorization: 'Bearer wrong' })).status, 401);
  t.equal((await post(stack, body, { ...JSON_HEADERS, authorization: 'Bearer sesame' })).status, 200);
  const exporter = new ProtoExporter({ url: `${stack.url}/v1/logs`, headers: { authorization: 'Bearer sesame' } });
  const { provider, logger } = sdkLogger(exporter);
  t.teardown(() => provider.shutdown());
  logger.emit({ body: criLine({ message: 'from the sdk' }), attributes: { 'log.file.path': stack.fileOf(stack.cart) } });
  await provider.forceFlush();
  const delivered = await waitFor(() => deliveredRecords(stack).find((r) => r.body === 'from the sdk'), 'the SDK\'s record with the token');
  t.equal(delivered.resource['k8s.pod.name'], stack.cart.metadata.name, 'the SDK\'s record, enriched');
});

t.test('random bodies in both content types, plain and gzip: never a 5xx, never a hang', async (t) => {
  const stack = await startOtlpStack(t, { server: { maxBodyBytes: 64 * 1024 } });
  const file = stack.fileOf(stack.cart);
  const anyValue = fc.oneof(fc.string().map((s) => ({ stringValue: s })), fc.jsonValue());
  const logRecord = fc.record(
    { body: fc.oneof(anyValue, fc.constant({ stringValue: criLine({ message: 'x', partial: true }) })), attributes: fc.constant([{ key: 'log.file.path', value: { stringValue: file } }]), timeUnixNano: fc.oneof(fc.string(), fc.bigInt({ min: 0n, max: 2n ** 64n }).map(String)), traceId: fc.string() },
    { requiredKeys: [] },
  );
  const otlpLike = fc.array(logRecord, { maxLength: 5 }).map((records) => JSON.stringify({ resourceLogs: [{ scopeLogs: [{ logRecords: records }] }] }));
  const payload = fc.oneof(fc.uint8Array({ maxLength: 2048 }).map((b) => Buffer.from(b)), fc.jsonValue().map((v) => JSON.stringify(v) ?? 'null'), otlpLike);
  const statuses = new Set<number>();
  await fc.assert(
    fc.asyncProperty(payload, fc.constantFrom('application/json', 'application/x-protobuf'), fc.boolean(), async (body, type, gzip) => {
      const bytes = typeof body === 'string' ? Buffer.from(body) : body;
      const headers: Record<string, string> = { 'content-type': type };
      if (gzip) headers['content-encoding'] = 'gzip';
      const res = await fetch(`${stack.url}/v1/logs`, { method: 'POST', headers, body: gzip ? gzipSync(bytes) : bytes, signal: AbortSignal.timeout(30_000) });
      await res.arrayBuffer();
      statuses.add(res.status);
      return res.status < 500;
    }),
    { numRuns: 150 },
  );
  t.ok([...statuses].every((s) => s < 500), `statuses seen: ${[...statuses].sort().join(', ')}`);
});
