/**
 * The gRPC API on `server.grpcListen`: the server (token, TLS, message size), OTLP's LogsService
 * and kube-log-enricher's own kle.v1.Enricher (proto/kle/v1/enricher.proto). Loaded only when
 * server.grpcListen is set (runtime/service.ts).
 */
export { startGrpcServer, type GrpcServerOptions, type GrpcService, type RunningGrpcServer } from './server.ts';
export { otlpLogsService, type OtlpGrpcDeps } from './logs-service.ts';
export { enricherService, type EnricherServiceDeps } from './enricher-service.ts';
export { ENRICHER_SERVICE_NAME } from './proto.ts';
