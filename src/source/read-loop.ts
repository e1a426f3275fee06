/**
 * When to read which file: one loop for all followers, so that the cost of following a file does
 * not depend on how many there are, and a busy node costs a few reads per round instead of a
 * stat, an fstat and a read per written line.
 *
 * - A watch event (inotify, via fs.watch on the container directory) marks the file dirty; it
 *   costs a map lookup. Dirty files are drained in rounds, at most one round per `roundInterval`
 *   (batchMaxWait): the first event after a quiet spell starts a round at once, later ones wait
 *   for the next. Each round ends by sealing the batch, so lines of many files and many writes
 *   reach the enricher and the sink together.
 * - A directory whose files change in several rounds in a row is busy: its watch is closed (each
 *   event would cost more than the read it triggers) and its files are read on every round until
 *   they have been quiet for a second; then the watch is opened again and the directory rescanned.
 * - A slow safety poll re-checks every file (rotation, truncation, missed events) with an fstat
 *   and a stat, backing off for quiet files from 1 s to 30 s; files of a directory that cannot be watched are polled every
 *   `pollInterval`, as are rotated or deleted files waiting for rotateWait.
 * - Backpressure: a round stops when delivery has no room, and resumes when it has.
 */
import type { DeliveryPipeline } from './delivery.ts';
import type { FileFollower } from './follower.ts';
import type { SourceLogger } from './logger.ts';

export interface ReadLoopOptions {
  /** Least time between the starts of two rounds (the batchMaxWait option). */
  roundInterval: number;
  /** Tick of the safety poll, and the poll interval of files that cannot be watched. */
  pollInterval: number;
  /** Longest a round reads from one file before it moves on to the next (fairness in a backlog). */
  maxBytesPerTurn: number;
}

/** What the loop needs of the watches (PodLogDiscovery). */
export interface WatchControl {
  /** Closes the watch of a busy directory; false if it was not watched. */
  pause(dir: string): boolean;
  /** Watches the directory again and lists its files (new ones are reported as a scan); false if it cannot be watched. */
  resume(dir: string): boolean;
  /** Whether the directory is watched (or paused by us): if not, its files are polled. */
  isWatched(dir: string): boolean;
}

export interface ReadLoopDeps {
  pipeline: Pick<DeliveryPipeline<unknown, unknown>, 'hasRoom' | 'room' | 'beginRound' | 'flush'>;
  watches: WatchControl;
  logger: SourceLogger;
  now: () => number;
  /** A follower's path is gone and its last file was read. */
  onDone(follower: FileFollower): void;
  /** The number of busy directories changed. */
  onBusyDirectories(count: number): void;
}

/** Rounds in a row with new data before a directory's watch is closed for polling. */
const BUSY_ROUNDS = 4;
/** Quiet time after which a busy directory is watched again. */
const QUIET_MS = 1_000;
const SAFETY_POLL_MIN_MS = 1_000;
const SAFETY_POLL_MAX_MS = 30_000;

class Tail {
  readonly follower: FileFollower;
  readonly dir: DirState;
  queued = false;
  /** Marked by a watch event since its last drain. */
  notified = false;
  /** At the end of a rotated or deleted file, waiting for its successor or rotateWait. */
  waiting = false;
  /** Rounds in a row in which a watch event brought data. */
  busyRounds = 0;
  nextCheckAt: number;
  checkEvery = SAFETY_POLL_MIN_MS;

  constructor(follower: FileFollower, dir: DirState, now: number) {
    this.follower = follower;
    this.dir = dir;
    this.nextCheckAt = now + SAFETY_POLL_MIN_MS;
  }
}

class DirState {
  readonly path: string;
  readonly tails = new Set<Tail>();
  /** Its watch is closed; its files are read every round. */
  busy = false;
  quietSince = 0;

  constructor(path: string) {
    this.path = path;
  }
}

export class ReadLoop {
  readonly #options: ReadLoopOptions;
  readonly #deps: ReadLoopDeps;
  readonly #tails = new Map<FileFollower, Tail>();
  readonly #byPath = new Map<string, Tail>();
  readonly #dirs = new Map<string, DirState>();
  readonly #busyDirs = new Set<DirState>();
  #queue: Tail[] = [];
  #roundTimer: NodeJS.Timeout | undefined;
  #immediate: NodeJS.Immediate | undefined;
  #pollTimer: NodeJS.Timeout | undefined;
  #waitingForRoom = false;
  #lastRoundAt = -Infinity;
  #started = false;
  #stopped = false;

  constructor(options: ReadLoopOptions, deps: ReadLoopDeps) {
    this.#options = options;
    this.#deps = deps;
  }

  start(): void {
    this.#started = true;
    this.#pollTimer = setInterval(() => this.#pollTick(), this.#options.pollInterval);
    this.#schedule();
  }

  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#roundTimer);
    clearInterval(this.#pollTimer);
    if (this.#immediate !== undefined) clearImmediate(this.#immediate);
    this.#queue = [];
  }

  /** Directories read every round with their watch closed. */
  get busyDirectories(): number {
    return this.#busyDirs.size;
  }

  /** Starts following: the file is drained in the next round. */
  add(path: string, dir: string, follower: FileFollower): void {
    let d = this.#dirs.get(dir);
    if (d === undefined) {
      d = new DirState(dir);
      this.#dirs.set(dir, d);
    }
    const tail = new Tail(follower, d, this.#deps.now());
    d.tails.add(tail);
    this.#tails.set(follower, tail);
    this.#byPath.set(path, tail);
    this.#enqueue(tail);
    this.#schedule();
  }

  /** A watch event for a file: `renamed` for create, delete and rename (look at its metadata too). False: no follower has that path. */
  notify(path: string, renamed: boolean): boolean {
    const tail = this.#byPath.get(path);
    if (tail === undefined) return false;
    if (renamed) tail.follower.requestCheck();
    tail.notified = true;
    if (!tail.queued) {
      this.#enqueue(tail);
      this.#schedule();
    }
    return true;
  }

  #enqueue(tail: Tail): void {
    if (tail.queued) return;
    tail.queued = true;
    this.#queue.push(tail);
  }

  /** Runs a round now if the last one was long enough ago, else when it is due. */
  #schedule(): void {
    if (!this.#started || this.#stopped || this.#roundTimer !== undefined || this.#immediate !== undefined || this.#waitingForRoom) return;
    if (this.#queue.length === 0 && this.#busyDirs.size === 0) return;
    const wait = this.#lastRoundAt + this.#options.roundInterval - this.#deps.now();
    if (wait <= 0) {
      this.#immediate = setImmediate(() => {
        this.#immediate = undefined;
        this.#round();
      });
    } else {
      this.#roundTimer = setTimeout(() => {
        this.#roundTimer = undefined;
        this.#round();
      }, wait);
    }
  }

  #round(): void {
    if (this.#stopped) return;
    const now = this.#deps.now();
    this.#lastRoundAt = now;
    for (const d of this.#busyDirs) for (const t of d.tails) this.#enqueue(t);
    const turn = this.#queue;
    this.#queue = [];
    let blocked: boolean;
    /** Files that had more to read than their turn: they go last in the next round (fairness in a backlog). */
    const unfinished: Tail[] = [];
    this.#deps.pipeline.beginRound();
    try {
      blocked = this.#turn(turn, now, unfinished);
    } finally {
      this.#deps.pipeline.flush();
    }
    for (const tail of unfinished) this.#enqueue(tail);
    this.#settleBusyDirs(now);
    if (blocked) this.#resumeWhenRoom();
    else if (this.#queue.length > 0) {
      // A file had more than its turn's share: go on without waiting for the next interval.
      this.#lastRoundAt = -Infinity;
      this.#schedule();
    } else this.#schedule();
  }

  /** Drains the files of one round in order; true when delivery ran out of room (the rest waits for the next round). */
  #turn(turn: Tail[], now: number, unfinished: Tail[]): boolean {
    let blocked = false;
    for (let i = 0; i < turn.length; i++) {
      const tail = turn[i]!;
      if (blocked) {
        // Not reached this round: first in line for the next.
        this.#queue.push(tail);
        continue;
      }
      tail.queued = false;
      const before = tail.follower.bytesDrained;
      const result = this.#drain(tail);
      const gotData = tail.follower.bytesDrained !== before;
      this.#account(tail, gotData, now);
      tail.notified = false;
      if (result === 'blocked') {
        unfinished.push(tail);
        if (!this.#deps.pipeline.hasRoom()) blocked = true;
      }
    }
    return blocked;
  }

  #drain(tail: Tail): ReturnType<FileFollower['drain']> {
    let result: ReturnType<FileFollower['drain']>;
    try {
      result = tail.follower.drain(this.#options.maxBytesPerTurn);
    } catch (err) {
      this.#deps.logger.warn({ err, path: tail.follower.path }, 'reading a log file failed; retrying');
      tail.follower.requestCheck();
      tail.waiting = true;
      return 'waiting';
    }
    tail.waiting = result === 'waiting';
    if (result === 'done') this.#remove(tail);
    return result;
  }

  #account(tail: Tail, gotData: boolean, now: number): void {
    // A file that brings data through its watch needs no safety poll meanwhile: postponed.
    if (gotData) tail.nextCheckAt = now + tail.checkEvery;
    const dir = tail.dir;
    if (dir.busy) {
      if (gotData) dir.quietSince = now;
      return;
    }
    tail.busyRounds = gotData && tail.notified ? tail.busyRounds + 1 : 0;
    if (tail.busyRounds >= BUSY_ROUNDS && this.#deps.watches.pause(dir.path)) {
      dir.busy = true;
      dir.quietSince = now;
      this.#busyDirs.add(dir);
      this.#deps.onBusyDirectories(this.#busyDirs.size);
      for (const t of dir.tails) t.busyRounds = 0;
    }
  }

  /** Busy directories quiet for QUIET_MS are watched again; their files get one more look (the watch was off). */
  #settleBusyDirs(now: number): void {
    for (const dir of this.#busyDirs) {
      if (dir.tails.size > 0 && now - dir.quietSince < QUIET_MS) continue;
      this.#busyDirs.delete(dir);
      this.#deps.onBusyDirectories(this.#busyDirs.size);
      dir.busy = false;
      // Watched again even when its files ended: a restarted container's new file is found by it.
      this.#deps.watches.resume(dir.path);
      if (dir.tails.size === 0) {
        this.#dirs.delete(dir.path);
        continue;
      }
      for (const t of dir.tails) this.#enqueue(t);
    }
  }

  #resumeWhenRoom(): void {
    this.#waitingForRoom = true;
    void this.#deps.pipeline.room().then(() => {
      this.#waitingForRoom = false;
      this.#lastRoundAt = -Infinity;
      this.#schedule();
    });
  }

  /** The safety poll: stale partial lines, files waiting on a rotation, and the slow re-check of every file. */
  #pollTick(): void {
    if (this.#stopped) return;
    const now = this.#deps.now();
    let queued = false;
    for (const tail of this.#tails.values()) {
      tail.follower.flushStale(now);
      if (tail.dir.busy || tail.queued) continue;
      if (tail.waiting) {
        this.#enqueue(tail);
        queued = true;
      } else if (now >= tail.nextCheckAt) {
        const watched = this.#deps.watches.isWatched(tail.dir.path);
        tail.checkEvery = watched ? Math.min(SAFETY_POLL_MAX_MS, tail.checkEvery * 2) : this.#options.pollInterval;
        tail.nextCheckAt = now + tail.checkEvery;
        if (!tail.follower.looksChanged()) continue;
        tail.follower.requestCheck();
        this.#enqueue(tail);
        queued = true;
      }
    }
    // Lines emitted by a flush wait for the next round's seal, or for the batch timer.
    if (queued) this.#schedule();
  }

  #remove(tail: Tail): void {
    this.#tails.delete(tail.follower);
    if (this.#byPath.get(tail.follower.path) === tail) this.#byPath.delete(tail.follower.path);
    tail.dir.tails.delete(tail);
    if (tail.dir.tails.size === 0 && !tail.dir.busy) this.#dirs.delete(tail.dir.path);
    this.#deps.onDone(tail.follower);
  }
}
