/**
 * The real service as a recipe configures it, started as `serve` starts it (src/runtime/service.ts):
 * the reflectors syncing the objects of clusterObjects() from a simulated API server, a real
 * sink, and the app listening on 127.0.0.1 port 0. Plus the loopback receiver standing in for the shipper's HTTP input.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Config } from '../../src/config/index.ts';
import type { Metrics } from '../../src/metrics/index.ts';
import { startService } from '../../src/runtime/service.ts';
import { namespaceFor, nodeFor, podFor, startSimApiServer } from '../../src/sim/index.ts';
import type { Sink } from '../../src/sink/index.ts';
import { podLogPath, podUid } from '../builders/lines.ts';
import { kubeConfigFor, testRuntime } from '../builders/runtime.ts';

export interface Tap {
  teardown(fn: () => unknown): void;
  readonly testdirName: string;
}

export interface PodRef {
  namespace: string;
  name: string;
  uid: string;
  container: string;
  labels: Record<string, string>;
  image: string;
  /** The pod's log file, as the kubelet names it. */
  file: string;
}

const NODE = 'node-a';

/** The cart pod of the examples in docs/integrations.md, a second pod of its namespace, and a database. */
function clusterObjects() {
  const pods: { name: string; namespace: string; labels: Record<string, string>; container: string; image: string; owner: { kind: string; name: string } }[] = [
    { name: 'cart-7d9f8-x2x4q', namespace: 'shop', labels: { app: 'cart', tier: 'web', 'pod-template-hash': '7d9f8' }, container: 'cart', image: 'shop/cart:1.4', owner: { kind: 'ReplicaSet', name: 'cart-7d9f8' } },
    { name: 'front-5c6d7-abcde', namespace: 'shop', labels: { app: 'front', tier: 'web', 'pod-template-hash': '5c6d7' }, container: 'front', image: 'shop/front:2.0', owner: { kind: 'ReplicaSet', name: 'front-5c6d7' } },
    { name: 'db-0', namespace: 'data', labels: { app: 'db' }, container: 'postgres', image: 'postgres:16', owner: { kind: 'StatefulSet', name: 'db' } },
  ];
  return {
    namespaces: [namespaceFor({ name: 'shop', uid: podUid('ns/shop'), labels: { team: 'shop' } }), namespaceFor({ name: 'data', uid: podUid('ns/data'), labels: { team: 'data' } })],
    nodes: [nodeFor({ name: NODE, uid: podUid(`node/${NODE}`) })],
    pods: pods.map((p, i) => ({
      json: podFor({
        name: p.name,
        namespace: p.namespace,
        uid: podUid(`pod/${p.namespace}/${p.name}`),
        nodeName: NODE,
        labels: p.labels,
        containers: [{ name: p.container, image: p.image }],
        owner: p.owner,
        seed: i + 1,
      }),
      ref: {
        namespace: p.namespace,
        name: p.name,
        uid: podUid(`pod/${p.namespace}/${p.name}`),
        container: p.container,
        labels: p.labels,
        image: p.image,
        file: podLogPath({ namespace: p.namespace, pod: p.name, uid: podUid(`pod/${p.namespace}/${p.name}`), container: p.container }),
      } satisfies PodRef,
    })),
  };
}

export interface RecipeStack {
  url: string;
  metrics: Metrics;
  pods: readonly PodRef[];
  pod(name: string): PodRef;
  /** A path the store knows nothing about (a pod that never existed). */
  unknownPodFile: string;
}

export interface RecipeStackOptions {
  config: Config;
  sink: Sink;
  /** The bearer token the recipe's token file would hold. */
  authToken?: string;
  /** The app's clock (when /v1/forward tries a sink that reported itself unavailable again); default Date.now. */
  now?: () => number;
}

export async function startRecipeStack(t: Tap, options: RecipeStackOptions): Promise<RecipeStack> {
  const sim = await startSimApiServer();
  t.teardown(() => sim.close());
  const objects = clusterObjects();
  for (const ns of objects.namespaces) sim.create('namespaces', ns);
  for (const node of objects.nodes) sim.create('nodes', node);
  for (const pod of objects.pods) sim.create('pods', pod.json);

  // The recipe's listen address is a fixed port; tests take any free one on loopback. Its token
  // file is a path on the node; tests hand the token over as the file would.
  const config: Config = {
    ...options.config,
    server: { ...options.config.server, listen: '127.0.0.1:0', grpcListen: '', authToken: options.authToken, authTokenFile: undefined },
  };
  const service = await startService(config, testRuntime(), { kubeConfig: kubeConfigFor(t.testdirName, sim), sink: options.sink, now: options.now });
  t.teardown(() => service.stop());
  await service.reflectors.ready();
  const pods = objects.pods.map((p) => p.ref);
  return {
    url: service.url,
    metrics: service.metrics,
    pods,
    pod(name: string) {
      const found = pods.find((p) => p.name.startsWith(name));
      if (found === undefined) throw new Error(`no pod ${name}`);
      return found;
    },
    unknownPodFile: podLogPath({ namespace: 'shop', pod: 'gone-6b7c8-zzzzz', uid: podUid('pod/shop/gone'), container: 'gone' }),
  };
}

// --- HTTP ---------------------------------------------------------------------------------------

export interface Exchange {
  status: number;
  headers: Headers;
  text: string;
}

/** One request as a shipper sends it: method POST, the shipper's headers, the body bytes as built. */
export async function send(url: string, request: { headers: Record<string, string>; body: string | Buffer }): Promise<Exchange> {
  const res = await fetch(url, { method: 'POST', headers: request.headers, body: request.body });
  return { status: res.status, headers: res.headers, text: await res.text() };
}

export function parseNdjson(text: string): Record<string, unknown>[] {
  return text
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

/**
 * An NDJSON-over-HTTP input standing in for Vector's `http_server` source with
 * `decoding.codec: json` and `framing.method: newline_delimited`: one event per line, 200 once
 * parsed. `failWith` makes it answer an error instead (the shipper being down or overloaded).
 */
export class NdjsonReceiver {
  readonly events: Record<string, unknown>[] = [];
  readonly requests: { contentType: string | undefined; authorization: string | undefined }[] = [];
  failWith: number | undefined = undefined;
  readonly #server: Server;

  private constructor(server: Server) {
    this.#server = server;
  }

  static async start(t: Tap): Promise<NdjsonReceiver> {
    const handlers: { receiver?: NdjsonReceiver } = {};
    const server = createServer((req, res) => {
      void handlers.receiver!.handle(req).then(
        (status) => {
          res.writeHead(status, { 'content-type': 'text/plain' });
          res.end(status === 200 ? '' : 'unavailable\n');
        },
        () => {
          res.writeHead(400);
          res.end('bad body\n');
        },
      );
    });
    const receiver = new NdjsonReceiver(server);
    handlers.receiver = receiver;
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    t.teardown(() => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }));
    return receiver;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}/`;
  }

  async handle(req: IncomingMessage): Promise<number> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    this.requests.push({ contentType: req.headers['content-type'], authorization: req.headers.authorization });
    if (this.failWith !== undefined) return this.failWith;
    this.events.push(...parseNdjson(Buffer.concat(chunks).toString('utf8')));
    return 200;
  }
}

/** A clock the test moves by hand (the HTTP sink's availability is time-based). */
export class ManualClock {
  nowMs = Date.parse('2026-11-23T10:00:05Z');
  readonly now = (): number => this.nowMs;
  advance(ms: number): void {
    this.nowMs += ms;
  }
}
