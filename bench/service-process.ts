/**
 * The real command in its own process, measured from outside: what the benchmarks that run
 * `kube-log-enricher agent` or `serve` share. The compiled dist/ is run through bin/, as in the
 * image, with the V8 flags the Helm chart sets (its `nodeOptions` value); CPU seconds (utime +
 * stime, all threads) and memory (VmRSS, VmHWM: the kernel's high-water mark) are read from
 * /proc/<pid>, so nothing in the process is instrumented.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';

export const REPO = join(dirname(fileURLToPath(import.meta.url)), '..');

/** The installed entry point, running the compiled dist/ as the container image does (not the .ts sources through type stripping). */
export const CLI = process.env.BENCH_CLI ?? join(REPO, 'bin', 'kube-log-enricher.js');

const CLOCK_TICKS = 100; // USER_HZ on Linux

/** The Helm chart's NODE_OPTIONS (values.yaml `nodeOptions`): the heap limits a deployed process runs with. */
export function chartNodeOptions(): string {
  const values = parseYaml(readFileSync(join(REPO, 'helm', 'kube-log-enricher', 'values.yaml'), 'utf8')) as { nodeOptions: string };
  return values.nodeOptions;
}

/** npm run build: dist/ from the sources, so the process runs what the image would. */
export function build(cwd = process.env.BENCH_CLI === undefined ? REPO : join(dirname(CLI), '..')): void {
  const r = spawnSync(process.execPath, [join(REPO, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(cwd, 'tsconfig.build.json')], { stdio: 'inherit' });
  if (r.status !== 0) throw new Error('npm run build failed');
}

export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

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

export interface CommandProcess {
  readonly child: ChildProcess;
  readonly pid: number;
  /** Its log (stderr) so far. */
  log(): string;
  /** Epoch ms of its "enrichment service listening" log line, once written. */
  listeningAt(): number | undefined;
  /** SIGTERM, and the exit code (it must be 0: a graceful stop). */
  stop(): Promise<number | null>;
}

/** Runs `kube-log-enricher <args>` with `flags` as V8 flags (default: the chart's). */
export function runCommand(args: readonly string[], flags = process.env.NODE_FLAGS ?? chartNodeOptions()): CommandProcess {
  const child = spawn(process.execPath, [...flags.split(' ').filter((f) => f !== ''), CLI, ...args], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, NODE_OPTIONS: '' },
  });
  let log = '';
  let listeningAt: number | undefined;
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (chunk: string) => {
    log += chunk;
    if (listeningAt !== undefined) return;
    for (const line of log.split('\n')) {
      if (listeningAt === undefined && line.includes('"enrichment service listening"')) listeningAt = Date.parse((JSON.parse(line) as { time: string }).time);
    }
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    child,
    pid: child.pid!,
    log: () => log,
    listeningAt: () => listeningAt,
    async stop() {
      if (child.exitCode !== null) return child.exitCode;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
}

/** Waits until `url`/readyz answers 200 (the store synced), or throws with the process's log. */
export async function waitUntilReady(url: string, process: CommandProcess, timeoutMs = 60_000): Promise<void> {
  const giveUpAt = Date.now() + timeoutMs;
  for (;;) {
    if (process.child.exitCode !== null) throw new Error(`the service exited early (${process.child.exitCode}):\n${process.log().slice(-2000)}`);
    try {
      if ((await fetch(`${url}/readyz`)).status === 200) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > giveUpAt) throw new Error(`the service was not ready within ${timeoutMs} ms:\n${process.log().slice(-2000)}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
