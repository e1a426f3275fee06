/**
 * A simulated Kubernetes API server on loopback: list (with selectors and chunking), watch (replay,
 * bookmarks, timeouts, selector transitions, 410 on compacted history), get, and injectable faults.
 * Behaviour follows the real server's wire protocol closely enough for client-node's informers.
 *
 * This class is the front: lifecycle, the in-process API, and routing each request. The parts:
 *
 *   store.ts          objects, the global resourceVersion and the change history (the etcd)
 *   list.ts           list requests: selectors, paging with continue tokens, the watch cache
 *   watch-streams.ts  watch requests and open streams: replay, bookmarks, timeouts, 410
 *   faults.ts         injected failures, latency, auth and the fault controls (`faults`)
 *   request-log.ts    the record of requests received (`requests`)
 *   reply.ts          writing answers; discovery.ts the discovery and health routes
 */
import { createServer } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { chmod, writeFile } from 'node:fs/promises';
import { serveDiscovery } from './discovery.ts';
import { FaultState, forbiddenStatus, simFaults, type SimFaults } from './faults.ts';
import { kubeconfigYaml } from './kubeconfig.ts';
import { LoopbackServer } from './loopback.ts';
import type { KubeconfigOptions } from './kubeconfig.ts';
import { serveList } from './list.ts';
import { NOOP_LOGGER, Reply, type SimLogger } from './reply.ts';
import { RequestLog, type RequestRecord } from './request-log.ts';
import { routeFor, withKindJson, type ResourceRoute, type Verb } from './routes.ts';
import { failureStatus } from './status.ts';
import { ObjectStore, SimError } from './store.ts';
import type { Change } from './store.ts';
import type { KubeObject, SimKind } from './types.ts';
import { isWatchRequest, WatchStreams } from './watch-streams.ts';

export interface SimApiServerOptions {
  /** 0 (default) picks a free port; restart() reuses whichever port was bound. */
  port?: number;
  /** Bearer token every API request must carry (401 otherwise); none by default. */
  token?: string;
  /** How often a watch with allowWatchBookmarks=true gets a BOOKMARK (default 60 s, like the real one). */
  bookmarkIntervalMs?: number;
  /** Changes kept for watch replay before the oldest are compacted (default 10,000). */
  historyLimit?: number;
  /** A watch without timeoutSeconds ends after a random time in this range (default 300–600 s). */
  watchTimeoutSeconds?: { min: number; max: number };
  logger?: SimLogger;
  /** Clock for timestamps the server sets. */
  now?: () => Date;
  /** Source of new uids (default: crypto UUID v4). */
  uid?: () => string;
  /** Most recent requests kept in `requests` (default 10,000). */
  requestLogLimit?: number;
  /** Source of randomness for default watch timeouts. */
  random?: () => number;
  /**
   * How a list with `resourceVersion=0` (answered from the watch cache) treats `limit`:
   * `ignored` (default) as API servers before the watch-cache snapshots of KEP-4988 do, everything
   * in one page without a continue token; `honoured`, as newer ones do, pages of a snapshot.
   */
  watchCacheLimit?: 'ignored' | 'honoured';
}

const HEALTH_ROUTES = new Set(['health']);

export class SimApiServer {
  readonly #store: ObjectStore;
  readonly #options: SimApiServerOptions;
  readonly #logger: SimLogger;
  readonly #watches: WatchStreams;
  readonly #faultState: FaultState;
  readonly #requestLog: RequestLog;
  readonly #http: LoopbackServer;
  readonly #latencyTimers = new Set<NodeJS.Timeout>();
  readonly #unsubscribe: () => void;
  #closed = false;

  /** Every request received, in arrival order, for assertions. */
  readonly requests: RequestRecord[];

  readonly faults: SimFaults;

  constructor(options: SimApiServerOptions = {}) {
    this.#options = options;
    this.#logger = options.logger ?? NOOP_LOGGER;
    this.#http = new LoopbackServer(
      () =>
        createServer({ keepAliveTimeout: 5000 }, (req, res) => {
          this.#handle(req, res).catch((err: unknown) => {
            this.#logger.warn({ err }, 'sim: request handler failed');
            if (!res.headersSent) new Reply(res, undefined, this.#logger).status(failureStatus(500, `Internal error occurred: ${String(err)}`));
            else res.destroy();
          });
        }),
      options.port ?? 0,
    );
    const storeOptions: ConstructorParameters<typeof ObjectStore>[0] = {};
    if (options.historyLimit !== undefined) storeOptions.historyLimit = options.historyLimit;
    if (options.now) storeOptions.now = options.now;
    if (options.uid) storeOptions.uid = options.uid;
    this.#store = new ObjectStore(storeOptions);
    this.#watches = new WatchStreams(this.#store, this.#logger, {
      bookmarkIntervalMs: options.bookmarkIntervalMs ?? 60_000,
      timeoutSeconds: options.watchTimeoutSeconds ?? { min: 300, max: 600 },
      random: options.random ?? Math.random,
    });
    this.#faultState = new FaultState(this.#store, options.token);
    this.faults = simFaults(this.#faultState, this.#watches, this.#store);
    this.#requestLog = new RequestLog(options.requestLogLimit);
    this.requests = this.#requestLog.entries;
    this.#unsubscribe = this.#store.subscribe((change) => this.#watches.dispatch(change));
  }

  get port(): number {
    return this.#http.port;
  }

  get url(): string {
    return `http://127.0.0.1:${this.#http.port}`;
  }

  /** The current global resourceVersion (shared across kinds, like etcd's revision). */
  get resourceVersion(): string {
    return String(this.#store.resourceVersion);
  }

  /** The oldest resourceVersion a watch can still start from. */
  get compactedResourceVersion(): string {
    return String(this.#store.floor);
  }

  /** Bytes sent to clients since start, headers and bodies (for load measurements). */
  get bytesSent(): number {
    return this.#http.bytesWritten;
  }

  get watchCount(): number {
    return this.#watches.count;
  }

  get listening(): boolean {
    return this.#http.listening;
  }

  // ---- in-process write API (returns copies: callers cannot alter the stored state) ----

  create<T extends KubeObject>(kind: SimKind, object: T): T & KubeObject {
    return this.#copyOf(this.#store.create(kind, object)) as T & KubeObject;
  }

  update<T extends KubeObject>(kind: SimKind, object: T): T & KubeObject {
    return this.#copyOf(this.#store.update(kind, object)) as T & KubeObject;
  }

  /** A caller's own copy of a stored object: parsing its cached JSON beats structuredClone. */
  #copyOf(object: KubeObject): KubeObject {
    return JSON.parse(this.#store.jsonOf(object)) as KubeObject;
  }

  /** Merges labels into the object's labels; a null value removes that label. */
  patchLabels(kind: SimKind, namespace: string | undefined, name: string, labels: Record<string, string | null>): KubeObject {
    const current = this.#store.get(kind, namespace, name);
    if (!current) throw new SimError('NotFound', `${kind} "${namespace ? `${namespace}/` : ''}${name}" not found`);
    const merged: Record<string, string> = { ...current.metadata.labels };
    for (const [key, value] of Object.entries(labels)) {
      if (value === null) delete merged[key];
      else merged[key] = value;
    }
    return this.update(kind, { ...current, metadata: { ...current.metadata, labels: merged } });
  }

  /**
   * Deletes an object. With `graceful`, first records the MODIFIED that sets deletionTimestamp (what
   * a kubelet-confirmed pod deletion looks like), then the DELETED.
   */
  delete(kind: SimKind, namespace: string | undefined, name: string, options: { graceful?: boolean } = {}): KubeObject {
    if (options.graceful) {
      const current = this.#store.get(kind, namespace, name);
      if (!current) throw new SimError('NotFound', `${kind} "${namespace ? `${namespace}/` : ''}${name}" not found`);
      const now = (this.#options.now ?? (() => new Date()))().toISOString().replace(/\.\d{3}Z$/, 'Z');
      this.#store.update(kind, { ...current, metadata: { ...current.metadata, deletionTimestamp: now, deletionGracePeriodSeconds: 0 } });
    }
    return this.#copyOf(this.#store.delete(kind, namespace, name));
  }

  /** Creates many objects without returning copies (bulk loading a generated cluster). */
  createAll(kind: SimKind, objects: readonly KubeObject[]): void {
    for (const object of objects) this.#store.create(kind, object);
  }

  /**
   * In-process change notifications (the demo's log writer follows pods this way). The change's
   * objects are the stored ones: read them, do not modify them. Returns the unsubscribe function.
   */
  subscribe(listener: (change: Change) => void): () => void {
    return this.#store.subscribe(listener);
  }

  get<T extends KubeObject = KubeObject>(kind: SimKind, namespace: string | undefined, name: string): T | undefined {
    const object = this.#store.get(kind, namespace, name);
    return object ? (this.#copyOf(object) as T) : undefined;
  }

  list<T extends KubeObject = KubeObject>(kind: SimKind): T[] {
    return this.#store.list(kind).map((o) => this.#copyOf(o) as T);
  }

  kubeconfigYaml(options: KubeconfigOptions = {}): string {
    const token = 'token' in options ? options.token : this.#faultState.requiredToken;
    return kubeconfigYaml(this.url, { ...options, token });
  }

  /** Writes the kubeconfig with mode 0600 (it may hold a token). */
  async writeKubeconfig(path: string, options: KubeconfigOptions = {}): Promise<void> {
    await writeFile(path, this.kubeconfigYaml(options), { mode: 0o600 });
    await chmod(path, 0o600);
  }

  /** Resolves once `count` watch streams are open; rejects after `timeoutMs`. */
  waitForWatchCount(count: number, timeoutMs = 5000): Promise<void> {
    return this.#watches.waitForCount(count, timeoutMs);
  }

  // ---- lifecycle ----

  async listen(): Promise<void> {
    if (this.#closed) throw new Error('the simulated API server is closed');
    if (this.#http.listening) return;
    await this.#http.listen();
    this.#logger.info({ url: this.url }, 'sim: API server listening');
  }

  /** The API server goes down: open connections are destroyed and new ones refused; state is kept. */
  async stop(): Promise<void> {
    if (!this.#http.listening) return;
    this.#watches.destroyAll();
    await this.#http.stop();
    this.#logger.info({ url: this.url }, 'sim: API server stopped');
  }

  /** Back up on the same port with the same objects and history. */
  async restart(): Promise<void> {
    await this.listen();
  }

  async close(): Promise<void> {
    await this.stop();
    this.#closed = true;
    this.#unsubscribe();
    for (const timer of this.#latencyTimers) clearTimeout(timer);
    this.#latencyTimers.clear();
  }

  // ---- request handling ----

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://sim.invalid');
    const route = routeFor(url.pathname);
    const watch = route?.type === 'resource' && isWatchRequest(route, url.searchParams);
    const verb: Verb | undefined = route?.type === 'resource' ? (watch ? 'watch' : route.name === undefined ? 'list' : 'get') : route ? 'get' : undefined;
    const reply = new Reply(res, this.#requestLog.add(req, url, route, verb), this.#logger);
    const faults = this.#faultState;

    if (faults.latencyMs > 0) await this.#delay(faults.latencyMs);
    if (res.destroyed) return;

    if (!route) return reply.status(failureStatus(404, `the server could not find the requested resource (get ${url.pathname})`, { causes: [{ reason: 'UnexpectedServerResponse', message: '404 page not found' }] }, 'NotFound'));
    if (!HEALTH_ROUTES.has(route.type) && faults.requiredToken !== undefined) {
      const header = req.headers.authorization ?? '';
      if (header !== `Bearer ${faults.requiredToken}`) return reply.status(failureStatus(401, 'Unauthorized'));
    }
    const failure = faults.takeFailure(route, verb);
    if (failure) return reply.status(failure.status, failure.headers);
    if (req.method !== 'GET') {
      return reply.status(failureStatus(405, `the server does not allow this method on the requested resource (${req.method} ${url.pathname}); the simulated API server is read-only over HTTP`));
    }
    if (route.type !== 'resource') return serveDiscovery(reply, route, this.#http.port);
    if (faults.forbidden.has(route.kind)) return reply.status(forbiddenStatus(route, verb ?? 'get'));

    if (watch) return this.#watches.serve(reply, route, url.searchParams);
    if (route.name !== undefined) return this.#sendObject(reply, route);
    return serveList(reply, route, url.searchParams, this.#store, { watchCacheLimit: this.#options.watchCacheLimit, heldCacheRv: faults.heldCacheRv });
  }

  #delay(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#latencyTimers.delete(timer);
        resolve();
      }, ms);
      this.#latencyTimers.add(timer);
    });
  }

  #sendObject(reply: Reply, route: ResourceRoute): void {
    const name = route.name ?? '';
    const object = this.#store.get(route.kind, route.namespace, name);
    if (!object) return reply.status(failureStatus(404, `${route.kind} "${name}" not found`, { name, kind: route.kind }));
    reply.text(200, withKindJson(route.kind, this.#store.jsonOf(object)));
  }
}

/** Starts a simulated API server on 127.0.0.1 (port 0 by default). */
export async function startSimApiServer(options: SimApiServerOptions = {}): Promise<SimApiServer> {
  const sim = new SimApiServer(options);
  await sim.listen();
  return sim;
}
