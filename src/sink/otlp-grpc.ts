/**
 * OTLP/gRPC for the OTLP sink (https://opentelemetry.io/docs/specs/otlp/#otlpgrpc): unary
 * `LogsService/Export` calls with @grpc/grpc-js, messages encoded with the protobufjs types of
 * otlp/proto.ts, gzip-compressed. The status codes OTLP calls retryable are retried, with the
 * server's google.rpc.RetryInfo (in `grpc-status-details-bin`) as the least delay;
 * RESOURCE_EXHAUSTED only when it carries one. Every other code is a permanent refusal.
 */
import * as grpc from '@grpc/grpc-js';
import { decodeLogsResponse, LOGS_SERVICE_NAME, retryDelayOf } from '../otlp/proto.ts';
import { encodeNdjsonAsLogsRequest } from '../otlp/records.ts';
import type { ExportLogsResponse } from '../otlp/types.ts';
import type { ExportAttempt, OtlpTransport, OtlpTransportOptions } from './otlp.ts';
import type { OtlpSinkSpec } from './spec.ts';

const EXPORT_PATH = `/${LOGS_SERVICE_NAME}/Export`;

const RETRYABLE = new Set([grpc.status.CANCELLED, grpc.status.DEADLINE_EXCEEDED, grpc.status.ABORTED, grpc.status.OUT_OF_RANGE, grpc.status.UNAVAILABLE, grpc.status.DATA_LOSS]);

/** grpc-js's compression algorithm number for gzip (its CompressionAlgorithms enum). */
const GZIP = 2;

const identity = (bytes: Buffer): Buffer => bytes;

export function createOtlpGrpcTransport(spec: OtlpSinkSpec, options: OtlpTransportOptions): OtlpTransport {
  const credentials = spec.tls ? grpc.credentials.createSsl() : grpc.credentials.createInsecure();
  const client = new grpc.Client(spec.url.host, credentials, { 'grpc.default_compression_algorithm': GZIP });
  return {
    encode: (chunk) => encodeNdjsonAsLogsRequest(chunk.bytes),
    send: (request, signal) =>
      new Promise<ExportAttempt>((resolve) => {
        const call = client.makeUnaryRequest<Buffer, ExportLogsResponse>(
          EXPORT_PATH,
          identity,
          decodeLogsResponse,
          Buffer.from(request.buffer, request.byteOffset, request.byteLength),
          new grpc.Metadata(),
          { deadline: Date.now() + options.timeoutMs },
          (err, response) => {
            signal.removeEventListener('abort', cancel);
            if (err === null) {
              const partial = response?.partialSuccess;
              resolve({ kind: 'accepted', rejectedRecords: Number(partial?.rejectedLogRecords ?? 0), message: partial?.errorMessage ?? '' });
            } else {
              resolve(failure(err));
            }
          },
        );
        function cancel(): void {
          call.cancel();
        }
        signal.addEventListener('abort', cancel, { once: true });
      }),
    close: () => client.close(),
  };
}

function failure(err: grpc.ServiceError): ExportAttempt {
  const problem = `${grpc.status[err.code] ?? err.code}: ${err.details}`;
  const retryAfterSeconds = retryInfoSeconds(err.metadata);
  if (RETRYABLE.has(err.code) || (err.code === grpc.status.RESOURCE_EXHAUSTED && retryAfterSeconds !== undefined)) {
    return { kind: 'retry', problem, retryAfterSeconds };
  }
  return { kind: 'refused', problem, status: err.code };
}

/** The google.rpc.RetryInfo delay of a failed call, when the server sent one. */
function retryInfoSeconds(metadata: grpc.Metadata | undefined): number | undefined {
  const details = metadata?.get('grpc-status-details-bin')[0];
  if (!(details instanceof Buffer)) return undefined;
  try {
    return retryDelayOf(details);
  } catch {
    return undefined;
  }
}
