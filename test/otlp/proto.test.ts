// The OTLP messages as loaded from the vendored definitions (proto/): protobuf and OTLP/JSON bodies
// come out as the same plain objects; the bytes written are what the definitions say.
import t from 'tap';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  decodeLogsRequest,
  decodeLogsResponse,
  decodeStatus,
  encodeLogsRequest,
  encodeLogsResponse,
  encodeStatus,
  logsRequestFromJson,
  ProtocolError,
  PROTO_DIR,
  toOtlpJson,
} from '../../src/otlp/proto.ts';
import type { LogsRequest } from '../../src/otlp/types.ts';

const TRACE = '5b8efff798038103d269b633813fc60c';
const SPAN = 'eee19b7ec3c1b174';

function otlpJson(): Record<string, unknown> {
  return {
    resourceLogs: [
      {
        resource: { attributes: [{ key: 'host.name', value: { stringValue: 'node-a' } }] },
        scopeLogs: [
          {
            scope: { name: 'filelog', version: '1' },
            logRecords: [
              {
                timeUnixNano: '1795428000123456789',
                severityNumber: 9,
                body: { stringValue: 'hello' },
                attributes: [
                  { key: 'count', value: { intValue: '9007199254740993' } },
                  { key: 'raw', value: { bytesValue: 'AAEC' } },
                ],
                traceId: TRACE,
                spanId: SPAN,
              },
            ],
          },
        ],
      },
    ],
  };
}

t.test('OTLP/JSON and protobuf give the same message; 64-bit integers exact, ids hex again in JSON', async (t) => {
  const fromJson = logsRequestFromJson(otlpJson());
  const fromProto = decodeLogsRequest(encodeLogsRequest(fromJson));
  t.same(fromProto, fromJson, 'protobuf round trip');
  const record = fromJson.resourceLogs![0]!.scopeLogs![0]!.logRecords![0]!;
  t.equal(record.timeUnixNano, '1795428000123456789', 'fixed64 as a decimal string, no float rounding');
  t.equal(record.attributes![0]!.value!.intValue, '9007199254740993', 'int64 beyond 2^53 exact');
  t.same(Buffer.from(record.traceId!).toString('hex'), TRACE);
  t.same(JSON.parse(toOtlpJson(fromJson)), otlpJson(), 'back to the same OTLP/JSON: hex ids, base64 bytes, int64 strings');
});

t.test('what is not an ExportLogsServiceRequest is a ProtocolError naming the place', async (t) => {
  t.throws(() => decodeLogsRequest(Buffer.from([0xff, 0xff, 0xff, 0xff, 0x0f])), ProtocolError);
  t.throws(() => logsRequestFromJson([]), new ProtocolError('an OTLP/JSON ExportLogsServiceRequest is an object ({"resourceLogs": [...]})', 'body'));
  t.throws(() => logsRequestFromJson({ resourceLogs: 'x' }), { message: /resourceLogs: array expected/ });
  const bad = otlpJson() as { resourceLogs: { scopeLogs: { logRecords: Record<string, unknown>[] }[] }[] };
  bad.resourceLogs[0]!.scopeLogs[0]!.logRecords[0]!.spanId = 'xyz';
  t.throws(() => logsRequestFromJson(bad), { name: 'ProtocolError', message: /^resourceLogs\[0\]\.scopeLogs\[0\]\.logRecords\[0\]\.spanId: expected hex/ });
  t.same(logsRequestFromJson({}), {}, 'an empty request is a request');
});

t.test('responses and google.rpc.Status encode as their definitions say', async (t) => {
  const response = { partialSuccess: { rejectedLogRecords: '2', errorMessage: 'two rejected' } };
  t.same(decodeLogsResponse(encodeLogsResponse(response)), response);
  t.same(decodeStatus(encodeStatus({ code: 3, message: 'bad' })), { code: 3, message: 'bad' });
  t.equal(toOtlpJson({} as LogsRequest), '{}');
});

t.test('the definitions are vendored with their licence and source', async (t) => {
  for (const file of ['opentelemetry/proto/collector/logs/v1/logs_service.proto', 'opentelemetry/LICENSE', 'google/rpc/status.proto', 'google/LICENSE']) {
    t.ok(existsSync(join(PROTO_DIR, file)), file);
  }
  t.match(readFileSync(join(PROTO_DIR, 'README.md'), 'utf8'), /v1\.11\.0/);
  const pkg = JSON.parse(readFileSync(join(PROTO_DIR, '..', 'package.json'), 'utf8')) as { files: string[] };
  t.ok(pkg.files.includes('proto'), 'proto/ ships in the npm package');
});
