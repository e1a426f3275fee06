/**
 * Test plumbing for the reflector tests: a simulated API server, the real client pointed at it
 * through a kubeconfig file, a store, metrics and a real pino logger whose lines we keep.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import { Registry } from 'prom-client';
import type { KubeConfig } from '@kubernetes/client-node';
import { createMetrics, type Metrics } from '../../src/metrics/index.ts';
import { RetainingStore } from '../../src/store/index.ts';
import { loadKubeConfig, startReflectors, type Backoff, type Reflectors, type ReflectorsOptions } from '../../src/kube/index.ts';
import { startSimApiServer, type SimApiServer, type SimApiServerOptions } from '../../src/sim/index.ts';

type Tap = {
  teardown(fn: () => unknown): void;
};

/** A fresh temp dir removed at teardown (t.testdir() is one dir per test, wiped on each call). */
export function tempDir(t: Tap): string {
  const dir = mkdtempSync(join(tmpdir(), 'kle-kube-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** reflectors.ready() with a deadline, so a broken test fails instead of hanging. */
export async function readyWithin(reflectors: Reflectors, timeoutMs = 8000): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`not ready within ${timeoutMs} ms: ${JSON.stringify(reflectors.status())}`)), timeoutMs);
  });
  try {
    await Promise.race([reflectors.ready(), deadline]);
  } finally {
    clearTimeout(timer);
  }
}

/** Short delays so recovery tests stay fast; jitter kept to exercise it. */
export const FAST_BACKOFF: Backoff = { initialMs: 20, maxMs: 200, factor: 2, jitter: 0.2 };

export async function startSim(t: Tap, options: SimApiServerOptions = {}): Promise<SimApiServer> {
  const sim = await startSimApiServer(options);
  t.teardown(() => sim.close());
  return sim;
}

/** Writes the sim's kubeconfig into a temp dir and loads it the way the product does. */
export function kubeConfigFor(t: Tap, sim: SimApiServer, token?: string): KubeConfig {
  const path = join(tempDir(t), 'kubeconfig');
  writeFileSync(path, sim.kubeconfigYaml(token === undefined ? {} : { token }), { mode: 0o600 });
  const result = loadKubeConfig({ kubeconfig: path, env: {}, homeDir: undefined });
  if (!result.ok) throw new Error(result.message);
  return result.kubeConfig;
}

export interface LogLine {
  level: number;
  msg: string;
  kind?: string;
  code?: string;
  [key: string]: unknown;
}

/** A real pino logger writing JSON lines into an array. */
export function captureLogger(): { logger: pino.Logger; lines: LogLine[] } {
  const lines: LogLine[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString('utf8').split('\n')) if (line.trim() !== '') lines.push(JSON.parse(line) as LogLine);
      done();
    },
  });
  return { logger: pino({ level: 'debug' }, stream), lines };
}

export { waitFor } from '../builders/wait.ts';

export async function metricValue(metrics: Metrics, name: string, labels: Record<string, string>): Promise<number> {
  const metric = metrics.registry.getSingleMetric(`kube_log_enricher_${name}`);
  if (metric === undefined) throw new Error(`no metric ${name}`);
  const data = await metric.get();
  return data.values.filter((v) => Object.entries(labels).every(([k, val]) => v.labels[k] === val)).reduce((sum, v) => sum + v.value, 0);
}

export interface Harness {
  sim: SimApiServer;
  store: RetainingStore;
  metrics: Metrics;
  lines: LogLine[];
  reflectors: Reflectors;
}

/** Store + metrics + logger + reflectors against `sim`; everything is stopped at teardown. */
export function startHarness(
  t: Tap,
  sim: SimApiServer,
  options: Partial<ReflectorsOptions> & { deletionDelayMs?: number; kubeConfig?: KubeConfig; metrics?: Metrics } = {},
): Harness {
  const metrics = options.metrics ?? createMetrics(new Registry(), { processMetrics: false });
  const store = new RetainingStore({ deletionDelayMs: options.deletionDelayMs ?? 60_000, metrics });
  const { logger, lines } = captureLogger();
  const reflectors = startReflectors({
    kubeConfig: options.kubeConfig ?? kubeConfigFor(t, sim),
    watchNodes: true,
    watchNamespaces: true,
    watchTimeoutMs: 5000,
    backoff: FAST_BACKOFF,
    writer: store.writer(),
    metrics,
    logger,
    ...options,
  });
  t.teardown(async () => {
    await reflectors.stop();
    store.close();
  });
  return { sim, store, metrics, lines, reflectors };
}
