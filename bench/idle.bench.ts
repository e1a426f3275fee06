/**
 * What the agent costs when nothing is written (issues #11 and #18): FILES pods, each with one
 * container log file holding PRELINES marked lines, the real `kube-log-enricher agent` from
 * dist/ with the Helm chart's NODE_OPTIONS (bench/harness.ts), its stdout sink into a FIFO read by
 * bench/sink-reader.ts. Once every line came out (caught up) and SETTLE more seconds passed, the
 * agent's CPU (utime + stime of all its threads, /proc/<pid>/stat) over IDLE seconds, as % of one
 * core; its peak RSS (VmHWM, start-up and catch-up included); and whether anything came out twice
 * or more than once idle (nothing is written: nothing more should come).
 * Goals: under 0.5% of a core at 20 files (#18), under 2% at 2,000 files (#11).
 *
 *   npm run bench idle
 *   FILES=2000 IDLE=10 ROUNDS=1 npm run bench idle
 *
 * Environment: FILES (default 20,2000), PRELINES (default 20), IDLE (seconds measured, default
 * 30), SETTLE (default 3), ROUNDS (default 3, the file counts alternating; medians over rounds),
 * NODE_FLAGS (the agent's V8 flags instead of the chart's; NODE_FLAGS= for none).
 */
import { join } from 'node:path';
import os from 'node:os';
import { agentRuntimeLabel, attachReader, build, cpuMark, cpuPercent, envList, nodeFlags, openFifo, prepareRig, sleep, startAgent, stopAgent } from './harness.ts';
import { fmt, summarise } from './stats.ts';

const FILES = envList('FILES', '20,2000');
const PRELINES = Number(process.env.PRELINES ?? 20);
const IDLE = Number(process.env.IDLE ?? 30);
const SETTLE = Number(process.env.SETTLE ?? 3);
const ROUNDS = Number(process.env.ROUNDS ?? 3);
const FLAGS = nodeFlags();
const MESSAGE_BYTES = 150;

interface Sample {
  catchUpSeconds: number;
  cpuPercent: number;
  peakRss: number;
  expected: number;
  delivered: number;
  duplicates: number;
  /** Lines that came out while idle. */
  idleLines: number;
  exit: string;
}

async function runCase(files: number, run: string): Promise<Sample> {
  const rig = await prepareRig('idle-bench', files, PRELINES, MESSAGE_BYTES);
  const expected = files * PRELINES;
  try {
    const fifo = join(rig.root, 'stdout.fifo');
    const fd = openFifo(fifo);
    const agent = await startAgent({ ...rig.agentOptions(run, 'stdout', FLAGS), stdout: fd });
    try {
      const reader = await attachReader(fd, { fifo, capacity: expected, expected });
      const startedAt = await agent.waitForLog('"file source started"');
      const giveUpAt = Date.now() + 5 * 60_000;
      while (reader.progress().distinct < expected && agent.running() && Date.now() < giveUpAt) await sleep(50);
      const catchUpSeconds = (Date.now() - startedAt) / 1000;
      await sleep(SETTLE * 1000);
      const before = reader.progress().lines;
      const from = cpuMark(agent.pid);
      await sleep(IDLE * 1000);
      const to = cpuMark(agent.pid);
      const idleLines = reader.progress().lines - before;
      const { peakRss, exit } = await stopAgent(agent);
      const report = await reader.final;
      return { catchUpSeconds, cpuPercent: cpuPercent(from, to), peakRss, expected, delivered: report.distinct, duplicates: report.duplicates, idleLines, exit };
    } finally {
      if (agent.running()) await agent.stop(5_000);
    }
  } finally {
    await rig.close();
  }
}

build();
console.log(`idle: ${PRELINES} lines per file read first, then ${IDLE} s measured after ${SETTLE} s; ${agentRuntimeLabel(FLAGS)}`);
const samples = new Map<number, Sample[]>(FILES.map((f) => [f, []]));
for (let r = 1; r <= ROUNDS; r++) {
  for (const files of FILES) {
    const s = await runCase(files, `${r}-${files}`);
    samples.get(files)!.push(s);
    console.log(
      `  round ${r}, ${fmt(files)} files: CPU ${fmt(s.cpuPercent, 2)}% of a core idle, caught up ${fmt(s.catchUpSeconds, 1)} s after the source started, ` +
        `peak RSS ${fmt(s.peakRss / 2 ** 20)} MiB, delivered ${fmt(s.delivered)} of ${fmt(s.expected)} (dup ${fmt(s.duplicates)}, ${fmt(s.idleLines)} while idle), ${s.exit}`,
    );
  }
}
console.log(`\nidle, the real agent (${os.cpus().length} cores shared with other work; median [min..max] of ${ROUNDS}):`);
for (const files of FILES) {
  const runs = samples.get(files)!;
  const cpu = summarise(runs.map((s) => s.cpuPercent));
  const rss = summarise(runs.map((s) => s.peakRss / 2 ** 20));
  const catchUp = summarise(runs.map((s) => s.catchUpSeconds));
  const goal = files <= 20 ? 0.5 : 2;
  console.log(`  ${fmt(files)} files:`);
  console.log(`    CPU % of a core    ${fmt(cpu.median, 2)} [${fmt(cpu.min, 2)}..${fmt(cpu.max, 2)}]   ${fmt(cpu.median / goal, 1)}x the ${goal}% goal`);
  console.log(`    peak RSS MiB       ${fmt(rss.median)} [${fmt(rss.min)}..${fmt(rss.max)}]`);
  console.log(`    catch-up s         ${fmt(catchUp.median, 1)} [${fmt(catchUp.min, 1)}..${fmt(catchUp.max, 1)}]`);
}
