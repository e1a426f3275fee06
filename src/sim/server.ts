/**
 * A simulated Kubernetes API server on loopback: list (with selectors and chunking), watch (replay,
 * bookmarks, timeouts, selector transitions, 410 on compacted history), get, and injectable faults.
 * Behaviour follows the real server's wire protocol closely enough for client-node's informers.
 */
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { chmod, writeFile } from 'node:fs/promises';
import { ObjectStore, SimError, CLUSTER_SCOPED } from './store.ts';
import type { Change, KindState } from './store.ts';
import { failureStatus, expiredStatus, reasonFor, tooLargeStatus } from './status.ts';
import type { StatusJson } from './status.ts';
import { routeFor, listKindOf, objectKindOf } from './routes.ts';
import type { ResourceRoute, Route, Verb } from './routes.ts';
import { matchesFields, parseFieldSelector } from './selectors.ts';
import type { FieldSelector } from './selectors.ts';
import { labelSelectorMatches, parseLabelSelector } from '../selectors/index.ts';
import type { LabelSelector } from '../selectors/index.ts';
import { kubeconfigYaml } from './kubeconfig.ts';
import type { KubeconfigOptions } from './kubeconfig.ts';
import type { KubeObject, SimKind } from './types.ts';

/** Structurally compatible with pino's logger; the server never logs tokens. */
export interface SimLogger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
}

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

export interface RequestRecord {
  method: string;
  path: string;
  query: Record<string, string>;
  /** HTTP status answered; 0 while the request is still being answered (latency). */
  status: number;
  verb: Verb | undefined;
  kind: SimKind | undefined;
  /** The request's User-Agent header, as audit logs and API priority and fairness see it. */
  userAgent: string | undefined;
}

export type FaultVerb = Verb | 'any';

export interface FailNextOptions {
  verb?: FaultVerb;
  kind?: SimKind;
  /** Sent as a Retry-After header and in the Status details (429/503/504). */
  retryAfterSeconds?: number;
}

interface FailureRule {
  remaining: number;
  status: number;
  verb: FaultVerb;
  kind: SimKind | undefined;
  retryAfterSeconds: number | undefined;
}

interface WatchStream {
  id: number;
  kind: SimKind;
  namespace: string | undefined;
  labels: LabelSelector;
  fields: FieldSelector;
  res: ServerResponse;
  /** A dead stream stays open but never writes again (silenceWatches). */
  dead: boolean;
  timers: NodeJS.Timeout[];
}

/** Resolves true once `res` can take more, false if it closed first (the client went away). */
function drained(res: ServerResponse): Promise<boolean> {
  if (res.destroyed) return Promise.resolve(false);
  return new Promise((resolve) => {
    const done = (ok: boolean): void => {
      res.off('drain', onDrain);
      res.off('close', onClose);
      resolve(ok);
    };
    const onDrain = (): void => done(true);
    const onClose = (): void => done(false);
    res.on('drain', onDrain);
    res.on('close', onClose);
  });
}

const NOOP_LOGGER: SimLogger = { debug() {}, info() {}, warn() {} };
const HEALTH_ROUTES = new Set(['health']);

/**
 * An object's JSON with kind and apiVersion first, as `get` and watch events carry them (stored
 * objects have neither). Built from the cached text: no new serialisation per reader.
 */
function withKindJson(kind: SimKind, objectJson: string): string {
  const head = `{"kind":"${objectKindOf(kind)}","apiVersion":"v1"`;
  return objectJson === '{}' ? `${head}}` : `${head},${objectJson.slice(1)}`;
}

/** Bytes of list items joined into one write: big enough for few syscalls, small enough to stream. */
const LIST_CHUNK_CHARS = 1 << 20;

function parseRv(text: string): number | undefined {
  return /^\d+$/.test(text) ? Number(text) : undefined;
}

function isTrue(value: string | null): boolean {
  return value === 'true' || value === '1';
}

interface ContinueToken {
  rv: number;
  start: string;
}

function encodeContinue(token: ContinueToken): string {
  return Buffer.from(JSON.stringify({ v: 'meta.k8s.io/v1', rv: token.rv, start: token.start })).toString('base64');
}

function decodeContinue(text: string): ContinueToken | string {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(text, 'base64').toString('utf8'));
  } catch {
    return 'continue key is not valid: not base64-encoded JSON';
  }
  if (parsed === null || typeof parsed !== 'object') return 'continue key is not valid: not an object';
  const { v, rv, start } = parsed as Record<string, unknown>;
  if (v !== 'meta.k8s.io/v1') return 'continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)';
  if (typeof rv !== 'number' || !Number.isInteger(rv) || rv === 0 || rv < -1) return 'continue key is not valid: incorrect encoded start resourceVersion';
  if (typeof start !== 'string' || start === '') return 'continue key is not valid: encoded start key empty';
  return { rv, start };
}

const CONTINUE_EXPIRED_MESSAGE =
  'The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue token in this response to retrieve the remainder of the results. Continuing with the provided token results in an inconsistent list - objects that were created, modified, or deleted between the time the first chunk was returned and now may show up in the list.';

export class SimApiServer {
  private readonly store: ObjectStore;
  private readonly options: SimApiServerOptions;
  private readonly logger: SimLogger;
  private readonly random: () => number;
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  private readonly streams = new Set<WatchStream>();
  private readonly latencyTimers = new Set<NodeJS.Timeout>();
  private readonly countWaiters = new Set<() => void>();
  private readonly unsubscribe: () => void;
  private boundPort: number;
  private nextStreamId = 1;
  private closed = false;

  // fault state
  private failureRules: FailureRule[] = [];
  private latencyMs = 0;
  private silenced = false;
  /** Set while the watch cache is held back (holdWatchCache): the resourceVersion it stays at. */
  private heldCacheRv: number | undefined;
  private requiredToken: string | undefined;
  private readonly forbidden = new Set<SimKind>();

  /** Every request received, in arrival order, for assertions. */
  readonly requests: RequestRecord[] = [];

  readonly faults = {
    /** The next `count` matching requests are answered with a Status of that HTTP code. */
    failNext: (count: number, status: number, options: FailNextOptions = {}): void => {
      this.failureRules.push({ remaining: count, status, verb: options.verb ?? 'any', kind: options.kind, retryAfterSeconds: options.retryAfterSeconds });
    },
    /** Ends every open watch stream cleanly, as the server does on its own timeout. */
    closeWatches: (): void => {
      for (const stream of [...this.streams]) stream.res.end();
    },
    /** Destroys every open watch socket mid-stream (the client sees "terminated"). */
    destroyWatches: (): void => {
      for (const stream of [...this.streams]) stream.res.destroy();
    },
    /**
     * Sends every open watch an ERROR event carrying a Status of that code, then ends it (what the
     * real server does on internal watch errors; a 410 here is the Expired one).
     */
    errorWatches: (code = 500, message?: string): void => {
      const status = code === 410
        ? expiredStatus(0, this.store.floor)
        : failureStatus(code, message ?? `an error on the server ("unable to decode an event from the watch stream: injected fault") has prevented the request from succeeding`, undefined, code === 500 ? 'InternalError' : reasonFor(code));
      for (const stream of [...this.streams]) {
        this.writeLine(stream, { type: 'ERROR', object: status });
        if (!stream.dead) stream.res.end();
      }
    },
    /**
     * While on, watch streams (open and new) stay open but send nothing, not even their end: a dead
     * connection. Streams silenced once stay dead after it is turned off; new ones then work again.
     */
    silenceWatches: (on: boolean): void => {
      this.silenced = on;
      if (on) for (const stream of this.streams) this.killStream(stream);
    },
    /**
     * While on, the watch cache stays at the resourceVersion it had: lists with
     * `resourceVersion=0` answer that older state (as a lagging cache, or another API server
     * behind the same load balancer, would). Off: it has caught up again.
     */
    holdWatchCache: (on: boolean): void => {
      this.heldCacheRv = on ? (this.heldCacheRv ?? this.store.resourceVersion) : undefined;
    },
    /** Delays every answer (and the start of every watch) by `ms`. */
    setLatency: (ms: number): void => {
      this.latencyMs = Math.max(0, ms);
    },
    /** Forgets all history: a watch or exact list from an older RV, or an old continue token, gets 410. */
    compact: (): void => {
      this.store.compact();
    },
    /** 401 for a missing or wrong bearer token; undefined turns the check off. */
    requireToken: (token: string | undefined): void => {
      this.requiredToken = token;
    },
    /** 403 for every request on that kind; undefined lifts every prohibition. */
    forbid: (kind: SimKind | undefined): void => {
      if (kind === undefined) this.forbidden.clear();
      else this.forbidden.add(kind);
    },
    /** Lifts every fault (the token requirement given at start is kept). */
    reset: (): void => {
      this.failureRules = [];
      this.latencyMs = 0;
      this.silenced = false;
      this.heldCacheRv = undefined;
      this.forbidden.clear();
    },
  };

  constructor(options: SimApiServerOptions = {}) {
    this.options = options;
    this.logger = options.logger ?? NOOP_LOGGER;
    this.random = options.random ?? Math.random;
    this.requiredToken = options.token;
    this.boundPort = options.port ?? 0;
    const storeOptions: ConstructorParameters<typeof ObjectStore>[0] = {};
    if (options.historyLimit !== undefined) storeOptions.historyLimit = options.historyLimit;
    if (options.now) storeOptions.now = options.now;
    if (options.uid) storeOptions.uid = options.uid;
    this.store = new ObjectStore(storeOptions);
    this.unsubscribe = this.store.subscribe((change) => this.dispatch(change));
  }

  get port(): number {
    return this.boundPort;
  }

  get url(): string {
    return `http://127.0.0.1:${this.boundPort}`;
  }

  /** The current global resourceVersion (shared across kinds, like etcd's revision). */
  get resourceVersion(): string {
    return String(this.store.resourceVersion);
  }

  /** The oldest resourceVersion a watch can still start from. */
  get compactedResourceVersion(): string {
    return String(this.store.floor);
  }

  get watchCount(): number {
    return this.streams.size;
  }

  get listening(): boolean {
    return this.server !== undefined;
  }

  // ---- in-process write API (returns copies: callers cannot alter the stored state) ----

  create<T extends KubeObject>(kind: SimKind, object: T): T & KubeObject {
    return this.copyOf(this.store.create(kind, object)) as T & KubeObject;
  }

  update<T extends KubeObject>(kind: SimKind, object: T): T & KubeObject {
    return this.copyOf(this.store.update(kind, object)) as T & KubeObject;
  }

  /** A caller's own copy of a stored object: parsing its cached JSON beats structuredClone. */
  private copyOf(object: KubeObject): KubeObject {
    return JSON.parse(this.store.jsonOf(object)) as KubeObject;
  }

  /** Merges labels into the object's labels; a null value removes that label. */
  patchLabels(kind: SimKind, namespace: string | undefined, name: string, labels: Record<string, string | null>): KubeObject {
    const current = this.store.get(kind, namespace, name);
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
      const current = this.store.get(kind, namespace, name);
      if (!current) throw new SimError('NotFound', `${kind} "${namespace ? `${namespace}/` : ''}${name}" not found`);
      const now = (this.options.now ?? (() => new Date()))().toISOString().replace(/\.\d{3}Z$/, 'Z');
      this.store.update(kind, { ...current, metadata: { ...current.metadata, deletionTimestamp: now, deletionGracePeriodSeconds: 0 } });
    }
    return this.copyOf(this.store.delete(kind, namespace, name));
  }

  /** Creates many objects without returning copies (bulk loading a generated cluster). */
  createAll(kind: SimKind, objects: readonly KubeObject[]): void {
    for (const object of objects) this.store.create(kind, object);
  }

  /**
   * In-process change notifications (the demo's log writer follows pods this way). The change's
   * objects are the stored ones: read them, do not modify them. Returns the unsubscribe function.
   */
  subscribe(listener: (change: Change) => void): () => void {
    return this.store.subscribe(listener);
  }

  get<T extends KubeObject = KubeObject>(kind: SimKind, namespace: string | undefined, name: string): T | undefined {
    const object = this.store.get(kind, namespace, name);
    return object ? (this.copyOf(object) as T) : undefined;
  }

  list<T extends KubeObject = KubeObject>(kind: SimKind): T[] {
    return this.store.list(kind).map((o) => this.copyOf(o) as T);
  }

  kubeconfigYaml(options: KubeconfigOptions = {}): string {
    const token = 'token' in options ? options.token : this.requiredToken;
    return kubeconfigYaml(this.url, { ...options, token });
  }

  /** Writes the kubeconfig with mode 0600 (it may hold a token). */
  async writeKubeconfig(path: string, options: KubeconfigOptions = {}): Promise<void> {
    await writeFile(path, this.kubeconfigYaml(options), { mode: 0o600 });
    await chmod(path, 0o600);
  }

  /** Resolves once `count` watch streams are open; rejects after `timeoutMs`. */
  waitForWatchCount(count: number, timeoutMs = 5000): Promise<void> {
    if (this.streams.size === count) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const check = (): void => {
        if (this.streams.size !== count) return;
        clearTimeout(timer);
        this.countWaiters.delete(check);
        resolve();
      };
      const timer = setTimeout(() => {
        this.countWaiters.delete(check);
        reject(new Error(`expected ${count} open watch stream(s) within ${timeoutMs} ms, have ${this.streams.size}`));
      }, timeoutMs);
      this.countWaiters.add(check);
    });
  }

  // ---- lifecycle ----

  async listen(): Promise<void> {
    if (this.closed) throw new Error('the simulated API server is closed');
    if (this.server) return;
    const server = createServer({ keepAliveTimeout: 5000 }, (req, res) => {
      this.handle(req, res).catch((err: unknown) => {
        this.logger.warn({ err }, 'sim: request handler failed');
        if (!res.headersSent) this.sendStatus(res, undefined, failureStatus(500, `Internal error occurred: ${String(err)}`));
        else res.destroy();
      });
    });
    server.on('connection', (socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.boundPort, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
    const address = server.address();
    if (address && typeof address === 'object') this.boundPort = address.port;
    this.server = server;
    this.logger.info({ url: this.url }, 'sim: API server listening');
  }

  /** The API server goes down: open connections are destroyed and new ones refused; state is kept. */
  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    for (const stream of [...this.streams]) stream.res.destroy();
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeAllConnections();
    for (const socket of this.sockets) socket.destroy();
    await closed;
    this.logger.info({ url: this.url }, 'sim: API server stopped');
  }

  /** Back up on the same port with the same objects and history. */
  async restart(): Promise<void> {
    await this.listen();
  }

  async close(): Promise<void> {
    await this.stop();
    this.closed = true;
    this.unsubscribe();
    for (const timer of this.latencyTimers) clearTimeout(timer);
    this.latencyTimers.clear();
  }

  // ---- request handling ----

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://sim.invalid');
    const route = routeFor(url.pathname);
    const watch = route?.type === 'resource' && (route.watchPath || isTrue(url.searchParams.get('watch')));
    const verb: Verb | undefined = route?.type === 'resource' ? (watch ? 'watch' : route.name === undefined ? 'list' : 'get') : route ? 'get' : undefined;
    const record: RequestRecord = {
      method: req.method ?? 'GET',
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      status: 0,
      verb,
      kind: route?.type === 'resource' ? route.kind : undefined,
      userAgent: req.headers['user-agent'],
    };
    this.requests.push(record);
    // Bounded, so a long-running demo does not grow without end.
    if (this.requests.length > (this.options.requestLogLimit ?? 10_000)) this.requests.splice(0, this.requests.length - (this.options.requestLogLimit ?? 10_000));

    if (this.latencyMs > 0) await this.delay(this.latencyMs);
    if (res.destroyed) return;

    if (!route) return this.sendStatus(res, record, failureStatus(404, `the server could not find the requested resource (get ${url.pathname})`, { causes: [{ reason: 'UnexpectedServerResponse', message: '404 page not found' }] }, 'NotFound'));
    if (!HEALTH_ROUTES.has(route.type) && this.requiredToken !== undefined) {
      const header = req.headers.authorization ?? '';
      if (header !== `Bearer ${this.requiredToken}`) return this.sendStatus(res, record, failureStatus(401, 'Unauthorized'));
    }
    const rule = this.takeFailureRule(route, verb);
    if (rule) return this.sendInjectedFailure(res, record, rule, route, verb);
    if (req.method !== 'GET') {
      return this.sendStatus(res, record, failureStatus(405, `the server does not allow this method on the requested resource (${req.method} ${url.pathname}); the simulated API server is read-only over HTTP`));
    }
    if (route.type !== 'resource') return this.sendInfo(res, record, route);
    if (this.forbidden.has(route.kind)) return this.sendStatus(res, record, this.forbiddenStatus(route, verb ?? 'get'));

    if (watch) return this.startWatch(res, record, route, url.searchParams);
    if (route.name !== undefined) return this.sendObject(res, record, route);
    return this.sendList(res, record, route, url.searchParams);
  }

  private delay(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.latencyTimers.delete(timer);
        resolve();
      }, ms);
      this.latencyTimers.add(timer);
    });
  }

  private takeFailureRule(route: Route, verb: Verb | undefined): FailureRule | undefined {
    const kind = route.type === 'resource' ? route.kind : undefined;
    const index = this.failureRules.findIndex(
      (r) => r.remaining > 0 && (r.verb === 'any' || r.verb === verb) && (r.kind === undefined || r.kind === kind),
    );
    if (index < 0) return undefined;
    const rule = this.failureRules[index] as FailureRule;
    rule.remaining--;
    if (rule.remaining <= 0) this.failureRules.splice(index, 1);
    return rule;
  }

  private sendInjectedFailure(res: ServerResponse, record: RequestRecord, rule: FailureRule, route: Route, verb: Verb | undefined): void {
    const code = rule.status;
    const retry = rule.retryAfterSeconds !== undefined ? { retryAfterSeconds: rule.retryAfterSeconds } : undefined;
    let status: StatusJson;
    if (code === 401) status = failureStatus(401, 'Unauthorized');
    else if (code === 403 && route.type === 'resource') status = this.forbiddenStatus(route, verb ?? 'get');
    else if (code === 410) status = expiredStatus(0, this.store.floor);
    else if (code === 429) status = failureStatus(429, 'Too many requests, please try again later.', retry);
    else if (code === 503) status = failureStatus(503, 'the server is currently unable to handle the request', retry);
    else if (code === 504) status = failureStatus(504, 'Timeout: request did not complete within the allotted timeout', retry);
    else status = failureStatus(code, `Internal error occurred: injected fault (HTTP ${code})`, retry, reasonFor(code) === 'Unknown' ? 'InternalError' : reasonFor(code));
    const headers = retry ? { 'Retry-After': String(retry.retryAfterSeconds) } : undefined;
    this.sendStatus(res, record, status, headers);
  }

  private forbiddenStatus(route: ResourceRoute, verb: Verb): StatusJson {
    const scope = route.namespace !== undefined ? `in the namespace "${route.namespace}"` : 'at the cluster scope';
    const subject = route.name !== undefined ? `${route.kind} "${route.name}"` : route.kind;
    const details: { kind: string; name?: string } = { kind: route.kind };
    if (route.name !== undefined) details.name = route.name;
    return failureStatus(403, `${subject} is forbidden: User "system:serviceaccount:kube-system:kube-log-enricher" cannot ${verb} resource "${route.kind}" in API group "" ${scope}`, details);
  }

  private sendJson(res: ServerResponse, record: RequestRecord | undefined, code: number, body: unknown, headers?: Record<string, string>): void {
    this.sendText(res, record, code, JSON.stringify(body), headers);
  }

  private sendText(res: ServerResponse, record: RequestRecord | undefined, code: number, text: string, headers?: Record<string, string>): void {
    if (record) record.status = code;
    res.writeHead(code, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text), ...headers });
    res.end(text);
    this.logger.debug({ path: record?.path, status: code }, 'sim: request');
  }

  private sendStatus(res: ServerResponse, record: RequestRecord | undefined, status: StatusJson, headers?: Record<string, string>): void {
    this.sendJson(res, record, status.code, status, headers);
  }

  private sendInfo(res: ServerResponse, record: RequestRecord, route: Route): void {
    switch (route.type) {
      case 'version':
        return this.sendJson(res, record, 200, {
          major: '1', minor: '33', emulationMajor: '1', emulationMinor: '33', minCompatibilityMajor: '1', minCompatibilityMinor: '32',
          gitVersion: 'v1.33.2', gitCommit: '0000000000000000000000000000000000000000', gitTreeState: 'clean',
          buildDate: '2025-06-17T18:36:30Z', goVersion: 'go1.24.4', compiler: 'gc', platform: 'linux/amd64',
        });
      case 'api':
        return this.sendJson(res, record, 200, {
          kind: 'APIVersions', versions: ['v1'],
          serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress: `127.0.0.1:${this.boundPort}` }],
        });
      case 'apiV1':
        return this.sendJson(res, record, 200, {
          kind: 'APIResourceList', groupVersion: 'v1',
          resources: (['namespaces', 'nodes', 'pods'] as const).map((kind) => ({
            name: kind, singularName: objectKindOf(kind).toLowerCase(), namespaced: !CLUSTER_SCOPED.has(kind), kind: objectKindOf(kind),
            verbs: ['get', 'list', 'watch'], shortNames: kind === 'pods' ? ['po'] : kind === 'namespaces' ? ['ns'] : ['no'],
          })),
        });
      case 'apis':
        return this.sendJson(res, record, 200, { kind: 'APIGroupList', apiVersion: 'v1', groups: [] });
      default:
        record.status = 200;
        res.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8' });
        res.end('ok');
    }
  }

  private sendObject(res: ServerResponse, record: RequestRecord, route: ResourceRoute): void {
    const name = route.name ?? '';
    const object = this.store.get(route.kind, route.namespace, name);
    if (!object) {
      return this.sendStatus(res, record, failureStatus(404, `${route.kind} "${name}" not found`, { name, kind: route.kind }));
    }
    this.sendText(res, record, 200, withKindJson(route.kind, this.store.jsonOf(object)));
  }

  private parseSelectors(res: ServerResponse, record: RequestRecord, route: ResourceRoute, params: URLSearchParams): { labels: LabelSelector; fields: FieldSelector } | undefined {
    // The real server's labels.Parse takes `key>n` and `key<n` too.
    const labels = parseLabelSelector(params.get('labelSelector') ?? '', { allowComparisons: true });
    if (!labels.ok) {
      this.sendStatus(res, record, failureStatus(400, `labelSelector: ${labels.error}`, { causes: [{ reason: 'FieldValueInvalid', message: labels.error, field: 'labelSelector' }] }));
      return undefined;
    }
    let fieldText = params.get('fieldSelector') ?? undefined;
    // A single-object path is a list/watch on metadata.name, as the real server does it.
    if (route.name !== undefined) fieldText = fieldText ? `${fieldText},metadata.name=${route.name}` : `metadata.name=${route.name}`;
    const fields = parseFieldSelector(fieldText, route.kind);
    if (!fields.ok) {
      this.sendStatus(res, record, failureStatus(400, `fieldSelector: ${fields.error}`, { causes: [{ reason: 'FieldValueInvalid', message: fields.error, field: 'fieldSelector' }] }));
      return undefined;
    }
    return { labels: labels.selector, fields: fields.value };
  }

  private inScope(stream: { kind: SimKind; namespace: string | undefined; labels: LabelSelector; fields: FieldSelector }, object: KubeObject): boolean {
    return (stream.namespace === undefined || object.metadata.namespace === stream.namespace)
      && labelSelectorMatches(stream.labels, object.metadata.labels)
      && matchesFields(stream.fields, stream.kind, object);
  }

  private badRequest(res: ServerResponse, record: RequestRecord, field: string, message: string): void {
    this.sendStatus(res, record, failureStatus(400, message, { causes: [{ reason: 'FieldValueInvalid', message, field }] }));
  }

  private sendList(res: ServerResponse, record: RequestRecord, route: ResourceRoute, params: URLSearchParams): Promise<void> | void {
    const selectors = this.parseSelectors(res, record, route, params);
    if (!selectors) return;
    const limitText = params.get('limit');
    const limit = limitText === null || limitText === '' ? 0 : /^-?\d+$/.test(limitText) ? Number(limitText) : NaN;
    if (Number.isNaN(limit)) return this.badRequest(res, record, 'limit', `limit: invalid value "${limitText}": must be an integer`);
    const rvText = params.get('resourceVersion') ?? '';
    const match = params.get('resourceVersionMatch') ?? '';
    const continueText = params.get('continue') ?? '';
    const current = this.store.resourceVersion;

    let snapshotRv = current;
    let state: KindState | undefined;
    let start = '';
    let fromCache = false;
    if (continueText !== '') {
      if (rvText !== '' && rvText !== '0') return this.badRequest(res, record, 'resourceVersion', 'specifying resource version is not allowed when using continue');
      if (match !== '') return this.badRequest(res, record, 'resourceVersionMatch', 'resourceVersionMatch is forbidden when continue is provided');
      const token = decodeContinue(continueText);
      if (typeof token === 'string') return this.badRequest(res, record, 'continue', token);
      start = token.start;
      if (token.rv !== -1) {
        if (token.rv > current) return this.badRequest(res, record, 'continue', 'continue key is not valid: resourceVersion is in the future');
        snapshotRv = token.rv;
        state = this.store.state(route.kind, token.rv);
        if (!state) {
          const status = failureStatus(410, CONTINUE_EXPIRED_MESSAGE, undefined, 'Expired');
          status.metadata.continue = encodeContinue({ rv: -1, start });
          return this.sendStatus(res, record, status);
        }
      }
    } else {
      if (match !== '' && match !== 'Exact' && match !== 'NotOlderThan') {
        return this.badRequest(res, record, 'resourceVersionMatch', `resourceVersionMatch: Unsupported value: "${match}": supported values: "Exact", "NotOlderThan"`);
      }
      if (match !== '' && rvText === '') return this.badRequest(res, record, 'resourceVersionMatch', 'resourceVersionMatch is forbidden unless resourceVersion is provided');
      if (match === 'Exact' && rvText === '0') return this.badRequest(res, record, 'resourceVersionMatch', 'resourceVersionMatch "exact" is forbidden for resourceVersion "0"');
      if (rvText === '0') {
        // Any state will do: the watch cache answers, not etcd, and it may be a little behind.
        fromCache = true;
        const held = this.heldCacheRv;
        // A held cache whose state etcd compacted away has caught up (real caches never lose theirs).
        state = held === undefined ? undefined : this.store.state(route.kind, held);
        if (state !== undefined && held !== undefined) snapshotRv = held;
      } else if (rvText !== '') {
        const rv = parseRv(rvText);
        if (rv === undefined) return this.badRequest(res, record, 'resourceVersion', `resourceVersion: Invalid value: "${rvText}": must be a decimal resource version`);
        if (rv > current) return this.sendStatus(res, record, tooLargeStatus(rv, current));
        if (match === 'Exact') {
          state = this.store.state(route.kind, rv);
          if (!state) return this.sendStatus(res, record, expiredStatus(rv, this.store.floor));
          snapshotRv = rv;
        }
      }
    }
    // The current state: no continue, an inconsistent (rv -1) continue, or any RV but Exact.
    state ??= this.store.state(route.kind) as KindState;

    // The page is taken synchronously (a consistent read); only sending it waits for the client.
    const page: string[] = [];
    let nextKey: string | undefined;
    const prefix = route.namespace !== undefined ? `${route.namespace}/` : '';
    const scope = { kind: route.kind, namespace: route.namespace, ...selectors };
    const pageLimit = fromCache && this.options.watchCacheLimit !== 'honoured' ? 0 : limit;
    for (const [key, object] of state.entries(prefix, start)) {
      if (pageLimit > 0 && page.length >= pageLimit) {
        // Like etcd paging: more keys in range means a continue token, whether or not they match.
        nextKey = key;
        break;
      }
      if (this.inScope(scope, object)) page.push(this.store.jsonOf(object));
    }
    const metadata: { resourceVersion: string; continue?: string; remainingItemCount?: number } = { resourceVersion: String(snapshotRv) };
    if (nextKey !== undefined) {
      metadata.continue = encodeContinue({ rv: snapshotRv, start: nextKey });
      if (selectors.labels.requirements.length === 0 && selectors.fields.length === 0) metadata.remainingItemCount = state.count(prefix, nextKey);
    }
    const head = `{"kind":"${listKindOf(route.kind)}","apiVersion":"v1","metadata":${JSON.stringify(metadata)},"items":[`;
    return this.streamList(res, record, head, page, ']}');
  }

  /**
   * Sends a list as JSON text in chunks (chunked transfer, as the real server does for big lists),
   * waiting for the socket to drain between chunks: a 50,000-pod list never becomes one string.
   */
  private async streamList(res: ServerResponse, record: RequestRecord, head: string, items: readonly string[], tail: string): Promise<void> {
    record.status = 200;
    res.writeHead(200, { 'Content-Type': 'application/json' });
    let chunk = head;
    for (let i = 0; i < items.length; i++) {
      chunk += i === 0 ? items[i] : `,${items[i]}`;
      if (chunk.length < LIST_CHUNK_CHARS) continue;
      if (!res.write(chunk) && !(await drained(res))) return;
      chunk = '';
    }
    res.end(chunk + tail);
    this.logger.debug({ path: record.path, status: 200, items: items.length }, 'sim: request');
  }

  // ---- watch ----

  private startWatch(res: ServerResponse, record: RequestRecord, route: ResourceRoute, params: URLSearchParams): void {
    const selectors = this.parseSelectors(res, record, route, params);
    if (!selectors) return;
    const rvText = params.get('resourceVersion') ?? '';
    const match = params.get('resourceVersionMatch') ?? '';
    const sendInitialEvents = params.has('sendInitialEvents') ? isTrue(params.get('sendInitialEvents')) : undefined;
    const bookmarks = isTrue(params.get('allowWatchBookmarks'));
    const timeoutText = params.get('timeoutSeconds');
    if (timeoutText !== null && timeoutText !== '' && !/^\d+$/.test(timeoutText)) {
      return this.badRequest(res, record, 'timeoutSeconds', `timeoutSeconds: invalid value "${timeoutText}": must be a non-negative integer`);
    }
    if (sendInitialEvents !== undefined) {
      if (match !== 'NotOlderThan') return this.badRequest(res, record, 'resourceVersionMatch', 'resourceVersionMatch: Forbidden: sendInitialEvents requires setting resourceVersionMatch to NotOlderThan');
      if (sendInitialEvents && !bookmarks) return this.badRequest(res, record, 'allowWatchBookmarks', 'allowWatchBookmarks: Forbidden: sendInitialEvents requires setting allowWatchBookmarks to true');
    } else if (match !== '') {
      return this.badRequest(res, record, 'resourceVersionMatch', 'resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden for watch unless sendInitialEvents is provided');
    }
    const current = this.store.resourceVersion;
    const rv = rvText === '' ? 0 : parseRv(rvText);
    if (rv === undefined) return this.badRequest(res, record, 'resourceVersion', `resourceVersion: Invalid value: "${rvText}": must be a decimal resource version`);
    if (rv > current) return this.sendStatus(res, record, tooLargeStatus(rv, current));

    const stream: WatchStream = {
      id: this.nextStreamId++, kind: route.kind, namespace: route.namespace, labels: selectors.labels, fields: selectors.fields,
      res, dead: false, timers: [],
    };
    record.status = 200;
    res.writeHead(200, { 'Content-Type': 'application/json', 'Cache-Control': 'no-cache, private', 'Transfer-Encoding': 'chunked' });
    res.flushHeaders();
    this.streams.add(stream);
    this.notifyCount();
    res.on('close', () => this.endStream(stream));
    this.logger.debug({ path: record.path, kind: route.kind, resourceVersion: rvText }, 'sim: watch opened');
    if (this.silenced) {
      this.killStream(stream);
      return;
    }

    // RV unset/0 means "any state": the current one as ADDED events, unless sendInitialEvents=false
    // asks for changes from now on only.
    const initial = sendInitialEvents === true || (sendInitialEvents === undefined && rv === 0);
    if (initial) {
      for (const object of this.store.list(route.kind)) {
        if (this.inScope(stream, object)) this.write(stream, 'ADDED', object);
      }
      if (sendInitialEvents) {
        this.writeLine(stream, { type: 'BOOKMARK', object: { kind: objectKindOf(route.kind), apiVersion: 'v1', metadata: { resourceVersion: String(current), annotations: { 'k8s.io/initial-events-end': 'true' } } } });
      }
    } else if (rv !== 0) {
      const changes = this.store.changesSince(rv);
      if (!changes) {
        this.writeLine(stream, { type: 'ERROR', object: expiredStatus(rv, this.store.floor) });
        res.end();
        return;
      }
      for (const change of changes) this.deliver(stream, change);
    }

    const timeoutSeconds = timeoutText !== null && timeoutText !== '' && Number(timeoutText) > 0 ? Number(timeoutText) : this.defaultTimeoutSeconds();
    stream.timers.push(setTimeout(() => {
      if (!stream.dead) res.end();
    }, timeoutSeconds * 1000));
    if (bookmarks) {
      stream.timers.push(setInterval(() => {
        this.writeLine(stream, { type: 'BOOKMARK', object: { kind: objectKindOf(route.kind), apiVersion: 'v1', metadata: { resourceVersion: String(this.store.resourceVersion) } } });
      }, this.options.bookmarkIntervalMs ?? 60_000));
    }
  }

  private defaultTimeoutSeconds(): number {
    const range = this.options.watchTimeoutSeconds ?? { min: 300, max: 600 };
    return range.min + this.random() * Math.max(0, range.max - range.min);
  }

  private dispatch(change: Change): void {
    for (const stream of this.streams) {
      if (stream.kind === change.kind) this.deliver(stream, change);
    }
  }

  /** Turns a change into what this watcher sees: objects entering or leaving its selection become ADDED/DELETED. */
  private deliver(stream: WatchStream, change: Change): void {
    if (change.kind !== stream.kind || stream.dead) return;
    const wasIn = change.previous !== undefined && this.inScope(stream, change.previous);
    if (change.type === 'DELETED') {
      if (wasIn) this.write(stream, 'DELETED', change.object);
      return;
    }
    const isIn = this.inScope(stream, change.object);
    if (isIn) this.write(stream, wasIn ? 'MODIFIED' : 'ADDED', change.object);
    else if (wasIn && change.previous) {
      // The real cacher sends the previous state, stamped with the RV of the change that moved it out.
      this.write(stream, 'DELETED', { ...change.previous, metadata: { ...change.previous.metadata, resourceVersion: String(change.rv) } });
    }
  }

  private write(stream: WatchStream, type: string, object: KubeObject): void {
    if (stream.dead || stream.res.writableEnded || stream.res.destroyed) return;
    stream.res.write(`{"type":"${type}","object":${withKindJson(stream.kind, this.store.jsonOf(object))}}\n`);
  }

  private writeLine(stream: WatchStream, event: unknown): void {
    if (stream.dead || stream.res.writableEnded || stream.res.destroyed) return;
    stream.res.write(`${JSON.stringify(event)}\n`);
  }

  private killStream(stream: WatchStream): void {
    stream.dead = true;
    for (const timer of stream.timers) clearTimeout(timer);
    stream.timers = [];
  }

  private endStream(stream: WatchStream): void {
    if (!this.streams.delete(stream)) return;
    for (const timer of stream.timers) clearTimeout(timer);
    stream.timers = [];
    this.notifyCount();
  }

  private notifyCount(): void {
    for (const waiter of [...this.countWaiters]) waiter();
  }
}

/** Starts a simulated API server on 127.0.0.1 (port 0 by default). */
export async function startSimApiServer(options: SimApiServerOptions = {}): Promise<SimApiServer> {
  const sim = new SimApiServer(options);
  await sim.listen();
  return sim;
}
