/**
 * The bundled file source: discovery → one follower per live log path, driven by one read loop →
 * delivery pipeline (batches → enrich stage → sink) → checkpoints of acknowledged data only,
 * journaled within 250 ms of each acknowledgement (see #delivered).
 *
 * A path whose pod is excluded when it is found (the agent's view) is parked instead: never
 * opened nor read, its live file looked at (a stat) on the checkpoint timer when a watch event
 * says it changed, so that its position stays at its end; followed from there once the pod is
 * included again (docs/file-source.md, "Excluded pods").
 */
import { closeSync, fstatSync, openSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import type { FileView } from '../enrich/index.ts';
import type { Metrics } from '../metrics/index.ts';
import type { Sink } from '../sink/types.ts';
import type { RetentionHint } from '../store/types.ts';
import { CheckpointStore, entryJson, entryJsonHead, type CheckpointEntry } from './checkpoints.ts';
import { newCursor, type CheckpointMark, type Cursor } from './cursor.ts';
import { DeliveryPipeline, type BatchEnricher, type DeliveryStats } from './delivery.ts';
import { PodLogDiscovery } from './discovery.ts';
import { emptyFingerprint, fingerprintOf, inodeKey, matchesFingerprint, type Fingerprint } from './fingerprint.ts';
import { FileFollower, lineStartBefore, type FollowContext, type MultilineSource } from './follower.ts';
import type { SourceLogger } from './logger.ts';
import { resolveOptions, type FileSourceOptions, type ResolvedOptions } from './options.ts';
import { ReadLoop } from './read-loop.ts';
import { listSegments, planRestart, successorsOf, type Segment, type SegmentPlan } from './segments.ts';

export interface FileSourceDeps {
  enrich: BatchEnricher;
  sink: Sink;
  metrics: Metrics;
  logger: SourceLogger;
  now?: () => number;
  /**
   * What the enricher says of a file now (the agent, where the enricher knows the pods): an
   * excluded pod's file is parked (never opened), or passed over unread if it was followed before
   * its pod was excluded; an annotated pod's lines are joined (with `multiline`).
   */
  view?: (path: string) => FileView;
  /**
   * Called with paths before they are first followed, none opened until it resolves (`source`:
   * the service is asked, and `view` then answers for them). Must not reject.
   */
  prepareViews?: (paths: readonly string[]) => Promise<void>;
  /** The bounds of multi-line records; without them no line is joined. */
  multiline?: MultilineSource;
}

export interface FileSourceStats extends DeliveryStats {
  filesTailed: number;
  pathsFollowed: number;
  /** Paths of excluded pods, never opened (see ParkedPath). */
  pathsParked: number;
  /** Checkpoint snapshots written (journal appends are not counted). */
  checkpointWrites: number;
  /** Reading is paused because delivery is behind (maxBufferedBytes or queued batches reached). */
  backpressure: boolean;
  /** Busy container directories, read every round with their watch closed. */
  busyDirectories: number;
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
  /**
   * For the store (RetainingStore.addRetentionHint): a deleted pod is needed while any of its
   * files has data not read, or lines not enriched yet, and was last needed when they were.
   */
  readonly retentionHint: RetentionHint;
}

const ENDED_MEMORY_MS = 60 * 60 * 1000;
/** Longest an acknowledged position waits for its journal record (see #delivered); the 100-250 ms. */
const JOURNAL_COALESCE_MS = 250;
/** A parked file without watch events is still looked at this often (a lost event, an unwatched directory's rescans). */
const PARKED_LOOK_MS = 30_000;

/**
 * A live path of an excluded pod: no descriptor, no follower, only what a stat of its live file
 * said, which is where reading begins if its pod is included again (rounded back to a line start
 * then). A watch event for it costs a map lookup and a flag.
 */
interface ParkedPath {
  dev: string;
  ino: string;
  /** The live file's size when last looked at. */
  size: number;
  /** A watch event came since the last look. */
  changed: boolean;
  lookedAt: number;
  /** When its live file was first found missing; undefined while it is there. */
  missingSince: number | undefined;
}

export async function startFileSource(options: FileSourceOptions, deps: FileSourceDeps): Promise<FileSource> {
  const source = new FileSourceRunner(resolveOptions(options), deps);
  await source.start();
  return source;
}

class FileSourceRunner implements FileSource, FollowContext {
  readonly options: ResolvedOptions;
  readonly pipeline: DeliveryPipeline<Cursor, CheckpointMark>;
  readonly readBuffer: Buffer;
  readonly metrics: Metrics;
  readonly logger: SourceLogger;
  readonly now: () => number;
  readonly retentionHint: RetentionHint = { podNeededAt: (uid) => this.#podNeededAt(uid) };
  readonly #view: ((path: string) => FileView) | undefined;
  readonly #prepareViews: ((paths: readonly string[]) => Promise<void>) | undefined;
  readonly multiline: MultilineSource | undefined;
  readonly #checkpointStore: CheckpointStore;
  readonly #discovery: PodLogDiscovery;
  readonly #loop: ReadLoop;
  readonly #followers = new Map<string, FileFollower>();
  /** Every file with a position worth saving: open ones, and closed ones not yet fully acknowledged. */
  readonly #cursors = new Set<Cursor>();
  readonly #openInodes = new Map<string, Cursor>();
  /** Loaded checkpoints, by dev:ino, until the first scan matched them to files. */
  readonly #saved = new Map<string, CheckpointEntry>();
  /** Paths named by a loaded checkpoint: containers seen by an earlier run. */
  readonly #seenPaths = new Set<string>();
  /** Paths with no file followed whose last file was fully delivered: its position, kept so that a restart knows the path (see retireInto). */
  readonly #markers = new Map<string, { entry: CheckpointEntry; at: number }>();
  /** Paths of excluded pods, never opened. */
  readonly #parked = new Map<string, ParkedPath>();
  /** Paths whose follower ended (gone for rotateWait), with the last file read: if the path comes back, only newer files are read. */
  readonly #ended = new Map<string, { key: string; mtimeNs: bigint; at: number; lastBatch: number }>();
  #checkpointStatus: FileSourceStats['checkpointStatus'] = 'missing';
  /** Journal text of what identifies a file, per fingerprint (see journalEntry). */
  readonly #jsonHeads = new WeakMap<Fingerprint, string>();
  #snapshotTimer: NodeJS.Timeout | undefined;
  #writingSnapshot: Promise<void> | undefined;
  #checkpointWrites = 0;
  #journalFailing = false;
  /** Files acknowledged since the last journal record: appended together (see #delivered). */
  readonly #unjournaled = new Set<Cursor>();
  /** Lines of the acknowledged batches not journaled yet. */
  #unjournaledLines = 0;
  #journalTimer: NodeJS.Timeout | undefined;
  /** While start-up follows files: their journal entries, appended as one record. */
  #startupJournal: string[] | undefined;
  #stopping = false;
  /** Start-up has followed the files of the first scan: later scans may follow theirs. */
  #startedFollowing = false;

  constructor(options: ResolvedOptions, deps: FileSourceDeps) {
    this.options = options;
    this.metrics = deps.metrics;
    this.logger = deps.logger;
    this.now = deps.now ?? Date.now;
    this.#view = deps.view;
    this.#prepareViews = deps.prepareViews;
    this.multiline = deps.multiline;
    this.readBuffer = Buffer.allocUnsafe(options.readChunkBytes + options.maxLineBytes);
    this.#checkpointStore = new CheckpointStore(options.dataDir);
    this.pipeline = new DeliveryPipeline<Cursor, CheckpointMark>(options, {
      enrich: deps.enrich,
      sink: deps.sink,
      metrics: deps.metrics,
      logger: deps.logger,
      onDelivered: (progress, lines) => this.#delivered(progress, lines),
    });
    this.#discovery = new PodLogDiscovery(options, {
      onScan: (paths) => this.#onScan(paths),
      onFileChanged: (path, renamed) => {
        if (this.#loop.notify(path, renamed)) return;
        const parked = this.#parked.get(path);
        if (parked !== undefined) parked.changed = true;
      },
    }, deps.logger);
    this.#loop = new ReadLoop(
      { roundInterval: options.batchMaxWait, pollInterval: options.pollInterval, maxBytesPerTurn: Math.max(options.readChunkBytes, 1024 * 1024) },
      {
        pipeline: this.pipeline,
        watches: this.#discovery,
        logger: deps.logger,
        now: this.now,
        onBusyDirectories: (count) => this.metrics.directoriesBusy.set(count),
        onDone: (follower) => {
          if (this.#followers.get(follower.path) !== follower) return;
          this.#followers.delete(follower.path);
          if (follower.lastFile !== undefined) this.#ended.set(follower.path, { ...follower.lastFile, at: this.now(), lastBatch: follower.lastBatch });
        },
      },
    );
  }

  async start(): Promise<void> {
    const loaded = await this.#checkpointStore.load(this.now());
    this.#checkpointStatus = loaded.status;
    if (loaded.status === 'corrupt') {
      this.logger.error(
        { file: this.#checkpointStore.path, error: loaded.error, keptAs: loaded.keptAs, readFrom: this.options.readFrom },
        `checkpoint file is corrupt; starting every file per readFrom=${this.options.readFrom}`,
      );
    }
    if (loaded.journalError !== undefined) {
      this.logger.warn({ error: loaded.journalError }, 'checkpoint journal has a damaged record; using the positions before it (lines after them are read again)');
    }
    for (const e of loaded.entries) {
      this.#saved.set(inodeKey(e.dev, e.ino), e);
      this.#seenPaths.add(e.path);
    }
    const paths = await this.#discovery.start();
    // Scans while this waits are ignored (#onScan): a later scan reports their paths again.
    if (this.#prepareViews !== undefined) await this.#prepareViews([...paths, ...[...this.#seenPaths].filter((p) => this.#discovery.acceptsPath(p))]);
    this.#startedFollowing = true;
    // The files followed at start-up are journaled in one record, not one each (2,000 appends on a busy node).
    this.#startupJournal = [];
    for (const path of paths) this.#follow(path, true);
    // Known paths without a live file (rotated, and not recreated yet) may still have rotated files to finish.
    for (const path of this.#seenPaths) if (this.#discovery.acceptsPath(path)) this.#follow(path, true);
    const startup = this.#startupJournal;
    this.#startupJournal = undefined;
    this.#journal(startup, []);
    // Positions that matched no file: the file is gone (or no longer included).
    this.#saved.clear();
    this.#seenPaths.clear();
    await this.#writeSnapshot();
    this.logger.info({ podsDir: this.options.podsDir, files: this.#followers.size, checkpoints: loaded.status }, 'file source started');
    this.#snapshotTimer = setInterval(() => {
      this.#recheckParked();
      if (this.#checkpointStore.pendingRecords > 0 || this.#unjournaled.size > 0) void this.#writeSnapshot();
      this.#forgetEnded();
    }, this.options.checkpointInterval);
    this.#loop.start();
  }

  async stop(options: StopOptions = {}): Promise<void> {
    if (this.#stopping) return;
    this.#stopping = true;
    this.#discovery.stop();
    this.#loop.stop();
    clearInterval(this.#snapshotTimer);
    clearTimeout(this.#journalTimer);
    this.#journalTimer = undefined;
    for (const f of this.#followers.values()) f.stop();
    this.pipeline.stopReaders();
    // Pending partial lines are not flushed: their start is not checkpointed, so a restart rebuilds them whole.
    const delivered = await this.pipeline.drain(options.timeoutMs ?? 10_000);
    if (!delivered) this.logger.warn({ bufferedBytes: this.pipeline.bufferedBytes }, 'stopping with undelivered lines; they will be read again after a restart');
    this.pipeline.close();
    this.#lookAtChangedParked();
    await this.#writingSnapshot;
    await this.#writeSnapshot();
    clearTimeout(this.#journalTimer);
    this.#journalTimer = undefined;
    this.#checkpointStore.close();
    for (const f of this.#followers.values()) f.close();
    this.#followers.clear();
    this.metrics.filesTailed.set(0);
    this.metrics.filesParked.set(0);
    this.metrics.directoriesBusy.set(0);
  }

  stats(): FileSourceStats {
    return {
      ...this.pipeline.stats(),
      filesTailed: this.#openInodes.size,
      pathsFollowed: this.#followers.size,
      pathsParked: this.#parked.size,
      checkpointWrites: this.#checkpointWrites,
      backpressure: !this.pipeline.hasRoom(),
      busyDirectories: this.#loop.busyDirectories,
      checkpointStatus: this.#checkpointStatus,
    };
  }

  async rescan(): Promise<void> {
    await this.#discovery.rescan();
  }

  // FollowContext
  view(path: string): FileView | undefined {
    return this.#view?.(path);
  }

  /**
   * The RetentionHint: `uid` names the pod's log directory (<namespace>_<name>_<uid>; a static
   * pod's is its config hash, which the store asks too). Now while a file of it still needs its
   * metadata, else when one last handed lines on; undefined when none is known.
   */
  #podNeededAt(uid: string): { at: number; reason: 'unread_files' } | undefined {
    const dir = `_${uid}/`;
    let last = 0;
    for (const f of this.#followers.values()) {
      if (!f.path.includes(dir)) continue;
      if (f.needsMetadata()) return { at: this.now(), reason: 'unread_files' };
      last = Math.max(last, f.lastReadAt);
    }
    for (const [path, e] of this.#ended) {
      if (!path.includes(dir)) continue;
      if (!this.pipeline.isEnriched(e.lastBatch)) return { at: this.now(), reason: 'unread_files' };
      last = Math.max(last, e.at);
    }
    return last === 0 ? undefined : { at: last, reason: 'unread_files' };
  }

  openSuccessors(path: string, current: Cursor): Cursor[] {
    const segments = listSegments(path);
    let mtimeNs: bigint;
    try {
      mtimeNs = fstatSync(current.fd, { bigint: true }).mtimeNs;
    } catch {
      mtimeNs = 0n;
    }
    const out: Cursor[] = [];
    for (const segment of successorsOf(segments, { key: current.key, mtimeNs }, this.#openInodes)) {
      const opened = this.#openFile(segment.file);
      if (opened === undefined) continue;
      if (!segment.live) this.logger.info({ path, rotatedFile: segment.file }, 'reading a file rotated before it was noticed');
      out.push(this.#track(path, current.generation + 1 + out.length, opened, 0));
    }
    for (const c of out.slice(0, -1)) c.rotatedAt = this.now();
    return out;
  }

  cursorClosed(cursor: Cursor): void {
    this.#openInodes.delete(cursor.key);
    this.metrics.filesTailed.set(this.#openInodes.size);
    if (cursor.acked.offset === cursor.finalOffset) this.#retire(cursor);
  }

  /** Ended paths are remembered for an hour: a container directory that long without its live file is gone. */
  #forgetEnded(): void {
    const before = this.now() - ENDED_MEMORY_MS;
    for (const [path, e] of this.#ended) if (e.at < before) this.#ended.delete(path);
    const del: string[] = [];
    for (const [path, m] of this.#markers) if (m.at < before) this.#dropMarker(path, del);
    for (const [path, p] of this.#parked) {
      if (p.missingSince === undefined || p.missingSince >= before) continue;
      this.#parked.delete(path);
      del.push(inodeKey(p.dev, p.ino));
    }
    this.metrics.filesParked.set(this.#parked.size);
    this.#journal([], del);
  }

  /** Paths found by a scan: the ones not followed yet once their views are ready (prepareViews). */
  #onScan(paths: readonly string[]): void {
    if (!this.#startedFollowing) return;
    if (this.#prepareViews === undefined) return this.#followNew(paths);
    const fresh = paths.filter((p) => !this.#followers.has(p) && !this.#parked.has(p));
    if (fresh.length > 0) void this.#prepareViews(fresh).then(() => this.#followNew(fresh));
  }

  #followNew(paths: readonly string[]): void {
    for (const path of paths) {
      if (this.#stopping) return;
      this.#follow(path, false);
    }
  }

  /**
   * Starts following a live path with the files it has: at start-up per its checkpoints
   * (segments.ts planRestart); found later, a new container: from the start, rotated files first,
   * or, for a path whose follower ended before, the files newer than the last one read.
   */
  #follow(path: string, initial: boolean): void {
    if (this.#followers.has(path) || this.#parked.has(path)) return;
    // Its pod is excluded now: none of its files is opened (rotated ones are never read).
    if (this.#view?.(path).excluded === true) {
      this.#park(path);
      return;
    }
    const segments = listSegments(path).filter((s) => !this.#openInodes.has(s.key));
    // At start-up a known path may have only rotated files left; otherwise discovery saw its live file.
    if (!(initial && this.#seenPaths.has(path)) && !segments.some((s) => s.live)) return;
    const opened = new Map<string, OpenedFile>();
    let plan: SegmentPlan[];
    try {
      if (initial) plan = this.#planFromCheckpoints(path, segments, opened);
      else {
        const last = this.#ended.get(path);
        this.#ended.delete(path);
        const fresh = last === undefined ? segments : successorsOf(segments, last, this.#openInodes);
        plan = fresh.map((segment) => ({ segment, from: 'start' as const }));
      }
      const cursors: Cursor[] = [];
      for (const step of plan) {
        const file = opened.get(step.segment.key) ?? this.#openFile(step.segment.file);
        opened.delete(step.segment.key);
        if (file === undefined) continue;
        let start = 0;
        if (step.from === 'checkpoint') {
          if (step.offset <= file.size) start = step.offset;
          else this.logger.info({ path, offset: step.offset, size: file.size }, 'file is shorter than its checkpoint (truncated); reading it from the start');
          if (!step.segment.live) this.logger.info({ path, rotatedFile: step.segment.file }, 'finishing a rotated file left unread at the last run');
        } else if (step.from === 'end') {
          start = lineStartBefore(file.fd, file.size);
        } else if (!step.segment.live) {
          this.logger.info({ path, rotatedFile: step.segment.file }, initial ? 'reading a file rotated while the source was down' : 'reading a rotated file not read before');
        }
        cursors.push(this.#track(path, cursors.length, file, start));
      }
      if (cursors.length === 0) return;
      for (const c of cursors.slice(0, -1)) c.rotatedAt = this.now();
      this.#startFollower(path, cursors);
    } finally {
      for (const f of opened.values()) closeSync(f.fd);
    }
  }

  /** Matches loaded checkpoints to the path's files (fingerprints checked), then plans what to read. */
  #planFromCheckpoints(path: string, segments: readonly Segment[], opened: Map<string, OpenedFile>): SegmentPlan[] {
    const checkpointed = new Map<string, number>();
    for (const segment of segments) {
      const entry = this.#saved.get(segment.key);
      if (entry === undefined || entry.path !== path) continue;
      const file = this.#openFile(segment.file);
      if (file === undefined) continue;
      // A parked entry's fingerprint is empty: the inode alone matches.
      if (matchesFingerprint(file.fd, file.dev, file.ino, entry)) {
        this.#saved.delete(segment.key);
        // Parked, its size when last looked at: reading begins at the line being written then.
        checkpointed.set(segment.key, entry.parked === true ? lineStartBefore(file.fd, Math.min(entry.offset, file.size)) : entry.offset);
        opened.set(segment.key, file);
      } else {
        closeSync(file.fd);
      }
    }
    const plan = planRestart(segments, checkpointed, this.#seenPaths.has(path), this.options.readFrom);
    if (plan.length === 0) {
      // Every file of the path was delivered: the newest checkpointed one stays its marker.
      for (let i = segments.length - 1; i >= 0; i--) {
        const file = opened.get(segments[i]!.key);
        if (file === undefined) continue;
        this.#markers.set(path, { entry: { path, ...file.fingerprint, offset: checkpointed.get(segments[i]!.key)! }, at: this.now() });
        break;
      }
    }
    return plan;
  }

  #startFollower(path: string, cursors: Cursor[]): void {
    const follower = new FileFollower(path, cursors, this);
    this.#followers.set(path, follower);
    this.#loop.add(path, dirname(path), follower);
  }

  /** Parks a path of an excluded pod at its live file's end (a stat; nothing is opened). A path without live file is left alone. */
  #park(path: string): void {
    const st = statLive(path);
    if (st === undefined) return;
    const parked: ParkedPath = { ...st, changed: false, lookedAt: this.now(), missingSince: undefined };
    this.#parked.set(path, parked);
    this.metrics.filesParked.set(this.#parked.size);
    // Its position is the path's memory now (a restart knows the container).
    this.#ended.delete(path);
    const del: string[] = [];
    this.#dropMarker(path, del);
    this.#journalFollowed(entryJson(parkedEntry(path, parked)), del);
  }

  /**
   * On the checkpoint timer. A parked path whose pod is included again is followed; the others
   * are looked at (a stat) only when a watch event came, their directory is not watched, or
   * PARKED_LOOK_MS passed: an idle node's parked paths cost a view lookup each, no system call.
   */
  #recheckParked(): void {
    if (this.#parked.size === 0 || this.#stopping) return;
    const now = this.now();
    const included: string[] = [];
    const set: string[] = [];
    const del: string[] = [];
    for (const [path, p] of this.#parked) {
      if (this.#view?.(path).excluded !== true) included.push(path);
      else if (p.changed || now - p.lookedAt >= PARKED_LOOK_MS || !this.#discovery.isWatched(dirname(path))) this.#lookAgain(path, p, now, set, del);
    }
    this.#journal(set, del);
    for (const path of included) this.#unpark(path, this.#parked.get(path)!);
  }

  /** At a stop: the parked files written to since the last tick are checkpointed at their end. */
  #lookAtChangedParked(): void {
    const set: string[] = [];
    const del: string[] = [];
    for (const [path, p] of this.#parked) if (p.changed) this.#lookAgain(path, p, this.now(), set, del);
    this.#journal(set, del);
  }

  /** Moves a parked position to the live file's end: a newer file (rotated while parked) replaces the old one, unread. */
  #lookAgain(path: string, p: ParkedPath, now: number, set: string[], del: string[]): void {
    p.changed = false;
    p.lookedAt = now;
    const st = statLive(path);
    if (st === undefined) {
      p.missingSince ??= now;
      return;
    }
    p.missingSince = undefined;
    if (st.dev === p.dev && st.ino === p.ino) {
      if (st.size === p.size) return;
    } else {
      del.push(inodeKey(p.dev, p.ino));
      p.dev = st.dev;
      p.ino = st.ino;
    }
    p.size = st.size;
    set.push(entryJson(parkedEntry(path, p)));
  }

  /**
   * The pod of a parked path is included again: its live file is followed from the start of the
   * line being written when it was last looked at, or from its start if it is a newer file than
   * the one looked at (rotated since: all of it came after). Rotated files are not read.
   */
  #unpark(path: string, p: ParkedPath): void {
    // Missing (a rotation under way) or followed under another name: parked still, tried again at the next tick.
    const file = this.#openFile(path);
    if (file === undefined) return;
    this.#parked.delete(path);
    this.metrics.filesParked.set(this.#parked.size);
    const parkedKey = inodeKey(p.dev, p.ino);
    const same = inodeKey(file.dev, file.ino) === parkedKey;
    if (!same) this.#journal([], [parkedKey]);
    const start = same ? lineStartBefore(file.fd, Math.min(p.size, file.size)) : 0;
    this.logger.info({ path, offset: start }, 'pod included again; following its log file from the lines written since it was last looked at');
    this.#startFollower(path, [this.#track(path, 0, file, start)]);
  }

  /** Opens a regular file that is not already followed; undefined when it vanished or is followed under another path. */
  #openFile(path: string): OpenedFile | undefined {
    let fd: number;
    try {
      fd = openSync(path, 'r');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') this.logger.warn({ err, path }, 'cannot open log file');
      return undefined;
    }
    const st = fstatSync(fd, { bigint: true });
    const dev = String(st.dev);
    const ino = String(st.ino);
    if (!st.isFile() || this.#openInodes.has(inodeKey(dev, ino))) {
      closeSync(fd);
      return undefined;
    }
    return { fd, dev, ino, size: Number(st.size), fingerprint: fingerprintOf(fd, dev, ino) };
  }

  #track(path: string, generation: number, opened: OpenedFile, start: number): Cursor {
    const key = inodeKey(opened.dev, opened.ino);
    const cursor = newCursor({ key, path, generation, fd: opened.fd, dev: opened.dev, ino: opened.ino, fingerprint: opened.fingerprint, start });
    this.#cursors.add(cursor);
    this.#openInodes.set(key, cursor);
    this.metrics.filesTailed.set(this.#openInodes.size);
    // Journaled at once: a file rotated away before its first acknowledgement is still known after a crash.
    const del: string[] = [];
    this.#dropMarker(path, del);
    this.#journalFollowed(this.#journalEntry(cursor), del);
    return cursor;
  }

  /** Journals a path's new position; during start-up within its one record (unless something is deleted too). */
  #journalFollowed(entry: string, del: string[]): void {
    if (this.#startupJournal !== undefined && del.length === 0) this.#startupJournal.push(entry);
    else this.#journal([entry], del);
  }

  /**
   * The sink acknowledged a batch with progress marks, and `lines` lines since the previous such
   * batch (marks are noted per drain, which may seal several batches first): positions move on. They are
   * journaled together with the next acknowledgements, within JOURNAL_COALESCE_MS, or at once
   * when the lines acknowledged and not journaled reach batchMaxEvents (a backlog: every batch is
   * full), or when a file was finished. A SIGKILL then repeats at most the batch being written and
   * fewer than batchMaxEvents lines acknowledged before it: under two batches. On a steady trickle
   * (a batch every round, tens of lines each) that is 4 journal writes a second instead of one per
   * batch.
   */
  #delivered(progress: ReadonlyMap<Cursor, CheckpointMark>, lines: number): void {
    let finished = false;
    for (const [cursor, mark] of progress) {
      cursor.acked = mark;
      if (cursor.closed && mark.offset === cursor.finalOffset) finished = true;
    }
    if (finished) {
      // Retiring a file deletes its entry: journaled now, after what was pending (see #journal).
      const set: string[] = [];
      const del: string[] = [];
      for (const cursor of progress.keys()) {
        if (cursor.closed && cursor.acked.offset === cursor.finalOffset) this.#retireInto(cursor, set, del);
        else set.push(this.#journalEntry(cursor));
      }
      this.#journal(set, del);
      return;
    }
    for (const cursor of progress.keys()) this.#unjournaled.add(cursor);
    this.#unjournaledLines += lines;
    if (this.#unjournaledLines >= this.options.batchMaxEvents) this.#journal([], []);
    else
      this.#journalTimer ??= setTimeout(() => {
        this.#journalTimer = undefined;
        if (this.#unjournaled.size > 0) this.#journal([], []);
      }, JOURNAL_COALESCE_MS);
  }

  #retire(cursor: Cursor): void {
    const set: string[] = [];
    const del: string[] = [];
    this.#retireInto(cursor, set, del);
    this.#journal(set, del);
  }

  /**
   * A file read to its end and fully delivered is forgotten, unless it is the last one of its
   * path: then its position stays, as the path's marker, so that a restart knows the container
   * and reads only the files written after it (without it, a path whose follower ended would
   * look never seen, and its rotated files would be read again from the start).
   */
  #retireInto(cursor: Cursor, set: string[], del: string[]): void {
    if (!this.#cursors.delete(cursor)) return;
    let others = false;
    for (const c of this.#cursors) {
      if (c.path === cursor.path) {
        others = true;
        break;
      }
    }
    if (others) {
      del.push(cursor.key);
      return;
    }
    const old = this.#markers.get(cursor.path);
    if (old !== undefined && inodeKey(old.entry.dev, old.entry.ino) !== cursor.key) del.push(inodeKey(old.entry.dev, old.entry.ino));
    this.#markers.set(cursor.path, { entry: entryOf(cursor), at: this.now() });
    set.push(this.#journalEntry(cursor));
  }

  /** A path is followed (again): its marker is no longer needed. */
  #dropMarker(path: string, del: string[]): void {
    const marker = this.#markers.get(path);
    if (marker === undefined) return;
    this.#markers.delete(path);
    del.push(inodeKey(marker.entry.dev, marker.entry.ino));
  }

  /** The cursor's acknowledged position as journal text; what identifies the file is serialised once per fingerprint. */
  #journalEntry(c: Cursor): string {
    const fp = c.acked.fingerprint;
    let head = this.#jsonHeads.get(fp);
    if (head === undefined) {
      head = entryJsonHead({ path: c.path, ...fp });
      this.#jsonHeads.set(fp, head);
    }
    return entryJson(entryOf(c), head);
  }

  /** Appends to the checkpoint journal; a failure is logged once and leaves the next snapshot to catch up. */
  /**
   * Appends one journal record: the positions acknowledged and not journaled yet, then `set` and
   * `del`. Every append goes through here, so pending positions always precede what follows
   * them (a retired file's deletion is never undone by a later entry: retired cursors have left
   * #cursors and are skipped).
   */
  #journal(set: string[], del: string[]): void {
    if (this.#unjournaled.size > 0) {
      const pending: string[] = [];
      for (const cursor of this.#unjournaled) if (this.#cursors.has(cursor)) pending.push(this.#journalEntry(cursor));
      this.#unjournaled.clear();
      set = pending.concat(set);
    }
    this.#unjournaledLines = 0;
    if (set.length === 0 && del.length === 0) return;
    try {
      this.#checkpointStore.append(set, del);
      if (this.#journalFailing) this.logger.info({ file: this.#checkpointStore.path }, 'checkpoint journal writable again');
      this.#journalFailing = false;
    } catch (err) {
      if (!this.#journalFailing) this.logger.error({ err, dataDir: this.options.dataDir }, 'appending to the checkpoint journal failed; positions are saved with the next snapshot');
      this.#journalFailing = true;
    }
  }

  #writeSnapshot(): Promise<void> {
    if (this.#writingSnapshot !== undefined) return this.#writingSnapshot;
    // What the snapshot covers is journaled first: the snapshot's journal sequence then includes it.
    if (this.#unjournaled.size > 0) this.#journal([], []);
    const entries: CheckpointEntry[] = [];
    for (const c of this.#cursors) entries.push(entryOf(c));
    // Loaded but not matched yet (during start-up only): kept.
    for (const e of this.#saved.values()) entries.push(e);
    for (const m of this.#markers.values()) entries.push(m.entry);
    for (const [path, p] of this.#parked) entries.push(parkedEntry(path, p));
    const write = this.#checkpointStore.save(entries, new Date(this.now()).toISOString()).then(
      () => {
        this.#checkpointWrites++;
        this.metrics.checkpointWrites.inc();
      },
      (err: unknown) => {
        this.logger.error({ err, file: this.#checkpointStore.path }, 'writing checkpoints failed; will retry');
      },
    );
    this.#writingSnapshot = write.finally(() => {
      this.#writingSnapshot = undefined;
    });
    return this.#writingSnapshot;
  }
}

function entryOf(c: Cursor): CheckpointEntry {
  const fp = c.acked.fingerprint;
  return { path: c.path, dev: fp.dev, ino: fp.ino, headLength: fp.headLength, headHash: fp.headHash, offset: c.acked.offset };
}

function parkedEntry(path: string, p: ParkedPath): CheckpointEntry {
  return { path, ...emptyFingerprint(p.dev, p.ino), offset: p.size, parked: true };
}

/** The live file's identity and size without opening it; undefined when it is missing or not a regular file. */
function statLive(path: string): { dev: string; ino: string; size: number } | undefined {
  try {
    const st = statSync(path, { bigint: true, throwIfNoEntry: false });
    if (st === undefined || !st.isFile()) return undefined;
    return { dev: String(st.dev), ino: String(st.ino), size: Number(st.size) };
  } catch {
    return undefined;
  }
}

interface OpenedFile {
  fd: number;
  dev: string;
  ino: string;
  size: number;
  fingerprint: Fingerprint;
}
