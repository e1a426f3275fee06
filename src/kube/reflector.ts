/**
 * A reflector (client-go's word): list, then watch from the list's resourceVersion, folding every
 * event into the store through a StoreWriter (kube-rs `reflector::store::Writer`: the one writer
 * of the store; this loop knows nothing of how objects are kept); on any stop, decide between
 * re-watching and relisting, and retry with backoff. It is a plain loop over this state machine
 * (kube-rs `watcher` style):
 *
 *   [need list] --list ok--> writer replace, synced --> [watching from rv]
 *   [watching]  --event/bookmark--> writer.apply, rv = event rv, backoff reset
 *               --server closed / client inactivity timeout--> [watching] (same rv)
 *               --410 Expired (ERROR event or HTTP 410)--> [need consistent list]
 *               --any other error--> backoff --> [watching] (same rv; a too-old rv earns a 410)
 *   list error --> backoff --> [need list] (a 410 makes it [need consistent list])
 *
 * Lists as client-go makes them: `resourceVersion=0` (any state will do, so the API server
 * answers from its watch cache instead of reading etcd: a restarted API server is not hit by
 * every node's full scan at once), with `limit` (which older API servers ignore for RV 0, sending
 * one page); a consistent list (no resourceVersion: read from etcd) only after a 410, when the
 * cache's answer could be older than what the store already has. Pages after the first carry
 * only the continue token, as the API server requires.
 *
 * Why not client-node's ListWatch/informer: it keeps every full object in its own cache (5-20 KiB
 * per pod, beside our slim copy), stops for good on most errors, and requests no bookmarks. Its
 * `Watch` is used as is (watch.ts): one watch request, its inactivity timeout, its line parsing.
 *
 * Dead-watch detection: no extra watchdog. `Watch.requestTimeoutMs` is an inactivity timer reset
 * by every byte received; we set it to `watchTimeoutMs`, so a connection that sends nothing (not
 * even a BOOKMARK) is aborted after that long and re-watched from the same resourceVersion. We ask
 * for BOOKMARKs, which keep the resourceVersion fresh on quiet resources (so a re-watch after a
 * quiet hour does not earn a 410 and a full relist), and send `timeoutSeconds` (5-10 min, like
 * client-go) so the server rotates watches itself.
 */
import type { KubeConfig, Watch } from './client-node.ts';
import type { Metrics } from '../metrics/index.ts';
import type { ResourceKind, StoreWriter, WatchEventType } from '../store/index.ts';
import { BackoffSequence, type Backoff } from '../backoff/index.ts';
import { apiErrorFromStatus, normaliseApiError, type ApiError, type ApiErrorCode } from './errors.ts';
import { listPage } from './list.ts';
import type { ReflectorStatus } from './types.ts';
import { withUserAgent, type RequestConfig } from './user-agent.ts';
import { createWatch } from './watch.ts';

/** Structurally pino's logger (pino.Logger fits). */
export interface ReflectorLogger {
  debug(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export interface ReflectorOptions {
  kind: ResourceKind;
  /** Collection path, e.g. `/api/v1/pods`. */
  path: string;
  labelSelector?: string | undefined;
  fieldSelector?: string | undefined;
  kubeConfig: KubeConfig;
  /** Where list results and watch events go: the reflector's only way to change the store. */
  writer: StoreWriter;
  metrics: Pick<Metrics, 'reflectorSynced' | 'watchRestarts' | 'relists' | 'apiErrors' | 'reflectorActivity'>;
  logger: ReflectorLogger;
  backoff: Backoff;
  /** Jitter source, [0, 1). */
  random?: () => number;
  /** Client-side inactivity timeout of a watch: the dead-connection detector. */
  watchTimeoutMs: number;
  /** Objects per list page (`limit`); 0 lists in one request. */
  listPageSize?: number;
  /** Server-side watch duration asked for, seconds, drawn from this range. */
  serverWatchSeconds?: { min: number; max: number };
  /** A list request (one page) taking longer than this is aborted and retried. */
  listTimeoutMs?: number;
  /** Called once, when the initial list has been stored. */
  onSynced?: () => void;
}

/** How one watch request ended. */
type WatchEnd =
  | { type: 'closed'; events: number; durationMs: number }
  | { type: 'timeout' }
  | { type: 'expired' }
  | { type: 'error'; error: ApiError }
  | { type: 'stopped' };

/** One log line per state: the user learns that it broke, how, and that it recovered. */
function describe(kind: ResourceKind, e: ApiError): string {
  switch (e.code) {
    case 'http_401':
      return `the API server rejected our credentials for ${kind} (401): the token is missing, wrong or expired; retrying with backoff. ${e.message}`;
    case 'http_403':
      return `not allowed to list/watch ${kind} (403): grant the service account get/list/watch on ${kind} (ClusterRole); retrying with backoff. ${e.message}`;
    case 'auth_config':
      return `cannot prepare credentials for ${kind}: ${e.message}; retrying with backoff`;
    case 'connection':
      return `cannot reach the API server for ${kind}: ${e.message}; retrying with backoff`;
    default:
      return `${kind} list/watch failed (${e.code}): ${e.message}; retrying with backoff`;
  }
}

export class Reflector {
  readonly kind: ResourceKind;
  readonly #o: ReflectorOptions;
  readonly #backoff: BackoffSequence;
  readonly #random: () => number;
  readonly #requests: RequestConfig;
  readonly #watch: Watch;
  readonly #abort = new AbortController();

  #rv = '';
  /** The next list must be consistent (read from etcd): set by a 410, cleared by a list. */
  #consistentListDue = false;
  #synced = false;
  #lastError: string | undefined;
  /** The error code we last logged; undefined while healthy. */
  #errorState: ApiErrorCode | undefined;
  #stopped = false;
  #loop: Promise<void> | undefined;
  #watchController: AbortController | undefined;
  #wake: (() => void) | undefined;
  #sleepTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(options: ReflectorOptions) {
    if (!(options.watchTimeoutMs > 0)) throw new RangeError(`watchTimeoutMs must be > 0, got ${String(options.watchTimeoutMs)}`);
    this.kind = options.kind;
    this.#o = options;
    this.#random = options.random ?? Math.random;
    this.#backoff = new BackoffSequence(options.backoff, this.#random);
    this.#requests = withUserAgent(options.kubeConfig);
    this.#watch = createWatch(this.#requests, options.watchTimeoutMs);
    options.metrics.reflectorSynced.set({ kind: this.kind }, 0);
    options.metrics.reflectorActivity.started(this.kind);
    options.writer.expectSync(this.kind);
  }

  start(): void {
    if (this.#loop !== undefined || this.#stopped) return;
    // #run handles every API error itself; this only keeps a bug from becoming an unhandled
    // rejection that would end the process.
    this.#loop = this.#run().catch((err: unknown) => {
      this.#lastError = `${this.kind} reflector stopped by an internal error: ${String(err)}`;
      this.#o.logger.error({ kind: this.kind, err: String(err) }, this.#lastError);
    });
  }

  status(): ReflectorStatus {
    const activity = this.#o.metrics.reflectorActivity;
    // One clock reading for both ages, so that they compare as the moments they measure do.
    const now = activity.now();
    return {
      kind: this.kind,
      synced: this.#synced,
      lastError: this.#lastError,
      lastEventAgeSeconds: activity.ageSeconds(activity.lastEvent, this.kind, now),
      lastContactAgeSeconds: activity.ageSeconds(activity.lastContact, this.kind, now),
    };
  }

  /** The resourceVersion the next watch starts from ('' while a list is due). */
  get resourceVersion(): string {
    return this.#rv;
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    this.#abort.abort();
    this.#watchController?.abort();
    if (this.#sleepTimer !== undefined) clearTimeout(this.#sleepTimer);
    this.#wake?.();
    await this.#loop;
  }

  async #run(): Promise<void> {
    while (!this.#stopped) {
      try {
        if (this.#rv === '') await this.#list();
        if (this.#stopped) break;
        const end = await this.#watchOnce();
        if (this.#stopped || end.type === 'stopped') break;
        await this.#afterWatch(end);
      } catch (err) {
        if (this.#stopped) break;
        const e = normaliseApiError(err);
        // An expired continue token (or a cache that cannot serve the list): only etcd can.
        if (e.code === 'http_410') this.#consistentListDue = true;
        this.#failed(e, 'list');
        await this.#backOff();
      }
    }
  }

  async #afterWatch(end: Exclude<WatchEnd, { type: 'stopped' }>): Promise<void> {
    const { kind } = this;
    switch (end.type) {
      case 'expired':
        // The resourceVersion is older than the server's history: only a fresh list can resync.
        this.#o.metrics.watchRestarts.inc({ kind, reason: 'expired' });
        this.#o.metrics.apiErrors.inc({ kind, code: 'http_410' });
        this.#o.logger.info({ kind, resourceVersion: this.#rv }, `${kind} watch expired (410): relisting`);
        this.#o.metrics.relists.inc({ kind, reason: 'expired' });
        this.#rv = '';
        this.#consistentListDue = true;
        return;
      case 'timeout':
        // Nothing arrived for watchTimeoutMs: a dead connection or a very quiet resource.
        this.#o.metrics.watchRestarts.inc({ kind, reason: 'timeout' });
        this.#o.logger.debug({ kind, resourceVersion: this.#rv }, `${kind} watch silent for ${this.#o.watchTimeoutMs} ms: re-watching`);
        return;
      case 'closed':
        this.#o.metrics.watchRestarts.inc({ kind, reason: 'closed' });
        // A watch that ends at once with nothing in it must not turn into a tight loop.
        if (end.events > 0 || end.durationMs >= 1000) this.#backoff.reset();
        else await this.#backOff();
        return;
      case 'error':
        this.#o.metrics.watchRestarts.inc({ kind, reason: end.error.code });
        this.#failed(end.error, 'watch');
        await this.#backOff();
        return;
    }
  }

  async #list(): Promise<void> {
    const { kind } = this;
    const pageSize = this.#o.listPageSize ?? 500;
    const session = this.#o.writer.beginReplace(kind);
    let continueToken: string | undefined;
    let rv: string;
    let invalid = 0;
    const consistent = this.#consistentListDue;
    do {
      const signal = AbortSignal.any([this.#abort.signal, AbortSignal.timeout(this.#o.listTimeoutMs ?? 60_000)]);
      const page = await listPage(
        this.#requests,
        this.#o.path,
        {
          labelSelector: this.#o.labelSelector,
          fieldSelector: this.#o.fieldSelector,
          limit: pageSize > 0 ? String(pageSize) : undefined,
          // The continue token carries the snapshot; the API server refuses a resourceVersion beside it.
          resourceVersion: continueToken !== undefined || consistent ? undefined : '0',
          continue: continueToken,
        },
        signal,
        (item) => {
          if (session.add(item) === 'invalid') invalid++;
        },
      );
      this.#o.metrics.reflectorActivity.contact(kind);
      continueToken = page.continueToken;
      rv = page.resourceVersion;
    } while (continueToken !== undefined && !this.#stopped);
    if (this.#stopped) return;
    const result = session.commit();
    this.#rv = rv;
    this.#consistentListDue = false;
    this.#o.metrics.reflectorActivity.event(kind);
    this.#backoff.reset();
    this.#recovered();
    if (invalid > 0) this.#o.logger.warn({ kind, invalid }, `${kind} list had ${invalid} object(s) without metadata.uid/name: ignored`);
    this.#o.logger.debug({ kind, resourceVersion: rv, consistent, ...result }, `${kind} listed`);
    if (!this.#synced) {
      this.#synced = true;
      this.#o.metrics.reflectorSynced.set({ kind }, 1);
      this.#o.logger.info({ kind, objects: result.added + result.updated + result.unchanged }, `${kind} synced`);
      this.#o.onSynced?.();
    }
  }

  #watchOnce(): Promise<WatchEnd> {
    const { kind } = this;
    const startedAt = performance.now();
    const range = this.#o.serverWatchSeconds ?? { min: 300, max: 600 };
    const query = {
      resourceVersion: this.#rv,
      allowWatchBookmarks: 'true',
      timeoutSeconds: String(Math.round(range.min + this.#random() * (range.max - range.min))),
      labelSelector: this.#o.labelSelector,
      fieldSelector: this.#o.fieldSelector,
    };
    let events = 0;
    let expired = false;
    let errorEvent: ApiError | undefined;
    let settled = false;

    return new Promise<WatchEnd>((resolve) => {
      const finish = (end: WatchEnd): void => {
        if (settled) return;
        settled = true;
        this.#wake = undefined;
        resolve(end);
      };
      this.#wake = () => finish({ type: 'stopped' });

      const onEvent = (type: string, object: unknown): void => {
        // client-node swallows exceptions thrown here: catch and report them ourselves.
        try {
          this.#o.metrics.reflectorActivity.contact(kind);
          const rv = (object as { metadata?: { resourceVersion?: unknown } } | null)?.metadata?.resourceVersion;
          switch (type) {
            case 'ADDED':
            case 'MODIFIED':
            case 'DELETED':
              if (this.#o.writer.apply(kind, type as WatchEventType, object) === 'invalid') {
                this.#o.logger.warn({ kind, type }, `${kind} watch event without metadata.uid/name: ignored`);
              }
              break;
            case 'BOOKMARK':
              break;
            case 'ERROR': {
              const e = apiErrorFromStatus(object);
              if (e.status === 410) expired = true;
              else errorEvent = e;
              // The server ends the stream after an ERROR; do not wait for it.
              this.#watchController?.abort();
              return;
            }
            default:
              return;
          }
          // The connection works again: the next failure starts over at the shortest delay.
          if (events === 0) this.#backoff.reset();
          events++;
          this.#o.metrics.reflectorActivity.event(kind);
          if (typeof rv === 'string' && rv !== '') this.#rv = rv;
        } catch (err) {
          this.#o.logger.error({ kind, err: String(err) }, `${kind} watch event could not be applied`);
        }
      };

      const onDone = (err: unknown): void => {
        this.#watchController = undefined;
        if (this.#stopped) return finish({ type: 'stopped' });
        if (expired) return finish({ type: 'expired' });
        if (errorEvent !== undefined) return finish({ type: 'error', error: errorEvent });
        if (err === null || err === undefined) return finish({ type: 'closed', events, durationMs: performance.now() - startedAt });
        const e = normaliseApiError(err);
        if (e.code === 'timeout') return finish({ type: 'timeout' });
        if (e.code === 'http_410') return finish({ type: 'expired' });
        finish({ type: 'error', error: e });
      };

      this.#watch.watch(this.#o.path, query, onEvent, onDone).then(
        (controller) => {
          if (settled) {
            controller.abort();
            return;
          }
          this.#watchController = controller;
          // Headers 200 and the stream open: the API server is answering again.
          this.#o.metrics.reflectorActivity.contact(kind);
          this.#recovered();
          if (this.#stopped) controller.abort();
        },
        // applySecurityAuthentication throws before any request (e.g. an unreadable token file).
        (err: unknown) => finish({ type: 'error', error: normaliseApiError(err) }),
      );
    });
  }

  #failed(e: ApiError, phase: 'list' | 'watch'): void {
    const { kind } = this;
    this.#o.metrics.apiErrors.inc({ kind, code: e.code });
    this.#lastError = `${phase} ${kind}: ${e.message}`;
    if (this.#errorState === e.code) {
      this.#o.logger.debug({ kind, code: e.code, phase }, `${kind} ${phase} still failing`);
      return;
    }
    this.#errorState = e.code;
    const severe = e.code === 'http_401' || e.code === 'http_403' || e.code === 'auth_config';
    const fields = { kind, code: e.code, status: e.status, phase };
    if (severe) this.#o.logger.error(fields, describe(kind, e));
    else this.#o.logger.warn(fields, describe(kind, e));
  }

  #recovered(): void {
    this.#lastError = undefined;
    if (this.#errorState === undefined) return;
    this.#o.logger.info({ kind: this.kind, after: this.#errorState }, `${this.kind} list/watch working again`);
    this.#errorState = undefined;
  }

  /** Waits the backoff policy's next delay (one more consecutive failure). */
  #backOff(): Promise<void> {
    const attempt = this.#backoff.attempts;
    const delayMs = this.#backoff.next();
    this.#o.logger.debug({ kind: this.kind, attempt, delayMs }, `${this.kind}: retrying in ${delayMs} ms`);
    return this.#sleep(delayMs);
  }

  #sleep(ms: number): Promise<void> {
    if (this.#stopped) return Promise.resolve();
    return new Promise((resolve) => {
      this.#wake = () => {
        this.#wake = undefined;
        resolve();
      };
      this.#sleepTimer = setTimeout(() => {
        this.#sleepTimer = undefined;
        this.#wake?.();
      }, ms);
    });
  }
}
