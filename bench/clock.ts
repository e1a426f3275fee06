/** Time for the end-to-end benchmarks' helper processes, which stamp and compare times across processes. */

/** Microseconds on CLOCK_MONOTONIC: one clock for every process on the machine (the writer stamps lines with it, the reader compares). */
export function monoMicros(): number {
  return Number(process.hrtime.bigint() / 1000n);
}

const pause = new Int32Array(new SharedArrayBuffer(4));

/** Blocks the thread for `ms` (fractions too): for the helper processes, which have no event loop to keep. */
export function sleepSync(ms: number): void {
  Atomics.wait(pause, 0, 0, ms);
}
