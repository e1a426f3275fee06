/**
 * A simulated kubelet on loopback: `GET /pods`, the PodList of one node's pods as a real kubelet
 * serves it, taken from the simulated API server's objects (in-process, through `subscribe`).
 *
 * What it reproduces of a real kubelet (pkg/kubelet/config/config.go, kubelet.GetPods):
 * - a pod keeps the resourceVersion the kubelet first saw it with; later changes (labels,
 *   annotations, status) are applied without a new one;
 * - a static pod is listed as itself: its uid is the config hash (`kubernetes.io/config.hash`),
 *   with no `kubernetes.io/config.mirror` annotation, owner or resourceVersion; the API server
 *   holds the mirror pod instead;
 * - items in no particular order; auth failures answered as plain text (401 "Unauthorized",
 *   403 "Forbidden (user=..., verb=get, resource=nodes, subresource=(proxy))").
 * Faults: `failNext(n, status, body?)`, `reset()`, `requireToken(t)`, `stop()`/`listen()` (down, then back on the
 * same port). Served over HTTPS when given a certificate.
 */
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { LoopbackServer } from './loopback.ts';
import type { SimApiServer } from './server.ts';
import type { Change } from './store.ts';
import type { KubeObject } from './types.ts';

export interface SimKubeletOptions {
  /** The node whose pods are served (spec.nodeName). */
  nodeName: string;
  /** Bearer token every request must carry (401 otherwise); none by default. */
  token?: string;
  /** PEM certificate and key: serve HTTPS. Unset: plain HTTP. */
  tls?: { cert: string; key: string };
  /** 0 (default) picks a free port; restart() reuses the bound one. */
  port?: number;
}

export interface SimKubeletRequest {
  path: string;
  status: number;
}

const MIRROR = 'kubernetes.io/config.mirror';

/** The pod as this node's kubelet lists it; `firstSeenRv` is the resourceVersion it first saw. */
function kubeletView(apiPod: KubeObject, firstSeenRv: string | undefined): KubeObject {
  const copy = JSON.parse(JSON.stringify(apiPod)) as KubeObject;
  delete copy.kind;
  delete copy.apiVersion;
  const meta = copy.metadata;
  const hash = meta.annotations?.[MIRROR];
  if (hash !== undefined) {
    // The static pod itself: the kubelet knows nothing of its mirror in the API server.
    meta.uid = hash;
    delete meta.annotations![MIRROR];
    delete meta.ownerReferences;
    delete meta.resourceVersion;
  } else if (firstSeenRv !== undefined) meta.resourceVersion = firstSeenRv;
  return copy;
}

export class SimKubelet {
  readonly nodeName: string;
  readonly #tls: boolean;
  /** API uid → the resourceVersion first seen and the item's JSON text. */
  readonly #pods = new Map<string, { firstSeenRv: string | undefined; json: string }>();
  readonly #unsubscribe: () => void;
  readonly #http: LoopbackServer;
  #token: string | undefined;
  #failures: { remaining: number; status: number; body: string | undefined }[] = [];
  #closed = false;

  /** Every request, in order (path and status only). */
  readonly requests: SimKubeletRequest[] = [];

  constructor(sim: SimApiServer, options: SimKubeletOptions) {
    this.nodeName = options.nodeName;
    this.#tls = options.tls !== undefined;
    const handler = (req: IncomingMessage, res: ServerResponse) => this.#handle(req, res);
    const tls = options.tls;
    this.#http = new LoopbackServer(() => (tls === undefined ? createHttpServer(handler) : createHttpsServer({ cert: tls.cert, key: tls.key }, handler)), options.port ?? 0);
    this.#token = options.token;
    for (const pod of sim.list('pods')) this.#observe(pod);
    this.#unsubscribe = sim.subscribe((change) => this.#onChange(change));
  }

  get url(): string {
    return `${this.#tls ? 'https' : 'http'}://127.0.0.1:${this.#http.port}`;
  }

  get port(): number {
    return this.#http.port;
  }

  /** Pods served now. */
  get podCount(): number {
    return this.#pods.size;
  }

  /** The next `count` requests are answered with this HTTP status and `body` (default: a plain-text message). */
  failNext(count: number, status: number, body?: string): void {
    this.#failures.push({ remaining: count, status, body });
  }

  /** Lifts the injected failures (the token requirement is kept). */
  reset(): void {
    this.#failures = [];
  }

  /** 401 for a missing or wrong bearer token; undefined turns the check off. */
  requireToken(token: string | undefined): void {
    this.#token = token;
  }

  #onChange(change: Change): void {
    if (change.kind !== 'pods') return;
    const uid = change.object.metadata.uid;
    if (uid === undefined) return;
    if (change.type === 'DELETED') this.#pods.delete(uid);
    else this.#observe(change.object);
  }

  #observe(pod: KubeObject): void {
    const uid = pod.metadata.uid;
    if (uid === undefined) return;
    const onNode = (pod.spec as { nodeName?: unknown } | undefined)?.nodeName === this.nodeName;
    if (!onNode) {
      this.#pods.delete(uid);
      return;
    }
    const firstSeenRv = this.#pods.get(uid)?.firstSeenRv ?? pod.metadata.resourceVersion;
    this.#pods.set(uid, { firstSeenRv, json: JSON.stringify(kubeletView(pod, firstSeenRv)) });
  }

  async listen(): Promise<void> {
    if (this.#closed) throw new Error('the simulated kubelet is closed');
    await this.#http.listen();
  }

  /** The kubelet goes down: connections are destroyed and new ones refused; listen() brings it back on the same port. */
  async stop(): Promise<void> {
    await this.#http.stop();
  }

  async close(): Promise<void> {
    await this.stop();
    this.#closed = true;
    this.#unsubscribe();
  }

  #handle(req: IncomingMessage, res: ServerResponse): void {
    const path = new URL(req.url ?? '/', 'http://kubelet.invalid').pathname;
    const answer = (status: number, body: string, type = 'text/plain; charset=utf-8'): void => {
      this.requests.push({ path, status });
      res.writeHead(status, { 'Content-Type': type, 'Content-Length': Buffer.byteLength(body) });
      res.end(body);
    };
    if (this.#token !== undefined && req.headers.authorization !== `Bearer ${this.#token}`) return answer(401, 'Unauthorized');
    const failure = this.#failures[0];
    if (failure !== undefined) {
      if (--failure.remaining <= 0) this.#failures.shift();
      if (failure.body !== undefined) return answer(failure.status, failure.body, 'application/json');
      if (failure.status === 403) return answer(403, 'Forbidden (user=system:serviceaccount:logging:kube-log-enricher, verb=get, resource=nodes, subresource=(proxy))');
      return answer(failure.status, `injected fault (HTTP ${failure.status})`);
    }
    if (req.method !== 'GET') return answer(405, 'Method Not Allowed');
    if (path !== '/pods' && path !== '/pods/') return answer(404, '404 page not found');
    let body = '{"kind":"PodList","apiVersion":"v1","metadata":{},"items":[';
    let first = true;
    for (const { json } of this.#pods.values()) {
      body += first ? json : `,${json}`;
      first = false;
    }
    answer(200, `${body}]}`, 'application/json');
  }
}

/** Starts a simulated kubelet for `options.nodeName`, serving the pods `sim` holds for that node. */
export async function startSimKubelet(sim: SimApiServer, options: SimKubeletOptions): Promise<SimKubelet> {
  const kubelet = new SimKubelet(sim, options);
  await kubelet.listen();
  return kubelet;
}
