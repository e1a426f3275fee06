/**
 * Read positions that survive a restart, one per file. They only ever record data the sink
 * acknowledged, and they follow every acknowledgement at once, so a crash repeats at most the
 * batches that were in flight (docs/configuration.md, "Checkpoints").
 *
 * Two files in dataDir, as Filebeat's registry does it:
 * - `checkpoints.json`, the snapshot: every position, written atomically (tmp file, fsync,
 *   rename, fsync of the directory) every checkpointInterval while something changed;
 * - `checkpoints.journal.<n>`, one line per acknowledgement with the positions it moved, appended
 *   synchronously (one small write; the page cache keeps it across a SIGKILL). A snapshot names
 *   the last journal sequence number it includes; each snapshot starts a new journal file, and the
 *   older ones are deleted once the snapshot is durable.
 * Loading applies the journal records newer than the snapshot, in order. A torn last line (a
 * power loss mid-append) is ignored: the positions are then older, which repeats lines, never
 * loses them. Parsing is pure; the store does the I/O.
 */
import { closeSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { mkdir, open, readFile, rename } from 'node:fs/promises';
import { join } from 'node:path';
import type { Fingerprint } from './fingerprint.ts';

const CHECKPOINT_VERSION = 1;
const CHECKPOINT_FILE = 'checkpoints.json';
const JOURNAL_PREFIX = 'checkpoints.journal.';

export interface CheckpointEntry extends Fingerprint {
  /** The path the file was read as (its live name), for humans and for finding it after a rename. */
  path: string;
  /** Next byte to read: everything before it was delivered (for a parked file: its size when last looked at). */
  offset: number;
  /**
   * The file of an excluded pod, never opened (file-source.ts, "parked"): its fingerprint is the
   * empty one (headLength 0, matched by dev and ino alone) and `offset` is not a line start yet.
   * Written only when true; files without it load as before.
   */
  parked?: true;
}

export interface CheckpointSnapshot {
  entries: CheckpointEntry[];
  /** The last journal record the snapshot includes (0: none). */
  seq: number;
}

export type CheckpointParse = ({ ok: true } & CheckpointSnapshot) | { ok: false; error: string };

export function serialiseCheckpoints(entries: readonly CheckpointEntry[], writtenAt: string, seq = 0): string {
  const files = entries.map((e) => {
    const file = { path: e.path, dev: e.dev, ino: e.ino, headLength: e.headLength, headHash: e.headHash, offset: e.offset };
    return e.parked === true ? { ...file, parked: true } : file;
  });
  return JSON.stringify({ version: CHECKPOINT_VERSION, writtenAt, seq, files }, null, 1) + '\n';
}

export function parseCheckpoints(text: string): CheckpointParse {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    return { ok: false, error: `not JSON (${(err as Error).message})` };
  }
  if (typeof doc !== 'object' || doc === null) return { ok: false, error: 'not a JSON object' };
  const { version, files, seq } = doc as { version?: unknown; files?: unknown; seq?: unknown };
  if (version !== CHECKPOINT_VERSION) return { ok: false, error: `version is ${JSON.stringify(version)}, this build reads version ${CHECKPOINT_VERSION}` };
  if (!Array.isArray(files)) return { ok: false, error: '"files" is not an array' };
  if (seq !== undefined && (!Number.isSafeInteger(seq) || (seq as number) < 0)) return { ok: false, error: '"seq" is not a whole number >= 0' };
  const entries: CheckpointEntry[] = [];
  for (let i = 0; i < files.length; i++) {
    const parsed = parseEntry(files[i], `files[${i}]`);
    if (typeof parsed === 'string') return { ok: false, error: parsed };
    entries.push(parsed);
  }
  return { ok: true, entries, seq: (seq as number | undefined) ?? 0 };
}

function parseEntry(value: unknown, where: string): CheckpointEntry | string {
  const f = value as Record<string, unknown> | null;
  const bad = (field: string) => `${where}.${field} is missing or invalid`;
  if (typeof f !== 'object' || f === null) return `${where} is not an object`;
  if (typeof f.path !== 'string') return bad('path');
  if (typeof f.dev !== 'string' || f.dev === '') return bad('dev');
  if (typeof f.ino !== 'string' || f.ino === '') return bad('ino');
  if (!Number.isSafeInteger(f.headLength) || (f.headLength as number) < 0) return bad('headLength');
  if (typeof f.headHash !== 'string') return bad('headHash');
  if (!Number.isSafeInteger(f.offset) || (f.offset as number) < 0) return bad('offset');
  const entry: CheckpointEntry = { path: f.path, dev: f.dev, ino: f.ino, headLength: f.headLength as number, headHash: f.headHash, offset: f.offset as number };
  if (f.parked === undefined) return entry;
  if (f.parked !== true) return `${where}.parked is invalid: true or absent`;
  // A parked file was never opened: nothing of its head can have been hashed.
  if (entry.headLength !== 0) return `${where}.headLength must be 0 in a parked entry`;
  entry.parked = true;
  return entry;
}

/** One journal line: positions set (by dev:ino) and files forgotten (read to their end and gone). */
export interface JournalRecord {
  seq: number;
  set: CheckpointEntry[];
  del: string[];
}

/**
 * A position as journal JSON, in two parts: what identifies the file (it changes only while a
 * young file's fingerprint grows), worth keeping per file, and the offset.
 */
export function entryJsonHead(e: Omit<CheckpointEntry, 'offset'>): string {
  return `{"path":${JSON.stringify(e.path)},"dev":${JSON.stringify(e.dev)},"ino":${JSON.stringify(e.ino)},"headLength":${e.headLength},"headHash":${JSON.stringify(e.headHash)},"offset":`;
}

export function entryJson(e: CheckpointEntry, head = entryJsonHead(e)): string {
  return e.parked === true ? `${head}${e.offset},"parked":true}` : `${head}${e.offset}}`;
}

/** One journal line; `set` holds entries as entryJson() text (built once per file, not per acknowledgement). */
function serialiseJournalRecord(seq: number, set: readonly string[], del: readonly string[]): string {
  let line = `{"seq":${seq},"set":[`;
  for (let i = 0; i < set.length; i++) line += i === 0 ? set[i] : `,${set[i]}`;
  return `${line}],"del":${JSON.stringify(del)}}\n`;
}

/** Applies journal text to positions keyed by dev:ino; stops at the first line that is not a whole record. */
function applyJournal(text: string, after: number, into: Map<string, CheckpointEntry>): { lastSeq: number; error: string | undefined } {
  let lastSeq = after;
  let start = 0;
  let line = 0;
  while (start < text.length) {
    const end = text.indexOf('\n', start);
    line++;
    // No newline: an append cut short (power loss). What came before it stands.
    if (end === -1) return { lastSeq, error: undefined };
    const record = parseJournalLine(text.slice(start, end));
    if (typeof record === 'string') return { lastSeq, error: `line ${line}: ${record}` };
    if (record.seq > lastSeq) {
      for (const e of record.set) into.set(`${e.dev}:${e.ino}`, e);
      for (const key of record.del) into.delete(key);
      lastSeq = record.seq;
    }
    start = end + 1;
  }
  return { lastSeq, error: undefined };
}

function parseJournalLine(text: string): JournalRecord | string {
  let doc: { seq?: unknown; set?: unknown; del?: unknown };
  try {
    doc = JSON.parse(text) as typeof doc;
  } catch {
    return 'not JSON';
  }
  if (typeof doc !== 'object' || doc === null || !Number.isSafeInteger(doc.seq) || !Array.isArray(doc.set) || !Array.isArray(doc.del)) return 'not a journal record';
  const set: CheckpointEntry[] = [];
  for (let i = 0; i < doc.set.length; i++) {
    const e = parseEntry(doc.set[i], `set[${i}]`);
    if (typeof e === 'string') return e;
    set.push(e);
  }
  if (!doc.del.every((k) => typeof k === 'string')) return 'del is not a list of strings';
  return { seq: doc.seq as number, set, del: doc.del as string[] };
}

export type CheckpointLoad =
  | { status: 'missing'; entries: []; journalError?: undefined }
  | { status: 'loaded'; entries: CheckpointEntry[]; journalError?: string | undefined }
  /** Unreadable: start as if there were none; the bad file is kept aside for inspection. */
  | { status: 'corrupt'; entries: []; error: string; keptAs: string | undefined; journalError?: undefined };

export class CheckpointStore {
  readonly path: string;
  readonly #dataDir: string;
  /** Sequence number of the last journal record appended (or loaded). */
  #seq = 0;
  /** Generation of the journal file appended to. */
  #generation = 0;
  #journalFd: number | undefined;
  /** Journal records appended since the last snapshot. */
  #unsaved = 0;

  constructor(dataDir: string) {
    this.#dataDir = dataDir;
    this.path = join(dataDir, CHECKPOINT_FILE);
  }

  /** Records appended since the last snapshot: whether a new snapshot is worth writing. */
  get pendingRecords(): number {
    return this.#unsaved;
  }

  async load(now: number = Date.now()): Promise<CheckpointLoad> {
    let text: string | undefined;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new CheckpointError(`cannot read checkpoint file ${this.path}: ${(err as Error).message}`);
    }
    const journals = this.#journalFiles();
    this.#generation = journals.length > 0 ? journals[journals.length - 1]!.generation : 0;
    let snapshot: CheckpointSnapshot = { entries: [], seq: 0 };
    if (text !== undefined) {
      const parsed = parseCheckpoints(text);
      if (!parsed.ok) {
        // The journal only holds changes since a snapshot we cannot read: it goes aside too.
        const keptAs = `${this.path}.corrupt-${now}`;
        let kept: string | undefined = keptAs;
        try {
          await rename(this.path, keptAs);
        } catch {
          kept = undefined;
        }
        for (const j of journals) rmSync(j.path, { force: true });
        return { status: 'corrupt', entries: [], error: parsed.error, keptAs: kept };
      }
      snapshot = parsed;
    }
    const byKey = new Map<string, CheckpointEntry>();
    for (const e of snapshot.entries) byKey.set(`${e.dev}:${e.ino}`, e);
    let lastSeq = snapshot.seq;
    let journalError: string | undefined;
    for (const j of journals) {
      const applied = applyJournal(readFileSync(j.path, 'utf8'), lastSeq, byKey);
      lastSeq = applied.lastSeq;
      if (applied.error !== undefined) {
        journalError = `${j.path} ${applied.error}`;
        break;
      }
    }
    this.#seq = lastSeq;
    if (text === undefined && journals.length === 0) return { status: 'missing', entries: [] };
    return { status: 'loaded', entries: [...byKey.values()], journalError };
  }

  /**
   * Appends one record to the journal at once (synchronously: it must be in the page cache before
   * anything else happens): positions set, as entryJson() text, and files forgotten (dev:ino).
   * Opens the journal on first use.
   */
  append(set: readonly string[], del: readonly string[]): void {
    if (set.length === 0 && del.length === 0) return;
    if (this.#journalFd === undefined) this.#openJournal();
    const line = serialiseJournalRecord(this.#seq + 1, set, del);
    const bytes = Buffer.from(line);
    let written = 0;
    while (written < bytes.length) written += writeSync(this.#journalFd!, bytes, written, bytes.length - written);
    this.#seq++;
    this.#unsaved++;
  }

  /**
   * Writes the snapshot atomically: `entries` must be every position as of now (the caller builds
   * it synchronously before calling). Appends from here on go to a new journal file; older journal
   * files are deleted once the snapshot is durable.
   */
  async save(entries: readonly CheckpointEntry[], writtenAt: string): Promise<void> {
    // Synchronously, before anything else can append: `entries` covers the journal up to `seq`.
    const seq = this.#seq;
    const unsaved = this.#unsaved;
    const previousGeneration = this.#generation;
    this.#closeJournal();
    this.#generation++;
    this.#unsaved = 0;
    try {
      await mkdir(this.#dataDir, { recursive: true });
      const tmp = `${this.path}.tmp`;
      const handle = await open(tmp, 'w');
      try {
        await handle.writeFile(serialiseCheckpoints(entries, writtenAt, seq));
        await handle.sync();
      } finally {
        await handle.close();
      }
      await rename(tmp, this.path);
      // The rename itself is durable only once the directory entry is on disk.
      const dir = await open(this.#dataDir, 'r');
      try {
        await dir.sync();
      } finally {
        await dir.close();
      }
    } catch (err) {
      // Still unsaved: the journal records stay (their files are not deleted) and count.
      this.#unsaved += unsaved;
      throw err;
    }
    for (const j of this.#journalFiles()) if (j.generation <= previousGeneration) rmSync(j.path, { force: true });
  }

  close(): void {
    this.#closeJournal();
  }

  #openJournal(): void {
    const path = join(this.#dataDir, `${JOURNAL_PREFIX}${this.#generation}`);
    try {
      this.#journalFd = openSync(path, 'a');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      // dataDir does not exist yet (first run): the snapshot path creates it too.
      mkdirSync(this.#dataDir, { recursive: true });
      this.#journalFd = openSync(path, 'a');
    }
  }

  #closeJournal(): void {
    if (this.#journalFd === undefined) return;
    closeSync(this.#journalFd);
    this.#journalFd = undefined;
  }

  #journalFiles(): { path: string; generation: number }[] {
    let names: string[];
    try {
      names = readdirSync(this.#dataDir);
    } catch {
      return [];
    }
    const out: { path: string; generation: number }[] = [];
    for (const name of names) {
      if (!name.startsWith(JOURNAL_PREFIX)) continue;
      const generation = Number(name.slice(JOURNAL_PREFIX.length));
      if (Number.isSafeInteger(generation) && generation >= 0) out.push({ path: join(this.#dataDir, name), generation });
    }
    return out.sort((a, b) => a.generation - b.generation);
  }
}

export class CheckpointError extends Error {
  readonly code = 'checkpoint_io';
  constructor(message: string) {
    super(message);
    this.name = 'CheckpointError';
  }
}
