/**
 * The consumer of the agent's stdout in the end-to-end benchmarks, in its own process (its CPU
 * is not the agent's): reads a FIFO until end-of-file (the agent exited), finds the marker
 * `kbid=<id> t=<µs>` that bench/marked-lines.ts put in each message, and tells which
 * ids came, which came twice, and how long after its write (t, on the machine-wide monotonic
 * clock) each line was read. No event loop: non-blocking read()s in a loop that sleeps 0.5 ms
 * when the pipe is empty, so a line's delay is when its bytes reached this process (to 0.5 ms).
 * A regular file works too (read to its end once).
 *
 * argv[2]: JSON ReaderOptions (bench/harness.ts). Prints JSON lines on stdout: {"opened":true},
 * progress every 250 ms while data flows and whenever the pipe runs empty, then the final report
 * at end-of-file.
 * With `slow`, reads at most `slow.bytes` per `slow.everyMs` (a consumer slower than the agent).
 */
import { constants, openSync, readSync, writeSync } from 'node:fs';
import type { ReaderOptions, ReaderReport } from './harness.ts';
import { monoMicros, sleepSync } from './clock.ts';
import { percentiles } from './stats.ts';

const options = JSON.parse(process.argv[2]!) as ReaderOptions;
const MARK = Buffer.from('kbid=');
const NEWLINE = 0x0a;

const seen = new Uint8Array(options.capacity);
const report: ReaderReport = { final: false, lines: 0, marked: 0, distinct: 0, duplicates: 0, outOfRange: 0, bytes: 0 };
let delays = new Float64Array(1 << 16);
let delayCount = 0;
const [windowFrom, windowTo] = options.windowMicros ?? [Infinity, -Infinity];

/** Reads the decimal number at `at` (stops at the first non-digit). */
function numberAt(buf: Buffer, at: number): number {
  let n = 0;
  for (let i = at; i < buf.length; i++) {
    const d = buf[i]! - 48;
    if (d < 0 || d > 9) break;
    n = n * 10 + d;
  }
  return n;
}

/** Handles the complete lines of `data` (it ends with a newline), read at `now`. */
function handleLines(data: Buffer, now: number): void {
  let mark = data.indexOf(MARK, 0);
  let newline = data.indexOf(NEWLINE, 0);
  while (newline !== -1) {
    report.lines++;
    if (mark !== -1 && mark < newline) {
      const id = numberAt(data, mark + MARK.length);
      const t = numberAt(data, data.indexOf(' t=', mark) + 3);
      report.marked++;
      if (id >= seen.length) report.outOfRange++;
      else if (seen[id] === 0) {
        seen[id] = 1;
        report.distinct++;
      } else {
        report.duplicates++;
        if (seen[id]! < 255) seen[id]!++;
      }
      if (t >= windowFrom && t < windowTo) {
        if (delayCount === delays.length) {
          const grown = new Float64Array(delays.length * 2);
          grown.set(delays);
          delays = grown;
        }
        delays[delayCount++] = (now - t) / 1000;
      }
      mark = data.indexOf(MARK, newline + 1);
    }
    newline = data.indexOf(NEWLINE, newline + 1);
  }
}

const fd = openSync(options.fifo, constants.O_RDONLY | constants.O_NONBLOCK);
writeSync(1, '{"opened":true}\n');

const buf = Buffer.allocUnsafe(8 << 20);
let filled = 0;
let lastProgress = 0;
let printed = -1;
const progress = (now: number): void => {
  lastProgress = now;
  printed = report.bytes;
  writeSync(1, `${JSON.stringify(report)}\n`);
};
let tickStart = monoMicros();
let tickBytes = 0;
for (;;) {
  let room = buf.length - filled;
  if (room === 0) throw new Error(`a line longer than ${buf.length} bytes`);
  if (options.slow !== undefined) room = Math.min(room, options.slow.bytes - tickBytes);
  let n: number;
  try {
    n = readSync(fd, buf, filled, room, null);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EAGAIN') throw err;
    if (printed !== report.bytes) progress(monoMicros());
    sleepSync(0.5);
    continue;
  }
  if (n === 0) break;
  const now = monoMicros();
  report.bytes += n;
  filled += n;
  const end = buf.lastIndexOf(NEWLINE, filled - 1) + 1;
  if (end > 0) {
    handleLines(buf.subarray(0, end), now);
    buf.copy(buf, 0, end, filled);
    filled -= end;
  }
  if (options.slow !== undefined) {
    tickBytes += n;
    if (tickBytes >= options.slow.bytes) {
      const wait = options.slow.everyMs - (monoMicros() - tickStart) / 1000;
      if (wait > 0) sleepSync(wait);
      tickStart = monoMicros();
      tickBytes = 0;
    }
  }
  if (now - lastProgress > 250_000) progress(now);
}

report.final = true;
if (delayCount > 0) {
  const [p50, p99, max] = percentiles(delays.subarray(0, delayCount), [50, 99, 100]);
  report.delay = { count: delayCount, p50: p50!, p99: p99!, max: max! };
}
if (options.expected !== undefined) {
  report.missingSample = [];
  for (let id = 0; id < options.expected && report.missingSample.length < 10; id++) if (seen[id] === 0) report.missingSample.push(id);
}
writeSync(1, `${JSON.stringify(report)}\n`);
