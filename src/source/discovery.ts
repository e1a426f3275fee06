/**
 * Finds the container log files under podsDir (<podsDir>/<ns>_<pod>_<uid>/<container>/<n>.log).
 * fs.watch on the directories notices new pods and containers quickly, and tells the read loop
 * which file changed; because watch events are lossy on some file systems (overlay, NFS) a
 * periodic rescan is the source of truth. The read loop closes the watch of a busy container
 * directory (`pause`) and reads its files every round instead, then `resume`s it.
 */
import { readdirSync, statSync, watch, type FSWatcher } from 'node:fs';
import { join, relative } from 'node:path';
import picomatch from 'picomatch';
import type { SourceLogger } from './logger.ts';

export interface DiscoveryOptions {
  podsDir: string;
  include: readonly string[];
  exclude: readonly string[];
  selfPodUid: string | undefined;
  selfPodName: string | undefined;
  rescanInterval: number;
}

export interface DiscoveryEvents {
  /** Every live log path found by a scan (absolute), in a stable order. */
  onScan(paths: readonly string[]): void;
  /**
   * A file in a watched container directory changed: its follower can look now rather than at
   * its next poll. `renamed` for create, delete and rename events (a rotation, perhaps).
   */
  onFileChanged(path: string, renamed: boolean): void;
}

/** Debounce for watch events: a pod start creates several entries in a burst. */
const RESCAN_DEBOUNCE_MS = 25;
/** One periodic scan in this many checks every directory's mtime; the others trust silent watches. */
const FULL_SCAN_EVERY = 6;
/** A directory modified this recently may change again within the same mtime tick: not cached as settled. */
const RACY_MS = 2_000;

/** Pure: is this pod directory (<ns>_<pod>_<uid>) the agent's own pod? */
export function isOwnPodDir(podDir: string, selfPodUid: string | undefined, selfPodName: string | undefined): boolean {
  const parts = podDir.split('_');
  if (parts.length < 3) return false;
  const uid = parts[parts.length - 1];
  const name = parts[1];
  return (selfPodUid !== undefined && selfPodUid !== '' && uid === selfPodUid) || (selfPodName !== undefined && selfPodName !== '' && name === selfPodName);
}

export function createPathFilter(include: readonly string[], exclude: readonly string[]): (relative: string) => boolean {
  const included = include.length === 0 ? () => true : picomatch([...include], { dot: true });
  const excluded = exclude.length === 0 ? () => false : picomatch([...exclude], { dot: true });
  return (relative) => included(relative) && !excluded(relative);
}

export class PodLogDiscovery {
  readonly #options: DiscoveryOptions;
  readonly #events: DiscoveryEvents;
  readonly #logger: SourceLogger;
  readonly #accepts: (relative: string) => boolean;
  readonly #watchers = new Map<string, FSWatcher>();
  /** Container directories whose watch the read loop closed while they are busy. */
  readonly #paused = new Set<string>();
  /** Directory listings of the last scan (see `listed`). */
  readonly #listings = new Map<string, { mtimeMs: number; names: readonly string[]; trusted: boolean }>();
  #scans = 0;
  #rescanTimer: NodeJS.Timeout | undefined;
  #debounceTimer: NodeJS.Timeout | undefined;
  #scanning: Promise<readonly string[]> | undefined;
  #rescanRequested = false;
  #stopped = false;
  #watchFailureLogged = false;
  #missingLogged = false;

  constructor(options: DiscoveryOptions, events: DiscoveryEvents, logger: SourceLogger) {
    this.#options = options;
    this.#events = events;
    this.#logger = logger;
    this.#accepts = createPathFilter(options.include, options.exclude);
  }

  /** Runs the first scan (its result is returned, not reported through onScan) and starts watching. */
  async start(): Promise<readonly string[]> {
    const first = await this.#scanOnce();
    this.#schedulePeriodicRescan();
    return first;
  }

  /** Scans now and reports the result through onScan; concurrent calls share one scan. */
  async rescan(): Promise<readonly string[]> {
    if (this.#scanning !== undefined) {
      this.#rescanRequested = true;
      return this.#scanning;
    }
    const paths = await this.#scanOnce();
    if (!this.#stopped) this.#events.onScan(paths);
    if (this.#rescanRequested && !this.#stopped) {
      this.#rescanRequested = false;
      return this.rescan();
    }
    return paths;
  }

  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#rescanTimer);
    clearTimeout(this.#debounceTimer);
    for (const w of this.#watchers.values()) w.close();
    this.#watchers.clear();
    this.#paused.clear();
  }

  /** Closes the watch of a busy container directory; false if it had none (then it is polled anyway). */
  pause(dir: string): boolean {
    const w = this.#watchers.get(dir);
    if (w === undefined) return false;
    w.close();
    this.#watchers.delete(dir);
    this.#paused.add(dir);
    return true;
  }

  /**
   * Watches a paused directory again, and reports its live files as a scan: a new file may have
   * appeared while it was not watched. False if it cannot be watched.
   */
  resume(dir: string): boolean {
    if (!this.#paused.delete(dir) || this.#stopped) return false;
    this.#ensureWatcher(dir, new Set(), dir);
    this.#scanContainer(dir);
    return this.#watchers.has(dir);
  }

  /** Whether a log path (absolute, under podsDir) is one this discovery would report: include/exclude, not the own pod. */
  acceptsPath(path: string): boolean {
    const under = relative(this.#options.podsDir, path);
    const podDir = under.split('/')[0] ?? '';
    return !under.startsWith('..') && !isOwnPodDir(podDir, this.#options.selfPodUid, this.#options.selfPodName) && this.#accepts(under);
  }

  /** Watched, or paused by the read loop: false means its files must be polled. */
  isWatched(dir: string): boolean {
    return this.#watchers.has(dir) || this.#paused.has(dir);
  }

  #scanContainer(containerDir: string): void {
    this.#distrust(containerDir);
    const found = this.#liveLogs(containerDir, relative(this.#options.podsDir, containerDir));
    if (found !== undefined && found.length > 0 && !this.#stopped) this.#events.onScan(found.sort());
  }

  #schedulePeriodicRescan(): void {
    if (this.#stopped) return;
    this.#rescanTimer = setTimeout(() => {
      this.rescan().then(
        () => this.#schedulePeriodicRescan(),
        (err: unknown) => {
          this.#logger.warn({ err }, 'pod log rescan failed; retrying at the next interval');
          this.#schedulePeriodicRescan();
        },
      );
    }, this.#options.rescanInterval);
  }

  #requestRescan(): void {
    if (this.#stopped || this.#debounceTimer !== undefined) return;
    this.#debounceTimer = setTimeout(() => {
      this.#debounceTimer = undefined;
      this.rescan().catch((err: unknown) => this.#logger.warn({ err }, 'pod log rescan failed'));
    }, RESCAN_DEBOUNCE_MS);
  }

  #scanOnce(): Promise<readonly string[]> {
    const run = this.#walk().finally(() => {
      this.#scanning = undefined;
    });
    this.#scanning = run;
    return run;
  }

  async #walk(): Promise<readonly string[]> {
    const { podsDir } = this.#options;
    const found: string[] = [];
    const seenDirs = new Set<string>();
    // Every FULL_SCAN_EVERY-th periodic scan checks every directory's mtime, in case a watch event was lost.
    const full = this.#scans++ % FULL_SCAN_EVERY === 0;
    const podDirs = this.#listed(podsDir, full, listDirs);
    if (podDirs === undefined) {
      if (!this.#missingLogged) this.#logger.warn({ podsDir }, 'pods directory does not exist (yet); rescanning for it');
      this.#missingLogged = true;
      return found;
    }
    this.#missingLogged = false;
    this.#ensureWatcher(podsDir, seenDirs, undefined);
    for (const podDir of podDirs) {
      if (isOwnPodDir(podDir, this.#options.selfPodUid, this.#options.selfPodName)) continue;
      const podPath = join(podsDir, podDir);
      const containers = this.#listed(podPath, full, listDirs);
      if (containers === undefined) continue;
      this.#ensureWatcher(podPath, seenDirs, undefined);
      for (const container of containers) {
        const containerPath = join(podPath, container);
        const files = this.#listed(containerPath, full, (dir) => this.#liveLogs(dir, `${podDir}/${container}`));
        if (files === undefined) continue;
        this.#ensureWatcher(containerPath, seenDirs, containerPath);
        for (const file of files) found.push(file);
      }
    }
    // Directories that vanished: their watchers would only report errors.
    for (const [dir, w] of this.#watchers) {
      if (!seenDirs.has(dir)) {
        w.close();
        this.#watchers.delete(dir);
      }
    }
    for (const dir of this.#paused) if (!seenDirs.has(dir)) this.#paused.delete(dir);
    for (const dir of this.#listings.keys()) if (!seenDirs.has(dir)) this.#listings.delete(dir);
    found.sort();
    return found;
  }

  /** The accepted live log files of a container directory, as absolute paths. */
  #liveLogs(dir: string, under: string): string[] | undefined {
    const files = listFiles(dir);
    if (files === undefined) return undefined;
    const out: string[] = [];
    for (const file of files) if (file.endsWith('.log') && this.#accepts(`${under}/${file}`)) out.push(join(dir, file));
    return out;
  }

  /**
   * A directory's listing, read again only when it may have changed: its watch reported an entry
   * added, removed or renamed, it has no watch, or its mtime moved (checked on full scans and for
   * unwatched directories; an mtime within the last RACY_MS is not trusted, as a change in the
   * same clock tick would not move it). A rescan of a quiet tree costs no system call.
   */
  #listed(dir: string, full: boolean, read: (dir: string) => readonly string[] | undefined): readonly string[] | undefined {
    const cached = this.#listings.get(dir);
    if (cached !== undefined && cached.trusted && !full && this.#watchers.has(dir)) return cached.names;
    let mtimeMs: number;
    try {
      const st = statSync(dir, { throwIfNoEntry: false });
      if (st === undefined || !st.isDirectory()) {
        this.#listings.delete(dir);
        return undefined;
      }
      mtimeMs = st.mtimeMs;
    } catch {
      this.#listings.delete(dir);
      return undefined;
    }
    if (cached !== undefined && cached.mtimeMs === mtimeMs && Date.now() - mtimeMs > RACY_MS) {
      cached.trusted = true;
      return cached.names;
    }
    const names = read(dir);
    if (names === undefined) {
      this.#listings.delete(dir);
      return undefined;
    }
    this.#listings.set(dir, { mtimeMs, names, trusted: Date.now() - mtimeMs > RACY_MS });
    return names;
  }

  /** A watch saw an entry of `dir` added, removed or renamed: its listing must be read again. */
  #distrust(dir: string): void {
    const cached = this.#listings.get(dir);
    if (cached !== undefined) cached.trusted = false;
  }

  #ensureWatcher(dir: string, seen: Set<string>, containerDir: string | undefined): void {
    seen.add(dir);
    if (this.#stopped || this.#watchers.has(dir) || this.#paused.has(dir)) return;
    try {
      // The per-event path of a busy node: a string concatenation and a map lookup in onFileChanged.
      const prefix = containerDir === undefined ? undefined : `${containerDir}/`;
      const w = watch(dir, { persistent: false }, (event, name) => {
        if (prefix !== undefined && event === 'change' && name !== null) {
          this.#events.onFileChanged(prefix + name, false);
          return;
        }
        this.#distrust(dir);
        this.#requestRescan();
        if (prefix !== undefined && name !== null) this.#events.onFileChanged(prefix + name, true);
      });
      w.on('error', () => {
        // The directory went away (or the watch broke): the next scan decides what is there.
        this.#distrust(dir);
        w.close();
        if (this.#watchers.get(dir) === w) this.#watchers.delete(dir);
        this.#requestRescan();
      });
      this.#watchers.set(dir, w);
    } catch (err) {
      // Gone meanwhile (a pod deleted): nothing to watch, and nothing to warn about.
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      if (!this.#watchFailureLogged) {
        this.#watchFailureLogged = true;
        this.#logger.warn({ err, dir }, 'cannot watch directory (inotify limit?); relying on periodic rescans');
      }
    }
  }
}

function listDirs(dir: string): string[] | undefined {
  try {
    const entries = readdirSync(dir, { withFileTypes: true });
    return entries.filter((e) => e.isDirectory()).map((e) => e.name).sort();
  } catch {
    return undefined;
  }
}

function listFiles(dir: string): string[] | undefined {
  try {
    const entries = readdirSync(dir, { withFileTypes: true });
    // Symlinks count too: some runtimes link the kubelet path to their own log location.
    return entries.filter((e) => e.isFile() || e.isSymbolicLink()).map((e) => e.name);
  } catch {
    return undefined;
  }
}
