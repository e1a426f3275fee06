/**
 * OTLP logs messages as plain objects (proto.ts converts to and from the wire): the fields of
 * opentelemetry/proto/{logs,common,resource}/v1 and collector/logs/v1 that this service reads or
 * writes, lowerCamelCase, 64-bit integers as decimal strings, bytes as Uint8Array, defaults left out.
 */

export interface AnyValue {
  stringValue?: string;
  boolValue?: boolean;
  intValue?: string;
  doubleValue?: number;
  arrayValue?: { values?: AnyValue[] };
  kvlistValue?: { values?: KeyValue[] };
  bytesValue?: Uint8Array;
}

export interface KeyValue {
  key?: string;
  value?: AnyValue;
}

export interface Resource {
  attributes?: KeyValue[];
  droppedAttributesCount?: number;
  [other: string]: unknown;
}

export interface InstrumentationScope {
  name?: string;
  version?: string;
  attributes?: KeyValue[];
  droppedAttributesCount?: number;
}

export interface LogRecord {
  timeUnixNano?: string;
  observedTimeUnixNano?: string;
  severityNumber?: number;
  severityText?: string;
  body?: AnyValue;
  attributes?: KeyValue[];
  droppedAttributesCount?: number;
  flags?: number;
  traceId?: Uint8Array;
  spanId?: Uint8Array;
  eventName?: string;
}

export interface ScopeLogs {
  scope?: InstrumentationScope;
  logRecords?: LogRecord[];
  schemaUrl?: string;
}

export interface ResourceLogs {
  resource?: Resource;
  scopeLogs?: ScopeLogs[];
  schemaUrl?: string;
}

/** ExportLogsServiceRequest. */
export interface LogsRequest {
  resourceLogs?: ResourceLogs[];
}

/** ExportLogsServiceResponse. */
export interface ExportLogsResponse {
  partialSuccess?: { rejectedLogRecords?: string; errorMessage?: string };
}

/** google.rpc.Status, the body of OTLP/HTTP error answers (details left empty). */
export interface RpcStatus {
  code?: number;
  message?: string;
}
