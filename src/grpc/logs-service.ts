/**
 * The OTLP/gRPC logs receiver (https://opentelemetry.io/docs/specs/otlp/#otlpgrpc):
 * `opentelemetry.proto.collector.logs.v1.LogsService/Export`, one of the services of the gRPC
 * server on `server.grpcListen` (src/grpc/server.ts, which checks the token and the message
 * size). The same LogsReceiver as POST /v1/logs: enriched, regrouped by pod, answered once the
 * sink acknowledged, `partial_success` for records that cannot be used. Status codes as OTLP
 * clients act on them: INVALID_ARGUMENT (not retried) for a message that does not decode,
 * UNAVAILABLE with a RetryInfo while the sink cannot take the records or while the requests
 * being enriched hold server.maxInflightBytes (shared with the HTTP routes) for all of
 * server.maxInflightWait.
 *
 * Messages are (de)serialised with the protobufjs types of proto.ts; the request is decoded in the
 * handler, not by grpc-js, so a message that does not decode gets INVALID_ARGUMENT rather than
 * the INTERNAL grpc-js would answer.
 */
import * as grpc from '@grpc/grpc-js';
import { decodeLogsRequest, decodeLogsResponse, encodeLogsResponse, LOGS_SERVICE_NAME, ProtocolError } from '../otlp/proto.ts';
import { ExportRefusedError, type LogsReceiver } from '../otlp/receiver.ts';
import type { ExportLogsResponse } from '../otlp/types.ts';
import { Reservation, type ByteBudget } from '../server/inflight-budget.ts';
import type { GrpcService } from './server.ts';
import { busy, failure, GrpcFailure, internal, unavailable } from './status.ts';

export interface OtlpGrpcDeps {
  receiver: LogsReceiver;
  /** server.maxInflightBytes, shared with the HTTP routes: a request holds its size until answered. */
  budget: ByteBudget;
  /** server.maxInflightWait: how long a request that does not fit waits for room before its UNAVAILABLE. */
  maxInflightWaitMs: number;
  /** Told about sink failures that are not the sink saying it is unavailable. */
  onError?: (err: unknown, what: string) => void;
}

/** The service as grpc-js wants it, with identity (de)serialisers for the request (see header). */
const LOGS_SERVICE: grpc.ServiceDefinition = {
  Export: {
    path: `/${LOGS_SERVICE_NAME}/Export`,
    requestStream: false,
    responseStream: false,
    requestSerialize: (bytes: Buffer) => bytes,
    requestDeserialize: (bytes: Buffer) => bytes,
    responseSerialize: (response: ExportLogsResponse) => Buffer.from(encodeLogsResponse(response)),
    responseDeserialize: (bytes: Buffer) => decodeLogsResponse(bytes),
  },
};

export function otlpLogsService(deps: OtlpGrpcDeps): GrpcService {
  const { receiver, budget, maxInflightWaitMs } = deps;

  async function exportLogs(bytes: Buffer): Promise<ExportLogsResponse> {
    const share = new Reservation(budget, maxInflightWaitMs);
    try {
      if (!(await share.take(bytes.length))) throw new GrpcFailure(busy(budget.limit, maxInflightWaitMs));
      return (await receiver.export(decodeLogsRequest(bytes), 'otlp_grpc')).response;
    } finally {
      share.release();
    }
  }

  const Export: grpc.handleUnaryCall<Buffer, ExportLogsResponse> = (call, callback) => {
    exportLogs(call.request).then(
      (response) => callback(null, response),
      (err: unknown) => {
        if (err instanceof ProtocolError) callback(failure(grpc.status.INVALID_ARGUMENT, err.message));
        else if (err instanceof ExportRefusedError && err.code === 'sink_unavailable') callback(unavailable(err.message, err.retryAfterSeconds));
        else if (err instanceof ExportRefusedError) callback(failure(grpc.status.UNIMPLEMENTED, err.message));
        else if (err instanceof GrpcFailure) callback(err.status);
        else {
          deps.onError?.(err, 'OTLP/gRPC export failed');
          callback(internal());
        }
      },
    );
  };
  return { definition: LOGS_SERVICE, implementation: { Export } };
}
