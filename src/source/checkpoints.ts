/**
 * Read positions that survive a restart, one per file, written atomically (tmp file, fsync,
 * rename, fsync of the directory) to <dataDir>/checkpoints.json. They only ever record data
 * the sink acknowledged. Parsing is pure; the store does the I/O.
 */
import { mkdir, open, readFile, rename } from 'node:fs/promises';
import { join } from 'node:path';
import type { Fingerprint } from './fingerprint.ts';

export const CHECKPOINT_VERSION = 1;
export const CHECKPOINT_FILE = 'checkpoints.json';

export interface CheckpointEntry extends Fingerprint {
  /** The path the file was read as (its live name), for humans and for finding it after a rename. */
  path: string;
  /** Next byte to read: everything before it was delivered. */
  offset: number;
}

export type CheckpointParse = { ok: true; entries: CheckpointEntry[] } | { ok: false; error: string };

export function serialiseCheckpoints(entries: readonly CheckpointEntry[], writtenAt: string): string {
  const files = entries.map((e) => ({ path: e.path, dev: e.dev, ino: e.ino, headLength: e.headLength, headHash: e.headHash, offset: e.offset }));
  return JSON.stringify({ version: CHECKPOINT_VERSION, writtenAt, files }, null, 1) + '\n';
}

export function parseCheckpoints(text: string): CheckpointParse {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    return { ok: false, error: `not JSON (${(err as Error).message})` };
  }
  if (typeof doc !== 'object' || doc === null) return { ok: false, error: 'not a JSON object' };
  const { version, files } = doc as { version?: unknown; files?: unknown };
  if (version !== CHECKPOINT_VERSION) return { ok: false, error: `version is ${JSON.stringify(version)}, this build reads version ${CHECKPOINT_VERSION}` };
  if (!Array.isArray(files)) return { ok: false, error: '"files" is not an array' };
  const entries: CheckpointEntry[] = [];
  for (let i = 0; i < files.length; i++) {
    const f = files[i] as Record<string, unknown> | null;
    const bad = (field: string) => ({ ok: false as const, error: `files[${i}].${field} is missing or invalid` });
    if (typeof f !== 'object' || f === null) return { ok: false, error: `files[${i}] is not an object` };
    if (typeof f.path !== 'string') return bad('path');
    if (typeof f.dev !== 'string' || f.dev === '') return bad('dev');
    if (typeof f.ino !== 'string' || f.ino === '') return bad('ino');
    if (!Number.isSafeInteger(f.headLength) || (f.headLength as number) < 0) return bad('headLength');
    if (typeof f.headHash !== 'string') return bad('headHash');
    if (!Number.isSafeInteger(f.offset) || (f.offset as number) < 0) return bad('offset');
    entries.push({ path: f.path, dev: f.dev, ino: f.ino, headLength: f.headLength as number, headHash: f.headHash, offset: f.offset as number });
  }
  return { ok: true, entries };
}

export type CheckpointLoad =
  | { status: 'missing'; entries: [] }
  | { status: 'loaded'; entries: CheckpointEntry[] }
  /** Unreadable: start as if there were none; the bad file is kept aside for inspection. */
  | { status: 'corrupt'; entries: []; error: string; keptAs: string | undefined };

export class CheckpointStore {
  readonly path: string;
  private readonly dataDir: string;

  constructor(dataDir: string) {
    this.dataDir = dataDir;
    this.path = join(dataDir, CHECKPOINT_FILE);
  }

  async load(now: number = Date.now()): Promise<CheckpointLoad> {
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { status: 'missing', entries: [] };
      throw new CheckpointError(`cannot read checkpoint file ${this.path}: ${(err as Error).message}`);
    }
    const parsed = parseCheckpoints(text);
    if (parsed.ok) return { status: 'loaded', entries: parsed.entries };
    const keptAs = `${this.path}.corrupt-${now}`;
    try {
      await rename(this.path, keptAs);
      return { status: 'corrupt', entries: [], error: parsed.error, keptAs };
    } catch {
      return { status: 'corrupt', entries: [], error: parsed.error, keptAs: undefined };
    }
  }

  async save(entries: readonly CheckpointEntry[], writtenAt: string): Promise<void> {
    await mkdir(this.dataDir, { recursive: true });
    const tmp = `${this.path}.tmp`;
    const handle = await open(tmp, 'w');
    try {
      await handle.writeFile(serialiseCheckpoints(entries, writtenAt));
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(tmp, this.path);
    // The rename itself is durable only once the directory entry is on disk.
    const dir = await open(this.dataDir, 'r');
    try {
      await dir.sync();
    } finally {
      await dir.close();
    }
  }
}

export class CheckpointError extends Error {
  readonly code = 'checkpoint_io';
  constructor(message: string) {
    super(message);
    this.name = 'CheckpointError';
  }
}
