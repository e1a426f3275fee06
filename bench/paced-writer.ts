/**
 * The container runtime in bench/steady.bench.ts, in its own process (its CPU is not the agent's):
 * appends CRI lines to the given files round robin (line id i goes to file i % files), ONE write()
 * per line as containerd does, at `linesPerSecond` spread evenly over time: from `startMicros`
 * on, whatever is due by now is written, then it sleeps until the next line is due (1 ms at
 * least, so at 50,000 lines/s the lines go in bursts of ~50 per millisecond). Each message
 * carries its id and the moment of its write (bench/marked-lines.ts).
 *
 * argv[2]: JSON WriterOptions (bench/harness.ts). Prints its WriterReport at the end.
 */
import { closeSync, openSync, writeSync } from 'node:fs';
import { monoMicros, sleepSync } from './clock.ts';
import type { WriterOptions, WriterReport } from './harness.ts';
import { criText, markedMessage } from './marked-lines.ts';

const o = JSON.parse(process.argv[2]!) as WriterOptions;
const fds = o.files.map((f) => openSync(f, 'a'));
const total = Math.round(o.linesPerSecond * o.seconds);
const microsPerLine = 1e6 / o.linesPerSecond;
const wallAtStart = Date.now() + (o.startMicros - monoMicros()) / 1000;

const report: WriterReport = { written: 0, maxBurst: 0, cpuSeconds: 0 };
while (monoMicros() < o.startMicros) sleepSync(Math.max(0.1, (o.startMicros - monoMicros()) / 1000));
while (report.written < total) {
  const elapsed = monoMicros() - o.startMicros;
  const due = Math.min(total, Math.floor(elapsed / microsPerLine) + 1);
  report.maxBurst = Math.max(report.maxBurst, due - report.written);
  for (; report.written < due; report.written++) {
    const id = report.written;
    const now = monoMicros();
    writeSync(fds[id % fds.length]!, criText(wallAtStart + (now - o.startMicros) / 1000, markedMessage(id, now, o.messageBytes)));
  }
  const nextDue = o.startMicros + report.written * microsPerLine;
  sleepSync(Math.max(1, (nextDue - monoMicros()) / 1000));
}
for (const fd of fds) closeSync(fd);
const cpu = process.cpuUsage();
report.cpuSeconds = (cpu.user + cpu.system) / 1e6;
process.stdout.write(`${JSON.stringify(report)}\n`);
