/** Builders for pod log trees and small waiting helpers shared by the source tests. */
import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, existsSync, mkdirSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { createServer as createNetServer, type AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as delay } from 'node:timers/promises';
import type { Test } from 'tap';
import { defaultConfig } from '../../src/config/index.ts';
import { createMetrics } from '../../src/metrics/index.ts';
import { toFileSourceOptions } from '../../src/runtime/options.ts';
import { createFileSink } from '../../src/sink/index.ts';
import { createSerialisingStage, startFileSource } from '../../src/source/index.ts';
import type { FileSourceOptions } from '../../src/source/index.ts';
import type { SourceLogger } from '../../src/source/logger.ts';

let clock = Date.UTC(2026, 10, 23, 10, 0, 0);

/** A CRI line with a unique, increasing timestamp. */
export function criLine(message: string, stream: 'stdout' | 'stderr' = 'stdout', tag: 'F' | 'P' = 'F'): string {
  clock += 1;
  const ts = new Date(clock).toISOString().replace('Z', '123456Z');
  return `${ts} ${stream} ${tag} ${message}\n`;
}

export function dockerLine(message: string, stream: 'stdout' | 'stderr' = 'stdout'): string {
  clock += 1;
  return JSON.stringify({ log: `${message}\n`, stream, time: new Date(clock).toISOString() }) + '\n';
}

export interface PodDir {
  podDir: string;
  containerDir: string;
  log: string;
}

/** Creates <podsDir>/<ns>_<pod>_<uid>/<container>/ and returns the path of its 0.log (not created). */
export function podDir(podsDir: string, ns: string, pod: string, uid: string, container = 'app', restart = 0): PodDir {
  const dir = join(podsDir, `${ns}_${pod}_${uid}`);
  const containerDir = join(dir, container);
  mkdirSync(containerDir, { recursive: true });
  return { podDir: dir, containerDir, log: join(containerDir, `${restart}.log`) };
}

export function append(path: string, text: string): void {
  appendFileSync(path, text);
}

/** The configured defaults (through the schema), with paths and timings fit for tests. */
export function sourceOptions(podsDir: string, dataDir: string, overrides: Partial<FileSourceOptions> = {}): FileSourceOptions {
  return {
    ...toFileSourceOptions(defaultConfig()),
    podsDir,
    dataDir,
    maxLineBytes: 64 * 1024,
    rotateWait: 100,
    rescanInterval: 200,
    checkpointInterval: 50,
    batchMaxEvents: 100,
    batchMaxWait: 10,
    maxBufferedBytes: 4 * 1024 * 1024,
    pollInterval: 20,
    retryBackoff: { initialMs: 10, maxMs: 100, factor: 2, jitter: 0.2 },
    ...overrides,
  };
}

export interface LogRecord {
  level: 'debug' | 'info' | 'warn' | 'error';
  obj: object;
  msg: string | undefined;
}

/** A logger that keeps what it was told, for asserting on operator-facing messages. */
export function recordingLogger(): SourceLogger & { records: LogRecord[] } {
  const records: LogRecord[] = [];
  const at = (level: LogRecord['level']) => (obj: object, msg?: string) => {
    records.push({ level, obj, msg });
  };
  return { records, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

export function testMetrics() {
  return createMetrics(undefined, { processMetrics: false });
}

/**
 * Polls `check` until it returns true; fails after `timeoutMs` with `what`. A wait, not a timing
 * assertion: the cap is generous (a loaded CI machine is many times slower than a quiet one), and
 * the polls are spaced, since many checks parse the whole sink file.
 */
export async function waitFor(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await delay(50);
  }
}

/** Output of a file sink fed by the serialising stage: the parsed events. */
export interface OutEvent {
  file: string;
  timestamp: string;
  stream: string;
  message: string;
}

/**
 * The sink file's complete lines. It is read while the source may be appending a batch, so a last
 * line without its newline is an append still in progress, not part of the output yet.
 */
export function completeLines(path: string): string[] {
  if (!existsSync(path)) return [];
  const text = readFileSync(path, 'utf8');
  return text.slice(0, text.lastIndexOf('\n') + 1).split('\n').filter((l) => l !== '');
}

/**
 * The output's events. A line that is not JSON is a batch torn by a SIGKILL (the file sink ends it
 * with a newline at its next start, src/sink/file.ts): skipped, counted in `torn` when given.
 */
export function readEvents(path: string, torn?: { lines: number }): OutEvent[] {
  const events: OutEvent[] = [];
  for (const line of completeLines(path)) {
    try {
      events.push(JSON.parse(line) as OutEvent);
    } catch {
      if (torn === undefined) throw new Error(`${path}: a line that is not JSON: ${line.slice(0, 200)}`);
      torn.lines++;
    }
  }
  return events;
}

export function messagesOf(path: string, file?: string): string[] {
  return readEvents(path).filter((e) => file === undefined || e.file === file).map((e) => e.message);
}

export async function metricValue(metrics: ReturnType<typeof testMetrics>, name: string, labels: Record<string, string> = {}): Promise<number> {
  const m = await metrics.registry.getSingleMetric(name)?.get();
  if (m === undefined) return 0;
  let total = 0;
  for (const v of m.values) {
    if (Object.entries(labels).every(([k, val]) => v.labels[k] === val)) total += v.value;
  }
  return total;
}

export interface SourceChild {
  child: ChildProcess;
  /** Resolves once the child's source started (its first scan done, its files followed). */
  ready: Promise<void>;
  exited: Promise<number | null>;
  stderr: string[];
}

/**
 * The file source with a file sink in a child process (crash-child.ts), to be killed with SIGKILL.
 * `out` is the sink file; a directory there makes every write fail (a sink that never acknowledges).
 */
export function startSourceChild(podsDir: string, dataDir: string, out: string, overrides: Partial<FileSourceOptions> = {}): SourceChild {
  const script = join(dirname(fileURLToPath(import.meta.url)), 'crash-child.ts');
  const child = spawn(process.execPath, [script, podsDir, dataDir, out, JSON.stringify(overrides)], { stdio: ['ignore', 'pipe', 'pipe'] });
  const stderr: string[] = [];
  child.stderr!.on('data', (d: Buffer) => stderr.push(d.toString()));
  const ready = new Promise<void>((resolve) => child.stdout!.on('data', (d: Buffer) => d.toString().includes('ready') && resolve()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, ready, exited, stderr };
}

export const lines = (prefix: string, n: number): string[] => Array.from({ length: n }, (_, i) => `${prefix} ${i}`);
export const cri = (messages: readonly string[]): string => messages.map((m) => criLine(m)).join('');

/** A pods tree, a data dir and a file sink in a test dir, and a way to start the source on them (the serialising stage). */
export function sourceEnv(t: Test, overrides: Partial<FileSourceOptions> = {}) {
  const root = t.testdir({ pods: {}, data: {} });
  const podsDir = join(root, 'pods');
  const dataDir = join(root, 'data');
  const out = join(root, 'out.ndjson');
  const logger = recordingLogger();
  const metrics = testMetrics();
  const start = (more: Partial<FileSourceOptions> = {}) =>
    startFileSource(sourceOptions(podsDir, dataDir, { ...overrides, ...more }), {
      enrich: createSerialisingStage(), sink: createFileSink(out), metrics, logger,
    });
  return { root, podsDir, dataDir, out, logger, metrics, start };
}

/** The files this process has open now (what "never opened" is checked against). */
export function openFiles(): Set<string> {
  const out = new Set<string>();
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      out.add(readlinkSync(`/proc/self/fd/${fd}`));
    } catch {
      // Closed since the listing (the directory's own descriptor, among others).
    }
  }
  return out;
}

/** A loopback port free now, for a service started later (or never: a service that is down). */
export async function freePort(): Promise<number> {
  const server = createNetServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
