/**
 * The consumer of the agent's stdout in the end-to-end benchmarks, in its own process (its CPU
 * is not the agent's): reads a FIFO until end-of-file (the agent exited), finds the marker
 * `kbid=<id> t=<µs>` that bench/marked-lines.ts put in each message, and tells which ids came,
 * which came twice, and how long after its write (t, on the machine-wide monotonic clock) each
 * line was read. The FIFO is read as a pipe is by a log collector, through epoll (a net.Socket
 * on its fd): bytes are handled as soon as they arrive, and the pipe is drained as fast as this
 * process gets CPU. A regular file (a file sink's output) is read to its end once.
 *
 * argv[2]: JSON ReaderOptions (bench/harness.ts). Prints JSON lines on stdout: {"opened":true},
 * progress every 100 ms while it changes, then the final report at end-of-file (with its own
 * CPU seconds). With `slow`, reads at most about `slow.bytes` per `slow.everyMs` (a consumer
 * slower than the agent: the pipe fills and the agent's writes wait).
 */
import { constants, createReadStream, fstatSync, openSync, writeSync } from 'node:fs';
import { Socket } from 'node:net';
import type { Readable } from 'node:stream';
import { monoMicros } from './clock.ts';
import type { ReaderOptions, ReaderReport } from './harness.ts';
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
const input: Readable = fstatSync(fd).isFIFO() ? new Socket({ fd, readable: true, writable: false }) : createReadStream('', { fd, highWaterMark: 1 << 20 });
writeSync(1, '{"opened":true}\n');

let printed = -1;
const progress = setInterval(() => {
  if (printed === report.bytes) return;
  printed = report.bytes;
  writeSync(1, `${JSON.stringify(report)}\n`);
}, 100);

let carry: Buffer | undefined;
let tickStart = monoMicros();
let tickBytes = 0;
input.on('data', (chunk: Buffer) => {
  const now = monoMicros();
  report.bytes += chunk.length;
  const data = carry === undefined ? chunk : Buffer.concat([carry, chunk]);
  const end = data.lastIndexOf(NEWLINE) + 1;
  if (end > 0) handleLines(data.subarray(0, end), now);
  carry = end === data.length ? undefined : Buffer.from(data.subarray(end));
  if (options.slow === undefined) return;
  tickBytes += chunk.length;
  if (tickBytes < options.slow.bytes) return;
  const wait = options.slow.everyMs - (monoMicros() - tickStart) / 1000;
  const resume = (): void => {
    tickStart = monoMicros();
    tickBytes = 0;
    input.resume();
  };
  if (wait <= 0) return resume();
  input.pause();
  setTimeout(resume, wait);
});

input.on('end', () => {
  clearInterval(progress);
  report.final = true;
  const cpu = process.cpuUsage();
  report.cpuSeconds = (cpu.user + cpu.system) / 1e6;
  if (delayCount > 0) {
    const [p50, p99, max] = percentiles(delays.subarray(0, delayCount), [50, 99, 100]);
    report.delay = { count: delayCount, p50: p50!, p99: p99!, max: max! };
  }
  if (options.expected !== undefined) {
    report.missingSample = [];
    for (let id = 0; id < options.expected && report.missingSample.length < 10; id++) if (seen[id] === 0) report.missingSample.push(id);
  }
  writeSync(1, `${JSON.stringify(report)}\n`);
});
