/**
 * Store benchmark: retained heap per cached pod and time from start to ready, at 10,000 and
 * 50,000 realistic pods (src/sim's generator: managedFields, last-applied annotations, sidecars,
 * static pods), loaded through the real reflectors from the simulated API server.
 *
 * The simulated server runs in a child process, so its own memory (the full objects, ~10 KB per
 * pod) is not in the heap we measure. Heap per pod = (heapUsed after ready − heapUsed before
 * start) / pods, both after forced GCs; it includes the store's indexes and the interned strings.
 * Targets: < 4 KiB per pod; ready < 3 s for 10,000 pods.
 *
 * Run: npm run bench store   (bench/run.ts passes --expose-gc)
 * One quick size: BENCH_STORE_PODS=3000 node --expose-gc bench/store.bench.ts
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { setFlagsFromString } from 'node:v8';
import { KubeConfig } from '@kubernetes/client-node';
import { Registry } from 'prom-client';
import { createMetrics } from '../src/metrics/index.ts';
import { RetainingStore, StringInterner } from '../src/store/index.ts';
import { startReflectors } from '../src/kube/index.ts';
import { defaultBackoff, defaultDeletionDelayMs } from '../test/builders/defaults.ts';
import { generateCluster, kubeconfigYaml, startSimApiServer } from '../src/sim/index.ts';
import { fmt, summarise } from './stats.ts';

const PODS_PER_NODE = 100;
const SIZES: { pods: number; runs: number }[] = process.env.BENCH_STORE_PODS ? [{ pods: Number(process.env.BENCH_STORE_PODS), runs: 2 }] : [
  { pods: 10_000, runs: 3 },
  { pods: 50_000, runs: 2 },
];

// ---------------------------------------------------------------- child: the simulated API server

async function runSimChild(pods: number): Promise<void> {
  // Lists ask for resourceVersion=0: an API server whose watch cache honours `limit` answers them
  // in pages (as measured before lists asked for it); an older one in one page, which is what
  // the "one unpaged list" line shows.
  const sim = await startSimApiServer({ historyLimit: 100, watchCacheLimit: 'honoured' });
  // Generated in batches of nodes so the generator's output can be collected as we go.
  const nodesPerBatch = 20;
  const nodes = Math.ceil(pods / PODS_PER_NODE);
  let loaded = 0;
  for (let first = 0; first < nodes; first += nodesPerBatch) {
    const cluster = generateCluster({ seed: 1000 + first, nodes: Math.min(nodesPerBatch, nodes - first), podsPerNode: PODS_PER_NODE, namespaces: 10 });
    // Each batch gets its own namespaces (`shop-3`), so pod names cannot clash across batches.
    const suffix = `-${first / nodesPerBatch}`;
    for (const ns of cluster.namespaces) sim.create('namespaces', { ...ns, metadata: { ...ns.metadata, name: ns.metadata.name + suffix } });
    for (const node of cluster.nodes) {
      if (sim.get('nodes', undefined, node.metadata.name) === undefined) sim.create('nodes', node);
    }
    for (const pod of cluster.pods) {
      sim.create('pods', { ...pod, metadata: { ...pod.metadata, namespace: pod.metadata.namespace + suffix } });
      loaded++;
    }
  }
  process.send!({ url: sim.url, pods: loaded });
  process.on('message', (m) => {
    if (m === 'stop') void sim.close().then(() => process.exit(0));
  });
}

// ---------------------------------------------------------------- parent: the measurements

function gc(): void {
  const collect = (globalThis as { gc?: () => void }).gc!;
  for (let i = 0; i < 4; i++) collect();
}

function startChild(pods: number): Promise<{ child: ChildProcess; url: string; pods: number }> {
  const child = spawn(process.execPath, ['--max-old-space-size=8192', fileURLToPath(import.meta.url), '--sim', String(pods)], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  return new Promise((resolve, reject) => {
    child.once('message', (m: { url: string; pods: number }) => resolve({ child, ...m }));
    child.once('exit', (code) => reject(new Error(`sim child exited with ${code}`)));
  });
}

const silent = { debug() {}, info() {}, warn() {}, error() {} };

interface RunResult {
  readyMs: number;
  /** CPU time of this process (user + system) from start to ready: our share, without the sim's. */
  cpuMs: number;
  bytesPerPod: number;
  pods: number;
}

/** The previous run's store must be gone before the next baseline: stop() releases it a few ticks later. */
let previous: WeakRef<RetainingStore> | undefined;
async function awaitCollected(): Promise<void> {
  // gc() before deref() in each turn: a deref() keeps its target alive until the turn ends.
  for (let i = 0; i < 100; i++) {
    await new Promise((r) => setTimeout(r, 20));
    gc();
    if (previous?.deref() === undefined) return;
  }
  throw new Error('the previous store was not collected: the next baseline would be wrong');
}

/** Loads the store and reads the heap while it is alive; returns only numbers and a WeakRef. */
async function loadStore(url: string, interner: StringInterner | undefined, listPageSize: number | undefined) {
  const kc = new KubeConfig();
  kc.loadFromString(kubeconfigYaml(url));
  const metrics = createMetrics(new Registry(), { processMetrics: false });
  const store = new RetainingStore({ deletionDelayMs: defaultDeletionDelayMs(), metrics, ...(interner ? { interner } : {}) });
  const started = performance.now();
  const cpuStart = process.cpuUsage();
  const reflectors = startReflectors({ kubeConfig: kc, watchNodes: true, watchNamespaces: true, watchTimeoutMs: 30_000, backoff: defaultBackoff(), writer: store.writer(), metrics, logger: silent, ...(listPageSize === undefined ? {} : { listPageSize }) });
  await reflectors.ready();
  const readyMs = performance.now() - started;
  const cpu = process.cpuUsage(cpuStart);
  const pods = store.counts()[0]!.live;
  await reflectors.stop();
  store.close();
  gc();
  return { readyMs, cpuMs: (cpu.user + cpu.system) / 1000, pods, withStore: process.memoryUsage().heapUsed, ref: new WeakRef(store) };
}

async function measure(url: string, interner?: StringInterner, listPageSize?: number): Promise<RunResult> {
  await awaitCollected();
  const run = await loadStore(url, interner, listPageSize);
  // What the store retains: heap with it, minus heap once it is collected, back to back so that
  // nothing else (JIT code, connection pools) changes in between.
  previous = run.ref;
  await awaitCollected();
  const withoutStore = process.memoryUsage().heapUsed;
  return { readyMs: run.readyMs, cpuMs: run.cpuMs, bytesPerPod: (run.withStore - withoutStore) / run.pods, pods: run.pods };
}

async function main(): Promise<void> {
  if (typeof (globalThis as { gc?: unknown }).gc !== 'function') {
    console.error('run with --expose-gc (npm run bench store does)');
    process.exit(2);
  }
  // V8 drops the bytecode of functions idle for a few GCs: megabytes of noise between two readings.
  setFlagsFromString('--no-flush-bytecode');
  console.log('machine shared with other work: figures are indicative; medians with [min, max]');
  for (const size of SIZES) {
    const genStart = performance.now();
    const { child, url, pods } = await startChild(size.pods);
    console.log(`\n${fmt(pods)} pods generated and loaded into the sim child in ${fmt((performance.now() - genStart) / 1000, 1)} s`);
    try {
      await measure(url); // warm-up: JIT, sockets
      const runs: RunResult[] = [];
      for (let i = 0; i < size.runs; i++) runs.push(await measure(url));
      const heap = summarise(runs.map((r) => r.bytesPerPod));
      const ready = summarise(runs.map((r) => r.readyMs));
      const cpu = summarise(runs.map((r) => r.cpuMs));
      console.log(`  retained heap per pod: ${fmt(heap.median)} B [${fmt(heap.min)}, ${fmt(heap.max)}] = ${fmt(heap.median / 4096, 2)} of the 4 KiB target`);
      console.log(`  start to ready:        ${fmt(ready.median)} ms [${fmt(ready.min)}, ${fmt(ready.max)}] = ${fmt((pods / ready.median) * 1000)} pods/s${size.pods === 10_000 ? `; ${fmt(ready.median / 3000, 2)} of the 3 s target` : ''}`);
      console.log(`  our CPU to ready:      ${fmt(cpu.median)} ms [${fmt(cpu.min)}, ${fmt(cpu.max)}] (user+system CPU of this process, all threads: parsing runs beside the network, so it can exceed the wall time)`);
      const unpaged = await measure(url, undefined, 0);
      console.log(`  one unpaged list:      ${fmt(unpaged.readyMs)} ms to ready, ${fmt(unpaged.cpuMs)} ms our CPU`);
      const plain = await measure(url, new StringInterner({ maxEntries: 1 }));
      console.log(`  without interning:     ${fmt(plain.bytesPerPod)} B per pod (interning saves ${fmt((1 - heap.median / plain.bytesPerPod) * 100)} %)`);
    } finally {
      child.send('stop');
      await new Promise((resolve) => child.once('exit', resolve));
    }
  }
}

if (process.argv[2] === '--sim') await runSimChild(Number(process.argv[3]));
else await main();
