/**
 * Component options at their configured defaults, built the way the runtime builds them: the
 * config schema parses `{}` and src/runtime/options.ts maps it. Tests and benchmarks take defaults
 * from here instead of restating them.
 */
import { defaultConfig } from '../../src/config/index.ts';
import type { PartialMergerOptions } from '../../src/formats/index.ts';
import { toBackoff } from '../../src/runtime/options.ts';

/** The kubernetes.backoff policy at its defaults. */
export function defaultBackoff() {
  return toBackoff(defaultConfig());
}

/** kubernetes.deletionDelay at its default, in ms. */
export function defaultDeletionDelayMs(): number {
  return defaultConfig().kubernetes.deletionDelay;
}

/** A PartialMerger's bounds as the file source gets them (source.maxMergedLineBytes, source.partialFlushTimeout). */
export function defaultMergerOptions(overrides: Partial<PartialMergerOptions> = {}): PartialMergerOptions {
  const s = defaultConfig().source;
  return { maxMergedLineBytes: s.maxMergedLineBytes, flushTimeoutMs: s.partialFlushTimeout, ...overrides };
}
