/**
 * Tailing at a steady rate (issue #18): what the agent costs, and how late lines come out, while
 * containers write a few lines at a time, as they do on a real node (not a backlog: see
 * agent.bench.ts for that).
 *
 * Each case: the real `kube-log-enricher agent` command built into dist/ (bench/harness.ts), with
 * the Helm chart's NODE_OPTIONS, the sim serving PODS pods, its stdout sink into a FIFO (a real
 * pipe, as containerd gives a container) read by bench/sink-reader.ts; bench/paced-writer.ts, a
 * process of its own like the runtime, appends CRI lines to the pods' 0.log files (created empty
 * before the agent starts) round robin, ONE write() per line, at RATE lines/s spread evenly over
 * time (bursts of at most 1 ms worth), for warm-up + DURATION seconds. Each message carries its id
 * and the moment of its write on the machine's monotonic clock; the reader notes when it reads
 * it. Measured from outside, over the DURATION seconds after the warm-up:
 *   - agent CPU (utime + stime of all its threads, /proc/<pid>/stat) as % of one core, the lines
 *     that came out per second, and CPU seconds per million of them (when the agent keeps up,
 *     lines out = lines written);
 *   - delay write -> read from the pipe, p50 and p99, of the lines written in that window;
 *   - lines behind: written but not out yet when the writer finished;
 *   - lines lost: written (all of them, warm-up included) but not seen, once every line came out
 *     or the output went quiet for DRAIN seconds or DRAIN_MAX passed, then SIGTERM and what came
 *     out while the agent stopped (a line not read by then would be read after a restart: here
 *     it counts as lost); and duplicates;
 *   - peak RSS (VmHWM, start-up included).
 * The writer and the reader run in their own processes (their CPU is not the agent's) but share
 * the 2 cores with it. "burst" is the most lines the writer had due at once (~rate/1000 on
 * schedule; more: it could not keep the pace, the machine was busy), with the writer's and the
 * reader's own CPU (% of a core over warm-up and window, start-up included).
 * Goals (#18): 10,000 lines/s over 20 pods under 10% of a core, 1,000 lines/s under 2%, p99 under
 * 100 ms at every rate, nothing lost. The idle cost (nothing written, 20 and 2,000 files) is
 * bench/idle.bench.ts.
 *
 *   npm run bench steady
 * The warm-up lets V8 finish compiling the per-line path, which it does after a number of lines,
 * not of seconds: at 1,000 lines/s its compiler threads still work 10-20 s in, and a 3 s warm-up
 * measured 2.8% of a core where the same agent 40 s in used 1.8%. An agent runs for days; its
 * first minute is start-up, so the default warm-up is max(5 s, 40,000 lines' worth).
 *
 *   RATES=1000,10000 PODS=20 DURATION=5 WARMUP=2 ROUNDS=1 npm run bench steady
 *
 * Environment: RATES (lines/s, default 1000,10000,50000), PODS (default 20,500), DURATION
 * (seconds measured, default 20), WARMUP (seconds, default max(5, 40000 / rate)), DRAIN (default 5), DRAIN_MAX (default 60),
 * ROUNDS (default 3; the cases alternate within a round, medians over rounds), MESSAGE_BYTES
 * (default 150), NODE_FLAGS (the agent's V8 flags instead of the chart's; NODE_FLAGS= for none),
 * AGENT_SET ("source.batchMaxWait=75ms,...": settings passed to the agent, one --set each, to
 * compare a setting A/B), NO_BUILD (set: use dist/ as it is, e.g. with probes added by hand).
 */
import { agentRuntimeLabel, attachReader, build, cpuMark, cpuPercent, envList, monoMicros, nodeFlags, openFifo, prepareRig, runWriter, sleep, startAgent, stopAgent, type ReaderReport } from './harness.ts';
import { join } from 'node:path';
import os from 'node:os';
import { fmt, summarise } from './stats.ts';

const RATES = envList('RATES', '1000,10000,50000');
const PODS = envList('PODS', '20,500');
const SECONDS = Number(process.env.DURATION ?? 20);
/** Seconds written before measuring (see above: V8 compiles the hot path after enough lines). */
function warmupSeconds(rate: number): number {
  return process.env.WARMUP !== undefined ? Number(process.env.WARMUP) : Math.max(5, 40_000 / rate);
}
const DRAIN = Number(process.env.DRAIN ?? 5);
const DRAIN_MAX = Number(process.env.DRAIN_MAX ?? 60);
const ROUNDS = Number(process.env.ROUNDS ?? 3);
const MESSAGE_BYTES = Number(process.env.MESSAGE_BYTES ?? 150);
const FLAGS = nodeFlags();

interface Sample {
  cpuPercent: number;
  /** Per million lines that came out in the window. */
  cpuPerMillion: number;
  /** Lines out per second in the window. */
  outRate: number;
  p50: number;
  p99: number;
  maxDelay: number;
  written: number;
  /** Lines written but not out yet when the writer finished. */
  behind: number;
  lost: number;
  duplicates: number;
  peakRss: number;
  burst: number;
  writerCpuPercent: number;
  readerCpuPercent: number;
  exit: string;
}

async function runCase(pods: number, rate: number, run: string): Promise<Sample> {
  const warmup = warmupSeconds(rate);
  const rig = await prepareRig('steady-bench', pods, 0, MESSAGE_BYTES);
  try {
    const fd = openFifo(join(rig.root, 'stdout.fifo'));
    const agent = await startAgent({ ...rig.agentOptions(run, 'stdout', FLAGS), stdout: fd });
    try {
      await agent.waitForLog('"file source started"');
      await sleep(1000);
      const start = monoMicros() + 1_500_000; // the writer process starts meanwhile
      const window: [number, number] = [start + warmup * 1e6, start + (warmup + SECONDS) * 1e6];
      const reader = await attachReader(fd, { fifo: join(rig.root, 'stdout.fifo'), capacity: Math.ceil(rate * (warmup + SECONDS)) + 1, windowMicros: window });
      const writing = runWriter({ files: rig.files, linesPerSecond: rate, startMicros: start, seconds: warmup + SECONDS, messageBytes: MESSAGE_BYTES });
      await sleep((window[0] - monoMicros()) / 1000);
      const from = cpuMark(agent.pid);
      const outFrom = reader.progress().lines;
      await sleep((window[1] - monoMicros()) / 1000);
      const to = cpuMark(agent.pid);
      const outTo = reader.progress().lines;
      const writer = await writing;
      const behind = writer.written - reader.progress().distinct;
      // Until every line came out, or nothing more came for DRAIN seconds, or DRAIN_MAX passed.
      let last = reader.progress();
      let lastChange = Date.now();
      const drainUntil = Date.now() + DRAIN_MAX * 1000;
      while (reader.progress().distinct < writer.written && Date.now() - lastChange < DRAIN * 1000 && Date.now() < drainUntil && agent.running()) {
        await sleep(50);
        if (reader.progress().lines !== last.lines) {
          last = reader.progress();
          lastChange = Date.now();
        }
      }
      const { peakRss, exit } = await stopAgent(agent);
      const report: ReaderReport = await reader.final;
      return {
        cpuPercent: cpuPercent(from, to),
        cpuPerMillion: (to.cpu - from.cpu) / ((outTo - outFrom) / 1e6),
        outRate: (outTo - outFrom) / ((to.atMs - from.atMs) / 1000),
        p50: report.delay?.p50 ?? NaN,
        p99: report.delay?.p99 ?? NaN,
        maxDelay: report.delay?.max ?? NaN,
        written: writer.written,
        behind,
        lost: writer.written - report.distinct,
        duplicates: report.duplicates,
        peakRss,
        burst: writer.maxBurst,
        writerCpuPercent: (writer.cpuSeconds / (warmup + SECONDS)) * 100,
        readerCpuPercent: ((report.cpuSeconds ?? NaN) / (warmup + SECONDS)) * 100,
        exit,
      };
    } finally {
      if (agent.running()) await agent.stop(5_000);
    }
  } finally {
    await rig.close();
  }
}

function line(s: Sample): string {
  return (
    `CPU ${fmt(s.cpuPercent, 1)}% of a core, ${fmt(s.outRate)} lines/s out, ${fmt(s.cpuPerMillion, 1)} CPU-s/1M lines, delay p50 ${fmt(s.p50, 1)} ms p99 ${fmt(s.p99, 1)} ms (max ${fmt(s.maxDelay)}), ` +
    `behind ${fmt(s.behind)} when writing ended, lost ${fmt(s.lost)} of ${fmt(s.written)}, dup ${fmt(s.duplicates)}, peak RSS ${fmt(s.peakRss / 2 ** 20)} MiB, writer: burst ${fmt(s.burst)}, CPU ${fmt(s.writerCpuPercent)}%, reader CPU ${fmt(s.readerCpuPercent)}%, ${s.exit}`
  );
}

if (process.env.NO_BUILD === undefined) build();
const cases = PODS.flatMap((pods) => RATES.map((rate) => ({ pods, rate, key: `${fmt(rate)} lines/s over ${pods} pods` })));
const samples = new Map<string, Sample[]>(cases.map((c) => [c.key, []]));
console.log(`steady tailing: ${SECONDS} s measured after ${RATES.map((r) => `${fmt(warmupSeconds(r))} s`).join(' / ')} of warm-up, ${MESSAGE_BYTES}-byte messages, ${ROUNDS} round(s); ${agentRuntimeLabel(FLAGS)}`);
for (let r = 1; r <= ROUNDS; r++) {
  for (const c of cases) {
    const s = await runCase(c.pods, c.rate, `${r}-${c.pods}-${c.rate}`);
    samples.get(c.key)!.push(s);
    console.log(`  round ${r}, ${c.key}: ${line(s)}`);
  }
}

console.log(`\nsteady tailing, the real agent (${os.cpus().length} cores shared with the writer, the reader and other work; median [min..max] of ${ROUNDS}):`);
for (const c of cases) {
  const runs = samples.get(c.key)!;
  const cpu = summarise(runs.map((s) => s.cpuPercent));
  const perM = summarise(runs.map((s) => s.cpuPerMillion));
  const outRate = summarise(runs.map((s) => s.outRate));
  const p50 = summarise(runs.map((s) => s.p50));
  const p99 = summarise(runs.map((s) => s.p99));
  const rss = summarise(runs.map((s) => s.peakRss / 2 ** 20));
  const lost = runs.reduce((n, s) => n + s.lost, 0);
  const dups = runs.reduce((n, s) => n + s.duplicates, 0);
  const written = runs.reduce((n, s) => n + s.written, 0);
  const crashes = runs.filter((s) => s.exit !== 'ok').length;
  console.log(`  ${c.key}:`);
  console.log(`    CPU % of a core    ${fmt(cpu.median, 1)} [${fmt(cpu.min, 1)}..${fmt(cpu.max, 1)}]`);
  console.log(`    lines/s out        ${fmt(outRate.median)} [${fmt(outRate.min)}..${fmt(outRate.max)}]`);
  console.log(`    CPU-s / 1M lines   ${fmt(perM.median, 1)} [${fmt(perM.min, 1)}..${fmt(perM.max, 1)}]   (of the lines out)`);
  console.log(`    delay p50 ms       ${fmt(p50.median, 1)} [${fmt(p50.min, 1)}..${fmt(p50.max, 1)}]`);
  console.log(`    delay p99 ms       ${fmt(p99.median, 1)} [${fmt(p99.min, 1)}..${fmt(p99.max, 1)}]`);
  console.log(`    lost / duplicated  ${fmt(lost)} / ${fmt(dups)} of ${fmt(written)} written (all rounds)${crashes > 0 ? `; ${crashes} run(s) did not exit cleanly` : ''}`);
  console.log(`    peak RSS MiB       ${fmt(rss.median)} [${fmt(rss.min)}..${fmt(rss.max)}]`);
}
