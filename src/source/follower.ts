/**
 * Follows one live log path (<container>/<n>.log) across its rotations: reads appended data in
 * large chunks, splits lines without copying, decodes them (CRI or Docker), merges partial lines
 * per stream, applies maxLineBytes, joins the lines of multi-line messages when the file's pod
 * asks for it (src/multiline/), and hands lines and safe restart positions to the delivery
 * pipeline. A partial line or a record still pending is never behind the restart position: a
 * restart reads it again, whole.
 *
 * A follower does nothing by itself: the read loop (read-loop.ts) calls `drain()` when the file
 * changed (a watch event), on every round while it is busy, or on a slow safety poll. A drain
 * reads to the end of the file in large synchronous reads (log files are in the page cache; one
 * read costs a few microseconds, a thread-pool round trip costs ten times that) and looks at the
 * file's metadata only when something suggests a rotation or truncation: a drain that found no
 * data, a rename event, a safety poll. A busy file costs one read per round, not a stat per line.
 *
 * Rotation by rename (what the kubelet does): the old file is still open here; it is read to its
 * end before its successors (segments.ts), and left once the next file has data (the runtime
 * writes to one file at a time) or rotateWait passed. Copy-truncate: the size drops below the
 * read offset, so reading starts again at 0. Deletion: what the open descriptor still holds is
 * read, then after rotateWait the file is closed.
 */
import { closeSync, fstatSync, readSync, statSync } from 'node:fs';
import type { DecodedMessage, FileView } from '../enrich/index.ts';
import { PartialMerger, decodeLine, type MergedLine, type Stream } from '../formats/index.ts';
import type { Metrics } from '../metrics/index.ts';
import { MultilineJoiner, type JoinedEvent, type MultilineRule } from '../multiline/index.ts';
import type { CheckpointMark, Cursor } from './cursor.ts';
import type { DeliveryPipeline } from './delivery.ts';
import { HEAD_BYTES, fingerprintOf } from './fingerprint.ts';
import type { SourceLogger } from './logger.ts';
import type { ResolvedOptions } from './options.ts';

const NEWLINE = 0x0a;
const NO_STARTS: readonly (LineStart | undefined)[] = [];

export interface FollowContext {
  readonly options: ResolvedOptions;
  readonly pipeline: DeliveryPipeline<Cursor, CheckpointMark>;
  /** The one read buffer (reads are synchronous, so one is enough): readChunkBytes + maxLineBytes. */
  readonly readBuffer: Buffer;
  readonly metrics: Metrics;
  readonly logger: SourceLogger;
  readonly now: () => number;
  /**
   * What the enricher says of `path` now (the agent: it knows each file's pod), asked before each
   * drain: an excluded file's data is passed over unread (a file excluded when it was found is
   * parked by the file source, never followed); lines under a multiline rule are joined.
   * Undefined: every file is read, no line joined.
   */
  view(path: string): FileView | undefined;
  /** `current` was rotated away from `path`: opens the files written after it, oldest first (possibly none yet). */
  openSuccessors(path: string, current: Cursor): Cursor[];
  /** A cursor was read to its end and closed. */
  cursorClosed(cursor: Cursor): void;
  /** The joiner's bounds; undefined: lines are never joined. */
  readonly multiline: MultilineSource | undefined;
}

/** The bounds of multi-line records (enrichment.multiline); which files' lines are joined comes from FollowContext.view. */
export interface MultilineSource {
  maxBytes: number;
  flushTimeoutMs: number;
}

/** Where a line was read: the restart position of a record held by the joiner. */
interface LineStart {
  generation: number;
  offset: number;
}

type Joined = JoinedEvent<DecodedMessage, LineStart>;

/** Where the first fragment of a line still being merged was read: a restart must re-read from there. */
interface PendingStart {
  generation: number;
  offset: number;
  /** Raw bytes of its fragments as read (what backpressure counts when the line is emitted). */
  rawBytes: number;
}

/**
 * - `idle`: read to the end, nothing more to do until the file changes;
 * - `waiting`: at the end of a rotated or deleted file whose successor has no data yet: look
 *   again soon (rotateWait decides when to give up on it);
 * - `blocked`: stopped because delivery is behind (backpressure); drain again when there is room;
 * - `done`: the path is gone and its last file was read and closed.
 */
export type DrainResult = 'idle' | 'waiting' | 'blocked' | 'done';

export class FileFollower {
  readonly path: string;
  readonly #ctx: FollowContext;
  /** cursors[0] is being read; later ones took over the path after it was rotated. */
  readonly #cursors: Cursor[];
  /** Closed cursors whose last lines are still held in a pending partial line. */
  #finished: Cursor[] = [];
  /** Bytes of the incomplete last line of cursors[0]. */
  #carry: Buffer | undefined;
  /** Discarding the rest of a line longer than maxLineBytes. */
  #skipping = false;
  /** Partial lines, merged per stream (the key is always this path); made on the first partial line. */
  #merger: PartialMerger | undefined;
  #startOut: PendingStart | undefined;
  #startErr: PendingStart | undefined;
  /** The multiline rule of this file's pod as last asked (once per drain); undefined: lines go straight on. */
  #rule: MultilineRule | undefined;
  /** Records of multi-line messages, per stream; made for the first line under a rule. */
  #joiner: MultilineJoiner<DecodedMessage, LineStart> | undefined;
  readonly #joined: Joined[] = [];
  #goneSince: number | undefined;
  /** Look at the file's metadata at the end of the next drain (rename event, safety poll). */
  #checkRequested = true;
  #stopped = false;
  /** Per-chunk tallies, added to the metrics once per chunk rather than per line. */
  #linesInChunk = 0;
  #decodeErrors = 0;
  /** Bytes read so far (the read loop tells busy files from quiet ones by it). */
  bytesDrained = 0;
  /** The last file read to its end and closed: where a path that comes back continues. */
  lastFile: { key: string; mtimeNs: bigint } | undefined;
  /** Epoch ms of the last drain that handed lines (or positions) on; 0 before the first. */
  lastReadAt = 0;
  /** The pipeline batch those lines went into (DeliveryPipeline.gatheringBatch). */
  lastBatch = -1;

  constructor(path: string, cursors: Cursor[], ctx: FollowContext) {
    this.path = path;
    this.#cursors = cursors;
    this.#ctx = ctx;
  }

  /** At the end of the next drain, check for rotation, truncation and deletion even if data came. */
  requestCheck(): void {
    this.#checkRequested = true;
  }

  /**
   * The safety poll's cheap look (two system calls, no read): has the file grown or shrunk since
   * it was read, or does its path name another file now? Then it deserves a drain with a check.
   */
  looksChanged(): boolean {
    const c = this.#cursors[0];
    if (c === undefined || this.#cursors.length > 1) return true;
    try {
      if (fstatSync(c.fd).size !== c.readOffset) return true;
      const st = statSync(this.path, { throwIfNoEntry: false });
      return st === undefined || String(st.ino) !== c.ino || String(st.dev) !== c.dev;
    } catch {
      return true;
    }
  }

  /** Partial lines wait for their final fragment, or records of multi-line messages for their next line. */
  get hasPending(): boolean {
    return this.#mergerPending || (this.#joiner !== undefined && this.#joiner.pendingCount > 0);
  }

  get #mergerPending(): boolean {
    return this.#merger !== undefined && this.#merger.pendingCount > 0;
  }

  get isStopped(): boolean {
    return this.#stopped;
  }

  /** Stops for good; what is open is closed by close(). */
  stop(): void {
    this.#stopped = true;
  }

  /** Closes what is still open (after stop). */
  close(): void {
    for (const c of this.#cursors) closeQuietly(c.fd);
    this.#cursors.length = 0;
  }

  /**
   * Reads what is there, up to the end of the file, or until delivery has no room. `maxBytes`
   * bounds one call so that one busy file cannot hold the event loop (the read loop comes back).
   */
  drain(maxBytes: number): DrainResult {
    if (this.#stopped) return 'done';
    const view = this.#ctx.view(this.path);
    if (view?.excluded === true) return this.#passOver();
    if (this.#ctx.multiline !== undefined) this.#refreshRule(view?.multiline);
    const { pipeline, options } = this.#ctx;
    let readAny = false;
    let budget = maxBytes;
    for (;;) {
      if (!pipeline.hasRoom() || budget <= 0) {
        if (readAny) this.#noteProgress();
        return 'blocked';
      }
      const c = this.#cursors[0]!;
      const room = Math.min(options.readChunkBytes, this.#ctx.readBuffer.length - (this.#carry?.length ?? 0));
      const n = this.#readChunk(c, room);
      if (n > 0) {
        readAny = true;
        budget -= n;
        // A full read: there may be more. A short one reached the end as it is now.
        if (n === room) continue;
        this.#noteProgress();
        if (!this.#checkRequested && this.#cursors.length === 1) return 'idle';
      }
      const next = this.#atEnd(readAny);
      if (next === 'again') continue;
      if (readAny) this.#noteProgress();
      return next;
    }
  }

  /**
   * The file's pod became excluded while it was followed (FollowContext.view): what was written is passed over unread, up
   * to the start of its last incomplete line, and that position is checkpointed like a read one,
   * so that if the pod is included again, reading starts at the lines written from then on.
   */
  #passOver(): DrainResult {
    for (;;) {
      const c = this.#cursors[0]!;
      const size = fstatSync(c.fd).size;
      if (size > c.readOffset) {
        const end = lineStartBefore(c.fd, size, c.readOffset);
        this.#ctx.metrics.bytesPassedOver.inc(end - c.readOffset);
        this.#carry = undefined;
        this.#skipping = false;
        c.readOffset = end;
        c.consumed = end;
        this.#noteProgress();
      }
      const next = this.#atEnd(false);
      if (next !== 'again') return next;
    }
  }

  /**
   * Whether lines of this file may still need its pod's metadata: data not read yet (behind a
   * slow sink, or a rotated file not finished), a line not complete or merged yet, or lines read
   * but not enriched yet. Costs an fstat: asked only when a deleted pod's delay runs out.
   */
  needsMetadata(): boolean {
    if (!this.#ctx.pipeline.isEnriched(this.lastBatch)) return true;
    if (this.#stopped) return false;
    if (this.#cursors.length !== 1 || this.#carry !== undefined || this.hasPending) return true;
    try {
      return fstatSync(this.#cursors[0]!.fd).size > this.#cursors[0]!.readOffset;
    } catch {
      return false;
    }
  }

  /** Emits partial lines whose last fragment is overdue (partialFlushTimeout), then overdue multi-line records. */
  flushStale(now: number): void {
    if (!this.hasPending) return;
    let emitted = false;
    if (this.#mergerPending) {
      const lines = this.#merger!.flushExpired(now);
      for (const line of lines) this.#emitFlushed(line);
      if (this.#merger!.pendingCount === 0) {
        this.#startOut = undefined;
        this.#startErr = undefined;
      }
      emitted = lines.length > 0;
    }
    if (this.#joiner !== undefined && this.#joiner.pendingCount > 0) {
      this.#joiner.flushExpired(this.#joined, now);
      emitted = this.#emitJoined() || emitted;
    }
    if (emitted) this.#noteProgress();
  }

  /**
   * At the end of cursors[0]: is there a successor to move on to, was the file truncated, rotated
   * or deleted? 'again' means read on (from the same or the next file).
   */
  #atEnd(readAny: boolean): DrainResult | 'again' {
    const { now, options, metrics } = this.#ctx;
    const c = this.#cursors[0]!;

    // At the end of a file that was rotated away: move on once its successor has data.
    const next = this.#cursors[1];
    if (next !== undefined) {
      if (fstatSync(next.fd).size > 0 || now() - (c.rotatedAt ?? 0) >= options.rotateWait) {
        // Read once more after seeing the successor's data: whatever the runtime wrote here came first.
        while (this.#readChunk(c, Math.min(options.readChunkBytes, this.#ctx.readBuffer.length - (this.#carry?.length ?? 0))) > 0);
        this.#finishCursor(c);
        this.#cursors.shift();
        this.#noteProgress();
        return 'again';
      }
      return 'waiting';
    }

    // Data came and nothing hinted at a change of file: the common case costs no stat.
    if (readAny && !this.#checkRequested) return 'idle';
    const full = this.#checkRequested;
    this.#checkRequested = false;

    if (fstatSync(c.fd).size < c.readOffset) {
      this.#restartTruncated(c);
      metrics.rotations.inc({ kind: 'truncate' });
      c.fingerprint = fingerprintOf(c.fd, c.dev, c.ino);
      this.#noteProgress();
      return 'again';
    }
    // A change event that brought no data (it came after a round had read the data, or the file
    // was touched): only a truncation could explain more, and there was none. A rename, create or
    // delete event, a safety poll or a new follower asks for the full check below.
    if (!full) return 'idle';

    let current: { dev: bigint; ino: bigint } | undefined;
    try {
      current = statSync(this.path, { bigint: true });
    } catch {
      current = undefined;
    }
    if (current === undefined) {
      this.#goneSince ??= now();
      // Keep looking: the path may come back (a rotation in progress), or this is the end.
      this.#checkRequested = true;
      if (now() - this.#goneSince < options.rotateWait) return 'waiting';
      while (this.#readChunk(c, Math.min(options.readChunkBytes, this.#ctx.readBuffer.length - (this.#carry?.length ?? 0))) > 0);
      this.#finishCursor(c);
      this.#cursors.shift();
      this.#flushAllPending();
      this.#noteProgress();
      this.#stopped = true;
      return 'done';
    }
    this.#goneSince = undefined;
    if (String(current.dev) !== c.dev || String(current.ino) !== c.ino) {
      const successors = this.#ctx.openSuccessors(this.path, c);
      if (successors.length === 0) {
        this.#checkRequested = true;
        return 'waiting';
      }
      c.rotatedAt = now();
      for (const s of successors) this.#cursors.push(s);
      metrics.rotations.inc({ kind: 'rename' }, successors.length);
      this.#ctx.logger.debug({ path: this.path, successors: successors.length }, 'log file rotated; finishing the old file first');
      return 'again';
    }
    return 'idle';
  }

  /** Reads one chunk of `c` after the carried incomplete line and handles its complete lines. Returns bytes read. */
  #readChunk(c: Cursor, room: number): number {
    const buf = this.#ctx.readBuffer;
    const carryLength = this.#carry?.length ?? 0;
    if (this.#carry !== undefined) this.#carry.copy(buf, 0);
    const bytesRead = readSync(c.fd, buf, carryLength, room, c.readOffset);
    if (bytesRead === 0) return 0;
    const base = c.readOffset - carryLength;
    c.readOffset += bytesRead;
    this.bytesDrained += bytesRead;
    this.#carry = undefined;
    this.#handleChunk(buf.subarray(0, carryLength + bytesRead), base, c);
    this.#ctx.metrics.bytesRead.inc(bytesRead);
    // The fingerprint grows with a young file until it covers HEAD_BYTES.
    if (c.fingerprint.headLength < HEAD_BYTES && c.readOffset > c.fingerprint.headLength) {
      c.fingerprint = fingerprintOf(c.fd, c.dev, c.ino);
    }
    return bytesRead;
  }

  /** The hot path: `chunk` starts at file offset `base`; complete lines are handled, the rest is carried. */
  #handleChunk(chunk: Buffer, base: number, c: Cursor): void {
    const { maxLineBytes, maxLineAction } = this.#ctx.options;
    const { metrics } = this.#ctx;
    let start = 0;
    let newline = chunk.indexOf(NEWLINE, 0);
    while (newline !== -1) {
      if (this.#skipping) {
        this.#skipping = false;
      } else if (newline - start > maxLineBytes) {
        if (maxLineAction === 'truncate') {
          this.#handleLine(chunk, start, utf8Boundary(chunk, start, start + maxLineBytes), base + start, newline + 1 - start);
          metrics.linesTruncated.inc({ reason: 'max_line_bytes' });
        } else {
          metrics.linesDropped.inc({ reason: 'max_line_bytes' });
        }
      } else {
        this.#handleLine(chunk, start, newline, base + start, newline + 1 - start);
      }
      start = newline + 1;
      c.consumed = base + start;
      newline = chunk.indexOf(NEWLINE, start);
    }

    const rest = chunk.length - start;
    if (this.#skipping) {
      // Still inside an over-long line: discard (c.consumed stays at its start, so a restart redoes it).
    } else if (rest > maxLineBytes) {
      if (maxLineAction === 'truncate') {
        this.#handleLine(chunk, start, utf8Boundary(chunk, start, start + maxLineBytes), base + start, rest);
        metrics.linesTruncated.inc({ reason: 'max_line_bytes' });
      } else {
        metrics.linesDropped.inc({ reason: 'max_line_bytes' });
      }
      this.#skipping = true;
    } else if (rest > 0) {
      this.#carry = Buffer.allocUnsafe(rest);
      chunk.copy(this.#carry, 0, start);
    }

    if (this.#linesInChunk > 0) {
      metrics.linesRead.inc(this.#linesInChunk);
      this.#linesInChunk = 0;
    }
    if (this.#decodeErrors > 0) {
      metrics.eventErrors.inc({ reason: 'undecodable_line' }, this.#decodeErrors);
      this.#decodeErrors = 0;
    }
  }

  #handleLine(chunk: Buffer, start: number, end: number, offset: number, rawBytes: number): void {
    this.#linesInChunk++;
    const text = chunk.toString('utf8', start, end);
    const decoded = decodeLine(text);
    if ('error' in decoded) {
      if (decoded.error === 'empty_line') {
        this.#ctx.metrics.linesDropped.inc({ reason: 'empty_line' });
        return;
      }
      // Not CRI nor Docker: passed on as it is rather than lost; the time is when it was read.
      this.#decodeErrors++;
      const raw: DecodedMessage = { timestamp: new Date(this.#ctx.now()).toISOString(), stream: 'stdout', message: text };
      if (this.#rule === undefined) this.#ctx.pipeline.push(this.path, raw, rawBytes);
      else this.#join(raw, rawBytes, this.#cursors[0]!.generation, offset);
      return;
    }
    if (!decoded.partial && !this.#mergerPending) {
      if (this.#rule === undefined) this.#ctx.pipeline.push(this.path, decoded, rawBytes);
      else this.#join(decoded, rawBytes, this.#cursors[0]!.generation, offset);
      return;
    }
    let first = decoded.stream === 'stdout' ? this.#startOut : this.#startErr;
    if (first === undefined && decoded.partial) {
      first = { generation: this.#cursors[0]!.generation, offset, rawBytes: 0 };
      if (decoded.stream === 'stdout') this.#startOut = first;
      else this.#startErr = first;
    }
    if (first !== undefined) first.rawBytes += rawBytes;
    this.#merger ??= new PartialMerger({
      maxMergedLineBytes: this.#ctx.options.maxMergedLineBytes,
      flushTimeoutMs: this.#ctx.options.partialFlushTimeout,
      now: this.#ctx.now,
    });
    const line = this.#merger.push(this.path, decoded);
    // The line's last fragment: a restart no longer needs to go back for it (even if it was cut earlier).
    if (!decoded.partial) this.#takeStart(decoded.stream);
    if (line === undefined) return;
    if (first !== undefined) this.#emitMerged(line, first.rawBytes, first.generation, first.offset);
    else this.#emitMerged(line, rawBytes, this.#cursors[0]!.generation, offset);
  }

  #takeStart(stream: Stream): PendingStart | undefined {
    const start = stream === 'stdout' ? this.#startOut : this.#startErr;
    if (stream === 'stdout') this.#startOut = undefined;
    else this.#startErr = undefined;
    return start;
  }

  /** A merged line let go by a flush: where its first fragment was read (or, if unknown, where reading is). */
  #emitFlushed(line: MergedLine): void {
    const start = this.#takeStart(line.stream);
    const c = this.#cursors[0];
    this.#emitMerged(line, start?.rawBytes ?? 0, start?.generation ?? c?.generation ?? 0, start?.offset ?? c?.consumed ?? 0);
  }

  #emitMerged(line: MergedLine, rawBytes: number, generation: number, offset: number): void {
    const { metrics, options, pipeline } = this.#ctx;
    if (line.fragments > 1) metrics.eventsMerged.inc(line.fragments - 1);
    if (line.truncated) {
      if (options.maxLineAction === 'drop') {
        metrics.linesDropped.inc({ reason: 'max_merged_line_bytes' });
        return;
      }
      metrics.linesTruncated.inc({ reason: 'max_merged_line_bytes' });
    }
    if (this.#rule === undefined) pipeline.push(this.path, line, rawBytes);
    else this.#join(line, rawBytes, generation, offset);
  }

  /**
   * The file's rule as its pod says at this drain. A change lets the records held under the old
   * rule go first, so that no line overtakes them.
   */
  #refreshRule(rule: MultilineRule | undefined): void {
    if (rule === this.#rule) return;
    if (this.#joiner !== undefined && this.#joiner.pendingCount > 0) {
      this.#joiner.flushAll(this.#joined);
      this.#emitJoined();
    }
    this.#rule = rule;
  }

  /** A whole (or merged) line of a file under a multiline rule: held by the joiner until its record ends. */
  #join(line: DecodedMessage, rawBytes: number, generation: number, offset: number): void {
    const source = this.#ctx.multiline!;
    this.#joiner ??= new MultilineJoiner<DecodedMessage, LineStart>({ maxBytes: source.maxBytes, flushTimeoutMs: source.flushTimeoutMs, now: this.#ctx.now });
    this.#joiner.push(this.path, line, this.#rule!, { generation, offset }, rawBytes, this.#joined);
    this.#emitJoined();
  }

  /** Hands what the joiner let go (this.#joined) to the pipeline; whether there was any. */
  #emitJoined(): boolean {
    const joined = this.#joined;
    if (joined.length === 0) return false;
    const { metrics, pipeline } = this.#ctx;
    for (const e of joined) {
      if (e.lines > 1) {
        metrics.multilineEvents.inc();
        metrics.multilineLinesJoined.inc(e.lines - 1);
      }
      if (e.end === 'max_bytes') metrics.multilineSplits.inc();
      const message: DecodedMessage = e.lines === 1 ? e.first : { timestamp: e.first.timestamp, stream: e.first.stream, message: e.message };
      pipeline.push(this.path, message, e.weight);
    }
    joined.length = 0;
    return true;
  }

  #flushAllPending(): void {
    if (this.#merger !== undefined) for (const line of this.#merger.flushAll()) this.#emitFlushed(line);
    this.#startOut = undefined;
    this.#startErr = undefined;
    if (this.#joiner !== undefined && this.#joiner.pendingCount > 0) {
      this.#joiner.flushAll(this.#joined);
      this.#emitJoined();
    }
  }

  /** Copy-truncate: the file was emptied under us; what is pending is all there will be of it. */
  #restartTruncated(c: Cursor): void {
    this.#flushAllPending();
    this.#carry = undefined;
    this.#skipping = false;
    c.readOffset = 0;
    c.consumed = 0;
  }

  /** A cursor read to its end: a last line without newline still counts; then it is closed. */
  #finishCursor(c: Cursor): void {
    if (this.#carry !== undefined && !this.#skipping) {
      const tail = this.#carry;
      this.#carry = undefined;
      this.#handleLine(tail, 0, tail.length, c.readOffset - tail.length, tail.length);
      if (this.#linesInChunk > 0) this.#ctx.metrics.linesRead.inc(this.#linesInChunk);
      this.#linesInChunk = 0;
    }
    this.#carry = undefined;
    this.#skipping = false;
    c.consumed = c.readOffset;
    c.closed = true;
    c.finalOffset = c.readOffset;
    this.#finished.push(c);
    try {
      this.lastFile = { key: c.key, mtimeNs: fstatSync(c.fd, { bigint: true }).mtimeNs };
    } catch {
      this.lastFile = { key: c.key, mtimeNs: 0n };
    }
    closeQuietly(c.fd);
    this.#ctx.cursorClosed(c);
  }

  /** Where a restart of cursor `c` must begin so that no line, and no part of a pending merged line or record, is lost. */
  #safeOffset(c: Cursor): number {
    let safe = c.consumed;
    const joiner = this.#joiner;
    const held = joiner === undefined || joiner.pendingCount === 0 ? NO_STARTS : [joiner.pendingContext(this.path, 'stdout'), joiner.pendingContext(this.path, 'stderr')];
    for (const p of [this.#startOut, this.#startErr, ...held]) {
      if (p === undefined) continue;
      if (p.generation === c.generation) safe = Math.min(safe, p.offset);
      // A line that began in an older file continues here: this file must be re-read from its start.
      else if (p.generation < c.generation) safe = 0;
    }
    return safe;
  }

  /** Tells the pipeline how far each file is safely handed on; called after each drain, not per line. */
  #noteProgress(): void {
    const { pipeline } = this.#ctx;
    if (this.#finished.length > 0) {
      for (const c of this.#finished) this.#noteCursor(c, pipeline);
      // Closed files whose pending lines were emitted are done here; their final mark is in the pipeline.
      this.#finished = this.#finished.filter((c) => c.noted.offset !== c.finalOffset);
    }
    for (const c of this.#cursors) this.#noteCursor(c, pipeline);
  }

  #noteCursor(c: Cursor, pipeline: DeliveryPipeline<Cursor, CheckpointMark>): void {
    const offset = this.#safeOffset(c);
    if (offset === c.noted.offset && c.fingerprint === c.noted.fingerprint) return;
    const mark: CheckpointMark = { offset, fingerprint: c.fingerprint };
    c.noted = mark;
    pipeline.noteProgress(c, mark);
    // Lines pushed since the last mark went into this batch too.
    this.lastReadAt = this.#ctx.now();
    this.lastBatch = pipeline.gatheringBatch;
  }
}

const LAST_LINE_SEARCH_BYTES = 64 * 1024;

/**
 * The start of the last line of the file's first `size` bytes that does not end there (so that
 * it is read whole later), not before `floor`: `size` itself when the bytes end with a newline.
 * A line longer than the search window is cut at `size`.
 */
export function lineStartBefore(fd: number, size: number, floor = 0): number {
  if (size <= floor) return floor;
  const length = Math.min(size - floor, LAST_LINE_SEARCH_BYTES);
  const buf = Buffer.allocUnsafe(length);
  const bytesRead = readSync(fd, buf, 0, length, size - length);
  const lastNewline = buf.subarray(0, bytesRead).lastIndexOf(NEWLINE);
  if (lastNewline === -1) return length === size - floor ? floor : size;
  return size - length + lastNewline + 1;
}

function closeQuietly(fd: number): void {
  try {
    closeSync(fd);
  } catch {
    // Already closed: nothing to release.
  }
}

/** The largest end <= `end` that does not cut a UTF-8 sequence starting at or after `start`. */
function utf8Boundary(buf: Buffer, start: number, end: number): number {
  if (end >= buf.length) return buf.length;
  let i = end;
  // Continuation bytes are 10xxxxxx: step back to the lead byte, which must not be included.
  while (i > start && (buf[i]! & 0xc0) === 0x80) i--;
  return i;
}
