/**
 * Durations and sizes as people write them in YAML ("60s", "64KiB"), parsed to milliseconds and
 * bytes. Pure functions returning values, so the zod schemas and the CLI share one wording.
 */

export type UnitResult = { ok: true; value: number } | { ok: false; message: string };

export const DURATION_EXAMPLES = '"500ms", "60s", "5m", "1h"';
export const SIZE_EXAMPLES = '"512B", "64KiB", "1MiB", "10MB"';

const DURATION_UNITS: Readonly<Record<string, number>> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
const SIZE_UNITS: Readonly<Record<string, number>> = {
  B: 1,
  KB: 1000, kB: 1000, MB: 1000 ** 2, GB: 1000 ** 3,
  KiB: 1024, MiB: 1024 ** 2, GiB: 1024 ** 3,
  // Kubernetes quantity spelling, which Helm users type out of habit.
  Ki: 1024, Mi: 1024 ** 2, Gi: 1024 ** 3,
};

const BARE_NUMBER = /^\d+(?:\.\d+)?$/;
// One or more <number><unit> parts, like Go's time.ParseDuration ("1h30m", "1.5s").
const DURATION_PART = /(\d+(?:\.\d+)?)([a-zA-Zµ]+)/y;
const SIZE = /^(\d+(?:\.\d+)?)\s*([a-zA-Z]+)$/;

/** "500ms" | "60s" | "5m" | "1h" | "1h30m" -> milliseconds (rounded to whole ms). */
export function parseDuration(input: unknown): UnitResult {
  if (typeof input === 'number' || (typeof input === 'string' && BARE_NUMBER.test(input.trim()))) {
    const n = String(input).trim();
    return { ok: false, message: `bad duration: ${n} has no unit, write "${n}s" or "${n}ms"` };
  }
  if (typeof input !== 'string') return { ok: false, message: 'bad duration: not a string' };
  const text = input.trim();
  if (text === '') return { ok: false, message: 'bad duration: empty' };
  let total = 0;
  DURATION_PART.lastIndex = 0;
  while (DURATION_PART.lastIndex < text.length) {
    const match = DURATION_PART.exec(text);
    if (match === null) return { ok: false, message: 'bad duration: not a duration' };
    const unit = DURATION_UNITS[match[2] ?? ''];
    if (unit === undefined) return { ok: false, message: `bad duration: unknown unit "${match[2]}", use ms, s, m or h` };
    total += Number(match[1]) * unit;
  }
  return { ok: true, value: Math.round(total) };
}

/** "512B" | "64KiB" | "1MiB" | "1GiB" | "10KB" | "10MB" | "1GB" (also Ki/Mi/Gi) -> bytes. */
export function parseSize(input: unknown): UnitResult {
  if (typeof input === 'number' || (typeof input === 'string' && BARE_NUMBER.test(input.trim()))) {
    const n = String(input).trim();
    return { ok: false, message: `bad size: ${n} has no unit, write "${n}B" or "${n}KiB"` };
  }
  if (typeof input !== 'string') return { ok: false, message: 'bad size: not a string' };
  const match = SIZE.exec(input.trim());
  if (match === null) return { ok: false, message: 'bad size: not a size' };
  const unit = SIZE_UNITS[match[2] ?? ''];
  if (unit === undefined) return { ok: false, message: `bad size: unknown unit "${match[2]}", use B, KB, MB, GB, KiB, MiB or GiB` };
  return { ok: true, value: Math.round(Number(match[1]) * unit) };
}

/** Milliseconds back to the largest exact unit, so a printed config can be loaded again. */
export function formatDuration(ms: number): string {
  for (const [unit, factor] of [['h', 3_600_000], ['m', 60_000], ['s', 1000]] as const) {
    if (ms !== 0 && ms % factor === 0) return `${ms / factor}${unit}`;
  }
  return `${ms}ms`;
}

/** Bytes back to the largest exact binary unit (else decimal unit, else bytes). */
export function formatSize(bytes: number): string {
  if (bytes !== 0) {
    for (const [unit, factor] of [['GiB', 1024 ** 3], ['MiB', 1024 ** 2], ['KiB', 1024], ['GB', 1000 ** 3], ['MB', 1000 ** 2], ['KB', 1000]] as const) {
      if (bytes % factor === 0) return `${bytes / factor}${unit}`;
    }
  }
  return `${bytes}B`;
}
