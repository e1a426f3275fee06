/**
 * The gRPC server on `server.grpcListen` (@grpc/grpc-js): the services it carries (OTLP's
 * LogsService, src/otlp/grpc.ts; kube-log-enricher's own kle.v1.Enricher, enricher-service.ts)
 * get what the HTTP API has: the bearer token (`authorization: Bearer <token>` metadata,
 * checked here for every call before its handler runs), TLS with the same certificate, and
 * server.maxBodyBytes as the largest message (grpc-js refuses a larger one with
 * RESOURCE_EXHAUSTED before it is read). server.maxInflightBytes is shared with the HTTP routes:
 * each service takes its calls' shares from the same ByteBudget.
 *
 * Loaded only when server.grpcListen is set (runtime/service.ts): @grpc/grpc-js costs ~3 MB of
 * heap a process that does not listen does not need.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import { parseListenAddress } from '../config/listen.ts';
import { failure } from './status.ts';

export interface GrpcServerOptions {
  /** host:port or [v6]:port; port 0 picks a free one. */
  listen: string;
  /** server.authToken: required as `authorization: Bearer <token>` metadata; undefined: no auth. */
  authToken?: string | undefined;
  /** server.tls, read: the same certificate as the HTTP API. */
  tls?: { cert: Buffer; key: Buffer } | undefined;
  /** server.maxBodyBytes: the largest message accepted (decompressed). */
  maxMessageBytes: number;
}

/** A service as grpc-js takes it, and what it does when the server stops. */
export interface GrpcService {
  definition: grpc.ServiceDefinition;
  implementation: grpc.UntypedServiceImplementation;
  /** Called when the server begins to stop: end long-lived streams in an orderly way. */
  shutdown?: () => void;
}

export interface RunningGrpcServer {
  /** `host:port` as bound (the port filled in when 0 was asked for). */
  readonly address: string;
  readonly port: number;
  /** Stops taking calls, lets those in flight finish for up to `graceMs`, then cuts them off. */
  close(graceMs?: number): Promise<void>;
}

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

const UNAUTHENTICATED = failure(grpc.status.UNAUTHENTICATED, 'send "authorization: Bearer <token>" metadata (server.authToken)');

/** Every method of `service` behind the token check. */
function withAuth(service: GrpcService, expected: Buffer | undefined): grpc.UntypedServiceImplementation {
  if (expected === undefined) return service.implementation;
  const guarded: grpc.UntypedServiceImplementation = {};
  for (const [name, method] of Object.entries(service.definition)) {
    const handler = service.implementation[name] as (call: unknown, callback?: grpc.sendUnaryData<unknown>) => void;
    if (!method.requestStream && !method.responseStream) {
      guarded[name] = (call: grpc.ServerUnaryCall<unknown, unknown>, callback: grpc.sendUnaryData<unknown>) => {
        if (authorized(call.metadata, expected)) handler(call, callback);
        else callback(UNAUTHENTICATED);
      };
    } else if (method.requestStream && method.responseStream) {
      guarded[name] = (call: grpc.ServerDuplexStream<unknown, unknown>) => {
        if (authorized(call.metadata, expected)) handler(call);
        else call.emit('error', UNAUTHENTICATED);
      };
    } else {
      throw new Error(`gRPC method ${name}: only unary and bidirectional methods are guarded`);
    }
  }
  return guarded;
}

export async function startGrpcServer(options: GrpcServerOptions, services: readonly GrpcService[]): Promise<RunningGrpcServer> {
  const parsed = parseListenAddress(options.listen);
  if (!parsed.ok) throw new Error(`server.grpcListen: ${parsed.message}`);
  const expected = options.authToken === undefined ? undefined : tokenDigest(options.authToken);
  const server = new grpc.Server({ 'grpc.max_receive_message_length': options.maxMessageBytes });
  for (const service of services) server.addService(service.definition, withAuth(service, expected));
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
        for (const service of services) service.shutdown?.();
      }),
  };
}
