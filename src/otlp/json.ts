/**
 * What the OTLP code needs without protobufjs (otlp/proto.ts, loaded on the first OTLP request):
 * the protocol error, and messages written as OTLP/JSON.
 */
import type { AnyValue, ExportLogsResponse, KeyValue, LogsRequest, RpcStatus } from './types.ts';

export class ProtocolError extends Error {
  readonly code = 'malformed_otlp';
  /** Where in the message, when known (`resourceLogs[0].scopeLogs[1].logRecords[3].traceId`). */
  readonly field: string | undefined;
  constructor(message: string, field?: string) {
    super(message);
    this.name = 'ProtocolError';
    this.field = field;
  }
}

/**
 * A message of types.ts as OTLP/JSON text: trace and span ids as hex, other bytes base64,
 * 64-bit integers as strings (they already are). A message without bytes (the usual case for
 * logs read from files) takes JSON.stringify's fast path, without a replacer.
 */
export function toOtlpJson(message: LogsRequest | ExportLogsResponse | RpcStatus): string {
  if (!('resourceLogs' in message) || !logsHaveBytes(message)) return JSON.stringify(message);
  return JSON.stringify(message, function (this: Record<string, unknown>, key: string, value: unknown) {
    const raw = this[key];
    if (raw instanceof Uint8Array) return Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength).toString(key === 'traceId' || key === 'spanId' ? 'hex' : 'base64');
    return value;
  });
}

function valueHasBytes(value: AnyValue | undefined): boolean {
  if (value === undefined) return false;
  if (value.bytesValue !== undefined) return true;
  if (value.arrayValue?.values?.some(valueHasBytes) === true) return true;
  return value.kvlistValue?.values?.some((kv) => valueHasBytes(kv.value)) === true;
}

function attributesHaveBytes(attributes: readonly KeyValue[] | undefined): boolean {
  return attributes !== undefined && attributes.some((kv) => valueHasBytes(kv.value));
}

function logsHaveBytes(request: LogsRequest): boolean {
  for (const rl of request.resourceLogs ?? []) {
    if (attributesHaveBytes(rl.resource?.attributes)) return true;
    for (const sl of rl.scopeLogs ?? []) {
      if (attributesHaveBytes(sl.scope?.attributes)) return true;
      for (const r of sl.logRecords ?? []) {
        if (r.traceId !== undefined || r.spanId !== undefined || valueHasBytes(r.body) || attributesHaveBytes(r.attributes)) return true;
      }
    }
  }
  return false;
}
