/**
 * The service as an OTLP receiver for tests, all real: a simulated API server with two pods (one of
 * a Deployment), reflectors filling a RetainingStore, the configured and the OTLP enricher, a file
 * sink in the test's directory, and the app listening on 127.0.0.1 port 0.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createEnricher } from '../../src/enrich/index.ts';
import type { Metrics } from '../../src/metrics/index.ts';
import { otlpEnricherOptions, type LogsRequest } from '../../src/otlp/index.ts';
import { buildApp, startServer, type ServerOptions } from '../../src/server/index.ts';
import { namespaceFor, nodeFor, podFor, type PodJson } from '../../src/sim/index.ts';
import { createFileSink, type Sink } from '../../src/sink/index.ts';
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
  /** The log path of a pod's first container. */
  fileOf(pod: PodJson, container?: string): string;
}

export interface OtlpStackOptions {
  server?: Partial<ServerOptions>;
  /** Default: a file sink in the test directory. */
  sink?: Sink;
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
  const app = await buildApp({
    enricher: createEnricher(enricherOptions, { store: store.reader(), metrics }),
    otlpEnricher: createEnricher(otlpEnricherOptions(enricherOptions), { store: store.reader(), metrics }),
    store: store.reader(),
    readiness: reflectors,
    metrics,
    sink,
    logger: false,
    options: defaultServerOptions(options.server),
  });
  const server = await startServer(app, { listen: '127.0.0.1:0' });
  t.teardown(() => server.close());
  const fileOf = (pod: PodJson, container = pod.spec.containers[0]!.name): string =>
    podLogPath({ namespace: pod.metadata.namespace!, pod: pod.metadata.name!, uid: pod.metadata.uid!, container });
  return {
    url: server.url,
    metrics,
    sinkFile,
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
