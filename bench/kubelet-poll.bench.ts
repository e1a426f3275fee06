/**
 * Cost of one poll of the kubelet's /pods (kubernetes.podSource: kubelet) at 110 pods (the
 * kubelet's default maxPods) and 500, against the simulated kubelet (src/sim/kubelet.ts) serving
 * realistic generated pods (managedFields, sidecars, last-applied annotations).
 *
 * The simulated API server and kubelet run in a child process, so the CPU time read here
 * (process.cpuUsage of this process) is the poller's alone: request, decode, store fold. Two
 * ways of polling are run interleaved (A, B, A, B...) on the same answers:
 *   A  KubeletPodSource.poll(): items cut out of the answer as it streams in (json/), an item whose text
 *      hash was in the previous answer is not parsed; the others are parsed one by one and slimmed;
 *   B  the naive poll: JSON.parse of the whole answer, every pod slimmed into the store again.
 * Per size: the answer's bytes; the first poll (every pod new); steady polls (nothing changed);
 * polls after 1% of the pods were relabelled. Medians of CPU ms per poll, [min, max], and B/A.
 * At a 5 s interval the CPU share of a core is CPU ms / 5000.
 *
 * Run: npm run bench kubelet-poll   (one size: BENCH_KUBELET_PODS=110)
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Registry } from 'prom-client';
import { createMetrics } from '../src/metrics/index.ts';
import { RetainingStore } from '../src/store/index.ts';
import { KubeletPodSource, kubeletKubeConfig } from '../src/kube/index.ts';
import { getText } from '../src/kube/list.ts';
import { withUserAgent } from '../src/kube/user-agent.ts';
import { generateCluster, startSimApiServer, startSimKubelet } from '../src/sim/index.ts';
import { defaultBackoff, defaultDeletionDelayMs } from '../test/builders/defaults.ts';
import { fmt, summarise, type Summary } from './stats.ts';

const SIZES = process.env.BENCH_KUBELET_PODS ? [Number(process.env.BENCH_KUBELET_PODS)] : [110, 500];
const ROUNDS = 30;
const TOKEN = 'bench-token';

// ---------------------------------------------------------------- child: API server + kubelet

async function runChild(pods: number): Promise<void> {
  const sim = await startSimApiServer({ historyLimit: 1000 });
  const cluster = generateCluster({ seed: 14, nodes: 1, podsPerNode: pods, namespaces: 8 });
  const nodeName = cluster.nodes[0]!.metadata.name;
  for (const ns of cluster.namespaces) sim.create('namespaces', ns);
  for (const node of cluster.nodes) sim.create('nodes', node);
  for (const pod of cluster.pods) sim.create('pods', pod);
  const kubelet = await startSimKubelet(sim, { nodeName, token: TOKEN });
  let round = 0;
  process.send!({ url: kubelet.url, pods: kubelet.podCount });
  process.on('message', (m: { relabel?: number; stop?: boolean }) => {
    if (m.stop === true) {
      void kubelet.close().then(() => sim.close()).then(() => process.exit(0));
      return;
    }
    // Relabel `relabel` pods (a rollout's hash label, say): their items change, nothing else.
    const all = sim.list('pods').filter((p) => (p.spec as { nodeName?: string }).nodeName === nodeName);
    round++;
    for (let i = 0; i < (m.relabel ?? 0); i++) {
      const pod = all[(round * 7 + i * 13) % all.length]!;
      sim.patchLabels('pods', pod.metadata.namespace, pod.metadata.name, { 'bench-round': String(round) });
    }
    process.send!({ done: true });
  });
}

// ---------------------------------------------------------------- parent

function startChild(pods: number): Promise<{ child: ChildProcess; url: string; pods: number }> {
  const child = spawn(process.execPath, [fileURLToPath(import.meta.url), '--child', String(pods)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  return new Promise((resolve, reject) => {
    child.once('message', (m: { url: string; pods: number }) => resolve({ child, ...m }));
    child.once('exit', (code) => reject(new Error(`child exited with ${code}`)));
  });
}

function ask(child: ChildProcess, message: object): Promise<void> {
  return new Promise((resolve) => {
    child.once('message', () => resolve());
    child.send(message);
  });
}

const silent = { debug() {}, info() {}, warn() {}, error() {} };

interface Poller {
  poll(): Promise<unknown>;
  store: RetainingStore;
}

function sourcePoller(url: string, tokenFile: string): Poller {
  const metrics = createMetrics(new Registry(), { processMetrics: false });
  const store = new RetainingStore({ deletionDelayMs: defaultDeletionDelayMs(), metrics });
  const source = new KubeletPodSource({
    kubeConfig: kubeletKubeConfig({ url, tokenFile, insecureSkipTlsVerify: true }),
    pollIntervalMs: 5000,
    writer: store.writer(),
    metrics,
    logger: silent,
    backoff: defaultBackoff(),
  });
  return { poll: () => source.poll(), store };
}

function naivePoller(url: string, tokenFile: string): Poller {
  const store = new RetainingStore({ deletionDelayMs: defaultDeletionDelayMs() });
  const requests = withUserAgent(kubeletKubeConfig({ url, tokenFile, insecureSkipTlsVerify: true }));
  return {
    store,
    poll: async () => {
      const text = await getText(requests, `${url}/pods`, AbortSignal.timeout(30_000));
      const body = JSON.parse(text) as { items: unknown[] };
      const session = store.writer().beginReplace('pods', { resourceVersionTracksChanges: false });
      for (const item of body.items) session.add(item);
      return session.commit();
    },
  };
}

async function cpuOf(poll: () => Promise<unknown>): Promise<{ cpuMs: number; wallMs: number }> {
  const started = performance.now();
  const cpu = process.cpuUsage();
  await poll();
  const used = process.cpuUsage(cpu);
  return { cpuMs: (used.user + used.system) / 1000, wallMs: performance.now() - started };
}

function row(label: string, a: Summary, b: Summary): string {
  return `  ${label.padEnd(28)} A ${fmt(a.median, 2).padStart(7)} ms [${fmt(a.min, 2)}, ${fmt(a.max, 2)}]   B ${fmt(b.median, 2).padStart(7)} ms [${fmt(b.min, 2)}, ${fmt(b.max, 2)}]   B/A ${fmt(b.median / a.median, 1)}x`;
}

async function measureSize(pods: number): Promise<void> {
  const { child, url, pods: served } = await startChild(pods);
  const dir = mkdtempSync(join(tmpdir(), 'kle-bench-kubelet-'));
  const tokenFile = join(dir, 'token');
  writeFileSync(tokenFile, TOKEN);
  try {
    const requests = withUserAgent(kubeletKubeConfig({ url, tokenFile, insecureSkipTlsVerify: true }));
    const bytes = Buffer.byteLength(await getText(requests, `${url}/pods`, AbortSignal.timeout(30_000)));
    const a = sourcePoller(url, tokenFile);
    const b = naivePoller(url, tokenFile);
    const firstA = await cpuOf(a.poll);
    const firstB = await cpuOf(b.poll);
    // Warm-up: JIT, connection set-up.
    for (let i = 0; i < 5; i++) {
      await a.poll();
      await b.poll();
    }
    const fetchOnly: number[] = [];
    const steady = { a: [] as number[], b: [] as number[] };
    const changed = { a: [] as number[], b: [] as number[] };
    const relabel = Math.max(1, Math.round(served / 100));
    for (let i = 0; i < ROUNDS; i++) {
      fetchOnly.push((await cpuOf(() => getText(requests, `${url}/pods`, AbortSignal.timeout(30_000)))).cpuMs);
      // Interleaved, and which goes first alternates.
      const [first, second] = i % 2 === 0 ? [a, b] : [b, a];
      const s1 = await cpuOf(first.poll);
      const s2 = await cpuOf(second.poll);
      steady.a.push(first === a ? s1.cpuMs : s2.cpuMs);
      steady.b.push(first === a ? s2.cpuMs : s1.cpuMs);
      await ask(child, { relabel });
      const c1 = await cpuOf(first.poll);
      const c2 = await cpuOf(second.poll);
      changed.a.push(first === a ? c1.cpuMs : c2.cpuMs);
      changed.b.push(first === a ? c2.cpuMs : c1.cpuMs);
    }
    const live = a.store.counts()[0]!.live;
    if (live !== served || b.store.counts()[0]!.live !== served) throw new Error(`stores disagree with the kubelet: ${live}, ${b.store.counts()[0]!.live}, ${served}`);
    const fetch = summarise(fetchOnly);
    const steadyA = summarise(steady.a);
    console.log(`\n${served} pods, /pods answer ${fmt(bytes / 1024)} KiB (${fmt(bytes / served)} B per pod); CPU ms per poll in this process, median of ${ROUNDS} [min, max]`);
    console.log(`  ${'first poll (all new)'.padEnd(28)} A ${fmt(firstA.cpuMs, 2).padStart(7)} ms   B ${fmt(firstB.cpuMs, 2).padStart(7)} ms`);
    console.log(row('steady (nothing changed)', steadyA, summarise(steady.b)));
    console.log(row(`${relabel} pod(s) relabelled (~1%)`, summarise(changed.a), summarise(changed.b)));
    console.log(`  ${'GET + body text only'.padEnd(28)}   ${fmt(fetch.median, 2).padStart(7)} ms [${fmt(fetch.min, 2)}, ${fmt(fetch.max, 2)}]`);
    console.log(`  at a 5 s poll interval, A steady: ${fmt((steadyA.median / 5000) * 100, 3)}% of a core, ${fmt(bytes / 5 / 1024, 1)} KiB/s from the kubelet`);
    a.store.close();
    b.store.close();
  } finally {
    child.send({ stop: true });
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  console.log('A = KubeletPodSource.poll (unchanged items skipped by text hash), B = parse whole + slim every pod');
  console.log('machine shared with other work: figures are indicative; medians with [min, max]');
  for (const pods of SIZES) await measureSize(pods);
}

if (process.argv[2] === '--child') await runChild(Number(process.argv[3]));
else await main();
