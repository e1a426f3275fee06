/**
 * The memory envelope on a busy node (issue #11 point 4): PODS pods x LINES_PER_POD lines
 * (default 2,000 x 500 = 1,000,000 marked CRI lines, written before the agent starts), the real
 * `kube-log-enricher agent` from dist/ with the Helm chart's NODE_OPTIONS and MALLOC_ARENA_MAX
 * (bench/harness.ts),
 * reading them all from the beginning into
 *   (a) `file`: a file sink (done when its metrics count every line enriched, or the file stopped
 *       growing for STALL seconds); the file is then read by bench/sink-reader.ts;
 *   (b) `pipe`: its stdout into a FIFO read SLOWLY by bench/sink-reader.ts: at most SLOW_BYTES
 *       every SLOW_MS (default 1 MiB every 50 ms, ~20 MiB/s, while the agent could write ~100+):
 *       the agent must hold back rather than buffer (done when every id came, or nothing came
 *       for STALL seconds).
 * Then SIGTERM (it drains and exits). Reported per run: whether the agent crashed (exited before
 * being told to, its code or signal, and "heap out of memory" on its stderr), peak RSS (VmHWM,
 * polled every 200 ms so that a crash does not lose it), and whether every line came out exactly
 * once (the distinct ids seen, missing ones, duplicates), and how long it took.
 * Goals (#11): no crash, peak RSS under 160 MiB, every line delivered, to a file and a slow pipe.
 *
 *   npm run bench memory
 *   PODS=200 LINES_PER_POD=500 ROUNDS=1 SINKS=file npm run bench memory
 *
 * Environment: PODS (default 2000), LINES_PER_POD (default 500), SINKS (default file,pipe),
 * ROUNDS (default 3, the sinks alternating), SLOW_BYTES (default 1048576), SLOW_MS (default 50),
 * STALL (seconds, default 30), TIMEOUT (seconds per run, default 600), MESSAGE_BYTES (default
 * 150), NODE_FLAGS (the agent's V8 flags instead of the chart's; NODE_FLAGS= for none), MALLOC_ARENA_MAX
 * (instead of the chart's; MALLOC_ARENA_MAX= for glibc's default), AGENT_SET
 * ("source.maxBufferedBytes=8MiB,...": settings passed to the agent, one --set each).
 */
import { rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { agentRuntimeLabel, attachReader, build, eventsOut, heapOutOfMemory, nodeFlags, openFifo, prepareRig, sleep, startAgent, startReader, type AgentProcess, type Reader, type ReaderReport, type Rig } from './harness.ts';
import { fmt, summarise } from './stats.ts';

const PODS = Number(process.env.PODS ?? 2000);
const LINES_PER_POD = Number(process.env.LINES_PER_POD ?? 500);
const SINKS = (process.env.SINKS ?? 'file,pipe').split(',').filter((s) => s === 'file' || s === 'pipe');
const ROUNDS = Number(process.env.ROUNDS ?? 3);
const SLOW_BYTES = Number(process.env.SLOW_BYTES ?? 1 << 20);
const SLOW_MS = Number(process.env.SLOW_MS ?? 50);
const STALL = Number(process.env.STALL ?? 30);
const TIMEOUT = Number(process.env.TIMEOUT ?? 600);
const MESSAGE_BYTES = Number(process.env.MESSAGE_BYTES ?? 150);
const FLAGS = nodeFlags();
const EXPECTED = PODS * LINES_PER_POD;

type Sink = 'file' | 'pipe';

interface Sample {
  sink: Sink;
  seconds: number;
  /** How the run ended: 'done', 'stalled', 'timeout' or 'crashed'. */
  ending: string;
  exit: string;
  oom: boolean;
  peakRss: number;
  report: ReaderReport;
}

/** Waits until `done()` or the agent exits, or `progress()` stood still for STALL seconds, or TIMEOUT. */
async function watch(agent: AgentProcess, done: () => Promise<boolean> | boolean, progress: () => number): Promise<string> {
  const startedAt = Date.now();
  let last = -1;
  let lastChange = Date.now();
  for (;;) {
    if (!agent.running()) return 'crashed';
    if (await done()) return 'done';
    const p = progress();
    if (p !== last) {
      last = p;
      lastChange = Date.now();
    }
    if (Date.now() - lastChange > STALL * 1000) return 'stalled';
    if (Date.now() - startedAt > TIMEOUT * 1000) return 'timeout';
    await sleep(200);
  }
}

async function runOnce(rig: Rig, sink: Sink, run: string): Promise<Sample> {
  const startedAt = Date.now();
  const out = join(rig.root, `out-${run}.ndjson`);
  const fifo = join(rig.root, `stdout-${run}.fifo`);
  let agent: AgentProcess;
  let reader: Reader | undefined;
  if (sink === 'file') {
    agent = await startAgent(rig.agentOptions(run, `file:${out}`, FLAGS));
  } else {
    const fd = openFifo(fifo);
    agent = await startAgent({ ...rig.agentOptions(run, 'stdout', FLAGS), stdout: fd });
    reader = await attachReader(fd, { fifo, capacity: EXPECTED, expected: EXPECTED, slow: { bytes: SLOW_BYTES, everyMs: SLOW_MS } });
  }
  try {
    const size = (): number => {
      try {
        return statSync(out).size;
      } catch {
        return 0;
      }
    };
    const ending =
      reader === undefined
        ? await watch(agent, async () => (await eventsOut(agent.port)) >= EXPECTED, size)
        : await watch(agent, () => reader.progress().distinct >= EXPECTED, () => reader.progress().bytes);
    if (sink === 'file') {
      // The last batch is written right after it counts as enriched: wait for the file to stop growing.
      for (let s = -1; s !== size(); await sleep(200)) s = size();
    }
    const seconds = (Date.now() - startedAt) / 1000;
    const peakRss = agent.peakRss();
    const stopped = await agent.stop();
    const exit = stopped.code === 0 ? 'exit 0' : `exit ${stopped.code ?? stopped.signal}${stopped.killed ? ' (killed: did not stop in 30 s)' : ''}`;
    const report = reader !== undefined ? await reader.final : await readFile(out);
    rmSync(out, { force: true });
    if (ending !== 'done' || stopped.code !== 0) console.log(`    agent log (end):\n${agent.log().slice(-1500)}`);
    return { sink, seconds, ending, exit, oom: heapOutOfMemory(agent.log()), peakRss, report };
  } finally {
    if (agent.running()) await agent.stop(5_000);
    reader?.kill();
  }
}

/** The file sink's output, checked by the same reader. */
async function readFile(path: string): Promise<ReaderReport> {
  try {
    statSync(path);
  } catch {
    return { final: true, lines: 0, marked: 0, distinct: 0, duplicates: 0, outOfRange: 0, bytes: 0 };
  }
  return startReader({ fifo: path, capacity: EXPECTED, expected: EXPECTED }).final;
}

function line(s: Sample): string {
  const missing = EXPECTED - s.report.distinct;
  return (
    `${s.ending}${s.oom ? ' (HEAP OUT OF MEMORY)' : ''}, ${s.exit}, ${fmt(s.seconds, 1)} s, peak RSS ${fmt(s.peakRss / 2 ** 20)} MiB, ` +
    `delivered ${fmt(s.report.distinct)} of ${fmt(EXPECTED)} (missing ${fmt(missing)}${missing > 0 ? `, e.g. ids ${s.report.missingSample?.join(', ')}` : ''}; duplicates ${fmt(s.report.duplicates)}), ` +
    `${fmt(s.report.bytes / 2 ** 20)} MiB out`
  );
}

const rig = await prepareRig('memory-bench', PODS, LINES_PER_POD, MESSAGE_BYTES);
try {
  build();
  console.log(`memory envelope: ${fmt(PODS)} pods x ${fmt(LINES_PER_POD)} lines = ${fmt(EXPECTED)} lines; ${agentRuntimeLabel(FLAGS)}; slow pipe: ${fmt(SLOW_BYTES / 2 ** 20, 2)} MiB every ${SLOW_MS} ms`);
  const samples: Sample[] = [];
  for (let r = 1; r <= ROUNDS; r++) {
    for (const sink of SINKS) {
      const s = await runOnce(rig, sink, `${r}-${sink}`);
      samples.push(s);
      console.log(`  round ${r}, ${sink === 'file' ? 'file sink' : 'stdout into a slow pipe'}: ${line(s)}`);
    }
  }
  console.log(`\nmemory envelope, the real agent (goal: no crash, peak RSS < 160 MiB, every line once; median [min..max] of ${ROUNDS}):`);
  for (const sink of SINKS) {
    const runs = samples.filter((s) => s.sink === sink);
    const rss = summarise(runs.map((s) => s.peakRss / 2 ** 20));
    const seconds = summarise(runs.map((s) => s.seconds));
    const crashed = runs.filter((s) => s.ending === 'crashed').length;
    const oom = runs.filter((s) => s.oom).length;
    const exact = runs.filter((s) => s.report.distinct === EXPECTED && s.report.duplicates === 0 && s.report.outOfRange === 0).length;
    console.log(`  ${sink === 'file' ? 'file sink' : 'stdout into a slow pipe'}:`);
    console.log(`    crashed            ${crashed} of ${runs.length} runs (heap out of memory: ${oom})`);
    console.log(`    peak RSS MiB       ${fmt(rss.median)} [${fmt(rss.min)}..${fmt(rss.max)}]   ${fmt(rss.max / 160, 2)}x the 160 MiB limit`);
    console.log(`    every line once    ${exact} of ${runs.length} runs (missing: ${runs.map((s) => fmt(EXPECTED - s.report.distinct)).join(', ')}; duplicates: ${runs.map((s) => fmt(s.report.duplicates)).join(', ')})`);
    console.log(`    seconds            ${fmt(seconds.median, 1)} [${fmt(seconds.min, 1)}..${fmt(seconds.max, 1)}]`);
  }
} finally {
  await rig.close();
}
