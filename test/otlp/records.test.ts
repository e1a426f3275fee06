/** NDJSON of enriched events (otel schema) or OTLP/JSON requests, as one ExportLogsServiceRequest (otlp/records.ts). */
import t from 'tap';
import { encodeLogsRequest } from '../../src/otlp/proto.ts';
import { encodeNdjsonAsLogsRequest, logsRequestOfNdjson, NotOtelError } from '../../src/otlp/records.ts';

const cart = { 'k8s.pod.name': 'cart', 'k8s.container.name': 'cart' };
const db = { 'k8s.pod.name': 'db', 'k8s.container.name': 'postgres' };

function ndjson(...values: unknown[]): Buffer {
  return Buffer.from(values.map((v) => `${typeof v === 'string' ? v : JSON.stringify(v)}\n`).join(''));
}

t.test('otel events: grouped by resource in order of first appearance, fields mapped', async (t) => {
  const { request, records } = logsRequestOfNdjson(
    ndjson(
      { resource: cart, time_unix_nano: '1', body: 'a', attributes: { 'log.iostream': 'stdout' } },
      { resource: db, body: 'b' },
      { resource: cart, observed_time_unix_nano: '2', severity_text: 'WARN', severity_number: 13, body: { msg: 'c', n: 1.5 }, 'kubernetes.renamed': 'x' },
    ),
  );
  t.equal(records, 3);
  t.same(request.resourceLogs?.map((rl) => rl.resource?.attributes?.map((kv) => kv.value?.stringValue)), [['cart', 'cart'], ['db', 'postgres']]);
  t.same(request.resourceLogs?.[0]?.scopeLogs?.[0]?.logRecords, [
    { timeUnixNano: '1', body: { stringValue: 'a' }, attributes: [{ key: 'log.iostream', value: { stringValue: 'stdout' } }] },
    {
      observedTimeUnixNano: '2',
      severityNumber: 13,
      severityText: 'WARN',
      body: { kvlistValue: { values: [{ key: 'msg', value: { stringValue: 'c' } }, { key: 'n', value: { doubleValue: 1.5 } }] } },
      attributes: [{ key: 'kubernetes.renamed', value: { stringValue: 'x' } }],
    },
  ], 'another top-level key (a rename) becomes an attribute');
});

t.test('an OTLP/JSON request line (what the OTLP receivers hand their sink) is taken as it is', async (t) => {
  const line = { resourceLogs: [{ resource: { attributes: [{ key: 'k8s.pod.name', value: { stringValue: 'web' } }] }, scopeLogs: [{ scope: { name: 's' }, logRecords: [{ body: { stringValue: 'x' }, traceId: '0102030405060708090a0b0c0d0e0f10' }, { body: { stringValue: 'y' } }] }] }] };
  const { request, records } = logsRequestOfNdjson(ndjson(line, { resource: cart, body: 'z' }));
  t.equal(records, 3);
  t.equal(request.resourceLogs?.length, 2);
  t.same(request.resourceLogs?.[0]?.scopeLogs?.[0]?.scope, { name: 's' });
  t.same(Buffer.from(request.resourceLogs![0]!.scopeLogs![0]!.logRecords![0]!.traceId!).toString('hex'), '0102030405060708090a0b0c0d0e0f10', 'hex ids as bytes');
});

t.test('lines that are not otel events are refused, naming the line', async (t) => {
  t.throws(() => logsRequestOfNdjson(ndjson({ resource: cart, body: 'ok' }, { message: 'vector', kubernetes: {} })), new NotOtelError('line 2 is not an event of the otel schema (no leading "resource" map); the OTLP sink needs enrichment.schema: otel'));
  t.throws(() => logsRequestOfNdjson(ndjson('not json')), { name: 'NotOtelError', message: /^line 1 is not JSON/ });
  t.same(logsRequestOfNdjson(Buffer.alloc(0)), { request: { resourceLogs: [] }, records: 0 });
});

t.test('the fast encoding gives the bytes protobufjs gives through fromObject', async (t) => {
  const bytes = ndjson(
    { resource: cart, time_unix_nano: '1795428000123456789', observed_time_unix_nano: '18446744073709551615', body: 'a', attributes: { n: 7 } },
    { resource: db, body: { nested: [1, 'x', true] } },
    { resource: cart, time_unix_nano: '1', body: 'c' },
    { resourceLogs: [{ scopeLogs: [{ logRecords: [{ timeUnixNano: '42', body: { stringValue: 'y' }, spanId: '0102030405060708' }] }] }] },
  );
  t.same(Buffer.from(encodeNdjsonAsLogsRequest(bytes)), Buffer.from(encodeLogsRequest(logsRequestOfNdjson(bytes).request)));
});
