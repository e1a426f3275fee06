/**
 * The HTTP and WebSocket API, built from its dependencies (no globals), not yet listening:
 * tests build one against a simulated cluster, the CLI hands it to startServer.
 */
import fastifyWebsocket from '@fastify/websocket';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { serializerCompiler, validatorCompiler, type ZodTypeProvider } from 'fastify-type-provider-zod';
import type { Enricher } from '../enrich/types.ts';
import type { ReadinessSource } from '../kube/types.ts';
import type { Metrics } from '../metrics/index.ts';
import type { Sink } from '../sink/types.ts';
import type { StoreReader } from '../store/types.ts';
import { installBearerAuth } from './auth.ts';
import { ApiError, installErrorHandlers, sendApiError } from './errors.ts';
import { EventBus } from './event-bus.ts';
import { installHttpMetrics } from './http-metrics.ts';
import { registerOpenApi } from './openapi.ts';
import { checkServerOptions, type ServerOptions } from './options.ts';
import { enrichRoutes } from './routes/enrich.ts';
import { ingestRoutes } from './routes/ingest.ts';
import { lookupRoutes } from './routes/lookup.ts';
import { operationsRoutes } from './routes/operations.ts';
import { streamRoutes } from './routes/stream.ts';
import { WebSocketConnections } from './websocket-shutdown.ts';

export interface AppDeps {
  enricher: Enricher;
  store: StoreReader;
  readiness: ReadinessSource;
  metrics: Metrics;
  /** Where /v1/forward delivers; without one it answers 501. */
  sink?: Sink | undefined;
  /** Enriched events for /v1/stream; pass the one the in-process file source publishes to. */
  bus?: EventBus | undefined;
  /** The clock of /v1/forward's retry periods (tests move it by hand); default Date.now. */
  now?: (() => number) | undefined;
  /** A pino logger; false or undefined: silent. */
  logger?: FastifyBaseLogger | false | undefined;
  options: ServerOptions;
}

/**
 * Once shutdown begins, answers carry `Connection: close`: a keep-alive connection whose request
 * was in flight is closed after its answer instead of holding the close until its idle timeout.
 */
function installCloseOnShutdown(app: FastifyInstance): void {
  let closing = false;
  app.addHook('preClose', (done) => {
    closing = true;
    done();
  });
  app.addHook('onSend', (_request, reply, payload, done) => {
    if (closing) reply.header('connection', 'close');
    done(null, payload);
  });
}

export async function buildApp(deps: AppDeps): Promise<FastifyInstance> {
  const options = checkServerOptions(deps.options);
  const bus = deps.bus ?? new EventBus();
  const connections = new WebSocketConnections();

  const app = Fastify({
    ...(deps.logger ? { loggerInstance: deps.logger } : { logger: false }),
    bodyLimit: options.maxBodyBytes,
    exposeHeadRoutes: false,
    // Per-request log lines would dominate the log at hundreds of batches a second.
    logController: new LogController({ disableRequestLogging: true }),
    return503OnClosing: true,
    // Bad URLs and the like, found before routing: same error shape as everything else.
    frameworkErrors: (error, _request, reply) => {
      sendApiError(reply, new ApiError(400, 'invalid_request', 'bad request', [{ message: error.message }]));
    },
  }).withTypeProvider<ZodTypeProvider>();

  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  installErrorHandlers(app, options.maxBodyBytes);

  // Bodies are parsed only by the batch routes; elsewhere (e.g. a POST to an unknown path) any
  // body is read up to the limit and ignored, so the answer is the 404 it should be.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, _body, done) => done(null, undefined));

  // Before any hook that may answer early: its onRequest hook marks upgrade requests, so that
  // a refused upgrade (401, 400) gets its socket closed after the answer.
  await app.register(fastifyWebsocket, {
    options: { maxPayload: options.maxBodyBytes, perMessageDeflate: false },
    preClose: async function (this: FastifyInstance) {
      await connections.closeAll(this.websocketServer, options.closeTimeoutMs);
      this.websocketServer.close();
    },
  });
  installCloseOnShutdown(app);
  if (options.authToken !== undefined) installBearerAuth(app, options.authToken);
  installHttpMetrics(app, deps.metrics);

  await registerOpenApi(app);

  const { enricher, metrics } = deps;
  await app.register(enrichRoutes({ enricher, bus, sink: deps.sink, maxBodyBytes: options.maxBodyBytes, now: deps.now ?? Date.now }));
  await app.register(ingestRoutes({
    enricher,
    metrics,
    bus,
    connections,
    limits: { maxPendingBytes: options.ingestMaxPendingBytes, partialFlushTimeoutMs: options.partialFlushTimeoutMs },
  }));
  await app.register(streamRoutes({ metrics, bus, connections, maxQueuedEvents: options.streamBufferEvents }));
  await app.register(lookupRoutes({ enricher, store: deps.store }));
  await app.register(operationsRoutes({ readiness: deps.readiness, metrics }));
  return app;
}
