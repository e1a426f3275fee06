/** OTLP logs in: the official protocol definitions (proto/), records to raw events and back, the receiver shared by the transports (the gRPC one is src/grpc/logs-service.ts). */
export type * from './types.ts';
export { decodeLogsRequest, encodeLogsRequest, encodeLogsResponse, encodeStatus, logsRequestFromJson, ProtocolError, PROTO_DIR, toOtlpJson } from './proto.ts';
export { eventsFromLogs, FILE_PATH_ATTRIBUTE, IOSTREAM_ATTRIBUTE, OTLP_INPUT, otlpEnricherOptions, regroup, unixNanosToRfc3339 } from './logs.ts';
export type { LogsBatch, Rejection, RegroupedLogs } from './logs.ts';
export { ExportRefusedError, LogsReceiver } from './receiver.ts';
export type { ExportOutcome, LogsReceiverDeps } from './receiver.ts';

