/**
 * The real command in its own process, measured from outside: what the benchmarks that run
 * `kube-log-enricher agent` or `serve` share. The compiled dist/ is run through bin/, as in the
 * image, with the V8 flags the Helm chart sets (its `nodeOptions` value); CPU seconds (utime +
 * stime, all threads) and memory (VmRSS, VmHWM: the kernel's high-water mark) are read from
 * /proc/<pid>, so nothing in the process is instrumented.
 */
import { spawn, type ChildProcess } from 'node:child_process';
export { REPO, freePort, procCpuSeconds, procKiB } from './harness.ts';
import { dirname, join } from 'node:path';
import { REPO, build as buildProject, chartEnv, nodeFlags } from './harness.ts';

/** The installed entry point, running the compiled dist/ as the container image does (not the .ts sources through type stripping). */
export const CLI = process.env.BENCH_CLI ?? join(REPO, 'bin', 'kube-log-enricher.js');

/** npm run build of the checkout whose CLI runs (BENCH_CLI's, else this one). */
export function build(): void {
  buildProject(process.env.BENCH_CLI === undefined ? REPO : join(dirname(CLI), '..'));
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
export function runCommand(args: readonly string[], flags = nodeFlags()): CommandProcess {
  const child = spawn(process.execPath, [...flags.split(' ').filter((f) => f !== ''), CLI, ...args], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: chartEnv(),
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
