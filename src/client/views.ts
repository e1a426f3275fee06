/**
 * `source`: the file source's view of each file (Enricher.fileView in the agent) as the service
 * last told it through POST /v1/views. The file source asks synchronously (`view`), before each
 * read; the answers come from here:
 * - `prepare` asks about paths the file source is about to follow for the first time, before it
 *   opens them, so that an excluded pod's files are parked, never opened;
 * - every `refreshIntervalMs` all paths in use are asked about again in one request (more only
 *   past MAX_VIEW_FILES), so that exclusions and multi-line annotations follow the store.
 * While the service cannot answer, a path it never answered for is followed as if included and
 * not joined (reading never waits for the service); the failure is logged once per outage and
 * counted (source_view_failures_total).
 */
import type { FileView } from '../enrich/index.ts';
import { MultilineRuleCache, type MultilineRule } from '../multiline/index.ts';
import { JSON_TYPE, MAX_VIEW_FILES, VIEWS_ROUTE, ViewsAnswerSchema, type FileViewAnswer } from '../protocol/index.ts';
import { bodySnippet, createKeepAliveAgent, redactUrl, sendRequest } from '../sink/index.ts';
import { serviceUrl, type RemoteStageOptions } from './options.ts';

/** Before any answer, or while the service is down: read the file, lines as they are (as before /v1/views). */
const FOLLOW: FileView = { excluded: false, multiline: undefined };
/** A question goes unanswered this long at most: new files wait for it (a refused connection fails at once). */
const ASK_TIMEOUT_MS = 5_000;
/** JSON bytes per request, well under the default server.maxBodyBytes (8 MiB). */
const MAX_REQUEST_BYTES = 1024 * 1024;
/** A path the file source has not asked about for this long is forgotten (a container gone long ago). */
const FORGET_MS = 60 * 60 * 1000;

interface Entry {
  view: FileView;
  /** The service answered for it at least once. */
  answered: boolean;
  /** The refresh round during which the file source last asked for it. */
  usedRound: number;
  /** The question about it in flight, if it is new. */
  asking: Promise<void> | undefined;
}

export interface ServiceViewsOptions extends Pick<RemoteStageOptions, 'service' | 'token' | 'metrics' | 'logger'> {
  /** How often all paths are asked about again (source.checkpointInterval). */
  refreshIntervalMs: number;
  timeoutMs?: number;
}

export class ServiceViews {
  readonly #url: URL;
  readonly #where: string;
  readonly #agent;
  readonly #headers: Record<string, string>;
  readonly #options: ServiceViewsOptions;
  readonly #timeoutMs: number;
  readonly #entries = new Map<string, Entry>();
  /** Rule values compiled once each. */
  readonly #rules = new MultilineRuleCache();
  /** One view per rule: answers for thousands of files share a handful. */
  readonly #views = new WeakMap<MultilineRule, FileView>();
  /** Paths the file source asked for that were not known: asked about at the next turn. */
  readonly #missed = new Set<string>();
  readonly #closing = new AbortController();
  #round = 0;
  #timer: NodeJS.Timeout | undefined;
  #refreshing = false;
  #missedAsked = false;
  /** The last question failed: until one succeeds, new paths do not wait for answers. */
  #failing = false;
  #closed = false;

  constructor(options: ServiceViewsOptions) {
    this.#options = options;
    this.#url = serviceUrl(options.service, VIEWS_ROUTE);
    this.#where = redactUrl(this.#url);
    this.#agent = createKeepAliveAgent(this.#url);
    this.#headers = { 'content-type': JSON_TYPE, accept: JSON_TYPE };
    if (options.token !== undefined && options.token !== '') this.#headers.authorization = `Bearer ${options.token}`;
    this.#timeoutMs = Math.min(options.timeoutMs ?? ASK_TIMEOUT_MS, ASK_TIMEOUT_MS);
  }

  /** FileSourceDeps.view: the last answer for `path`; a path not asked about yet is followed, and asked about soon. */
  view(path: string): FileView {
    const entry = this.#entries.get(path);
    if (entry !== undefined) {
      entry.usedRound = this.#round;
      return entry.view;
    }
    if (!this.#closed) {
      this.#missed.add(path);
      if (!this.#missedAsked) {
        this.#missedAsked = true;
        setImmediate(() => {
          this.#missedAsked = false;
          const paths = [...this.#missed];
          this.#missed.clear();
          void this.prepare(paths);
        });
      }
    }
    return FOLLOW;
  }

  /**
   * FileSourceDeps.prepareViews: resolves once the service answered for `paths` (or failed to);
   * at once for paths it knows, and while it is failing (the question goes out all the same).
   * Never rejects.
   */
  prepare(paths: readonly string[]): Promise<void> {
    const fresh: string[] = [];
    const waits: Promise<void>[] = [];
    // A path may come twice (start-up lists found and checkpointed paths): asked about once.
    for (const path of new Set(paths)) {
      const entry = this.#entries.get(path);
      if (entry === undefined) fresh.push(path);
      else if (entry.asking !== undefined) waits.push(entry.asking);
    }
    if (fresh.length > 0 && !this.#closed) {
      const asking = this.#ask(fresh);
      for (const path of fresh) this.#entries.set(path, { view: FOLLOW, answered: false, usedRound: this.#round, asking });
      void asking.finally(() => {
        for (const path of fresh) {
          const entry = this.#entries.get(path);
          if (entry?.asking === asking) entry.asking = undefined;
        }
      });
      waits.push(asking);
    }
    if (waits.length === 0 || this.#failing) return Promise.resolve();
    return Promise.all(waits).then(() => undefined);
  }

  /** Starts the refresh timer. */
  start(): void {
    if (this.#closed || this.#timer !== undefined) return;
    this.#timer = setInterval(() => void this.#refresh(), this.#options.refreshIntervalMs);
  }

  close(): void {
    this.#closed = true;
    clearInterval(this.#timer);
    this.#closing.abort();
    this.#agent.destroy();
  }

  /** Paths known, and how many of them the service answered for (tests, debugging). */
  stats(): { paths: number; answered: number; failing: boolean } {
    let answered = 0;
    for (const e of this.#entries.values()) if (e.answered) answered++;
    return { paths: this.#entries.size, answered, failing: this.#failing };
  }

  /** Every path still in use, asked about again; the ones unused for FORGET_MS are forgotten. */
  async #refresh(): Promise<void> {
    if (this.#refreshing || this.#closed) return;
    this.#refreshing = true;
    try {
      this.#round++;
      const keepRounds = Math.max(2, Math.ceil(FORGET_MS / this.#options.refreshIntervalMs));
      const paths: string[] = [];
      for (const [path, entry] of this.#entries) {
        if (entry.asking !== undefined) continue;
        if (this.#round - entry.usedRound > keepRounds) this.#entries.delete(path);
        else paths.push(path);
      }
      if (paths.length > 0) await this.#ask(paths);
    } finally {
      this.#refreshing = false;
    }
  }

  /** Asks about `paths` in as few requests as the limits allow, one after the other; never rejects. */
  async #ask(paths: readonly string[]): Promise<void> {
    let start = 0;
    while (start < paths.length && !this.#closed) {
      let end = start;
      let bytes = 16;
      while (end < paths.length && end - start < MAX_VIEW_FILES && (end === start || bytes + paths[end]!.length + 8 <= MAX_REQUEST_BYTES)) bytes += paths[end++]!.length + 8;
      const chunk = paths.slice(start, end);
      start = end;
      const answers = await this.#request(chunk);
      if (answers === undefined) return;
      for (const answer of answers) {
        const entry = this.#entries.get(answer.file);
        if (entry === undefined) continue;
        entry.view = this.#viewOf(answer);
        entry.answered = true;
      }
    }
  }

  /** One POST; undefined when it failed (logged once per outage, counted each time). */
  async #request(files: readonly string[]): Promise<FileViewAnswer[] | undefined> {
    let problem: string;
    try {
      const res = await sendRequest(this.#url, {
        method: 'POST',
        agent: this.#agent,
        headers: this.#headers,
        body: JSON.stringify({ files }),
        timeoutMs: this.#timeoutMs,
        signal: this.#closing.signal,
      });
      if (res.status === 200) {
        const parsed = ViewsAnswerSchema.safeParse(safeJson(res.body));
        if (parsed.success && parsed.data.views.length === files.length) {
          this.#recovered();
          return parsed.data.views;
        }
        problem = `answered with an unexpected body: ${bodySnippet(res.body)}`;
      } else {
        const hint = res.status === 404 ? ' (a service older than this source: files of excluded pods are read, and lines joined by the service)' : res.status === 401 || res.status === 403 ? ' (check serviceToken / serviceTokenFile)' : '';
        problem = `answered HTTP ${res.status}${hint}: ${bodySnippet(res.body)}`;
      }
    } catch (err) {
      if (this.#closed) return undefined;
      const e = err as NodeJS.ErrnoException;
      problem = `unreachable: ${e.code ?? 'error'} ${e.message}`;
    }
    this.#failed(problem);
    return undefined;
  }

  #failed(problem: string): void {
    this.#options.metrics?.sourceViewFailures.inc();
    if (this.#failing) return;
    this.#failing = true;
    this.#options.logger?.warn(
      { service: this.#where, error: problem },
      'the enrichment service cannot say which files are excluded or joined (POST /v1/views); following the files it has not answered for as if included, lines not joined, until it answers',
    );
  }

  #recovered(): void {
    if (!this.#failing) return;
    this.#failing = false;
    this.#options.logger?.info({ service: this.#where }, 'the enrichment service answers POST /v1/views again');
  }

  #viewOf(answer: FileViewAnswer): FileView {
    if (answer.excluded) return EXCLUDED;
    if (answer.multiline === null) return FOLLOW;
    const { rule } = this.#rules.compile(answer.multiline);
    if (typeof rule === 'string') return FOLLOW;
    let view = this.#views.get(rule);
    if (view === undefined) {
      view = { excluded: false, multiline: rule };
      this.#views.set(rule, view);
    }
    return view;
  }
}

const EXCLUDED: FileView = { excluded: true, multiline: undefined };

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
