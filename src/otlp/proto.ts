/**
 * The OTLP logs messages, loaded with protobufjs from the official definitions vendored in
 * `proto/` (see proto/README.md): no generated code to keep in step, no hand-written wire format.
 *
 * Messages are handled as plain objects in one representation whichever way they arrive:
 * lowerCamelCase fields, 64-bit integers as decimal strings, bytes as Uint8Array, enums as
 * numbers, defaults left out (types.ts). Protobuf bodies are decoded into it; OTLP/JSON bodies
 * (hex trace and span ids) are normalised into it through the same message types, so both are
 * checked by the same definitions.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';
import { ProtocolError } from './json.ts';
import type { ExportLogsResponse, LogsRequest, RpcStatus } from './types.ts';

export { ProtocolError, toOtlpJson } from './json.ts';

/** `proto/` beside `src/` (running from source) or `dist/` (the package and the image). */
export const PROTO_DIR = fileURLToPath(new URL('../../proto/', import.meta.url));

const FILES = ['opentelemetry/proto/collector/logs/v1/logs_service.proto', 'google/rpc/status.proto', 'google/rpc/error_details.proto'];

function loadRoot(): protobuf.Root {
  const root = new protobuf.Root();
  // Imports are relative to proto/ (as protoc -I proto); google/protobuf/* come with protobufjs.
  root.resolvePath = (_origin, target) => join(PROTO_DIR, target);
  for (const file of FILES) {
    if (!existsSync(join(PROTO_DIR, file))) throw new Error(`protocol definition ${file} is missing from ${PROTO_DIR}`);
  }
  // keepCase false: protobuf's snake_case fields become the lowerCamelCase names of OTLP/JSON.
  return root.loadSync(FILES, { keepCase: false });
}

const root = loadRoot();
export const ExportLogsServiceRequest = root.lookupType('opentelemetry.proto.collector.logs.v1.ExportLogsServiceRequest');
export const ExportLogsServiceResponse = root.lookupType('opentelemetry.proto.collector.logs.v1.ExportLogsServiceResponse');
export const Status = root.lookupType('google.rpc.Status');
const RetryInfo = root.lookupType('google.rpc.RetryInfo');
/** The gRPC service, for @grpc/proto-loader-style use by a gRPC server. */
export const LOGS_SERVICE_NAME = 'opentelemetry.proto.collector.logs.v1.LogsService';

/** The plain-object representation of types.ts (64-bit integers as strings; bytes stay Uint8Array). */
const PLAIN: protobuf.IConversionOptions = { longs: String, enums: Number, defaults: false };


/** A protobuf ExportLogsServiceRequest; a ProtocolError when the bytes are not one. */
export function decodeLogsRequest(bytes: Uint8Array): LogsRequest {
  let message: protobuf.Message;
  try {
    message = ExportLogsServiceRequest.decode(bytes);
  } catch (err) {
    throw new ProtocolError(`not a protobuf ExportLogsServiceRequest: ${(err as Error).message}`);
  }
  return ExportLogsServiceRequest.toObject(message, PLAIN) as LogsRequest;
}

/**
 * An OTLP/JSON ExportLogsServiceRequest (already parsed from JSON): trace and span ids are hex,
 * `bytesValue` base64, 64-bit integers strings or numbers, enums integers (or their names).
 */
export function logsRequestFromJson(value: unknown): LogsRequest {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ProtocolError('an OTLP/JSON ExportLogsServiceRequest is an object ({"resourceLogs": [...]})', 'body');
  }
  hexIdsToBytes(value as Record<string, unknown>);
  let message: protobuf.Message;
  try {
    message = ExportLogsServiceRequest.fromObject(value as Record<string, unknown>);
  } catch (err) {
    // protobufjs names the message type at fault: ".opentelemetry.proto.logs.v1.LogRecord.attributes: array expected".
    throw new ProtocolError(`not an OTLP/JSON ExportLogsServiceRequest: ${(err as Error).message.replace(/^\.opentelemetry\.proto\./, '')}`);
  }
  return ExportLogsServiceRequest.toObject(message, PLAIN) as LogsRequest;
}

const HEX_ID = /^(?:[0-9a-fA-F]{2})*$/;

/** OTLP/JSON writes traceId and spanId as hex, where protobuf's JSON mapping would use base64. */
function hexIdsToBytes(request: Record<string, unknown>): void {
  const resourceLogs = request.resourceLogs;
  if (!Array.isArray(resourceLogs)) return;
  resourceLogs.forEach((rl: unknown, r) => {
    const scopeLogs = (rl as { scopeLogs?: unknown } | null)?.scopeLogs;
    if (!Array.isArray(scopeLogs)) return;
    scopeLogs.forEach((sl: unknown, s) => {
      const records = (sl as { logRecords?: unknown } | null)?.logRecords;
      if (!Array.isArray(records)) return;
      records.forEach((record: unknown, i) => {
        if (typeof record !== 'object' || record === null) return;
        const fields = record as Record<string, unknown>;
        for (const key of ['traceId', 'spanId']) {
          const id = fields[key];
          if (typeof id !== 'string') continue;
          const where = `resourceLogs[${r}].scopeLogs[${s}].logRecords[${i}].${key}`;
          if (!HEX_ID.test(id)) throw new ProtocolError(`${where}: expected hex digits (OTLP/JSON), got ${JSON.stringify(id.slice(0, 40))}`, where);
          fields[key] = Buffer.from(id, 'hex');
        }
      });
    });
  });
}

export function encodeLogsRequest(request: LogsRequest): Uint8Array {
  return ExportLogsServiceRequest.encode(ExportLogsServiceRequest.fromObject(request)).finish();
}


export function encodeLogsResponse(response: ExportLogsResponse): Uint8Array {
  return ExportLogsServiceResponse.encode(ExportLogsServiceResponse.fromObject(response)).finish();
}

export function decodeLogsResponse(bytes: Uint8Array): ExportLogsResponse {
  return ExportLogsServiceResponse.toObject(ExportLogsServiceResponse.decode(bytes), PLAIN) as ExportLogsResponse;
}

export function encodeStatus(status: RpcStatus): Uint8Array {
  return Status.encode(Status.fromObject(status)).finish();
}

const RETRY_INFO_TYPE = 'type.googleapis.com/google.rpc.RetryInfo';

/**
 * A google.rpc.Status carrying a google.rpc.RetryInfo: what OTLP/gRPC servers send (in the
 * `grpc-status-details-bin` trailer) with UNAVAILABLE, so clients wait that long.
 */
export function encodeStatusWithRetryInfo(status: RpcStatus, retryAfterSeconds: number): Uint8Array {
  const retryInfo = RetryInfo.encode(RetryInfo.fromObject({ retryDelay: { seconds: retryAfterSeconds } })).finish();
  // google.protobuf.Any comes with protobufjs, its fields in their protobuf names (type_url).
  return Status.encode(Status.fromObject({ ...status, details: [{ type_url: RETRY_INFO_TYPE, value: retryInfo }] })).finish();
}

/** The retry delay in seconds of a Status encoded by encodeStatusWithRetryInfo, if any. */
export function retryDelayOf(bytes: Uint8Array): number | undefined {
  const status = Status.toObject(Status.decode(bytes), PLAIN) as { details?: { type_url?: string; value?: Uint8Array }[] };
  const detail = status.details?.find((d) => d.type_url === RETRY_INFO_TYPE);
  if (detail?.value === undefined) return undefined;
  const info = RetryInfo.toObject(RetryInfo.decode(detail.value), PLAIN) as { retryDelay?: { seconds?: string } };
  return Number(info.retryDelay?.seconds ?? 0);
}

export function decodeStatus(bytes: Uint8Array): RpcStatus {
  return Status.toObject(Status.decode(bytes), PLAIN) as RpcStatus;
}
