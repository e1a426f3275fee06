/** Summaries for repeated benchmark runs: the machines are noisy, so report min/median/max. */
export interface Summary {
  min: number;
  median: number;
  max: number;
}

export function summarise(samples: readonly number[]): Summary {
  if (samples.length === 0) throw new Error('no samples');
  const s = [...samples].sort((a, b) => a - b);
  const mid = s.length >> 1;
  const median = s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
  return { min: s[0]!, median, max: s[s.length - 1]! };
}

export function percentile(samples: ArrayLike<number>, p: number): number {
  return percentiles(samples, [p])[0]!;
}

/** Several percentiles of one set of samples, sorted once (p = 100 is the maximum). */
export function percentiles(samples: ArrayLike<number>, ps: readonly number[]): number[] {
  if (samples.length === 0) throw new Error('no samples');
  const s = Float64Array.from(samples).sort();
  return ps.map((p) => s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!);
}

export function fmt(n: number, digits = 0): string {
  return n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
}
