/**
 * The bundled file source: discovery → one follower per live log path → delivery pipeline
 * (batches → enrich stage → sink) → checkpoints of acknowledged data only.
 */
import { open, readdir, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { Metrics } from '../metrics/index.ts';
import type { Sink } from '../sink/types.ts';
import { BufferPool } from './buffer-pool.ts';
import { CheckpointStore, type CheckpointEntry } from './checkpoints.ts';
import { newCursor, type CheckpointMark, type Cursor } from './cursor.ts';
import { DeliveryPipeline, type BatchEnricher, type DeliveryStats } from './delivery.ts';
import { PodLogDiscovery } from './discovery.ts';
import { fingerprintOf, inodeKey, matchesFingerprint, type Fingerprint } from './fingerprint.ts';
import { FileFollower, type FollowContext } from './follower.ts';
import type { SourceLogger } from './logger.ts';
import { resolveOptions, type FileSourceOptions, type ResolvedOptions } from './options.ts';

export interface FileSourceDeps {
  enrich: BatchEnricher;
  sink: Sink;
  metrics: Metrics;
  logger: SourceLogger;
  now?: () => number;
}

export interface FileSourceStats extends DeliveryStats {
  filesTailed: number;
  pathsFollowed: number;
  checkpointWrites: number;
  /** Reading is paused because delivery is behind (maxBufferedBytes or queued batches reached). */
  backpressure: boolean;
  /** How the checkpoint file was found at start-up. */
  checkpointStatus: 'missing' | 'loaded' | 'corrupt';
}

export interface StopOptions {
  /** How long to wait for in-flight batches (sink or service down); undelivered data is re-read after a restart. */
  timeoutMs?: number;
}

export interface FileSource {
  /** Stops reading, delivers what is in flight, writes the checkpoints. */
  stop(options?: StopOptions): Promise<void>;
  stats(): FileSourceStats;
  /** Scans podsDir now (tests and SIGHUP-like triggers; the source also rescans by itself). */
  rescan(): Promise<void>;
}

const LAST_LINE_SEARCH_BYTES = 64 * 1024;

export async function startFileSource(options: FileSourceOptions, deps: FileSourceDeps): Promise<FileSource> {
  const source = new FileSourceRunner(resolveOptions(options), deps);
  await source.start();
  return source;
}

class FileSourceRunner implements FileSource, FollowContext {
  readonly options: ResolvedOptions;
  readonly pipeline: DeliveryPipeline<Cursor, CheckpointMark>;
  readonly buffers: BufferPool;
  readonly metrics: Metrics;
  readonly logger: SourceLogger;
  readonly now: () => number;
  private readonly checkpointStore: CheckpointStore;
  private readonly discovery: PodLogDiscovery;
  private readonly followers = new Map<string, FileFollower>();
  /** Paths being opened (discovery may report them again meanwhile). */
  private readonly opening = new Set<string>();
  /** Every file with a position worth saving: open ones, and closed ones not yet fully acknowledged. */
  private readonly cursors = new Set<Cursor>();
  private readonly openInodes = new Map<string, Cursor>();
  /** Loaded checkpoints not yet matched to a file, by dev:ino. */
  private readonly saved = new Map<string, CheckpointEntry>();
  private checkpointStatus: FileSourceStats['checkpointStatus'] = 'missing';
  private checkpointTimer: NodeJS.Timeout | undefined;
  private flushTimer: NodeJS.Timeout | undefined;
  private checkpointsDirty = false;
  private writingCheckpoints: Promise<void> | undefined;
  private checkpointWrites = 0;
  private stopping = false;

  constructor(options: ResolvedOptions, deps: FileSourceDeps) {
    this.options = options;
    this.metrics = deps.metrics;
    this.logger = deps.logger;
    this.now = deps.now ?? Date.now;
    this.buffers = new BufferPool(options.concurrentReads, options.readChunkBytes + options.maxLineBytes);
    this.checkpointStore = new CheckpointStore(options.dataDir);
    this.pipeline = new DeliveryPipeline<Cursor, CheckpointMark>(options, {
      enrich: deps.enrich,
      sink: deps.sink,
      metrics: deps.metrics,
      logger: deps.logger,
      onDelivered: (progress) => this.delivered(progress),
    });
    this.discovery = new PodLogDiscovery(options, {
      onScan: (paths) => this.reconcile(paths, false),
      onFileChanged: (path) => this.followers.get(path)?.nudge(),
    }, deps.logger);
  }

  async start(): Promise<void> {
    const loaded = await this.checkpointStore.load(this.now());
    this.checkpointStatus = loaded.status;
    if (loaded.status === 'corrupt') {
      this.logger.error(
        { file: this.checkpointStore.path, error: loaded.error, keptAs: loaded.keptAs, readFrom: this.options.readFrom },
        `checkpoint file is corrupt; starting every file per readFrom=${this.options.readFrom}`,
      );
    }
    for (const e of loaded.entries) this.saved.set(inodeKey(e.dev, e.ino), e);
    const paths = await this.discovery.start();
    await this.reconcile(paths, true);
    this.logger.info({ podsDir: this.options.podsDir, files: this.followers.size, checkpoints: loaded.status }, 'file source started');
    this.checkpointTimer = setInterval(() => void this.writeCheckpoints(), this.options.checkpointInterval);
    const flushEvery = Math.max(10, Math.min(1000, this.options.partialFlushTimeout / 2));
    this.flushTimer = setInterval(() => this.flushStalePartials(), flushEvery);
  }

  async stop(options: StopOptions = {}): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    this.discovery.stop();
    clearInterval(this.checkpointTimer);
    clearInterval(this.flushTimer);
    for (const f of this.followers.values()) f.stop();
    this.pipeline.stopReaders();
    await Promise.all([...this.followers.values()].map((f) => f.done));
    // Pending partial lines are not flushed: their start is not checkpointed, so a restart rebuilds them whole.
    const delivered = await this.pipeline.drain(options.timeoutMs ?? 10_000);
    if (!delivered) this.logger.warn({ bufferedBytes: this.pipeline.bufferedBytes }, 'stopping with undelivered lines; they will be read again after a restart');
    this.pipeline.close();
    await this.writingCheckpoints;
    this.checkpointsDirty = true;
    await this.writeCheckpoints();
    for (const f of this.followers.values()) await f.close();
    this.followers.clear();
    this.metrics.filesTailed.set(0);
  }

  stats(): FileSourceStats {
    return {
      ...this.pipeline.stats(),
      filesTailed: this.openInodes.size,
      pathsFollowed: this.followers.size,
      checkpointWrites: this.checkpointWrites,
      backpressure: !this.pipeline.hasRoom(),
      checkpointStatus: this.checkpointStatus,
    };
  }

  async rescan(): Promise<void> {
    await this.discovery.rescan();
    await this.reconciling;
  }

  // FollowContext
  async openSuccessor(path: string, generation: number): Promise<Cursor | undefined> {
    const opened = await this.openFile(path);
    if (opened === undefined) return undefined;
    return this.track(path, generation, opened, 0);
  }

  cursorClosed(cursor: Cursor): void {
    this.openInodes.delete(cursor.key);
    this.metrics.filesTailed.set(this.openInodes.size);
    if (cursor.acked.offset === cursor.finalOffset) this.retire(cursor);
  }

  private reconciling: Promise<void> = Promise.resolve();

  private reconcile(paths: readonly string[], initial: boolean): Promise<void> {
    const run = this.reconciling.then(() => this.followNew(paths, initial));
    this.reconciling = run.catch((err: unknown) => this.logger.warn({ err }, 'starting to follow new log files failed'));
    return this.reconciling;
  }

  private async followNew(paths: readonly string[], initial: boolean): Promise<void> {
    for (const path of paths) {
      if (this.stopping) return;
      if (this.followers.has(path) || this.opening.has(path)) continue;
      this.opening.add(path);
      try {
        await this.follow(path, initial);
      } finally {
        this.opening.delete(path);
      }
    }
  }

  private async follow(path: string, initial: boolean): Promise<void> {
    const opened = await this.openFile(path);
    if (opened === undefined) return;
    const { handle, dev, ino, size } = opened;
    const key = inodeKey(dev, ino);
    const checkpoint = this.saved.get(key);
    let start = 0;
    if (checkpoint !== undefined && (await matchesFingerprint(handle, dev, ino, checkpoint))) {
      this.saved.delete(key);
      if (checkpoint.offset <= size) start = checkpoint.offset;
      else this.logger.info({ path, offset: checkpoint.offset, size }, 'file is shorter than its checkpoint (truncated); reading it from the start');
    } else if (initial && this.options.readFrom === 'end') {
      start = await lastLineStart(handle, size);
    }
    const predecessors = await this.rotatedPredecessors(path, key);
    const cursors = predecessors.map((p, i) => this.track(path, i, p.opened, p.offset));
    for (const c of cursors) c.rotatedAt = this.now();
    cursors.push(this.track(path, cursors.length, opened, start));
    this.followers.set(path, new FileFollower(path, cursors, this));
    const follower = this.followers.get(path)!;
    void follower.done.then(() => {
      if (this.followers.get(path) === follower && !this.stopping) this.followers.delete(path);
    });
  }

  /**
   * After a restart: files that were rotated away (<n>.log.<timestamp>) while their end was not yet
   * delivered. Their checkpoint names the live path; they are read first, oldest first.
   */
  private async rotatedPredecessors(path: string, liveKey: string): Promise<{ opened: OpenedFile; offset: number }[]> {
    const candidates = [...this.saved.values()].filter((e) => e.path === path && inodeKey(e.dev, e.ino) !== liveKey);
    if (candidates.length === 0) return [];
    const prefix = `${basename(path)}.`;
    let names: string[];
    try {
      names = (await readdir(dirname(path))).filter((n) => n.startsWith(prefix) && !n.endsWith('.gz')).sort();
    } catch {
      return [];
    }
    const found: { opened: OpenedFile; offset: number }[] = [];
    for (const name of names) {
      const opened = await this.openFile(join(dirname(path), name));
      if (opened === undefined) continue;
      const key = inodeKey(opened.dev, opened.ino);
      const entry = this.saved.get(key);
      if (entry !== undefined && entry.path === path && entry.offset < opened.size && (await matchesFingerprint(opened.handle, opened.dev, opened.ino, entry))) {
        this.saved.delete(key);
        found.push({ opened, offset: entry.offset });
        this.logger.info({ path, rotatedFile: name }, 'finishing a rotated file left unread at the last run');
      } else {
        await opened.handle.close();
      }
    }
    return found;
  }

  /** Opens a regular file that is not already followed; undefined when it vanished or is followed under another path. */
  private async openFile(path: string): Promise<OpenedFile | undefined> {
    let handle: FileHandle;
    try {
      handle = await open(path, 'r');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') this.logger.warn({ err, path }, 'cannot open log file');
      return undefined;
    }
    const st = await handle.stat({ bigint: true });
    const dev = String(st.dev);
    const ino = String(st.ino);
    if (!st.isFile() || this.openInodes.has(inodeKey(dev, ino))) {
      await handle.close();
      return undefined;
    }
    return { handle, dev, ino, size: Number(st.size), fingerprint: await fingerprintOf(handle, dev, ino) };
  }

  private track(path: string, generation: number, opened: OpenedFile, start: number): Cursor {
    const key = inodeKey(opened.dev, opened.ino);
    const cursor = newCursor({ key, path, generation, handle: opened.handle, dev: opened.dev, ino: opened.ino, fingerprint: opened.fingerprint, start });
    this.cursors.add(cursor);
    this.openInodes.set(key, cursor);
    this.metrics.filesTailed.set(this.openInodes.size);
    this.checkpointsDirty = true;
    return cursor;
  }

  private delivered(progress: ReadonlyMap<Cursor, CheckpointMark>): void {
    for (const [cursor, mark] of progress) {
      cursor.acked = mark;
      if (cursor.closed && mark.offset === cursor.finalOffset) this.retire(cursor);
    }
    this.checkpointsDirty = true;
  }

  private retire(cursor: Cursor): void {
    this.cursors.delete(cursor);
    this.checkpointsDirty = true;
  }

  private flushStalePartials(): void {
    const now = this.now();
    for (const f of this.followers.values()) f.flushStale(now);
  }

  private writeCheckpoints(): Promise<void> {
    if (this.writingCheckpoints !== undefined || !this.checkpointsDirty) return this.writingCheckpoints ?? Promise.resolve();
    this.checkpointsDirty = false;
    const entries: CheckpointEntry[] = [];
    for (const c of this.cursors) {
      const fp = c.acked.fingerprint;
      entries.push({ path: c.path, dev: fp.dev, ino: fp.ino, headLength: fp.headLength, headHash: fp.headHash, offset: c.acked.offset });
    }
    // Checkpoints loaded but not matched yet (a file not seen again so far) are kept until the source stops.
    if (!this.stopping) for (const e of this.saved.values()) entries.push(e);
    const write = this.checkpointStore.save(entries, new Date(this.now()).toISOString()).then(
      () => {
        this.checkpointWrites++;
        this.metrics.checkpointWrites.inc();
      },
      (err: unknown) => {
        this.checkpointsDirty = true;
        this.logger.error({ err, file: this.checkpointStore.path }, 'writing checkpoints failed; will retry');
      },
    );
    this.writingCheckpoints = write.finally(() => {
      this.writingCheckpoints = undefined;
    });
    return this.writingCheckpoints;
  }
}

interface OpenedFile {
  handle: FileHandle;
  dev: string;
  ino: string;
  size: number;
  fingerprint: Fingerprint;
}

/** For readFrom=end: the start of the last (possibly incomplete) line, so it is read whole. */
async function lastLineStart(handle: FileHandle, size: number): Promise<number> {
  if (size === 0) return 0;
  const length = Math.min(size, LAST_LINE_SEARCH_BYTES);
  const buf = Buffer.alloc(length);
  const { bytesRead } = await handle.read(buf, 0, length, size - length);
  const lastNewline = buf.subarray(0, bytesRead).lastIndexOf(0x0a);
  if (lastNewline === -1) return length === size ? 0 : size;
  return size - length + lastNewline + 1;
}
