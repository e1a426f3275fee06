/**
 * The whole service stack for API tests, all real and started as `serve` starts it
 * (src/runtime/service.ts, from a configuration parsed by the config schema): a simulated API
 * server with a small cluster, the reflectors filling a RetainingStore through
 * @kubernetes/client-node, the enricher, and the app listening on 127.0.0.1 port 0. Plus small clients (HTTP via fetch, WebSocket via ws) and
 * a Prometheus text parser.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { connect as netConnect, type Socket } from 'node:net';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { WebSocket } from 'ws';
import type { FastifyInstance } from 'fastify';
import type { DestinationStream } from 'pino';
import type { ConfigInput } from '../../src/config/index.ts';
import type { Enricher } from '../../src/enrich/index.ts';
import type { Reflectors } from '../../src/kube/index.ts';
import { createLogger, type Logger } from '../../src/log/index.ts';
import type { Metrics } from '../../src/metrics/index.ts';
import { startService, type ServiceExtras } from '../../src/runtime/service.ts';
import type { EventBus, RunningServer } from '../../src/server/index.ts';
import { namespaceFor, nodeFor, podFor, startSimApiServer, type PodJson, type SimApiServer } from '../../src/sim/index.ts';
import type { Sink } from '../../src/sink/index.ts';
import type { RetainingStore } from '../../src/store/index.ts';
import { testConfig } from '../builders/defaults.ts';
import { kubeConfigFor, testRuntime } from '../builders/runtime.ts';
import { criLine, podLogPath } from '../builders/lines.ts';

export interface Tap {
  teardown(fn: () => unknown): void;
  testdir(): string;
  readonly testdirName: string;
}

// --- The cluster ---------------------------------------------------------------------------------

export interface PodRef {
  namespace: string;
  name: string;
  uid: string;
  container: string;
  labels: Record<string, string>;
}

/** Two namespaces, one node, three pods with distinct labels for filters. */
export function smallCluster(): { namespaces: ReturnType<typeof namespaceFor>[]; nodes: ReturnType<typeof nodeFor>[]; pods: PodJson[] } {
  return {
    namespaces: [namespaceFor({ name: 'shop', labels: { team: 'shop' } }), namespaceFor({ name: 'data', labels: { team: 'data' } })],
    nodes: [nodeFor({ name: 'node-a' })],
    pods: [
      podFor({ name: 'cart-7d9f8-x2x4q', namespace: 'shop', labels: { app: 'cart', tier: 'web' }, containers: ['cart'], seed: 1 }),
      podFor({ name: 'front-5c6d7-abcde', namespace: 'shop', labels: { app: 'front', tier: 'web', canary: 'true' }, containers: ['front', 'sidecar'], seed: 2 }),
      podFor({ name: 'db-0', namespace: 'data', labels: { app: 'db', tier: 'db', 'apps.kubernetes.io/pod-index': '0' }, containers: ['postgres'], seed: 3 }),
    ],
  };
}

function refOf(pod: PodJson): PodRef {
  const first = pod.spec.containers[0];
  return {
    namespace: pod.metadata.namespace!,
    name: pod.metadata.name!,
    uid: pod.metadata.uid!,
    container: first?.name ?? '',
    labels: { ...(pod.metadata.labels ?? {}) },
  };
}

// --- Events --------------------------------------------------------------------------------------

export function fileOf(pod: PodRef, container = pod.container): string {
  return podLogPath({ namespace: pod.namespace, pod: pod.name, uid: pod.uid, container });
}

/** A raw event as a shipper posts it: the log path and the CRI line. */
export function rawEvent(pod: PodRef, message: string, options: { partial?: boolean; container?: string; stream?: 'stdout' | 'stderr' } = {}) {
  return { file: fileOf(pod, options.container), line: criLine({ message, partial: options.partial ?? false, stream: options.stream ?? 'stdout' }) };
}

export function ndjson(events: readonly unknown[]): string {
  return events.map((e) => JSON.stringify(e)).join('\n') + '\n';
}

/** Parses an NDJSON answer into objects (fails loudly on a bad line). */
export function parseNdjson(text: string): Record<string, unknown>[] {
  return text
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

export function messageOf(event: Record<string, unknown>): unknown {
  return event.message;
}

export function kubernetesOf(event: Record<string, unknown>): Record<string, unknown> {
  return (event.kubernetes ?? {}) as Record<string, unknown>;
}

// --- The stack -----------------------------------------------------------------------------------

export interface StackOptions {
  /** Configuration keys, as a configuration file would set them (parsed by the config schema). */
  config?: ConfigInput;
  /** Server options no configuration key sets. */
  server?: ServiceExtras['server'];
  /** The sink of /v1/forward; default none (/v1/forward answers 501). */
  sink?: Sink;
  /** Wraps the real enricher the app gets, e.g. to inject a fault of the service. */
  wrapEnricher?: (enricher: Enricher) => Enricher;
  /** Return before the reflectors synced (readiness tests). */
  waitForSync?: boolean;
  /** Called before the reflectors start, e.g. to inject API faults. */
  beforeReflectors?: (sim: SimApiServer) => void;
  /** The app's clock (/v1/forward's retry periods); default Date.now. */
  now?: () => number;
  /** The service's logger; default silent. */
  logger?: Logger;
}

export interface Stack {
  sim: SimApiServer;
  store: RetainingStore;
  reflectors: Reflectors;
  metrics: Metrics;
  enricher: Enricher;
  bus: EventBus;
  app: FastifyInstance;
  server: RunningServer;
  url: string;
  pods: PodRef[];
  pod(name: string): PodRef;
}

/** What every stack sets: any free port on loopback, reflectors that retry and notice a dead watch fast. */
const STACK_CONFIG = {
  server: { listen: '127.0.0.1:0' },
  kubernetes: { watchTimeout: '5s', backoff: { initial: '20ms', max: '200ms' } },
};

/** `base` with `over` on top, objects merged key by key. */
function merged(base: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
  const out = { ...base };
  for (const [key, value] of Object.entries(over)) {
    const under = out[key];
    out[key] = isPlainObject(under) && isPlainObject(value) ? merged(under, value) : value;
  }
  return out;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The service as `serve` starts it (src/runtime/service.ts), against a simulated API server with smallCluster(). */
export async function startStack(t: Tap, options: StackOptions = {}): Promise<Stack> {
  const sim = await startSimApiServer();
  t.teardown(() => sim.close());
  const cluster = smallCluster();
  for (const ns of cluster.namespaces) sim.create('namespaces', ns);
  for (const node of cluster.nodes) sim.create('nodes', node);
  const pods = cluster.pods.map((p) => refOf(sim.create('pods', p)));
  options.beforeReflectors?.(sim);

  const config = testConfig(merged(STACK_CONFIG, (options.config ?? {}) as Record<string, unknown>));
  // Beside what the test keeps in its directory (t.testdir() would empty it).
  const kubeConfig = kubeConfigFor(t.testdirName, sim);
  const service = await startService(config, testRuntime(options.logger), {
    kubeConfig,
    sink: options.sink ?? null,
    wrapEnricher: options.wrapEnricher,
    now: options.now,
    server: options.server,
  });
  t.teardown(() => service.stop());
  if (options.waitForSync !== false) await service.reflectors.ready();
  return {
    sim,
    store: service.store,
    reflectors: service.reflectors,
    metrics: service.metrics,
    enricher: service.enricher,
    bus: service.bus,
    app: service.app,
    server: service.server,
    url: service.url,
    pods,
    pod(name: string) {
      const found = pods.find((p) => p.name.startsWith(name));
      if (found === undefined) throw new Error(`no pod ${name}`);
      return found;
    },
  };
}

// --- Clients -------------------------------------------------------------------------------------

export async function post(url: string, body: string | Buffer, headers: Record<string, string>): Promise<{ status: number; headers: Headers; text: string }> {
  const res = await fetch(url, { method: 'POST', headers, body });
  return { status: res.status, headers: res.headers, text: await res.text() };
}

/** The same, sent chunked: a body without Content-Length. */
export async function postChunked(url: string, body: string, headers: Record<string, string>): Promise<{ status: number; headers: Headers; text: string }> {
  const stream = new ReadableStream({
    start(controller) {
      controller.enqueue(new TextEncoder().encode(body));
      controller.close();
    },
  });
  const res = await fetch(url, { method: 'POST', headers, body: stream, duplex: 'half' } as RequestInit);
  return { status: res.status, headers: res.headers, text: await res.text() };
}

export async function get(url: string, headers: Record<string, string> = {}): Promise<{ status: number; headers: Headers; text: string }> {
  const res = await fetch(url, { headers });
  return { status: res.status, headers: res.headers, text: await res.text() };
}

/** A WebSocket client that keeps every message it receives, in order. */
export class WsClient {
  readonly socket: WebSocket;
  readonly messages: string[] = [];
  closeCode: number | undefined;
  closeReason = '';
  readonly #waiters: (() => void)[] = [];

  private constructor(socket: WebSocket) {
    this.socket = socket;
    socket.on('message', (data) => {
      this.messages.push(data.toString());
      this.#wake();
    });
    socket.on('close', (code, reason) => {
      this.closeCode = code;
      this.closeReason = reason.toString();
      this.#wake();
    });
  }

  /** Wraps an already open socket. */
  static wrap(socket: WebSocket): WsClient {
    return new WsClient(socket);
  }

  static open(url: string, headers: Record<string, string> = {}): Promise<WsClient> {
    const socket = new WebSocket(url.replace(/^http/, 'ws'), { headers });
    return new Promise((resolve, reject) => {
      socket.once('open', () => resolve(new WsClient(socket)));
      socket.once('unexpected-response', (_req, res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => reject(Object.assign(new Error(`HTTP ${res.statusCode}: ${body}`), { status: res.statusCode, body })));
      });
      socket.once('error', reject);
    });
  }

  #wake(): void {
    for (const w of this.#waiters.splice(0)) w();
  }

  /** Waits until `check` holds (re-checked on every message or close). */
  async until(check: () => boolean, what: string, timeoutMs = 8000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!check()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; got ${this.messages.length} message(s)`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 50);
        this.#waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** Every event line received so far (control and error messages left out). */
  events(): Record<string, unknown>[] {
    return this.messages.filter((m) => !m.startsWith('{"error"') && !m.startsWith('{"dropped"')).flatMap(parseNdjson);
  }

  errors(): { error: string; details: Record<string, unknown>[] }[] {
    return this.messages.filter((m) => m.startsWith('{"error"')).map((m) => JSON.parse(m) as { error: string; details: Record<string, unknown>[] });
  }

  async close(): Promise<void> {
    if (this.socket.readyState === WebSocket.CLOSED) return;
    const closed = new Promise<void>((resolve) => this.socket.once('close', () => resolve()));
    this.socket.close();
    await closed;
  }
}

/**
 * A client on a bare TCP (or TLS) connection, for what HTTP clients will not do: send a request a
 * byte at a time, send bytes that are not HTTP, or never read. Keeps what it receives.
 */
export class RawClient {
  readonly socket: Socket;
  received = '';
  closed = false;

  private constructor(socket: Socket) {
    this.socket = socket;
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => (this.received += chunk));
    socket.on('error', () => {});
    socket.on('close', () => (this.closed = true));
  }

  /** Connects to the host and port of `url` (TLS for https:, trusting `ca`). */
  static open(url: string, ca?: string): Promise<RawClient> {
    const { hostname, port, protocol } = new URL(url);
    return new Promise((resolve, reject) => {
      const socket: Socket =
        protocol === 'https:'
          ? tlsConnect({ host: hostname, port: Number(port), ca, servername: undefined }, () => resolve(new RawClient(socket)))
          : netConnect({ host: hostname, port: Number(port) }, () => resolve(new RawClient(socket)));
      socket.once('error', reject);
    });
  }

  write(text: string): void {
    if (!this.socket.destroyed) this.socket.write(text);
  }

  /** The status of the first response received, or undefined. */
  get status(): number | undefined {
    const match = /^HTTP\/1\.1 (\d{3}) /.exec(this.received);
    return match === null ? undefined : Number(match[1]);
  }

  /** The body of the first response, parsed as JSON. */
  json(): unknown {
    return JSON.parse(this.received.slice(this.received.indexOf('\r\n\r\n') + 4));
  }

  close(): void {
    this.socket.destroy();
  }
}

/** A self-signed certificate for 127.0.0.1, or undefined where openssl is missing. */
export function makeCertificate(dir: string): { cert: string; key: string; certFile: string; keyFile: string } | undefined {
  try {
    execFileSync(
      'openssl',
      ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'), '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'],
      { stdio: 'ignore' },
    );
    const certFile = join(dir, 'cert.pem');
    const keyFile = join(dir, 'key.pem');
    return { cert: readFileSync(certFile, 'utf8'), key: readFileSync(keyFile, 'utf8'), certFile, keyFile };
  } catch {
    return undefined;
  }
}

// --- Metrics -------------------------------------------------------------------------------------

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Parses the Prometheus text exposition format (what a scraper reads). */
export function parsePrometheus(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (match === null) throw new Error(`not a sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const pair of (match[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[pair[1]!] = pair[2]!;
    samples.push({ name: match[1]!, labels, value: Number(match[3]) });
  }
  return samples;
}

export function sampleValue(samples: Sample[], name: string, labels: Record<string, string> = {}): number {
  return samples
    .filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
    .reduce((sum, s) => sum + s.value, 0);
}

export async function scrape(url: string, headers: Record<string, string> = {}): Promise<Sample[]> {
  const res = await get(`${url}/metrics`, headers);
  if (res.status !== 200) throw new Error(`scrape failed: HTTP ${res.status}`);
  return parsePrometheus(res.text);
}

/** A logger at debug level keeping its lines, parsed, for tests of what the service logs. */
export function memoryLogger(): { logger: Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const destination: DestinationStream = { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) };
  return { logger: createLogger({ level: 'debug', destination }), lines };
}

export { waitFor } from '../builders/wait.ts';
