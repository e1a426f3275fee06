/**
 * Builders for what runtimes and the kubelet write: CRI and Docker json-file lines, split
 * (partial) lines, pod uids and container ids, and the two log path layouts. Shared by tests and
 * benchmarks; every fixture is made here rather than copied.
 */
import { createHash } from 'node:crypto';
import type { Stream } from '../../src/formats/types.ts';

function hex(seed: string, algorithm: 'md5' | 'sha1' | 'sha256'): string {
  return createHash(algorithm).update(seed).digest('hex');
}

/** A deterministic API-server-style pod uid (UUID layout) derived from `seed`. */
export function podUid(seed: string): string {
  const h = hex(seed, 'sha1');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

/** A static pod's uid: the kubelet's 32-hex config hash (an MD5) of its manifest. */
export function configHash(seed: string): string {
  return hex(seed, 'md5');
}

/** A 64-hex container id as containerd, CRI-O and Docker make them. */
export function containerId(seed: string): string {
  return hex(seed, 'sha256');
}

export interface TimestampOptions {
  /** Fraction digits, 0-9 (containerd trims trailing zeros; CRI-O always writes 9). */
  digits?: number;
  /** Offset from UTC in minutes (CRI-O writes its local offset): 60 gives `+01:00`. Default 0 gives `Z`. */
  offsetMinutes?: number;
  /** Nanoseconds within the second (default: from the millisecond of `ms`). */
  nanos?: number;
}

/** An RFC 3339 timestamp as the runtimes format it. */
export function rfc3339(ms: number, options: TimestampOptions = {}): string {
  const offset = options.offsetMinutes ?? 0;
  const local = new Date(ms + offset * 60_000);
  const base = local.toISOString().slice(0, 19);
  const digits = options.digits ?? 9;
  const nanos = options.nanos ?? (((ms % 1000) + 1000) % 1000) * 1_000_000;
  const fraction = digits === 0 ? '' : `.${String(nanos).padStart(9, '0').slice(0, digits)}`;
  if (offset === 0) return `${base}${fraction}Z`;
  const sign = offset < 0 ? '-' : '+';
  const abs = Math.abs(offset);
  return `${base}${fraction}${sign}${String(Math.floor(abs / 60)).padStart(2, '0')}:${String(abs % 60).padStart(2, '0')}`;
}

export const SAMPLE_TIME = '2026-11-23T10:00:00.123456789Z';

export interface CriLineOptions {
  ts?: string;
  stream?: Stream;
  partial?: boolean;
  message?: string;
  /** The tag field as written (default `P` or `F` from `partial`). */
  tags?: string;
  /** Line terminator left on the line (default none, as a line reader hands it over). */
  newline?: '' | '\n' | '\r\n';
}

/** `<ts> <stream> <P|F> <message>`, exactly as containerd and CRI-O write it. */
export function criLine(options: CriLineOptions = {}): string {
  const tags = options.tags ?? (options.partial === true ? 'P' : 'F');
  return `${options.ts ?? SAMPLE_TIME} ${options.stream ?? 'stdout'} ${tags} ${options.message ?? ''}${options.newline ?? ''}`;
}

export interface DockerLineOptions {
  time?: string;
  stream?: Stream;
  message?: string;
  /** Leave out the trailing newline of `log` (Docker split the line). */
  partial?: boolean;
  /** Extra fields, written after `stream` like Docker's `attrs`. */
  extra?: Record<string, unknown>;
  newline?: '' | '\n' | '\r\n';
}

/** A json-file line, fields in Docker's order (`log`, `stream`, [`attrs`], `time`). */
export function dockerLine(options: DockerLineOptions = {}): string {
  const record: Record<string, unknown> = {
    log: (options.message ?? '') + (options.partial === true ? '' : '\n'),
    stream: options.stream ?? 'stdout',
    ...options.extra,
    time: options.time ?? SAMPLE_TIME,
  };
  return JSON.stringify(record) + (options.newline ?? '');
}

/** Cuts `message` into pieces of at most `size` code points (never splitting a character). */
export function chunks(message: string, size: number): string[] {
  const points = Array.from(message);
  const out: string[] = [];
  for (let i = 0; i < points.length; i += size) out.push(points.slice(i, i + size).join(''));
  return out.length === 0 ? [''] : out;
}

export interface SplitOptions {
  size: number;
  stream?: Stream;
  /** Timestamps of successive fragments (default: all `SAMPLE_TIME`). */
  timestamps?: (index: number) => string;
}

/** A long line as a CRI runtime splits it: `P` fragments then one `F`. */
export function criFragments(message: string, options: SplitOptions): string[] {
  const parts = chunks(message, options.size);
  return parts.map((part, i) =>
    criLine({ ts: options.timestamps?.(i) ?? SAMPLE_TIME, stream: options.stream ?? 'stdout', partial: i < parts.length - 1, message: part }),
  );
}

/** A long line as Docker splits it: `log` values without newline, the last one with it. */
export function dockerFragments(message: string, options: SplitOptions): string[] {
  const parts = chunks(message, options.size);
  return parts.map((part, i) =>
    dockerLine({ time: options.timestamps?.(i) ?? SAMPLE_TIME, stream: options.stream ?? 'stdout', partial: i < parts.length - 1, message: part }),
  );
}

export interface PodLogPathOptions {
  prefix?: string;
  namespace: string;
  pod: string;
  uid: string;
  container: string;
  restart?: number;
  /** Rotation timestamp `YYYYMMDD-hhmmss` for a rotated sibling. */
  rotatedAt?: string;
  gz?: boolean;
}

/** `/var/log/pods/<ns>_<pod>_<uid>/<container>/<restart>.log[.<ts>][.gz]`. */
export function podLogPath(o: PodLogPathOptions): string {
  const rotated = o.rotatedAt === undefined ? '' : `.${o.rotatedAt}`;
  const gz = o.gz === true ? '.gz' : '';
  return `${o.prefix ?? '/var/log/pods'}/${o.namespace}_${o.pod}_${o.uid}/${o.container}/${o.restart ?? 0}.log${rotated}${gz}`;
}

export interface ContainerLogPathOptions {
  prefix?: string;
  namespace: string;
  pod: string;
  container: string;
  containerId: string;
}

/** `/var/log/containers/<pod>_<ns>_<container>-<id>.log`, cut to 255 bytes like the kubelet does. */
export function containerLogPath(o: ContainerLogPathOptions): string {
  let name = `${o.pod}_${o.namespace}_${o.container}-${o.containerId}`;
  if (name.length > 255 - 4) name = name.slice(0, 255 - 4);
  return `${o.prefix ?? '/var/log/containers'}/${name}.log`;
}
