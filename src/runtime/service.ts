/**
 * `serve`: the enrichment service — reflectors filling the retaining store, the enricher, and the
 * HTTP/WebSocket API. `agent` and `demo` build on it.
 */
import { readFileSync } from 'node:fs';
import type { Writable } from 'node:stream';
import type { KubeConfig } from '@kubernetes/client-node';
import type { FastifyInstance } from 'fastify';
import { readTokenFile, type Config } from '../config/index.ts';
import { createEnricher, type Enricher } from '../enrich/index.ts';
import { kubeletKubeConfig, loadKubeConfig, startReflectors, type Reflectors } from '../kube/index.ts';
import { otlpEnricherOptions } from '../otlp/logs.ts';
import type { RunningGrpcServer } from '../grpc/index.ts';
import type { Logger } from '../log/index.ts';
import { createMetrics, type Metrics } from '../metrics/index.ts';
import { buildApp, createInflightBudget, EventBus, startServer, type RunningServer, type ServerOptions } from '../server/index.ts';
import { createSink, type Sink } from '../sink/index.ts';
import { RetainingStore } from '../store/index.ts';
import { toBackoff, toEnricherOptions, toKubeletConnection, toServerOptions } from './options.ts';

/** A start-up failure a user can act on (bad kubeconfig, unreadable token file, port in use). */
export class StartupError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.name = 'StartupError';
    this.code = code;
  }
}

export interface RuntimeEnv {
  env: Readonly<Record<string, string | undefined>>;
  homeDir: string | undefined;
  logger: Logger;
  /** Where the `stdout` sink writes. */
  stdout: Writable;
}

/**
 * What the configuration does not say: a cluster already resolved (the demo's simulated API
 * server), and what tests inject through the same start-up code `serve` runs.
 */
export interface ServiceExtras {
  /** Use this cluster instead of resolving a kubeconfig (the demo's simulated API server). */
  kubeConfig?: KubeConfig;
  /** Tests: this sink instead of source.sink's (closed by stop() all the same); null: none, /v1/forward answers 501. */
  sink?: Sink | null;
  /** Tests: the routes get this enricher around the real one (to inject a fault of the service). */
  wrapEnricher?: (enricher: Enricher) => Enricher;
  /** Tests: the clock of /v1/forward's sink retry periods; default Date.now. */
  now?: () => number;
  /** Tests: server options no configuration key sets. */
  server?: Pick<ServerOptions, 'closeTimeoutMs'> & Partial<Pick<ServerOptions, 'ingestMaxPendingBytes'>>;
}

export interface Service {
  readonly url: string;
  readonly app: FastifyInstance;
  readonly server: RunningServer;
  /** `host:port` of the gRPC server (server.grpcListen, the port filled in), undefined when it is off. */
  readonly grpcAddress: string | undefined;
  readonly metrics: Metrics;
  readonly store: RetainingStore;
  readonly enricher: Enricher;
  readonly reflectors: Reflectors;
  /** Undefined only when started with extras.sink null. */
  readonly sink: Sink | undefined;
  readonly bus: EventBus;
  /** Stops the API (HTTP and OTLP/gRPC) first (no new work), then the reflectors, then closes the sink. */
  stop(): Promise<void>;
}

/** The token in the file a `*TokenFile` key names; a StartupError naming the key and the file when it is unreadable or empty. */
export function readTokenFileSetting(key: string, path: string): string {
  const read = readTokenFile(path);
  if (!read.ok) throw new StartupError(read.code, `${key}: ${read.message}`);
  return read.token;
}

function resolveKubeConfig(config: Config, runtime: RuntimeEnv): { kubeConfig: KubeConfig; description: string } {
  const loaded = loadKubeConfig({
    kubeconfig: config.kubernetes.kubeconfig,
    context: config.kubernetes.context,
    env: runtime.env,
    homeDir: runtime.homeDir,
  });
  if (!loaded.ok) {
    // The message already names every place tried, in order.
    throw new StartupError(loaded.code, loaded.message);
  }
  return { kubeConfig: loaded.kubeConfig, description: loaded.description };
}

/** kubernetes.podSource: kubelet: the kubelet's kubeconfig, after checking what can be checked at start. */
function kubeletSetting(config: Config, runtime: RuntimeEnv): { kubeConfig: KubeConfig; pollIntervalMs: number; url: string } | undefined {
  if (config.kubernetes.podSource !== 'kubelet') return undefined;
  const connection = toKubeletConnection(config, runtime.env);
  if (connection === undefined) {
    throw new StartupError('kubelet_url_unknown', 'kubernetes.kubelet.url: not set, and $NODE_IP is empty: set NODE_IP from the downward API (status.hostIP), or set kubernetes.kubelet.url');
  }
  readTokenFileSetting('kubernetes.kubelet.tokenFile', connection.tokenFile);
  if (connection.caFile !== undefined) {
    try {
      readFileSync(connection.caFile);
    } catch (e) {
      throw new StartupError('unreadable_ca_file', `kubernetes.kubelet.caFile: cannot read ${connection.caFile} (${(e as NodeJS.ErrnoException).code ?? 'error'})`);
    }
  }
  return { kubeConfig: kubeletKubeConfig(connection), pollIntervalMs: config.kubernetes.kubelet.pollInterval, url: connection.url };
}

export async function startService(config: Config, runtime: RuntimeEnv, extras: ServiceExtras = {}): Promise<Service> {
  const { logger } = runtime;
  const authToken = config.server.authToken ?? (config.server.authTokenFile === undefined ? undefined : readTokenFileSetting('server.authTokenFile', config.server.authTokenFile));
  const tls =
    config.server.tls === undefined
      ? undefined
      : { cert: readFileSync(config.server.tls.certFile), key: readFileSync(config.server.tls.keyFile) };

  const cluster = extras.kubeConfig === undefined ? resolveKubeConfig(config, runtime) : { kubeConfig: extras.kubeConfig, description: 'embedded simulated cluster' };
  const kubelet = kubeletSetting(config, runtime);
  logger.info({ cluster: cluster.description, nodeName: config.kubernetes.nodeName ?? null, podSource: config.kubernetes.podSource, kubelet: kubelet?.url ?? null }, 'kubernetes client configured');

  const metrics = createMetrics();
  const store = new RetainingStore({ deletionDelayMs: config.kubernetes.deletionDelay, maxRetentionMs: config.kubernetes.maxRetention, metrics });
  const k = config.kubernetes;
  const reflectors = startReflectors({
    kubeConfig: cluster.kubeConfig,
    nodeName: k.nodeName,
    podLabelSelector: k.podLabelSelector,
    podFieldSelector: k.podFieldSelector,
    namespaceLabelSelector: k.namespaceLabelSelector,
    watchNodes: k.watchNodes,
    watchNamespaces: k.watchNamespaces,
    watchTimeoutMs: k.watchTimeout,
    kubelet: kubelet === undefined ? undefined : { kubeConfig: kubelet.kubeConfig, pollIntervalMs: kubelet.pollIntervalMs },
    backoff: toBackoff(config),
    writer: store.writer(),
    metrics,
    logger: logger.child({ component: 'reflector' }),
  });
  const enricherOptions = toEnricherOptions(config);
  const enricherLogger = logger.child({ component: 'enricher' });
  const enricher = createEnricher(enricherOptions, { store: store.reader(), metrics, logger: enricherLogger });
  const otlpEnricher = createEnricher(otlpEnricherOptions(enricherOptions), { store: store.reader(), metrics, logger: enricherLogger });
  // A deleted pod that events still ask for is kept (kubernetes.maxRetention).
  store.addRetentionHint(enricher.retentionHint);
  store.addRetentionHint(otlpEnricher.retentionHint);
  const sink = extras.sink === undefined ? createSink(config.source.sink, { metrics, stdout: runtime.stdout, logger: logger.child({ component: 'sink' }) }) : extras.sink;
  const bus = new EventBus({ share: config.server.streamTimeShare });

  const serverOptions = { ...toServerOptions(config, authToken), ...extras.server };
  // server.maxInflightBytes, one budget for the HTTP routes and the gRPC services.
  const budget = createInflightBudget(serverOptions.maxInflightBytes, metrics);
  const routesEnricher = extras.wrapEnricher?.(enricher) ?? enricher;
  let app: FastifyInstance;
  let server: RunningServer;
  let grpcServer: RunningGrpcServer | undefined;
  let binding = 'server.listen';
  let address = config.server.listen;
  try {
    app = await buildApp({
      enricher: routesEnricher,
      otlpEnricher,
      store: store.reader(),
      readiness: reflectors,
      metrics,
      sink: sink ?? undefined,
      bus,
      budget,
      now: extras.now,
      logger: logger.child({ component: 'server' }),
      options: serverOptions,
    });
    server = await startServer(app, { listen: config.server.listen, tls });
    if (config.server.grpcListen !== '') {
      binding = 'server.grpcListen';
      address = config.server.grpcListen;
      const grpcLog = logger.child({ component: 'grpc' });
      const onError = (err: unknown, what: string): void => grpcLog.error({ err }, what);
      // Loaded only when asked for: @grpc/grpc-js costs ~3 MB of heap a process that does not listen does not need.
      const { enricherService, otlpLogsService, startGrpcServer } = await import('../grpc/index.ts');
      const { LogsReceiver } = await import('../otlp/index.ts');
      const now = extras.now ?? Date.now;
      const limits = { budget, maxInflightWaitMs: serverOptions.maxInflightWaitMs };
      const receiver = new LogsReceiver({ enricher: otlpEnricher, sink: sink ?? undefined, now, onSinkError: (err) => onError(err, 'sink write failed') });
      const services = [
        otlpLogsService({ receiver, ...limits, onError }),
        enricherService({ enricher: routesEnricher, input: enricherOptions.input, bus, sink: sink ?? undefined, ...limits, now, onError }),
      ];
      try {
        grpcServer = await startGrpcServer({ listen: address, authToken, tls, maxMessageBytes: serverOptions.maxBodyBytes }, services);
      } catch (e) {
        await server.close();
        throw e;
      }
    }
  } catch (e) {
    await reflectors.stop();
    await sink?.close();
    store.close();
    const err = e as NodeJS.ErrnoException;
    // grpc-js reports a taken port in its message only.
    if (err.code === 'EADDRINUSE' || /EADDRINUSE|address already in use/i.test(err.message)) throw new StartupError('address_in_use', `${binding}: ${address} is already in use`);
    if (err.code === 'EACCES' || /EACCES/.test(err.message)) throw new StartupError('address_forbidden', `${binding}: not allowed to bind ${address}`);
    throw e;
  }
  logger.info({ url: server.url, grpc: grpcServer?.address ?? null, schema: config.enrichment.schema, auth: authToken !== undefined }, 'enrichment service listening');

  let stopping: Promise<void> | undefined;
  return {
    url: server.url,
    app,
    server,
    grpcAddress: grpcServer?.address,
    metrics,
    store,
    enricher,
    reflectors,
    sink: sink ?? undefined,
    bus,
    stop: () =>
      (stopping ??= (async () => {
        await Promise.all([server.close(), grpcServer?.close()]);
        await reflectors.stop();
        await sink?.close();
        store.close();
      })()),
  };
}
