/** One open log file (one inode) being read, and what has been delivered of it. */
import type { Fingerprint } from './fingerprint.ts';

/** A position that is safe to restart from, with the fingerprint the file had then. */
export interface CheckpointMark {
  readonly offset: number;
  readonly fingerprint: Fingerprint;
}

export interface Cursor {
  /** dev:ino */
  readonly key: string;
  /** The live path this file was read as (a rotated file keeps the path it had). */
  readonly path: string;
  /** Order within its path: a file rotated away has a lower generation than its successor. */
  readonly generation: number;
  /** The open descriptor (closed once the file was read to its end after a rotation or deletion). */
  readonly fd: number;
  readonly dev: string;
  readonly ino: string;
  fingerprint: Fingerprint;
  /** Next byte to read. */
  readOffset: number;
  /** End of the last line handed on (or skipped): where a restart would begin if nothing were pending. */
  consumed: number;
  /** Last position the sink acknowledged (initially where reading began). */
  acked: CheckpointMark;
  /** Last mark handed to the delivery pipeline. */
  noted: CheckpointMark;
  /** When a newer file took over its path. */
  rotatedAt: number | undefined;
  /** Fully read and closed; retired once `finalOffset` is acknowledged. */
  closed: boolean;
  finalOffset: number | undefined;
}

export function newCursor(init: {
  key: string; path: string; generation: number; fd: number; dev: string; ino: string; fingerprint: Fingerprint; start: number;
}): Cursor {
  const mark: CheckpointMark = { offset: init.start, fingerprint: init.fingerprint };
  return {
    key: init.key,
    path: init.path,
    generation: init.generation,
    fd: init.fd,
    dev: init.dev,
    ino: init.ino,
    fingerprint: init.fingerprint,
    readOffset: init.start,
    consumed: init.start,
    acked: mark,
    noted: mark,
    rotatedAt: undefined,
    closed: false,
    finalOffset: undefined,
  };
}
