/**
 * The OTLP/gRPC logs receiver (https://opentelemetry.io/docs/specs/otlp/#otlpgrpc):
 * `opentelemetry.proto.collector.logs.v1.LogsService/Export` served with @grpc/grpc-js on
 * `server.grpcListen`, beside the HTTP API. The same LogsReceiver as POST /v1/logs: enriched,
 * regrouped by pod, answered once the sink acknowledged, `partial_success` for records that
 * cannot be used. Status codes as OTLP clients act on them: INVALID_ARGUMENT (not retried) for a
 * message that does not decode, UNAUTHENTICATED without the token, RESOURCE_EXHAUSTED above
 * server.maxBodyBytes (grpc-js refuses it before it is read), UNAVAILABLE with a RetryInfo while
 * the sink cannot take the records.
 *
 * Messages are (de)serialised with the protobufjs types of proto.ts; the request is decoded in the
 * handler, not by grpc-js, so a message that does not decode gets INVALID_ARGUMENT rather than
 * the INTERNAL grpc-js would answer.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import { parseListenAddress } from '../config/listen.ts';
import { decodeLogsRequest, decodeLogsResponse, encodeLogsResponse, encodeStatusWithRetryInfo, LOGS_SERVICE_NAME, ProtocolError } from './proto.ts';
import { ExportRefusedError, type LogsReceiver } from './receiver.ts';
import type { ExportLogsResponse } from './types.ts';

export interface OtlpGrpcOptions {
  /** host:port or [v6]:port; port 0 picks a free one. */
  listen: string;
  /** server.authToken: required as `authorization: Bearer <token>` metadata; undefined: no auth. */
  authToken?: string | undefined;
  /** server.tls, read: the same certificate as the HTTP API. */
  tls?: { cert: Buffer; key: Buffer } | undefined;
  /** server.maxBodyBytes: the largest message accepted (decompressed). */
  maxMessageBytes: number;
  /** Told about sink failures that are not the sink saying it is unavailable. */
  onError?: (err: unknown, what: string) => void;
}

export interface RunningGrpcServer {
  /** `host:port` as bound (the port filled in when 0 was asked for). */
  readonly address: string;
  readonly port: number;
  /** Stops taking calls, lets those in flight finish for up to `graceMs`, then cuts them off. */
  close(graceMs?: number): Promise<void>;
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

function tokenDigest(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}

/** Constant-time, as the HTTP routes compare it (server/auth.ts). */
function authorized(metadata: grpc.Metadata, expected: Buffer | undefined): boolean {
  if (expected === undefined) return true;
  const value = metadata.get('authorization')[0];
  const presented = typeof value === 'string' ? /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(value)?.[1] : undefined;
  return presented !== undefined && timingSafeEqual(tokenDigest(presented), expected);
}

function failure(code: grpc.status, details: string, metadata?: grpc.Metadata): Partial<grpc.StatusObject> {
  return metadata === undefined ? { code, details } : { code, details, metadata };
}

export async function startOtlpGrpcServer(receiver: LogsReceiver, options: OtlpGrpcOptions): Promise<RunningGrpcServer> {
  const parsed = parseListenAddress(options.listen);
  if (!parsed.ok) throw new Error(`server.grpcListen: ${parsed.message}`);
  const expected = options.authToken === undefined ? undefined : tokenDigest(options.authToken);

  const exportLogs: grpc.handleUnaryCall<Buffer, ExportLogsResponse> = (call, callback) => {
    if (!authorized(call.metadata, expected)) {
      callback(failure(grpc.status.UNAUTHENTICATED, 'send "authorization: Bearer <token>" metadata (server.authToken)'));
      return;
    }
    let request;
    try {
      request = decodeLogsRequest(call.request);
    } catch (err) {
      if (err instanceof ProtocolError) callback(failure(grpc.status.INVALID_ARGUMENT, err.message));
      else callback(failure(grpc.status.INTERNAL, 'internal error (see the service log)'));
      return;
    }
    receiver.export(request, 'otlp_grpc').then(
      (outcome) => callback(null, outcome.response),
      (err: unknown) => {
        if (err instanceof ExportRefusedError && err.code === 'sink_unavailable') {
          const metadata = new grpc.Metadata();
          metadata.set('grpc-status-details-bin', Buffer.from(encodeStatusWithRetryInfo({ code: grpc.status.UNAVAILABLE, message: err.message }, err.retryAfterSeconds)));
          callback(failure(grpc.status.UNAVAILABLE, err.message, metadata));
        } else if (err instanceof ExportRefusedError) {
          callback(failure(grpc.status.UNIMPLEMENTED, err.message));
        } else {
          options.onError?.(err, 'OTLP/gRPC export failed');
          callback(failure(grpc.status.INTERNAL, 'internal error (see the service log)'));
        }
      },
    );
  };

  const server = new grpc.Server({ 'grpc.max_receive_message_length': options.maxMessageBytes });
  server.addService(LOGS_SERVICE, { Export: exportLogs });
  const credentials =
    options.tls === undefined
      ? grpc.ServerCredentials.createInsecure()
      : grpc.ServerCredentials.createSsl(null, [{ cert_chain: options.tls.cert, private_key: options.tls.key }], false);
  const host = parsed.value.host.includes(':') ? `[${parsed.value.host}]` : parsed.value.host;
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(`${host}:${parsed.value.port}`, credentials, (err, bound) => (err === null ? resolve(bound) : reject(err)));
  });
  return {
    address: `${host}:${port}`,
    port,
    close: (graceMs = 5000) =>
      new Promise<void>((resolve) => {
        const timer = setTimeout(() => server.forceShutdown(), graceMs);
        server.tryShutdown(() => {
          clearTimeout(timer);
          resolve();
        });
      }),
  };
}
