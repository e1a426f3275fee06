/**
 * Follows one live log path (<container>/<n>.log) across its rotations: reads appended data in
 * large chunks, splits lines without copying, decodes them (CRI or Docker), merges partial lines
 * per stream, applies maxLineBytes, and hands lines and safe restart positions to the delivery
 * pipeline.
 *
 * Rotation by rename (what the kubelet does): the old file is still open here; it is read to its
 * end before the new file, and left once the new file has data (the runtime writes to one file at
 * a time) or rotateWait passed. Copy-truncate: the size drops below the read offset, so reading
 * starts again at 0. Deletion: what the open descriptor still holds is read, then after rotateWait
 * the file is closed.
 */
import { stat } from 'node:fs/promises';
import type { DecodedMessage } from '../enrich/types.ts';
import { PartialMerger, decodeLine, type MergedLine, type Stream } from '../formats/index.ts';
import type { Metrics } from '../metrics/index.ts';
import type { BufferPool } from './buffer-pool.ts';
import type { CheckpointMark, Cursor } from './cursor.ts';
import type { DeliveryPipeline } from './delivery.ts';
import { HEAD_BYTES, fingerprintOf } from './fingerprint.ts';
import type { SourceLogger } from './logger.ts';
import type { ResolvedOptions } from './options.ts';

const NEWLINE = 0x0a;

export interface FollowContext {
  readonly options: ResolvedOptions;
  readonly pipeline: DeliveryPipeline<Cursor, CheckpointMark>;
  readonly buffers: BufferPool;
  readonly metrics: Metrics;
  readonly logger: SourceLogger;
  readonly now: () => number;
  /** Opens what is now at `path` as the next generation; undefined if nothing (new) is there. */
  openSuccessor(path: string, generation: number): Promise<Cursor | undefined>;
  /** A cursor was read to its end and closed. */
  cursorClosed(cursor: Cursor): void;
}

/** Where the first fragment of a line still being merged was read: a restart must re-read from there. */
interface PendingStart {
  generation: number;
  offset: number;
  /** Raw bytes of its fragments as read (what backpressure counts when the line is emitted). */
  rawBytes: number;
}

type StepResult = 'data' | 'idle' | 'done';

export class FileFollower {
  readonly path: string;
  private readonly ctx: FollowContext;
  /** cursors[0] is being read; later ones took over the path after it was rotated. */
  private readonly cursors: Cursor[];
  /** Closed cursors whose last lines are still held in a pending partial line. */
  private finished: Cursor[] = [];
  /** Bytes of the incomplete last line of cursors[0]. */
  private carry: Buffer | undefined;
  /** Discarding the rest of a line longer than maxLineBytes. */
  private skipping = false;
  /** Partial lines, merged per stream (the key is always this path). */
  private readonly merger: PartialMerger;
  private startOut: PendingStart | undefined;
  private startErr: PendingStart | undefined;
  private goneSince: number | undefined;
  private stopped = false;
  private wake: (() => void) | undefined;
  private nudged = false;
  /** Per-chunk tallies, added to the metrics once per chunk rather than per line. */
  private linesInChunk = 0;
  private decodeErrors = 0;
  readonly done: Promise<void>;

  constructor(path: string, cursors: Cursor[], ctx: FollowContext) {
    this.path = path;
    this.cursors = cursors;
    this.ctx = ctx;
    this.merger = new PartialMerger({
      maxMergedLineBytes: ctx.options.maxMergedLineBytes,
      flushTimeoutMs: ctx.options.partialFlushTimeout,
      now: ctx.now,
    });
    this.done = this.run();
  }

  /** Something changed on disk: look now instead of at the next poll. */
  nudge(): void {
    this.nudged = true;
    this.wake?.();
  }

  /** Stops after the step in progress; `done` resolves when it has. Handles are closed by close(). */
  stop(): void {
    this.stopped = true;
    this.wake?.();
  }

  /** Closes what is still open (after stop). */
  async close(): Promise<void> {
    for (const c of this.cursors) await c.handle.close().catch(() => undefined);
  }

  /** Emits partial lines whose last fragment is overdue (partialFlushTimeout). */
  flushStale(now: number): void {
    if (this.merger.pendingCount === 0) return;
    const lines = this.merger.flushExpired(now);
    for (const line of lines) this.emitMerged(line, this.takeStart(line.stream));
    if (this.merger.pendingCount === 0) {
      this.startOut = undefined;
      this.startErr = undefined;
    }
    if (lines.length > 0) this.noteProgress();
  }

  get openFiles(): number {
    return this.cursors.length;
  }

  private async run(): Promise<void> {
    const { pipeline, options, logger } = this.ctx;
    while (!this.stopped) {
      if (!pipeline.hasRoom()) {
        // Backpressure: resumes when delivery made room (or the source stops: it wakes all readers).
        await pipeline.room();
        continue;
      }
      let result: StepResult;
      try {
        result = await this.step();
      } catch (err) {
        if (this.stopped) break;
        logger.warn({ err, path: this.path }, 'reading a log file failed; retrying');
        result = 'idle';
      }
      if (result === 'done') {
        this.stopped = true;
        break;
      }
      if (result === 'idle') await this.idle(options.pollInterval);
    }
  }

  private idle(ms: number): Promise<void> {
    if (this.nudged || this.stopped) {
      this.nudged = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const timer = setTimeout(wake, ms);
      function wake(): void {
        clearTimeout(timer);
        resolve();
      }
      this.wake = () => {
        this.wake = undefined;
        this.nudged = false;
        wake();
      };
    });
  }

  private async step(): Promise<StepResult> {
    const { now, options, metrics } = this.ctx;
    const c = this.cursors[0]!;
    if ((await this.readChunk(c)) > 0) {
      this.noteProgress();
      return 'data';
    }

    // At the end of a file that was rotated away: move on once its successor has data.
    const next = this.cursors[1];
    if (next !== undefined) {
      const nextSize = (await next.handle.stat()).size;
      if (nextSize > 0 || now() - (c.rotatedAt ?? 0) >= options.rotateWait) {
        // Read once more after seeing the successor's data: whatever the runtime wrote here came first.
        while ((await this.readChunk(c)) > 0);
        this.finishCursor(c);
        this.cursors.shift();
        this.noteProgress();
        return 'data';
      }
      return 'idle';
    }

    const size = (await c.handle.stat()).size;
    if (size < c.readOffset) {
      this.restartTruncated(c);
      metrics.rotations.inc({ kind: 'truncate' });
      c.fingerprint = await fingerprintOf(c.handle, c.dev, c.ino);
      this.noteProgress();
      return 'data';
    }

    let current: { dev: bigint; ino: bigint } | undefined;
    try {
      current = await stat(this.path, { bigint: true });
    } catch {
      current = undefined;
    }
    if (current === undefined) {
      this.goneSince ??= now();
      if (now() - this.goneSince < options.rotateWait) return 'idle';
      while ((await this.readChunk(c)) > 0);
      this.finishCursor(c);
      this.cursors.shift();
      this.flushAllPending();
      this.noteProgress();
      return 'done';
    }
    this.goneSince = undefined;
    if (String(current.dev) !== c.dev || String(current.ino) !== c.ino) {
      const successor = await this.ctx.openSuccessor(this.path, c.generation + 1);
      if (successor === undefined) return 'idle';
      c.rotatedAt = now();
      this.cursors.push(successor);
      metrics.rotations.inc({ kind: 'rename' });
      this.ctx.logger.debug({ path: this.path }, 'log file rotated; finishing the old file first');
      return 'data';
    }
    return 'idle';
  }

  /** Reads one chunk of `c` after the carried incomplete line and handles its complete lines. Returns bytes read. */
  private async readChunk(c: Cursor): Promise<number> {
    const { buffers, options } = this.ctx;
    const buf = await buffers.acquire();
    let bytesRead: number;
    try {
      const carryLength = this.carry?.length ?? 0;
      if (this.carry !== undefined) this.carry.copy(buf, 0);
      const room = Math.min(options.readChunkBytes, buf.length - carryLength);
      ({ bytesRead } = await c.handle.read(buf, carryLength, room, c.readOffset));
      if (bytesRead > 0) {
        const base = c.readOffset - carryLength;
        c.readOffset += bytesRead;
        this.carry = undefined;
        this.handleChunk(buf.subarray(0, carryLength + bytesRead), base, c);
      }
    } finally {
      buffers.release(buf);
    }
    if (bytesRead > 0) {
      this.ctx.metrics.bytesRead.inc(bytesRead);
      // The fingerprint grows with a young file until it covers HEAD_BYTES.
      if (c.fingerprint.headLength < HEAD_BYTES && c.readOffset > c.fingerprint.headLength) {
        c.fingerprint = await fingerprintOf(c.handle, c.dev, c.ino);
      }
    }
    return bytesRead;
  }

  /** The hot path: `chunk` starts at file offset `base`; complete lines are handled, the rest is carried. */
  private handleChunk(chunk: Buffer, base: number, c: Cursor): void {
    const { maxLineBytes, maxLineAction } = this.ctx.options;
    const { metrics } = this.ctx;
    let start = 0;
    let newline = chunk.indexOf(NEWLINE, 0);
    while (newline !== -1) {
      if (this.skipping) {
        this.skipping = false;
      } else if (newline - start > maxLineBytes) {
        if (maxLineAction === 'truncate') {
          this.handleLine(chunk, start, utf8Boundary(chunk, start, start + maxLineBytes), base + start, newline + 1 - start);
          metrics.linesTruncated.inc({ reason: 'max_line_bytes' });
        } else {
          metrics.linesDropped.inc({ reason: 'max_line_bytes' });
        }
      } else {
        this.handleLine(chunk, start, newline, base + start, newline + 1 - start);
      }
      start = newline + 1;
      c.consumed = base + start;
      newline = chunk.indexOf(NEWLINE, start);
    }

    const rest = chunk.length - start;
    if (this.skipping) {
      // Still inside an over-long line: discard (c.consumed stays at its start, so a restart redoes it).
    } else if (rest > maxLineBytes) {
      if (maxLineAction === 'truncate') {
        this.handleLine(chunk, start, utf8Boundary(chunk, start, start + maxLineBytes), base + start, rest);
        metrics.linesTruncated.inc({ reason: 'max_line_bytes' });
      } else {
        metrics.linesDropped.inc({ reason: 'max_line_bytes' });
      }
      this.skipping = true;
    } else if (rest > 0) {
      this.carry = Buffer.allocUnsafe(rest);
      chunk.copy(this.carry, 0, start);
    }

    if (this.linesInChunk > 0) {
      metrics.linesRead.inc(this.linesInChunk);
      this.linesInChunk = 0;
    }
    if (this.decodeErrors > 0) {
      metrics.eventErrors.inc({ reason: 'undecodable_line' }, this.decodeErrors);
      this.decodeErrors = 0;
    }
  }

  private handleLine(chunk: Buffer, start: number, end: number, offset: number, rawBytes: number): void {
    this.linesInChunk++;
    const text = chunk.toString('utf8', start, end);
    const decoded = decodeLine(text);
    if ('error' in decoded) {
      if (decoded.error === 'empty_line') {
        this.ctx.metrics.linesDropped.inc({ reason: 'empty_line' });
        return;
      }
      // Not CRI nor Docker: passed on as it is rather than lost; the time is when it was read.
      this.decodeErrors++;
      const raw: DecodedMessage = { timestamp: new Date(this.ctx.now()).toISOString(), stream: 'stdout', message: text };
      this.ctx.pipeline.push(this.path, raw, rawBytes);
      return;
    }
    if (!decoded.partial && this.merger.pendingCount === 0) {
      this.ctx.pipeline.push(this.path, decoded, rawBytes);
      return;
    }
    let first = decoded.stream === 'stdout' ? this.startOut : this.startErr;
    if (first === undefined && decoded.partial) {
      first = { generation: this.cursors[0]!.generation, offset, rawBytes: 0 };
      if (decoded.stream === 'stdout') this.startOut = first;
      else this.startErr = first;
    }
    if (first !== undefined) first.rawBytes += rawBytes;
    const line = this.merger.push(this.path, decoded);
    // The line's last fragment: a restart no longer needs to go back for it (even if it was cut earlier).
    if (!decoded.partial) this.takeStart(decoded.stream);
    if (line !== undefined) this.emitMerged(line, first?.rawBytes ?? rawBytes);
  }

  private takeStart(stream: Stream): number {
    const start = stream === 'stdout' ? this.startOut : this.startErr;
    if (stream === 'stdout') this.startOut = undefined;
    else this.startErr = undefined;
    return start?.rawBytes ?? 0;
  }

  private emitMerged(line: MergedLine, rawBytes: number): void {
    const { metrics, options, pipeline } = this.ctx;
    if (line.fragments > 1) metrics.eventsMerged.inc(line.fragments - 1);
    if (line.truncated) {
      if (options.maxLineAction === 'drop') {
        metrics.linesDropped.inc({ reason: 'max_merged_line_bytes' });
        return;
      }
      metrics.linesTruncated.inc({ reason: 'max_merged_line_bytes' });
    }
    pipeline.push(this.path, line, rawBytes);
  }

  private flushAllPending(): void {
    for (const line of this.merger.flushAll()) this.emitMerged(line, this.takeStart(line.stream));
    this.startOut = undefined;
    this.startErr = undefined;
  }

  /** Copy-truncate: the file was emptied under us; what is pending is all there will be of it. */
  private restartTruncated(c: Cursor): void {
    this.flushAllPending();
    this.carry = undefined;
    this.skipping = false;
    c.readOffset = 0;
    c.consumed = 0;
  }

  /** A cursor read to its end: a last line without newline still counts; then it is closed. */
  private finishCursor(c: Cursor): void {
    if (this.carry !== undefined && !this.skipping) {
      const tail = this.carry;
      this.carry = undefined;
      this.handleLine(tail, 0, tail.length, c.readOffset - tail.length, tail.length);
      if (this.linesInChunk > 0) this.ctx.metrics.linesRead.inc(this.linesInChunk);
      this.linesInChunk = 0;
    }
    this.carry = undefined;
    this.skipping = false;
    c.consumed = c.readOffset;
    c.closed = true;
    c.finalOffset = c.readOffset;
    this.finished.push(c);
    void c.handle.close().catch(() => undefined);
    this.ctx.cursorClosed(c);
  }

  /** Where a restart of cursor `c` must begin so that no line, and no part of a pending merged line, is lost. */
  private safeOffset(c: Cursor): number {
    let safe = c.consumed;
    for (const p of [this.startOut, this.startErr]) {
      if (p === undefined) continue;
      if (p.generation === c.generation) safe = Math.min(safe, p.offset);
      // A line that began in an older file continues here: this file must be re-read from its start.
      else if (p.generation < c.generation) safe = 0;
    }
    return safe;
  }

  /** Tells the pipeline how far each file is safely handed on; called after each chunk, not per line. */
  private noteProgress(): void {
    const { pipeline } = this.ctx;
    for (const c of this.finished) this.noteCursor(c, pipeline);
    // Closed files whose pending lines were emitted are done here; their final mark is in the pipeline.
    if (this.finished.length > 0) this.finished = this.finished.filter((c) => c.noted.offset !== c.finalOffset);
    for (const c of this.cursors) this.noteCursor(c, pipeline);
  }

  private noteCursor(c: Cursor, pipeline: DeliveryPipeline<Cursor, CheckpointMark>): void {
    const offset = this.safeOffset(c);
    if (offset === c.noted.offset && c.fingerprint === c.noted.fingerprint) return;
    const mark: CheckpointMark = { offset, fingerprint: c.fingerprint };
    c.noted = mark;
    pipeline.noteProgress(c, mark);
  }
}

/** The largest end <= `end` that does not cut a UTF-8 sequence starting at or after `start`. */
export function utf8Boundary(buf: Buffer, start: number, end: number): number {
  if (end >= buf.length) return buf.length;
  let i = end;
  // Continuation bytes are 10xxxxxx: step back to the lead byte, which must not be included.
  while (i > start && (buf[i]! & 0xc0) === 0x80) i--;
  return i;
}
