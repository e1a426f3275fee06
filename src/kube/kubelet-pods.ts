/**
 * The pods of this node read from its kubelet (`kubernetes.podSource: kubelet`) instead of a
 * list+watch on the API server: `GET <kubelet>/pods` once per poll interval, whatever the log
 * traffic (never a request per cache miss: Fluent Bit's `Use_Kubelet` fetched the whole list on
 * misses, fluent/fluent-bit#7548), each answer folded into the store as a relist is, through the
 * StoreWriter: a pod that appeared is added, one whose item changed is updated, one gone from the
 * answer is deleted (and retained for kubernetes.deletionDelay, as with the API server).
 *
 *   [poll] --200, a PodList--> writer replace, synced --> sleep the rest of the interval --> [poll]
 *          --any failure--> store untouched, error shown (/readyz, metrics) --> backoff --> [poll]
 *
 * Unchanged pods are skipped by their text, not their resourceVersion: the kubelet keeps the
 * resourceVersion it first saw a pod with and applies later changes (labels, annotations, status:
 * container ids) without it (kubelet config.go, checkAndUpdatePod). So each item's JSON text is
 * hashed; an item whose hash was in the previous answer is the same pod, unchanged, and is not
 * even parsed. Only new or changed items are parsed, one at a time, and slimmed. The answer is read
 * as a stream (json/array-stream.ts): what is held is the items' texts, never the body as well.
 *
 * Static pods: the kubelet lists the static pod itself, whose uid is its config hash (what its
 * log directory is named by), not the mirror pod of the API server.
 */
import { hash } from 'node:crypto';
import type { KubeConfig } from './client-node.ts';
import type { Metrics } from '../metrics/index.ts';
import type { ReplaceResult, StoreWriter } from '../store/index.ts';
import { BackoffSequence, sleep, type Backoff } from '../backoff/index.ts';
import { KubeApiError, normaliseApiError, type ApiError, type ApiErrorCode } from './errors.ts';
import { JsonArrayStream } from '../json/array-stream.ts';
import { getStreamed } from './list.ts';
import type { ReflectorLogger } from './reflector.ts';
import type { ReflectorStatus } from './types.ts';
import { withUserAgent, type RequestConfig } from './user-agent.ts';

export interface KubeletPodsOptions {
  /** A kubeconfig whose current cluster is the kubelet (kubeletKubeConfig()): its URL, TLS and token. */
  kubeConfig: KubeConfig;
  /** One poll starts this long after the previous one started (or ended, when it took longer). */
  pollIntervalMs: number;
  writer: StoreWriter;
  metrics: Pick<Metrics, 'reflectorSynced' | 'apiErrors' | 'reflectorActivity' | 'kubeletPolls' | 'kubeletPollDuration' | 'kubeletResponseBytes' | 'kubeletPodChanges'>;
  logger: ReflectorLogger;
  /** Delays after consecutive failed polls; never shorter than the poll interval. */
  backoff: Backoff;
  /** Jitter source, [0, 1). */
  random?: () => number;
  /** A poll taking longer than this is aborted and counts as failed (default: the interval, at least 10 s). */
  requestTimeoutMs?: number;
  /** Called once, when the first answer has been stored. */
  onSynced?: () => void;
}

const KIND = 'pods';

/** A 27-character fingerprint of an item's text: equal texts, equal pods. */
function fingerprint(text: string): string {
  return hash('sha1', text, 'base64');
}

function uidOf(object: unknown): string | undefined {
  const uid = (object as { metadata?: { uid?: unknown } } | null)?.metadata?.uid;
  return typeof uid === 'string' && uid !== '' ? uid : undefined;
}

/** One log line per state, saying what to do about it. */
function describe(e: ApiError, url: string): string {
  switch (e.code) {
    case 'http_401':
      return `the kubelet at ${url} rejected our token (401): kubernetes.kubelet.tokenFile is missing, wrong or expired; retrying with backoff. ${e.message}`;
    case 'http_403':
      return `not allowed to read ${url}/pods (403): grant the service account get on nodes/proxy (ClusterRole); retrying with backoff. ${e.message}`;
    case 'auth_config':
      return `cannot prepare the request to the kubelet: ${e.message}; retrying with backoff`;
    case 'connection':
      return `cannot reach the kubelet at ${url} (kubernetes.kubelet.url): ${e.message}; retrying with backoff`;
    default:
      return `polling the kubelet's ${url}/pods failed (${e.code}): ${e.message}; retrying with backoff`;
  }
}

export class KubeletPodSource {
  readonly kind = KIND;
  readonly #o: KubeletPodsOptions;
  readonly #requests: RequestConfig;
  readonly #url: string;
  readonly #backoff: BackoffSequence;
  readonly #abort = new AbortController();
  /** Fingerprint of each item of the last stored answer → that pod's uid. */
  #known = new Map<string, string>();
  #synced = false;
  #lastError: string | undefined;
  #errorState: ApiErrorCode | undefined;
  #stopped = false;
  #loop: Promise<void> | undefined;

  constructor(options: KubeletPodsOptions) {
    if (!(options.pollIntervalMs > 0)) throw new RangeError(`pollIntervalMs must be > 0, got ${String(options.pollIntervalMs)}`);
    const cluster = options.kubeConfig.getCurrentCluster();
    if (cluster === null) throw new RangeError('the kubelet kubeconfig has no current cluster');
    this.#o = options;
    this.#url = cluster.server.replace(/\/+$/, '');
    this.#requests = withUserAgent(options.kubeConfig);
    this.#backoff = new BackoffSequence(options.backoff, options.random ?? Math.random);
    options.metrics.reflectorSynced.set({ kind: KIND }, 0);
    options.metrics.reflectorActivity.started(KIND);
    options.writer.expectSync(KIND);
  }

  /** The kubelet's base URL; pods are read from `${url}/pods`. */
  get url(): string {
    return this.#url;
  }

  start(): void {
    if (this.#loop !== undefined || this.#stopped) return;
    this.#loop = this.#run().catch((err: unknown) => {
      this.#lastError = `kubelet pod source stopped by an internal error: ${String(err)}`;
      this.#o.logger.error({ kind: KIND, err: String(err) }, this.#lastError);
    });
  }

  status(): ReflectorStatus {
    const activity = this.#o.metrics.reflectorActivity;
    const now = activity.now();
    return {
      kind: KIND,
      synced: this.#synced,
      lastError: this.#lastError,
      lastEventAgeSeconds: activity.ageSeconds(activity.lastEvent, KIND, now),
      lastContactAgeSeconds: activity.ageSeconds(activity.lastContact, KIND, now),
    };
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    this.#abort.abort();
    await this.#loop;
  }

  /**
   * One poll: request, decode, fold into the store. Throws (a KubeApiError or what fetch threw)
   * when the answer cannot be had or is not a PodList; the store is then left as it was.
   */
  async poll(): Promise<ReplaceResult> {
    const started = performance.now();
    const signal = AbortSignal.any([this.#abort.signal, AbortSignal.timeout(this.#o.requestTimeoutMs ?? Math.max(10_000, this.#o.pollIntervalMs))]);
    const itemTexts: string[] = [];
    let items: unknown;
    let arrays = 0;
    const parser = new JsonArrayStream({
      member: 'items',
      topLevelArray: false,
      keepUntilArray: false,
      onArrayStart: () => {
        arrays++;
        itemTexts.length = 0;
      },
      onElementText: (itemText) => itemTexts.push(itemText),
      onMember: (key, value) => {
        if (key === 'items') items = value;
      },
    });
    const bytes = { read: 0 };
    const end = await getStreamed(this.#requests, `${this.#url}/pods`, signal, parser, bytes);
    this.#o.metrics.reflectorActivity.contact(KIND);
    this.#o.metrics.kubeletResponseBytes.inc(bytes.read);
    if (end.kind === 'fault') {
      throw new KubeApiError({ code: 'decode', status: 200, message: `the kubelet's /pods answer is invalid JSON (line ${end.fault.line} column ${end.fault.column}: ${end.fault.reason})` });
    }
    if (arrays === 0 || items !== undefined) {
      // Checked before the store is touched: a wrong answer must not read as "every pod is gone".
      throw new KubeApiError({ code: 'decode', status: 200, message: 'the kubelet\'s /pods answer is not a PodList (no items array)' });
    }
    const result = this.#fold(itemTexts);
    this.#o.metrics.kubeletPollDuration.observe((performance.now() - started) / 1000);
    return result;
  }

  /** A PodList's items (their texts) into the store; items whose text was in the previous answer are not parsed. */
  #fold(itemTexts: readonly string[]): ReplaceResult {
    const count = itemTexts.length;
    const session = this.#o.writer.beginReplace(KIND, { resourceVersionTracksChanges: false });
    const known = new Map<string, string>();
    let invalid = 0;
    for (let i = 0; i < count; i++) {
      const itemText = itemTexts[i]!;
      const print = fingerprint(itemText);
      const keptUid = this.#known.get(print);
      if (keptUid !== undefined && session.keep(keptUid)) {
        known.set(print, keptUid);
        continue;
      }
      let object: unknown;
      try {
        object = JSON.parse(itemText);
      } catch (err) {
        throw new KubeApiError({ code: 'decode', status: 200, message: `the kubelet's /pods answer has an item that is invalid JSON: ${(err as Error).message}` });
      }
      if (session.add(object) === 'invalid') invalid++;
      else known.set(print, uidOf(object)!);
    }
    const result = session.commit();
    this.#known = known;
    const changes = this.#o.metrics.kubeletPodChanges;
    changes.inc({ change: 'added' }, result.added);
    changes.inc({ change: 'updated' }, result.updated);
    changes.inc({ change: 'unchanged' }, result.unchanged);
    changes.inc({ change: 'deleted' }, result.deleted);
    if (invalid > 0) this.#o.logger.warn({ kind: KIND, invalid }, `the kubelet's /pods had ${invalid} pod(s) without metadata.uid/name: ignored`);
    return result;
  }

  async #run(): Promise<void> {
    while (!this.#stopped) {
      const started = performance.now();
      let delayMs: number;
      try {
        const result = await this.poll();
        if (this.#stopped) break;
        this.#o.metrics.kubeletPolls.inc({ result: 'ok' });
        this.#o.metrics.reflectorActivity.event(KIND);
        this.#backoff.reset();
        this.#recovered();
        this.#o.logger.debug({ kind: KIND, ...result }, 'kubelet /pods polled');
        if (!this.#synced) {
          this.#synced = true;
          this.#o.metrics.reflectorSynced.set({ kind: KIND }, 1);
          this.#o.logger.info({ kind: KIND, url: this.#url, objects: result.added + result.updated + result.unchanged }, 'pods synced from the kubelet');
          this.#o.onSynced?.();
        }
        // One poll per interval: the next starts an interval after this one started.
        delayMs = Math.max(0, this.#o.pollIntervalMs - (performance.now() - started));
      } catch (err) {
        if (this.#stopped) break;
        const e = normaliseApiError(err);
        this.#failed(e);
        delayMs = Math.max(this.#o.pollIntervalMs, this.#backoff.next());
      }
      await sleep(delayMs, this.#abort.signal);
    }
  }

  #failed(e: ApiError): void {
    this.#o.metrics.kubeletPolls.inc({ result: e.code });
    this.#o.metrics.apiErrors.inc({ kind: KIND, code: e.code });
    // normaliseApiError speaks of "the API server"; here it is the kubelet.
    const message = e.message.replace('the API server', 'the kubelet');
    this.#lastError = `kubelet ${this.#url}/pods: ${message}`;
    if (this.#errorState === e.code) {
      this.#o.logger.debug({ kind: KIND, code: e.code }, 'kubelet /pods poll still failing');
      return;
    }
    this.#errorState = e.code;
    const fields = { kind: KIND, code: e.code, status: e.status, url: this.#url };
    const text = describe({ ...e, message }, this.#url);
    if (e.code === 'http_401' || e.code === 'http_403' || e.code === 'auth_config') this.#o.logger.error(fields, text);
    else this.#o.logger.warn(fields, text);
  }

  #recovered(): void {
    this.#lastError = undefined;
    if (this.#errorState === undefined) return;
    this.#o.logger.info({ kind: KIND, after: this.#errorState }, 'kubelet /pods polls working again');
    this.#errorState = undefined;
  }
}
