/**
 * OTLP receivers for the OTLP sink's tests, built from the official definitions in proto/ and
 * nothing of the code under test: protobufjs loads the .proto files itself, an HTTP server
 * decodes POST /v1/logs with them, and a @grpc/grpc-js server serves the LogsService they define.
 * Each receiver answers from a script (one answer per request, then the default: accepted), so a
 * test can make it fail, hint a retry, or reject records.
 */
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import * as grpc from '@grpc/grpc-js';
import protobuf from 'protobufjs';

const PROTO = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'proto');

function loadDefinitions(): protobuf.Root {
  const root = new protobuf.Root();
  root.resolvePath = (_origin, target) => join(PROTO, target);
  return root.loadSync(['opentelemetry/proto/collector/logs/v1/logs_service.proto', 'google/rpc/status.proto', 'google/rpc/error_details.proto'], { keepCase: false });
}

const root = loadDefinitions();
const LogsService = root.lookupService('opentelemetry.proto.collector.logs.v1.LogsService');
const ExportRequest = root.lookupType('opentelemetry.proto.collector.logs.v1.ExportLogsServiceRequest');
const ExportResponse = root.lookupType('opentelemetry.proto.collector.logs.v1.ExportLogsServiceResponse');
const Status = root.lookupType('google.rpc.Status');
const RetryInfo = root.lookupType('google.rpc.RetryInfo');

const PLAIN: protobuf.IConversionOptions = { longs: String, enums: Number, bytes: String, defaults: false };

/** A received ExportLogsServiceRequest as OTLP/JSON-like plain data. */
export interface ReceivedRequest {
  resourceLogs?: {
    resource?: { attributes?: { key: string; value: Record<string, unknown> }[] };
    scopeLogs?: { logRecords?: { timeUnixNano?: string; observedTimeUnixNano?: string; body?: Record<string, unknown>; attributes?: { key: string; value: Record<string, unknown> }[] }[] }[];
  }[];
}

/** A received record flattened: its resource's and its own string attributes as maps. */
export interface ReceivedRecord {
  resource: Record<string, unknown>;
  attributes: Record<string, unknown>;
  body: unknown;
  timeUnixNano: string | undefined;
}

function plainValue(value: Record<string, unknown> | undefined): unknown {
  if (value === undefined) return undefined;
  if ('stringValue' in value) return value.stringValue;
  if ('intValue' in value) return Number(value.intValue);
  if ('boolValue' in value) return value.boolValue;
  if ('doubleValue' in value) return value.doubleValue;
  if ('kvlistValue' in value) return mapOf((value.kvlistValue as { values?: { key: string; value: Record<string, unknown> }[] }).values);
  if ('arrayValue' in value) return ((value.arrayValue as { values?: Record<string, unknown>[] }).values ?? []).map(plainValue);
  return value;
}

function mapOf(attributes: { key: string; value: Record<string, unknown> }[] | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const kv of attributes ?? []) out[kv.key] = plainValue(kv.value);
  return out;
}

export function recordsOf(requests: readonly ReceivedRequest[]): ReceivedRecord[] {
  const out: ReceivedRecord[] = [];
  for (const request of requests) {
    for (const rl of request.resourceLogs ?? []) {
      const resource = mapOf(rl.resource?.attributes);
      for (const sl of rl.scopeLogs ?? []) {
        for (const r of sl.logRecords ?? []) out.push({ resource, attributes: mapOf(r.attributes), body: plainValue(r.body), timeUnixNano: r.timeUnixNano });
      }
    }
  }
  return out;
}

/** What a receiver answers one request with. */
export type Answer =
  | { kind: 'accept'; rejected?: number; message?: string }
  | { kind: 'fail'; status: number; retryAfterSeconds?: number; message?: string };

interface Arrival {
  at: number;
  request: ReceivedRequest;
  headers: Record<string, unknown>;
}

export interface OtlpTestReceiver {
  /** The sink setting that reaches it. */
  readonly sink: string;
  /** Requests that arrived, with their time, in order (also those answered with a failure). */
  readonly arrivals: Arrival[];
  /** Requests that were accepted. */
  accepted(): ReceivedRequest[];
  /** Answers for the next requests, in order. */
  script(...answers: Answer[]): void;
  close(): Promise<void>;
}

class Script {
  readonly arrivals: Arrival[] = [];
  readonly #accepted: ReceivedRequest[] = [];
  #answers: Answer[] = [];
  next(arrival: Arrival): Answer {
    this.arrivals.push(arrival);
    const answer = this.#answers.shift() ?? { kind: 'accept' };
    if (answer.kind === 'accept') this.#accepted.push(arrival.request);
    return answer;
  }
  accepted(): ReceivedRequest[] {
    return [...this.#accepted];
  }
  set(answers: Answer[]): void {
    this.#answers = answers;
  }
}

function responseOf(answer: Answer & { kind: 'accept' }): Uint8Array {
  const partialSuccess = answer.rejected === undefined && answer.message === undefined ? undefined : { rejectedLogRecords: answer.rejected ?? 0, errorMessage: answer.message ?? '' };
  return ExportResponse.encode(ExportResponse.fromObject(partialSuccess === undefined ? {} : { partialSuccess })).finish();
}

function decodeRequest(bytes: Uint8Array): ReceivedRequest {
  return ExportRequest.toObject(ExportRequest.decode(bytes), PLAIN) as ReceivedRequest;
}

async function bodyOf(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const body = Buffer.concat(chunks);
  return req.headers['content-encoding'] === 'gzip' ? gunzipSync(body) : body;
}

/** OTLP/HTTP: POST /v1/logs (or `path`), binary protobuf; failures answered with a google.rpc.Status. */
export async function startOtlpHttpReceiver(path = '/v1/logs'): Promise<OtlpTestReceiver> {
  const script = new Script();
  const server = createServer((req, res) => {
    void bodyOf(req).then((body) => {
      if (req.method !== 'POST' || req.url !== path || req.headers['content-type'] !== 'application/x-protobuf') {
        res.writeHead(404, { 'content-type': 'text/plain' }).end(`no ${req.method} ${req.url} with ${req.headers['content-type']}`);
        return;
      }
      const answer = script.next({ at: Date.now(), request: decodeRequest(body), headers: req.headers });
      if (answer.kind === 'accept') {
        res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end(responseOf(answer));
        return;
      }
      const headers: Record<string, string> = { 'content-type': 'application/x-protobuf' };
      if (answer.retryAfterSeconds !== undefined) headers['retry-after'] = String(answer.retryAfterSeconds);
      res.writeHead(answer.status, headers).end(Status.encode(Status.fromObject({ code: 0, message: answer.message ?? `HTTP ${answer.status}` })).finish());
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    sink: `otlp+http://127.0.0.1:${port}${path === '/v1/logs' ? '' : path}`,
    arrivals: script.arrivals,
    accepted: () => script.accepted(),
    script: (...answers) => script.set(answers),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** OTLP/gRPC: the LogsService of proto/, served by @grpc/grpc-js; failures carry a RetryInfo when asked. */
export async function startOtlpGrpcReceiver(): Promise<OtlpTestReceiver> {
  const script = new Script();
  const method = LogsService.methods.Export!;
  const definition: grpc.ServiceDefinition = {
    Export: {
      path: `/${LogsService.fullName.slice(1)}/${method.name}`,
      requestStream: false,
      responseStream: false,
      requestSerialize: (m: Uint8Array) => Buffer.from(m),
      requestDeserialize: (bytes: Buffer) => decodeRequest(bytes),
      responseSerialize: (m: Uint8Array) => Buffer.from(m),
      responseDeserialize: (bytes: Buffer) => bytes,
    },
  };
  const server = new grpc.Server();
  server.addService(definition, {
    Export: (call: grpc.ServerUnaryCall<ReceivedRequest, Uint8Array>, callback: grpc.sendUnaryData<Uint8Array>) => {
      const answer = script.next({ at: Date.now(), request: call.request, headers: call.metadata.getMap() });
      if (answer.kind === 'accept') {
        callback(null, responseOf(answer));
        return;
      }
      const metadata = new grpc.Metadata();
      if (answer.retryAfterSeconds !== undefined) {
        const retryInfo = RetryInfo.encode(RetryInfo.fromObject({ retryDelay: { seconds: answer.retryAfterSeconds } })).finish();
        const status = Status.fromObject({ code: answer.status, message: answer.message ?? '', details: [{ type_url: 'type.googleapis.com/google.rpc.RetryInfo', value: retryInfo }] });
        metadata.set('grpc-status-details-bin', Buffer.from(Status.encode(status).finish()));
      }
      callback({ code: answer.status, details: answer.message ?? grpc.status[answer.status], metadata });
    },
  });
  const port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err === null ? resolve(p) : reject(err))));
  return {
    sink: `otlp+grpc://127.0.0.1:${port}`,
    arrivals: script.arrivals,
    accepted: () => script.accepted(),
    script: (...answers) => script.set(answers),
    close: () => new Promise<void>((resolve) => server.tryShutdown(() => resolve())),
  };
}
