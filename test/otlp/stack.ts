/**
 * The service as an OTLP receiver for tests, all real: a simulated API server with two pods (one of
 * a Deployment), reflectors filling a RetainingStore, the configured and the OTLP enricher, a file
 * sink in the test's directory, and the app listening on 127.0.0.1 port 0.
 */
import { readFileSync } from 'node:fs';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BatchLogRecordProcessor, LoggerProvider, type LogRecordExporter } from '@opentelemetry/sdk-logs';
import { join } from 'node:path';
import { createEnricher } from '../../src/enrich/index.ts';
import type { Metrics } from '../../src/metrics/index.ts';
import { otlpLogsService, startGrpcServer } from '../../src/grpc/index.ts';
import { LogsReceiver, otlpEnricherOptions, type LogRecord, type LogsRequest } from '../../src/otlp/index.ts';
import { buildApp, createInflightBudget, startServer, type ServerOptions } from '../../src/server/index.ts';
import { namespaceFor, nodeFor, podFor, type PodJson } from '../../src/sim/index.ts';
import { createFileSink, SinkUnavailableError, type NdjsonChunk, type Sink } from '../../src/sink/index.ts';
import { defaultEnricherOptions, defaultServerOptions } from '../builders/defaults.ts';
import { podLogPath } from '../builders/lines.ts';
import { startHarness, startSim } from '../kube/helpers.ts';

type Tap = Parameters<typeof startSim>[0] & { testdir(): string };

export interface OtlpStack {
  url: string;
  metrics: Metrics;
  /** The file the sink appends to. */
  sinkFile: string;
  /** The requests the sink received so far, one OTLP/JSON line each. */
  delivered(): LogsRequest[];
  cart: PodJson;
  db: PodJson;
  /** host:port of the OTLP/gRPC receiver, when asked for. */
  grpcAddress: string | undefined;
  /** The log path of a pod's first container. */
  fileOf(pod: PodJson, container?: string): string;
}

export interface OtlpStackOptions {
  server?: Partial<ServerOptions>;
  /** Default: a file sink in the test directory. */
  sink?: Sink;
  /** Also serve OTLP/gRPC (on 127.0.0.1, a free port), with the server options' token and body limit. */
  grpc?: boolean;
}

export async function startOtlpStack(t: Tap, options: OtlpStackOptions = {}): Promise<OtlpStack> {
  const sim = await startSim(t);
  sim.create('namespaces', namespaceFor({ name: 'shop', labels: { team: 'shop' } }));
  sim.create('namespaces', namespaceFor({ name: 'data' }));
  sim.create('nodes', nodeFor({ name: 'node-a' }));
  const cart = sim.create(
    'pods',
    podFor({ name: 'cart-7d9f8c6b5d-x2x4q', namespace: 'shop', labels: { app: 'cart', 'pod-template-hash': '7d9f8c6b5d' }, owner: { kind: 'ReplicaSet', name: 'cart-7d9f8c6b5d' }, containers: ['cart'], seed: 1 }),
  );
  const db = sim.create('pods', podFor({ name: 'db-0', namespace: 'data', labels: { app: 'db' }, containers: ['postgres'], seed: 3 }));
  const { store, metrics, reflectors } = startHarness(t, sim);
  await reflectors.ready();

  const sinkFile = join(t.testdir(), 'sink', 'out.ndjson');
  const sink = options.sink ?? createFileSink(sinkFile);
  t.teardown(() => sink.close());
  const enricherOptions = defaultEnricherOptions();
  const otlpEnricher = createEnricher(otlpEnricherOptions(enricherOptions), { store: store.reader(), metrics });
  const serverOptions = defaultServerOptions(options.server);
  const budget = createInflightBudget(serverOptions.maxInflightBytes, metrics);
  const app = await buildApp({
    enricher: createEnricher(enricherOptions, { store: store.reader(), metrics }),
    otlpEnricher,
    store: store.reader(),
    readiness: reflectors,
    metrics,
    sink,
    budget,
    logger: false,
    options: serverOptions,
  });
  const server = await startServer(app, { listen: '127.0.0.1:0' });
  t.teardown(() => server.close());
  let grpcAddress: string | undefined;
  if (options.grpc === true) {
    const receiver = new LogsReceiver({ enricher: otlpEnricher, sink, now: Date.now });
    const grpcServer = await startGrpcServer({ listen: '127.0.0.1:0', authToken: serverOptions.authToken, maxMessageBytes: serverOptions.maxBodyBytes }, [
      otlpLogsService({ receiver, budget, maxInflightWaitMs: serverOptions.maxInflightWaitMs }),
    ]);
    t.teardown(() => grpcServer.close());
    grpcAddress = grpcServer.address;
  }
  const fileOf = (pod: PodJson, container = pod.spec.containers[0]!.name): string =>
    podLogPath({ namespace: pod.metadata.namespace!, pod: pod.metadata.name!, uid: pod.metadata.uid!, container });
  return {
    url: server.url,
    metrics,
    sinkFile,
    grpcAddress,
    delivered() {
      let text: string;
      try {
        text = readFileSync(sinkFile, 'utf8');
      } catch {
        return [];
      }
      return text
        .split('\n')
        .filter((line) => line !== '')
        .map((line) => JSON.parse(line) as LogsRequest);
    },
    cart,
    db,
    fileOf,
  };
}

/** A resource or record attribute's value, as plain JSON (string, number, boolean...). */
export function attributesOf(list: readonly { key?: string; value?: Record<string, unknown> }[] | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const kv of list ?? []) {
    const v = kv.value ?? {};
    out[kv.key ?? ''] = v.stringValue ?? v.intValue ?? v.boolValue ?? v.doubleValue ?? v;
  }
  return out;
}

type Attributes = Record<string, unknown>;

/** Every delivered record with its resource's and its own attributes, flattened for assertions. */
export function deliveredRecords(stack: OtlpStack): { resource: Attributes; attributes: Attributes; body: unknown; record: LogRecord; scope: unknown }[] {
  const out = [];
  for (const request of stack.delivered()) {
    for (const rl of request.resourceLogs ?? []) {
      for (const sl of rl.scopeLogs ?? []) {
        for (const record of sl.logRecords ?? []) {
          out.push({ resource: attributesOf(rl.resource?.attributes as never), attributes: attributesOf(record.attributes as never), body: record.body?.stringValue, record, scope: sl.scope });
        }
      }
    }
  }
  return out;
}

export function sdkLogger(exporter: LogRecordExporter) {
  const provider = new LoggerProvider({
    resource: resourceFromAttributes({ 'service.name': 'node-log-shipper', 'host.name': 'node-a' }),
    processors: [new BatchLogRecordProcessor({ exporter, maxExportBatchSize: 100, scheduledDelayMillis: 60_000 })],
  });
  return { provider, logger: provider.getLogger('filelog-test', '1.2.3') };
}

/** A sink that is down (SinkUnavailableError, retry after 7 s) or up (counting each write's events) as the test says. */
export class SwitchableSink implements Sink {
  down: boolean;
  readonly written: number[] = [];
  constructor(down: boolean) {
    this.down = down;
  }
  get available(): boolean {
    return !this.down;
  }
  async write(chunk: NdjsonChunk): Promise<void> {
    if (this.down) throw new SinkUnavailableError('the downstream is away', 7);
    this.written.push(chunk.events);
  }
  async close(): Promise<void> {}
}
