/**
 * Which file a checkpoint belongs to, surviving renames: device + inode, plus a hash of the first
 * bytes so that an inode the file system reused for a new file is not taken for the old one.
 * A file shorter than HEAD_BYTES is fingerprinted by what it has; the fingerprint grows with it.
 * Reads are synchronous: a few hundred bytes of a log file, in the page cache.
 */
import { createHash } from 'node:crypto';
import { readSync } from 'node:fs';

export const HEAD_BYTES = 256;

export interface Fingerprint {
  readonly dev: string;
  readonly ino: string;
  /** How many leading bytes were hashed (< HEAD_BYTES only while the file was shorter). */
  readonly headLength: number;
  readonly headHash: string;
}

function hashHead(bytes: Buffer): string {
  return createHash('sha1').update(bytes).digest('hex');
}

/** Reads up to `length` leading bytes (fewer if the file is shorter). */
function readHead(fd: number, length: number): Buffer {
  const buf = Buffer.alloc(length);
  let got = 0;
  while (got < length) {
    const bytesRead = readSync(fd, buf, got, length - got, got);
    if (bytesRead === 0) break;
    got += bytesRead;
  }
  return buf.subarray(0, got);
}

export function fingerprintOf(fd: number, dev: string, ino: string): Fingerprint {
  const head = readHead(fd, HEAD_BYTES);
  return { dev, ino, headLength: head.length, headHash: hashHead(head) };
}

/** True when the open file is the one the fingerprint was taken of (same inode, same first bytes). */
export function matchesFingerprint(fd: number, dev: string, ino: string, fp: Fingerprint): boolean {
  if (fp.dev !== dev || fp.ino !== ino) return false;
  const head = readHead(fd, fp.headLength);
  return head.length === fp.headLength && hashHead(head) === fp.headHash;
}

/**
 * The fingerprint of a file's first 0 bytes: matches the inode alone. What a parked file (one never
 * opened, see file-source.ts) is checkpointed with; a build without parking reads it as a
 * position to resume at.
 */
export function emptyFingerprint(dev: string, ino: string): Fingerprint {
  return { dev, ino, headLength: 0, headHash: EMPTY_HEAD_HASH };
}

const EMPTY_HEAD_HASH = hashHead(Buffer.alloc(0));

export function inodeKey(dev: string, ino: string): string {
  return `${dev}:${ino}`;
}
