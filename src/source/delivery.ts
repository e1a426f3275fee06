/**
 * From decoded lines to acknowledged output: lines are gathered into batches (batchMaxEvents /
 * batchMaxWait), each batch goes through the processing stage (the in-process enricher, or the
 * remote service) and then to the sink, strictly in order, one batch at a time. A batch that fails
 * is retried with jittered backoff, never dropped. Only when the sink acknowledged a batch are its
 * progress marks handed back (so checkpoints move past delivered data only). Bytes waiting here are
 * bounded: readers await `room()` before reading more.
 */
import type { DecodedMessage } from '../enrich/index.ts';
import type { Metrics } from '../metrics/index.ts';
import { backoffDelay, sleep, type BackoffPolicy } from '../sink/backoff.ts';
import type { NdjsonChunk, Sink } from '../sink/types.ts';
import type { SourceLogger } from './logger.ts';

/** Lines of one batch as parallel arrays: no per-line wrapper object on the hot path. */
export interface SourceBatch {
  readonly files: readonly string[];
  readonly messages: readonly DecodedMessage[];
}

/**
 * The stage between reading and the sink: enrich a batch, give back its serialised events (fewer
 * if some were excluded). The chunk's bytes may be lent from a buffer the stage reuses: the
 * pipeline calls the chunk's release() once the sink has written them (it processes the next
 * batch meanwhile, so a stage needs two buffers at least). A chunk of a batch abandoned at close
 * is never released.
 */
export interface BatchEnricher {
  /** For logs and the sink_errors_total label. */
  readonly name: string;
  processBatch(batch: SourceBatch): Promise<NdjsonChunk>;
}

/** An error that retrying the same batch will not cure (bad token, receiver rejects): logged loudly, retried slowly. */
function isPermanentError(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as { permanent?: unknown }).permanent === true;
}

interface Batch<K, M> {
  files: string[];
  messages: DecodedMessage[];
  bytes: number;
  progress: Map<K, M>;
}

export interface DeliveryOptions {
  batchMaxEvents: number;
  batchMaxWait: number;
  maxBufferedBytes: number;
  maxQueuedBatches: number;
  retryBackoff: BackoffPolicy;
}

export interface DeliveryStats {
  batchesDelivered: number;
  eventsDelivered: number;
  linesWritten: number;
  bufferedBytes: number;
  failedAttempts: number;
}

export class DeliveryPipeline<K, M> {
  readonly #options: DeliveryOptions;
  readonly #enrich: BatchEnricher;
  readonly #sink: Sink;
  readonly #metrics: Metrics;
  readonly #logger: SourceLogger;
  readonly #onDelivered: (progress: ReadonlyMap<K, M>, lines: number) => void;
  #current: Batch<K, M> = newBatch();
  /** Batches sealed so far: the one being gathered is number `sealed`. */
  #sealed = 0;
  /** Batches handed to the enrich stage so far (their lines' metadata was looked up). */
  #enriched = 0;
  readonly #queue: Batch<K, M>[] = [];
  #batchTimer: NodeJS.Timeout | undefined;
  /** The read loop is in a round, which ends with flush(): lines pushed meanwhile need no batch timer. */
  #inRound = false;
  #delivering = false;
  /** Lines acknowledged since the last batch that carried progress marks (a long drain seals several batches before its mark). */
  #linesSinceMark = 0;
  #buffered = 0;
  #roomWaiters: (() => void)[] = [];
  #idleWaiters: (() => void)[] = [];
  #readersStopped = false;
  readonly #abort = new AbortController();
  readonly #counters: DeliveryStats = { batchesDelivered: 0, eventsDelivered: 0, linesWritten: 0, bufferedBytes: 0, failedAttempts: 0 };

  constructor(
    options: DeliveryOptions,
    deps: { enrich: BatchEnricher; sink: Sink; metrics: Metrics; logger: SourceLogger; onDelivered: (progress: ReadonlyMap<K, M>, lines: number) => void },
  ) {
    this.#options = options;
    this.#enrich = deps.enrich;
    this.#sink = deps.sink;
    this.#metrics = deps.metrics;
    this.#logger = deps.logger;
    this.#onDelivered = deps.onDelivered;
  }

  /** Hot path: one decoded line. `bytes` is its size as read (what backpressure counts). */
  push(file: string, message: DecodedMessage, bytes: number): void {
    const b = this.#current;
    b.files.push(file);
    b.messages.push(message);
    b.bytes += bytes;
    this.#buffered += bytes;
    if (b.files.length >= this.#options.batchMaxEvents) this.#seal();
    else if (this.#batchTimer === undefined && !this.#inRound) this.#startTimer();
  }

  /** Everything of `key` before this mark is in a batch now; the mark comes back once that batch was delivered. */
  noteProgress(key: K, mark: M): void {
    this.#current.progress.set(key, mark);
    if (this.#batchTimer === undefined && !this.#inRound) this.#startTimer();
  }

  /**
   * The read loop starts a round, and promises to call flush() at its end (in the same tick).
   * Meanwhile no batch timer is armed: on a steady trickle of lines, arming one per round and
   * clearing it at the round's flush cost ~6% of the main thread (timer list upkeep), for a
   * timer that never fires.
   */
  beginRound(): void {
    this.#inRound = true;
  }

  /** Sends what is gathered now (the read loop calls it at the end of each round). */
  flush(): void {
    this.#inRound = false;
    if (this.#current.files.length > 0 || this.#current.progress.size > 0) this.#seal();
  }

  /** The number of the batch lines pushed now go into (see isEnriched). */
  get gatheringBatch(): number {
    return this.#sealed;
  }

  /** Whether the lines pushed into batch `n` (a gatheringBatch value) went through the enrich stage. */
  isEnriched(n: number): boolean {
    return n < this.#enriched;
  }

  get bufferedBytes(): number {
    return this.#buffered;
  }

  /** Resolves when there is room for more lines (at once, usually). */
  room(): Promise<void> {
    if (this.hasRoom() || this.#readersStopped) return Promise.resolve();
    return new Promise((resolve) => this.#roomWaiters.push(resolve));
  }

  /**
   * Below maxBufferedBytes, and at most `maxQueuedBatches` sealed batches waiting: lines then
   * live briefly (they die young, in V8's cheap young generation) however fast the input is.
   */
  hasRoom(): boolean {
    return this.#buffered < this.#options.maxBufferedBytes && this.#queue.length < this.#options.maxQueuedBatches;
  }

  /** Sends what is gathered and waits until everything was delivered, or until `timeoutMs` passed (then false). */
  async drain(timeoutMs: number): Promise<boolean> {
    this.#seal();
    if (!this.#delivering && this.#queue.length === 0) return true;
    let timer: NodeJS.Timeout | undefined;
    const idle = new Promise<boolean>((resolve) => this.#idleWaiters.push(() => resolve(true)));
    const timeout = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), timeoutMs);
    });
    const done = await Promise.race([idle, timeout]);
    clearTimeout(timer);
    return done;
  }

  /** The source is stopping: readers waiting for room (now or later) are woken, to see that they must stop. */
  stopReaders(): void {
    this.#readersStopped = true;
    this.#releaseRoomWaiters();
  }

  /** Stops retrying; what was not delivered stays undelivered (and un-checkpointed, so it is read again after a restart). */
  close(): void {
    clearTimeout(this.#batchTimer);
    this.#batchTimer = undefined;
    this.#abort.abort();
    this.#releaseRoomWaiters();
  }

  stats(): DeliveryStats {
    return { ...this.#counters, bufferedBytes: this.#buffered };
  }

  #startTimer(): void {
    this.#batchTimer = setTimeout(() => {
      this.#batchTimer = undefined;
      this.#seal();
    }, this.#options.batchMaxWait);
  }

  #seal(): void {
    if (this.#batchTimer !== undefined) {
      clearTimeout(this.#batchTimer);
      this.#batchTimer = undefined;
    }
    const b = this.#current;
    if (b.files.length === 0 && b.progress.size === 0) return;
    this.#current = newBatch();
    this.#sealed++;
    this.#queue.push(b);
    if (!this.#delivering) {
      this.#delivering = true;
      this.#deliverAll().catch((err: unknown) => {
        // deliverAll handles its own errors; reaching this is a bug worth seeing.
        this.#logger.error({ err }, 'delivery loop failed');
      });
    }
  }

  /**
   * Batches in order: each is processed, then written. The sink's write of one batch (file and
   * socket writes happen off the main thread) overlaps the processing of the next, which is
   * where the main thread would otherwise wait; writes still go one at a time, in order, and a
   * batch counts as delivered (its progress handed back) only once its own write succeeded.
   */
  async #deliverAll(): Promise<void> {
    /** The write under way: of the batch at the head of the queue (until it completes and shifts it). */
    let writing: { batch: Batch<K, M>; done: Promise<boolean> } | undefined;
    try {
      while (!this.#abort.signal.aborted) {
        // A write may complete at once (nothing to write), so ask the queue, not the promise, what is next.
        const next = this.#queue[0] === writing?.batch ? this.#queue[1] : this.#queue[0];
        if (next === undefined) {
          // Nothing more to process: finish the write under way, then look again.
          if (writing === undefined || !(await writing.done)) return;
          writing = undefined;
          continue;
        }
        let chunk: NdjsonChunk | undefined;
        if (next.files.length > 0) {
          const enriched = await this.#retrying(this.#enrich.name, () => this.#enrich.processBatch(next));
          if (enriched === undefined) return;
          chunk = enriched.value;
        }
        this.#enriched++;
        if (writing !== undefined) {
          if (!(await writing.done)) return;
          writing = undefined;
        }
        writing = { batch: next, done: this.#write(next, chunk) };
      }
    } finally {
      this.#delivering = false;
      if (this.#queue.length === 0 || this.#abort.signal.aborted) {
        const waiters = this.#idleWaiters;
        this.#idleWaiters = [];
        for (const w of waiters) w();
      }
    }
  }

  /** Writes the batch at the head of the queue and marks it delivered; false when the pipeline was closed meanwhile. */
  async #write(batch: Batch<K, M>, chunk: NdjsonChunk | undefined): Promise<boolean> {
    if (chunk !== undefined && chunk.events > 0) {
      const written = await this.#retrying('sink', () => this.#sink.write(chunk));
      if (written === undefined) return false;
      this.#counters.linesWritten += chunk.events;
    }
    chunk?.release?.();
    this.#queue.shift();
    this.#buffered -= batch.bytes;
    this.#counters.batchesDelivered++;
    this.#counters.eventsDelivered += batch.files.length;
    this.#linesSinceMark += batch.files.length;
    if (batch.progress.size > 0) {
      const lines = this.#linesSinceMark;
      this.#linesSinceMark = 0;
      this.#onDelivered(batch.progress, lines);
    }
    if (this.hasRoom()) this.#releaseRoomWaiters();
    return true;
  }

  /** Runs `step` until it succeeds; undefined when the pipeline was closed meanwhile. */
  async #retrying<T>(stage: string, step: () => Promise<T>): Promise<{ value: T } | undefined> {
    for (let attempt = 0; ; attempt++) {
      try {
        const value = await step();
        if (attempt > 0) this.#logger.info({ stage, attempts: attempt + 1 }, 'delivery recovered');
        return { value };
      } catch (err) {
        if (this.#abort.signal.aborted) return undefined;
        this.#counters.failedAttempts++;
        this.#metrics.sinkErrors.inc({ sink: stage });
        const permanent = isPermanentError(err);
        const delay = permanent ? this.#options.retryBackoff.maxMs : backoffDelay(this.#options.retryBackoff, attempt);
        const message = err instanceof Error ? err.message : String(err);
        if (permanent) this.#logger.error({ stage, error: message, retryInMs: delay }, 'delivery refused; keeping the batch and retrying: fix the receiver or the configuration');
        else if (attempt === 0) this.#logger.warn({ stage, error: message, retryInMs: delay }, 'delivery failed; keeping the batch and retrying with backoff');
        else this.#logger.debug({ stage, error: message, attempt, retryInMs: delay }, 'delivery still failing');
        await sleep(delay, this.#abort.signal);
        if (this.#abort.signal.aborted) return undefined;
      }
    }
  }

  #releaseRoomWaiters(): void {
    const waiters = this.#roomWaiters;
    this.#roomWaiters = [];
    for (const w of waiters) w();
  }
}

function newBatch<K, M>(): Batch<K, M> {
  return { files: [], messages: [], bytes: 0, progress: new Map() };
}
