import { DELIVERY_BACKOFF, type BackoffPolicy } from '../sink/backoff.ts';

/** What the file source needs to know; durations in milliseconds, sizes in bytes (src/config parses the units). */
export interface FileSourceOptions {
  podsDir: string;
  /** Globs relative to podsDir, e.g. "kube-system_*\/**". */
  include: readonly string[];
  exclude: readonly string[];
  /** Where files found at start-up without a checkpoint begin. Files that appear later are always read from the start. */
  readFrom: 'beginning' | 'end';
  /** Holds checkpoints.json and its journal. */
  dataDir: string;
  maxLineBytes: number;
  maxLineAction: 'truncate' | 'drop';
  maxMergedLineBytes: number;
  partialFlushTimeout: number;
  /** How long a rotated or deleted file is still read after it was fully read. */
  rotateWait: number;
  rescanInterval: number;
  /** How often the checkpoint snapshot is rewritten (acknowledgements are journaled within 250 ms besides). */
  checkpointInterval: number;
  batchMaxEvents: number;
  /** Least time between two read rounds; each round's lines go out as one batch. */
  batchMaxWait: number;
  /** Reading pauses while this many bytes of lines wait for delivery. */
  maxBufferedBytes: number;
  /** The agent's own pod, never tailed (its output may be these very logs). */
  selfPodUid?: string | undefined;
  selfPodName?: string | undefined;
  /**
   * Tuning, rarely changed: the safety-poll tick, and the poll interval of files that cannot be
   * watched or wait on a rotation (250 ms); bytes per read (128 KiB). Measured in
   * bench/agent.bench.ts: larger reads buy nothing but memory.
   */
  pollInterval?: number;
  readChunkBytes?: number;
  /** Full batches waiting for delivery before reading pauses (3; besides maxBufferedBytes). */
  maxQueuedBatches?: number;
  /** Delays between delivery retries (sink or service down); DELIVERY_BACKOFF. */
  retryBackoff?: BackoffPolicy;
}

export interface ResolvedOptions extends Required<Omit<FileSourceOptions, 'selfPodUid' | 'selfPodName'>> {
  selfPodUid: string | undefined;
  selfPodName: string | undefined;
}

/** Fills the tuning defaults and checks the numbers; throws a SourceOptionsError naming the field. */
export function resolveOptions(options: FileSourceOptions): ResolvedOptions {
  const resolved: ResolvedOptions = {
    ...options,
    selfPodUid: options.selfPodUid,
    selfPodName: options.selfPodName,
    pollInterval: options.pollInterval ?? 250,
    readChunkBytes: options.readChunkBytes ?? 128 * 1024,
    maxQueuedBatches: options.maxQueuedBatches ?? 3,
    retryBackoff: options.retryBackoff ?? DELIVERY_BACKOFF,
  };
  const positive: (keyof ResolvedOptions)[] = [
    'maxLineBytes', 'maxMergedLineBytes', 'rescanInterval', 'checkpointInterval', 'batchMaxEvents',
    'maxBufferedBytes', 'pollInterval', 'readChunkBytes', 'maxQueuedBatches',
  ];
  for (const key of positive) {
    const v = resolved[key];
    if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) throw new SourceOptionsError(key, v, 'a positive number');
  }
  for (const key of ['partialFlushTimeout', 'rotateWait', 'batchMaxWait'] as const) {
    const v = resolved[key];
    if (!Number.isFinite(v) || v < 0) throw new SourceOptionsError(key, v, 'a duration >= 0');
  }
  if (resolved.readFrom !== 'beginning' && resolved.readFrom !== 'end') throw new SourceOptionsError('readFrom', resolved.readFrom, '"beginning" or "end"');
  if (resolved.maxLineAction !== 'truncate' && resolved.maxLineAction !== 'drop') throw new SourceOptionsError('maxLineAction', resolved.maxLineAction, '"truncate" or "drop"');
  if (resolved.podsDir === '') throw new SourceOptionsError('podsDir', resolved.podsDir, 'a directory path');
  if (resolved.dataDir === '') throw new SourceOptionsError('dataDir', resolved.dataDir, 'a directory path');
  return resolved;
}

export class SourceOptionsError extends Error {
  readonly code = 'invalid_source_option';
  readonly field: string;
  constructor(field: string, value: unknown, expected: string) {
    super(`source.${field}: got ${JSON.stringify(value)}, expected ${expected}`);
    this.name = 'SourceOptionsError';
    this.field = field;
  }
}
