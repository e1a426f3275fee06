/**
 * The files of one live log path over time: the kubelet rotates `<n>.log` by renaming it to
 * `<n>.log.<YYYYMMDD-hhmmss>` and creating a new `<n>.log`; later it compresses older rotated
 * files (`.gz`, through a `.tmp`) and deletes the oldest. Rotated names sort oldest first.
 *
 * Which of them to read, after a restart or when a rotation is noticed, is decided here, by pure
 * functions over what is on disk and what the checkpoints say (docs/configuration.md,
 * "Rotation and restarts"): nothing that was not fully delivered is skipped.
 */
import { readdirSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { inodeKey } from './fingerprint.ts';

/** A file of the path as found on disk (not opened). */
export interface Segment {
  /** Its current name: the live path, or a rotated name beside it. */
  readonly file: string;
  readonly key: string;
  readonly size: number;
  readonly mtimeNs: bigint;
  readonly live: boolean;
}

/** Is `name` a rotated file of `base` (`0.log.20261123-101500`) that can still be read? */
export function isRotatedName(base: string, name: string): boolean {
  return name.length > base.length + 1 && name.startsWith(base) && name.charCodeAt(base.length) === 0x2e && !name.endsWith('.gz') && !name.endsWith('.tmp');
}

/** The rotated files of `livePath`, oldest first, then the live file itself (if it exists). */
export function listSegments(livePath: string): Segment[] {
  const dir = dirname(livePath);
  const base = basename(livePath);
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  const rotated = names.filter((n) => isRotatedName(base, n)).sort();
  const out: Segment[] = [];
  for (const name of rotated) {
    const s = statSegment(join(dir, name), false);
    if (s !== undefined) out.push(s);
  }
  const live = statSegment(livePath, true);
  if (live !== undefined) out.push(live);
  return out;
}

function statSegment(file: string, live: boolean): Segment | undefined {
  try {
    const st = statSync(file, { bigint: true });
    if (!st.isFile()) return undefined;
    return { file, key: inodeKey(String(st.dev), String(st.ino)), size: Number(st.size), mtimeNs: st.mtimeNs, live };
  } catch {
    return undefined;
  }
}

/** What to do with one segment. */
export type SegmentPlan = { segment: Segment; from: 'checkpoint'; offset: number } | { segment: Segment; from: 'start' } | { segment: Segment; from: 'end' };

/**
 * After a restart, for a path with `segments` (oldest first, live last). `checkpointed` holds the
 * keys of segments whose checkpoint matched (fingerprint checked by the caller) with their offsets;
 * `seen` whether any checkpoint named this path (matched or not).
 * - A path never seen: with `readFrom: end`, its live file from its last line; otherwise every
 *   file from its start, rotated ones first (none of it was delivered).
 * - Otherwise, the newest checkpointed segment resumes at its offset, older ones with a checkpoint
 *   resume too (not fully delivered when the agent stopped), older ones without are skipped (they
 *   were delivered and forgotten), and every newer one is read from its start: it was written
 *   while the agent was down or before its first checkpoint. When no checkpointed file is left
 *   (it was compressed or deleted), every segment is newer than it.
 */
export function planRestart(segments: readonly Segment[], checkpointed: ReadonlyMap<string, number>, seen: boolean, readFrom: 'beginning' | 'end'): SegmentPlan[] {
  if (!seen) {
    if (readFrom === 'beginning') return segments.map((segment) => ({ segment, from: 'start' }));
    const live = segments.find((s) => s.live);
    return live === undefined ? [] : [{ segment: live, from: 'end' }];
  }
  let newest = -1;
  for (let i = 0; i < segments.length; i++) if (checkpointed.has(segments[i]!.key)) newest = i;
  const plan: SegmentPlan[] = [];
  for (let i = 0; i < segments.length; i++) {
    const segment = segments[i]!;
    const offset = checkpointed.get(segment.key);
    if (offset !== undefined) {
      // A checkpoint at (or past) the end of a rotated file: delivered, nothing to read.
      if (!segment.live && offset >= segment.size) continue;
      plan.push({ segment, from: 'checkpoint', offset });
    } else if (i > newest) {
      plan.push({ segment, from: 'start' });
    }
  }
  return plan;
}

/**
 * While running: the file being read (`current`, still open, found by its key) was rotated away.
 * The segments written after it, oldest first, are its successors: those after its current name,
 * or, when it is gone from the directory (deleted or compressed), those modified after it was.
 * `tracked` keys are files already being read.
 */
export function successorsOf(segments: readonly Segment[], current: { key: string; mtimeNs: bigint }, tracked: ReadonlySet<string> | ReadonlyMap<string, unknown>): Segment[] {
  const at = segments.findIndex((s) => s.key === current.key);
  const after = at >= 0 ? segments.slice(at + 1) : segments.filter((s) => s.live || s.mtimeNs >= current.mtimeNs);
  return after.filter((s) => !tracked.has(s.key));
}
