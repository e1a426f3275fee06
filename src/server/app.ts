/**
 * The HTTP and WebSocket API, built from its dependencies (no globals), not yet listening:
 * tests build one against a simulated cluster, the CLI hands it to startServer.
 */
import { maxHeaderSize } from 'node:http';
import type { Socket } from 'node:net';
import fastifyWebsocket from '@fastify/websocket';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyRequest } from 'fastify';
import type { WebSocket } from 'ws';
import { serializerCompiler, validatorCompiler, type ZodTypeProvider } from 'fastify-type-provider-zod';
import type { Enricher } from '../enrich/index.ts';
import type { ReadinessSource } from '../kube/types.ts';
import type { Metrics } from '../metrics/index.ts';
import type { Sink } from '../sink/types.ts';
import type { StoreReader } from '../store/types.ts';
import { installBearerAuth, selectSubprotocol, WS_BEARER_PREFIX, WS_SUBPROTOCOL } from './auth.ts';
import { isClientError, logByFault, logClientError } from './client-errors.ts';
import { ApiError, clientErrorAnswer, installErrorHandlers, rawErrorResponse, sendApiError, shuttingDown, type ClientErrorLimits } from './errors.ts';
import { EventBus } from './event-bus.ts';
import { installHttpMetrics } from './http-metrics.ts';
import { ByteBudget } from './inflight-budget.ts';
import { registerOpenApi } from './openapi.ts';
import { checkServerOptions, type ServerOptions } from './options.ts';
import { enrichRoutes } from './routes/enrich.ts';
import { ingestRoutes } from './routes/ingest.ts';
import { lookupRoutes } from './routes/lookup.ts';
import { operationsRoutes } from './routes/operations.ts';
import { otlpRoutes } from './routes/otlp.ts';
import { podsRoutes } from './routes/pods.ts';
import { STREAM_ROUTE, streamRoutes } from './routes/stream.ts';
import { viewsRoutes } from './routes/views.ts';
import { loadUiAssets } from './ui/assets.ts';
import { uiRoutes } from './ui/routes.ts';
import { WebSocketHeartbeat } from './websocket-heartbeat.ts';
import { WebSocketConnections } from './websocket-shutdown.ts';

export interface AppDeps {
  enricher: Enricher;
  store: StoreReader;
  readiness: ReadinessSource;
  metrics: Metrics;
  /** The OTLP receivers' enricher (`otel` schema, src/otlp otlpEnricherOptions); without one POST /v1/logs answers 501. */
  otlpEnricher?: Enricher | undefined;
  /** Where /v1/forward and POST /v1/logs deliver; without one they answer 501. */
  sink?: Sink | undefined;
  /** Enriched events for /v1/stream; pass the one the in-process file source publishes to. */
  bus?: EventBus | undefined;
  /**
   * server.maxInflightBytes as a budget shared with entry points outside this app (the gRPC
   * server); default: one of the app's own (createInflightBudget).
   */
  budget?: ByteBudget | undefined;
  /** The clock of /v1/forward's retry periods (tests move it by hand); default Date.now. */
  now?: (() => number) | undefined;
  /** A pino logger; false or undefined: silent. */
  logger?: FastifyBaseLogger | false | undefined;
  options: ServerOptions;
}

/**
 * Once shutdown begins, answers carry `Connection: close`: a keep-alive connection whose request
 * was in flight is closed after its answer instead of holding the close until its idle timeout.
 * A request that still arrives (on a connection opened before) is refused with 503 and
 * Retry-After, in the API's error shape, before its body is read; requests in flight finish.
 * Returns whether shutdown has begun, for answers sent past Fastify's hooks.
 */
function installCloseOnShutdown(app: FastifyInstance): () => boolean {
  let closing = false;
  app.addHook('preClose', (done) => {
    closing = true;
    done();
  });
  app.addHook('onRequest', async () => {
    if (closing) throw shuttingDown();
  });
  app.addHook('onSend', (_request, reply, payload, done) => {
    if (closing) reply.header('connection', 'close');
    done(null, payload);
  });
  return () => closing;
}

/** How often Node's HTTP server looks for requests past headersTimeout / requestTimeout (its default, 30 s, would let them run that much longer). */
const TIMEOUT_CHECK_INTERVAL_MS = 1000;

/**
 * Answers what Node's HTTP parser refuses (a request too slow to arrive, a URL or headers over the
 * size limit, bytes that are not HTTP) in the API's error shape, then closes the connection.
 */
function clientErrorHandler(limits: ClientErrorLimits) {
  return function (this: FastifyInstance, err: Error & { code?: string; reason?: string }, socket: Socket): void {
    const error = clientErrorAnswer(err, limits);
    // Node reports here only what the client sent or did: its mistake (or its leaving), no stack trace.
    logClientError(this.log, err, 'HTTP request', { status: error?.statusCode });
    if (error === undefined || socket.destroyed) {
      socket.destroy();
      return;
    }
    // An answer already under way on this connection cannot be followed by another one.
    const inFlight = (socket as { _httpMessage?: { headersSent?: boolean } })._httpMessage;
    if (!socket.writable || inFlight?.headersSent === true) {
      socket.destroy();
      return;
    }
    socket.end(rawErrorResponse(error), () => socket.destroy());
    // A client that does not read even this is not waited for.
    setTimeout(() => socket.destroy(), 1000).unref();
  };
}

/**
 * Errors of established WebSockets: a client's protocol mistake or reset is its own (ws has
 * already closed with the right code); anything else is the service's, and ends the connection.
 */
function websocketErrorHandler(error: Error, socket: WebSocket, request: FastifyRequest): void {
  logByFault(request.log, error, 'websocket connection', { route: request.routeOptions.url });
  if (!isClientError(error)) socket.terminate();
}

/** server.maxInflightBytes, its use and waiters reported in the metrics. */
export function createInflightBudget(maxInflightBytes: number, metrics: Metrics): ByteBudget {
  return new ByteBudget(maxInflightBytes, (used, waiting) => {
    metrics.inflightBytes.set(used);
    metrics.inflightWaiting.set(waiting);
  });
}

export async function buildApp(deps: AppDeps): Promise<FastifyInstance> {
  const options = checkServerOptions(deps.options);
  const bus = deps.bus ?? new EventBus({ share: options.streamTimeShare });
  const connections = new WebSocketConnections();

  const app = Fastify({
    ...(deps.logger ? { loggerInstance: deps.logger } : { logger: false }),
    bodyLimit: options.maxBodyBytes,
    exposeHeadRoutes: false,
    // Per-request log lines would dominate the log at hundreds of batches a second.
    logController: new LogController({ disableRequestLogging: true }),
    // Its own 503 has another body shape: installCloseOnShutdown refuses those requests instead.
    return503OnClosing: false,
    // Slow or stalled clients (slowloris) are cut off: 408, then the connection closes.
    requestTimeout: options.requestTimeoutMs,
    keepAliveTimeout: options.keepAliveTimeoutMs,
    http: { headersTimeout: options.headersTimeoutMs, connectionsCheckingInterval: TIMEOUT_CHECK_INTERVAL_MS },
    clientErrorHandler: clientErrorHandler({ headersTimeoutMs: options.headersTimeoutMs, requestTimeoutMs: options.requestTimeoutMs, maxHeaderBytes: maxHeaderSize }),
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
    options: { maxPayload: options.maxBodyBytes, perMessageDeflate: false, handleProtocols: selectSubprotocol },
    errorHandler: websocketErrorHandler,
    preClose: async function (this: FastifyInstance) {
      heartbeat.stop();
      await connections.closeAll(this.websocketServer, options.closeTimeoutMs);
      this.websocketServer.close();
    },
  });
  const heartbeat = new WebSocketHeartbeat(app.websocketServer, options.websocketPingIntervalMs);
  heartbeat.start();
  app.addHook('onClose', (_instance, done) => {
    heartbeat.stop();
    done();
  });
  const closing = installCloseOnShutdown(app);
  if (options.authToken !== undefined) installBearerAuth(app, options.authToken);
  installHttpMetrics(app, deps.metrics);

  await registerOpenApi(app);

  const { enricher, metrics } = deps;
  const budget = deps.budget ?? createInflightBudget(options.maxInflightBytes, metrics);
  await app.register(
    enrichRoutes({
      enricher,
      bus,
      sink: deps.sink,
      maxBodyBytes: options.maxBodyBytes,
      budget,
      maxInflightWaitMs: options.maxInflightWaitMs,
      sendTimeoutMs: options.sendTimeoutMs,
      closing,
      now: deps.now ?? Date.now,
    }),
  );
  await app.register(
    otlpRoutes({
      enricher: deps.otlpEnricher,
      sink: deps.sink,
      maxBodyBytes: options.maxBodyBytes,
      budget,
      maxInflightWaitMs: options.maxInflightWaitMs,
      now: deps.now ?? Date.now,
    }),
  );
  await app.register(ingestRoutes({
    enricher,
    metrics,
    bus,
    connections,
    limits: { maxPendingBytes: options.ingestMaxPendingBytes, partialFlushTimeoutMs: options.partialFlushTimeoutMs },
    budget,
  }));
  await app.register(streamRoutes({ metrics, bus, connections, maxQueuedEvents: options.streamBufferEvents, maxSubscribers: options.maxStreamSubscribers }));
  await app.register(lookupRoutes({ enricher, store: deps.store }));
  await app.register(viewsRoutes({ enricher, maxBodyBytes: options.maxBodyBytes }));
  await app.register(operationsRoutes({ readiness: deps.readiness, metrics }));
  await app.register(podsRoutes({ store: deps.store, now: deps.now ?? Date.now }));
  await app.register(uiRoutes(loadUiAssets({ 'ws-protocol': WS_SUBPROTOCOL, 'ws-bearer-prefix': WS_BEARER_PREFIX, 'stream-route': STREAM_ROUTE })));
  return app;
}
