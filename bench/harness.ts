/**
 * What the end-to-end benchmarks share: pods served by the simulated API server and their log
 * directories, building dist/ and starting the real `kube-log-enricher agent` from it with the
 * Helm chart's NODE_OPTIONS, a FIFO as its stdout (a real pipe, as containerd gives a container),
 * the reader and writer helper processes, and what /proc says about the agent (CPU, RSS).
 *
 * Everything is black box: files in a temp dir, the sim, the sink's output. Nothing here imports
 * the file source, so the benchmarks run unchanged against any implementation of it.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, constants, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { createServer } from 'node:net';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import { namespaceFor, nodeFor, podFor, startSimApiServer, type SimApiServer } from '../src/sim/index.ts';
import { podLogPath } from '../test/builders/lines.ts';
import { monoMicros } from './clock.ts';
import { criText, markedMessage } from './marked-lines.ts';

export { monoMicros };

export const REPO = join(dirname(fileURLToPath(import.meta.url)), '..');
const HERE = join(REPO, 'bench');
/** The installed entry point, running the compiled dist/ as the container image does (not the .ts sources through type stripping). */
export const CLI = join(REPO, 'bin', 'kube-log-enricher.js');
const CLOCK_TICKS = 100; // USER_HZ on Linux

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** An environment variable as a list of numbers ("20,500"); `fallback` when unset; empty for "". */
export function envList(name: string, fallback: string): number[] {
  return (process.env[name] ?? fallback).split(',').filter((s) => s.trim() !== '').map(Number);
}

/** The V8 flags the Helm chart sets in NODE_OPTIONS (its `nodeOptions` value); NODE_FLAGS overrides (NODE_FLAGS= for none). */
export function nodeFlags(): string {
  if (process.env.NODE_FLAGS !== undefined) return process.env.NODE_FLAGS;
  const values = parseYaml(readFileSync(join(REPO, 'helm', 'kube-log-enricher', 'values.yaml'), 'utf8')) as { nodeOptions: string };
  return values.nodeOptions;
}

/**
 * MALLOC_ARENA_MAX as the chart sets it (its `mallocArenaMax` value, unset when null), or as this
 * process's environment says (MALLOC_ARENA_MAX= for glibc's default).
 */
export function mallocArenaMax(): string | undefined {
  if (process.env.MALLOC_ARENA_MAX !== undefined) return process.env.MALLOC_ARENA_MAX === '' ? undefined : process.env.MALLOC_ARENA_MAX;
  const values = parseYaml(readFileSync(join(REPO, 'helm', 'kube-log-enricher', 'values.yaml'), 'utf8')) as { mallocArenaMax?: number | null };
  return values.mallocArenaMax == null ? undefined : String(values.mallocArenaMax);
}

/** The environment of a product process as the chart's container has it: no NODE_OPTIONS (the flags go on the command line), its MALLOC_ARENA_MAX. */
export function chartEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, NODE_OPTIONS: '' };
  delete env.MALLOC_ARENA_MAX;
  const arenas = mallocArenaMax();
  if (arenas !== undefined) env.MALLOC_ARENA_MAX = arenas;
  return env;
}

/** How the agent runs, for a benchmark's heading: its V8 flags and MALLOC_ARENA_MAX. */
export function agentRuntimeLabel(flags: string): string {
  return `node ${flags || '(no flags)'}, MALLOC_ARENA_MAX ${mallocArenaMax() ?? '(glibc default)'}`;
}

/** npm run build (of `project`, this checkout by default): the benchmarks run dist/, as the image does. */
export function build(project = REPO): void {
  const r = spawnSync(process.execPath, [join(REPO, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(project, 'tsconfig.build.json')], { stdio: 'inherit' });
  if (r.status !== 0) throw new Error('npm run build failed');
}

export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

// --- /proc -------------------------------------------------------------------------------------

/** User and user+system CPU seconds of a process, all its threads. */
export function procCpuSeconds(pid: number): { user: number; total: number } {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  const user = Number(fields[11]) / CLOCK_TICKS; // utime
  return { user, total: user + Number(fields[12]) / CLOCK_TICKS }; // + stime
}

export function procKiB(pid: number, field: 'VmHWM' | 'VmRSS'): number {
  const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(match?.[1] ?? 0);
}

/** CPU seconds at a moment, to subtract: the agent's CPU over a window as a share of one core. */
export interface CpuMark {
  atMs: number;
  cpu: number;
}

/** NaN CPU once the process is gone (it crashed: the caller reports that). */
export function cpuMark(pid: number): CpuMark {
  let cpu = NaN;
  try {
    cpu = procCpuSeconds(pid).total;
  } catch {
    // exited
  }
  return { atMs: monoMicros() / 1000, cpu };
}

/** CPU used between two marks as % of one core. */
export function cpuPercent(from: CpuMark, to: CpuMark): number {
  return ((to.cpu - from.cpu) / ((to.atMs - from.atMs) / 1000)) * 100;
}

// --- pods, the sim and the log tree ------------------------------------------------------------

export interface BenchPod {
  namespace: string;
  name: string;
  uid: string;
  container: string;
}

/** `count` pods on node-a, in 5 namespaces, one container each. */
export function benchPods(count: number): BenchPod[] {
  return Array.from({ length: count }, (_, i) => ({
    namespace: `team-${i % 5}`,
    name: `svc-${i}-7d9f8b-x${i}`,
    uid: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
    container: 'app',
  }));
}

/** <podsDir>/<ns>_<pod>_<uid>/<container>/0.log */
export function logPath(podsDir: string, p: BenchPod): string {
  return podLogPath({ prefix: podsDir, namespace: p.namespace, pod: p.name, uid: p.uid, container: p.container });
}

/** The simulated API server serving node-a, the pods' namespaces and exactly these pods. */
export async function startCluster(pods: readonly BenchPod[]): Promise<SimApiServer> {
  const sim = await startSimApiServer();
  sim.create('nodes', nodeFor({ name: 'node-a' }));
  for (const ns of new Set(pods.map((p) => p.namespace))) sim.create('namespaces', namespaceFor({ name: ns, labels: { team: ns } }));
  for (const p of pods) sim.create('pods', podFor({ name: p.name, namespace: p.namespace, uid: p.uid, nodeName: 'node-a', containers: [p.container], labels: { app: p.name } }));
  return sim;
}

/**
 * Creates each pod's 0.log holding `linesPerPod` marked lines (t=0); ids run pod after pod:
 * pod i's line n is i * linesPerPod + n. linesPerPod 0 makes empty files.
 */
export function writeMarkedFiles(podsDir: string, pods: readonly BenchPod[], linesPerPod: number, messageBytes: number): void {
  const base = Date.UTC(2026, 10, 23, 10, 0, 0);
  for (const [i, p] of pods.entries()) writeLogFile(logPath(podsDir, p), linesPerPod, (n) => criText(base + n, markedMessage(i * linesPerPod + n, 0, messageBytes)));
}

/** Writes the `count` lines `lineAt(0..count-1)` (newlines included) to `path`, in ~1 MiB writes; returns its size. */
export function writeLogFile(path: string, count: number, lineAt: (n: number) => string): number {
  mkdirSync(dirname(path), { recursive: true });
  const fd = openSync(path, 'w');
  let chunk = '';
  let bytes = 0;
  const flush = (): void => {
    bytes += writeSync(fd, chunk);
    chunk = '';
  };
  for (let n = 0; n < count; n++) {
    chunk += lineAt(n);
    if (chunk.length > 1 << 20) flush();
  }
  flush();
  closeSync(fd);
  return bytes;
}

/** A temp dir with a pod log tree, the sim serving exactly those pods, and its kubeconfig. */
export interface Rig {
  readonly root: string;
  readonly podsDir: string;
  readonly pods: readonly BenchPod[];
  readonly files: readonly string[];
  readonly kubeconfig: string;
  /** Agent options for this rig: a fresh data dir (no checkpoints) for each `run` name. */
  agentOptions(run: string, sink: string, flags: string): AgentOptions;
  close(): Promise<void>;
}

/** `podCount` pods, each with a 0.log of `linesPerPod` marked lines (writeMarkedFiles), and the sim serving them. */
export async function prepareRig(name: string, podCount: number, linesPerPod: number, messageBytes: number): Promise<Rig> {
  const root = mkdtempSync(join(os.tmpdir(), `${name}-`));
  try {
    const podsDir = join(root, 'pods');
    const pods = benchPods(podCount);
    writeMarkedFiles(podsDir, pods, linesPerPod, messageBytes);
    const sim = await startCluster(pods);
    const kubeconfig = join(root, 'kubeconfig');
    await sim.writeKubeconfig(kubeconfig);
    return {
      root,
      podsDir,
      pods,
      files: pods.map((p) => logPath(podsDir, p)),
      kubeconfig,
      agentOptions: (run, sink, flags) => ({ kubeconfig, podsDir, dataDir: join(root, `data-${run}`), sink, flags }),
      close: async () => {
        await sim.close();
        rmSync(root, { recursive: true, force: true });
      },
    };
  } catch (e) {
    rmSync(root, { recursive: true, force: true });
    throw e;
  }
}

// --- the agent ---------------------------------------------------------------------------------

export interface AgentOptions {
  kubeconfig: string;
  podsDir: string;
  dataDir: string;
  /** "stdout", "file:PATH", ... */
  sink: string;
  /** Where its stdout goes: an fd (e.g. a FIFO's, from openFifo), or ignored. */
  stdout?: number | 'ignore';
  flags: string;
}

export interface AgentProcess {
  readonly child: ChildProcess;
  readonly pid: number;
  readonly port: number;
  /** Its stderr so far (its JSON log; the last 4 MiB). */
  log(): string;
  /** Resolves with the log time (ms) of the first log line containing `text`; rejects if it exits first or after `timeoutMs`. */
  waitForLog(text: string, timeoutMs?: number): Promise<number>;
  /** Exit code and signal, once it exited. */
  readonly exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  running(): boolean;
  /** Its peak RSS (VmHWM) in bytes, polled every 200 ms: kept after it exits (a crash does not lose it). */
  peakRss(): number;
  /** SIGTERM (it drains and writes checkpoints), SIGKILL after `timeoutMs`. */
  stop(timeoutMs?: number): Promise<{ code: number | null; signal: NodeJS.Signals | null; killed: boolean }>;
}

/** Starts the real command, the configuration defaults otherwise (docs/configuration.md), nothing tuned for the benchmark. */
export async function startAgent(o: AgentOptions): Promise<AgentProcess> {
  const port = await freePort();
  const args = [
    ...o.flags.split(' ').filter((f) => f !== ''),
    CLI, 'agent',
    '--kubeconfig', o.kubeconfig, '--node-name', 'node-a', '--listen', `127.0.0.1:${port}`,
    '--pods-dir', o.podsDir, '--data-dir', o.dataDir, '--sink', o.sink,
    // As the Helm chart runs it (values.yaml config.server.grpcListen: "").
    '--set', 'server.grpcListen=',
    // AGENT_SET="source.batchMaxWait=75ms,...": settings to compare (each a --set of its own).
    ...(process.env.AGENT_SET ?? '').split(',').filter((kv) => kv !== '').flatMap((kv) => ['--set', kv]),
  ];
  const child = spawn(process.execPath, args, { stdio: ['ignore', o.stdout ?? 'ignore', 'pipe'], env: chartEnv() });
  let log = '';
  const watchers = new Set<() => void>();
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (chunk: string) => {
    log += chunk;
    if (log.length > 8 << 20) log = log.slice(-(4 << 20));
    for (const w of watchers) w();
  });
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  let exited = false;
  let peakRss = 0;
  const pollRss = (): void => {
    try {
      peakRss = Math.max(peakRss, procKiB(child.pid!, 'VmHWM') * 1024);
    } catch {
      // exited
    }
  };
  const rssTimer = setInterval(pollRss, 200);
  void exit.then(() => {
    clearInterval(rssTimer);
    exited = true;
    for (const w of watchers) w();
  });
  const agent: AgentProcess = {
    child,
    pid: child.pid!,
    port,
    log: () => log,
    running: () => !exited,
    peakRss: () => {
      if (!exited) pollRss();
      return peakRss;
    },
    exit,
    waitForLog: (text, timeoutMs = 120_000) =>
      new Promise<number>((resolve, reject) => {
        const timer = setTimeout(() => done(new Error(`no "${text}" in the agent's log after ${timeoutMs} ms:\n${log.slice(-2000)}`)), timeoutMs);
        const check = (): void => {
          const line = log.split('\n').find((l) => l.includes(text));
          if (line !== undefined) done(undefined, Date.parse((JSON.parse(line) as { time: string }).time));
          else if (exited) done(new Error(`the agent exited before logging "${text}":\n${log.slice(-2000)}`));
        };
        function done(err: Error | undefined, at?: number): void {
          clearTimeout(timer);
          watchers.delete(check);
          if (err !== undefined) reject(err);
          else resolve(at!);
        }
        watchers.add(check);
        check();
      }),
    stop: async (timeoutMs = 30_000) => {
      if (exited) return { ...(await exit), killed: false };
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      const result = await exit;
      clearTimeout(timer);
      return { ...result, killed: result.signal === 'SIGKILL' };
    },
  };
  return agent;
}

/**
 * Ends a run: its peak RSS (VmHWM), then SIGTERM. `exit` is 'ok' when it
 * exited 0; otherwise it says how it ended (CRASHED: it had exited before being told to), and the
 * end of its log is printed.
 */
export async function stopAgent(agent: AgentProcess): Promise<{ peakRss: number; exit: string }> {
  const crashed = !agent.running();
  const peakRss = agent.peakRss();
  const stopped = await agent.stop();
  const how = stopped.code ?? stopped.signal;
  const exit = crashed ? `CRASHED (${how})` : stopped.code === 0 ? 'ok' : `exit ${how} on SIGTERM`;
  if (exit !== 'ok') console.log(`    agent log (end):\n${agent.log().slice(-1500)}`);
  return { peakRss, exit };
}

/** Events the agent enriched, from its metrics (0 while it does not listen yet). */
export async function eventsOut(port: number): Promise<number> {
  try {
    const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    return Number(/^kube_log_enricher_events_out_total\{route="agent"\} (\d+)/m.exec(text)?.[1] ?? 0);
  } catch {
    return 0; // not listening yet
  }
}

/** Did it die of V8's heap limit? (its stderr says so) */
export function heapOutOfMemory(log: string): boolean {
  return /heap out of memory|Allocation failed/i.test(log);
}

/**
 * A named pipe for the agent's stdout, opened read-write so that opening does not wait for a
 * reader (Linux). Pass `fd` as the agent's stdout, start the reader on `path`, then close `fd`
 * here once the reader has it open: the reader then sees end-of-file when the agent exits.
 */
export function openFifo(path: string): number {
  const r = spawnSync('mkfifo', [path]);
  if (r.status !== 0) throw new Error(`mkfifo ${path} failed: ${r.stderr.toString()}`);
  return openSync(path, constants.O_RDWR);
}

// --- the helper processes ----------------------------------------------------------------------

/** What bench/sink-reader.ts prints: progress lines (every 100 ms while it changes), then one final summary. */
export interface ReaderReport {
  final: boolean;
  lines: number;
  marked: number;
  distinct: number;
  duplicates: number;
  /** Ids at or above `capacity` (none are written). */
  outOfRange: number;
  bytes: number;
  /** Delay write -> read (ms) of the lines written inside the window. */
  delay?: { count: number; p50: number; p99: number; max: number };
  /** The first ids not seen below `expected`, when the final report is given `expected`. */
  missingSample?: number[];
  /** The reader's own CPU (final report). */
  cpuSeconds?: number;
}

export interface ReaderOptions {
  fifo: string;
  /** Ids run 0..capacity-1. */
  capacity: number;
  /** For missingSample: ids below this should all be there. */
  expected?: number;
  /** Lines written (monoMicros) inside [from, to) count towards the delay percentiles. */
  windowMicros?: [number, number];
  /** A slow consumer: at most `bytes` per `everyMs`. */
  slow?: { bytes: number; everyMs: number };
}

export interface Reader {
  /** The latest progress (at most 100 ms old). */
  progress(): ReaderReport;
  /** The final report, once the pipe closed (the agent exited). */
  readonly final: Promise<ReaderReport>;
  /** Resolves once it opened the FIFO. */
  readonly opened: Promise<void>;
  kill(): void;
}

/** bench/sink-reader.ts in its own process, reading the agent's stdout from the FIFO (its CPU is not the agent's). */
export function startReader(o: ReaderOptions): Reader {
  const child = spawn(process.execPath, [join(HERE, 'sink-reader.ts'), JSON.stringify(o)], { stdio: ['ignore', 'pipe', 'inherit'] });
  let latest: ReaderReport = { final: false, lines: 0, marked: 0, distinct: 0, duplicates: 0, outOfRange: 0, bytes: 0 };
  let onOpen: () => void = () => undefined;
  let onExit: (err: Error) => void = () => undefined;
  const opened = new Promise<void>((resolve, reject) => {
    onOpen = resolve;
    onExit = reject;
  });
  const final = new Promise<ReaderReport>((resolve, reject) => {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const msg = JSON.parse(line) as ReaderReport | { opened: true };
      if ('opened' in msg) return onOpen();
      latest = msg;
      if (msg.final) resolve(msg);
    });
    child.once('close', (code) => {
      const err = new Error(`the sink reader exited (${code}) without a final report`);
      onExit(err);
      reject(err);
    });
  });
  final.catch(() => undefined);
  return { progress: () => latest, final, opened, kill: () => child.kill('SIGKILL') };
}

export interface WriterOptions {
  files: readonly string[];
  linesPerSecond: number;
  /** monoMicros() when writing starts. */
  startMicros: number;
  seconds: number;
  messageBytes: number;
}

export interface WriterReport {
  written: number;
  /** The most lines due at once (~rate/1000 on schedule; more: the writer fell behind, the machine was busy). */
  maxBurst: number;
  /** The writer's own CPU (start-up included). */
  cpuSeconds: number;
}

/** bench/paced-writer.ts in its own process: appends CRI lines, one write() per line, paced. */
export function runWriter(o: WriterOptions): Promise<WriterReport> {
  const child = spawn(process.execPath, [join(HERE, 'paced-writer.ts'), JSON.stringify(o)], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout!.setEncoding('utf8').on('data', (s: string) => (out += s));
  return new Promise((resolve, reject) =>
    child.once('exit', (code) => (code === 0 ? resolve(JSON.parse(out) as WriterReport) : reject(new Error(`the paced writer exited with ${code}`)))),
  );
}

/**
 * The agent with its stdout into a FIFO (openFifo): start the agent with `fd` as its stdout, then
 * this, which starts the reader on the FIFO and closes `fd` here once the reader has it open.
 */
export async function attachReader(fd: number, o: ReaderOptions): Promise<Reader> {
  try {
    const reader = startReader(o);
    await reader.opened;
    return reader;
  } finally {
    closeSync(fd);
  }
}
