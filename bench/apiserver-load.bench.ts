/**
 * The API server's load from the agents, measured on the simulated API server and extrapolated to
 * 5,000 nodes x 110 pods with 1% of the pods replaced per minute (issue #14, part 4; the table and
 * its method are in docs/scale.md).
 *
 * One child process runs the simulated API server (src/sim) with NODES nodes of 110 pods, and, for
 * the kubelet mode, one simulated kubelet per node; this process runs NODES agents' reflectors
 * (exactly what `agent` starts: pods of its node by spec.nodeName, namespaces, its node), each with
 * its own store. For each pod source (apiserver, kubelet) the phases are:
 *   start    every agent lists and watches until synced: requests, bytes, objects listed;
 *   quiet    QUIET_S seconds without changes: bookmarks and nothing else;
 *   churn    CHURN_S seconds of pod replacements at SPEEDUP times 1%/min: each replacement is a
 *            graceful delete (MODIFIED with deletionTimestamp, DELETED) and a new pod on the same
 *            node (ADDED, then a MODIFIED standing for its status update): 4 events;
 *   restart  the API server goes down and comes back with its history gone (what a restarted API
 *            server's fresh watch cache amounts to: every watch's resourceVersion is too old, 410):
 *            the relist storm, counted in lists (consistent or resourceVersion=0) and objects.
 * Bytes are what the simulated server wrote on its sockets (headers and bodies). The per-miss GET
 * design (rsyslog mmkubernetes, Fluent Bit without Use_Kubelet) is computed from the sizes of the
 * simulated server's GET answers on the same churn: one GET of the pod per new pod (its namespace
 * GET cached).
 *
 * Run: npm run bench apiserver-load   (BENCH_NODES=50, BENCH_QUIET_S=65, BENCH_CHURN_S=30, BENCH_SPEEDUP=20)
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { KubeConfig } from '@kubernetes/client-node';
import { Registry } from 'prom-client';
import { createMetrics } from '../src/metrics/index.ts';
import { RetainingStore } from '../src/store/index.ts';
import { kubeletKubeConfig, startReflectors, type Reflectors } from '../src/kube/index.ts';
import { generateCluster, kubeconfigYaml, podFor, SeededRandom, startSimApiServer, startSimKubelet, type SimKubelet } from '../src/sim/index.ts';
import { defaultBackoff, defaultDeletionDelayMs } from '../test/builders/defaults.ts';
import { fmt } from './stats.ts';

const NODES = Number(process.env.BENCH_NODES ?? 50);
const PODS_PER_NODE = 110;
const QUIET_S = Number(process.env.BENCH_QUIET_S ?? 65);
const CHURN_S = Number(process.env.BENCH_CHURN_S ?? 30);
const SPEEDUP = Number(process.env.BENCH_SPEEDUP ?? 20);
const TARGET = { nodes: 5000, podsPerNode: 110, replacedPerMinute: 0.01 };
const KUBELET_TOKEN = 'bench-kubelet-token';

// ---------------------------------------------------------------- child: the API server

interface Stats {
  requests: number;
  lists: number;
  consistentLists: number;
  listItems: number;
  watches: number;
  gets: number;
  bytes: number;
  watchConnections: number;
}

async function runChild(): Promise<void> {
  const sim = await startSimApiServer({ requestLogLimit: 10_000_000, historyLimit: 100_000 });
  const cluster = generateCluster({ seed: 14, nodes: NODES, podsPerNode: PODS_PER_NODE, namespaces: 10 });
  for (const ns of cluster.namespaces) sim.create('namespaces', ns);
  for (const node of cluster.nodes) sim.create('nodes', node);
  for (const pod of cluster.pods) sim.create('pods', pod);
  const nodeNames = cluster.nodes.map((n) => n.metadata.name);
  const namespaces = cluster.namespaces.map((n) => n.metadata.name);
  const rng = new SeededRandom(99);
  const kubelets: SimKubelet[] = [];
  let replaced = 0;
  /** Node → its pods' namespace/name, kept as pods are replaced. */
  const podsByNode = new Map<string, { namespace: string; name: string }[]>(nodeNames.map((n) => [n, []]));
  for (const pod of cluster.pods) podsByNode.get(pod.spec.nodeName!)?.push({ namespace: pod.metadata.namespace!, name: pod.metadata.name });

  const stats = (): Stats => {
    const r = sim.requests;
    const lists = r.filter((x) => x.verb === 'list');
    return {
      requests: r.length,
      lists: lists.length,
      consistentLists: lists.filter((x) => x.query.resourceVersion === undefined && x.query.continue === undefined).length,
      listItems: lists.reduce((sum, x) => sum + (x.items ?? 0), 0),
      watches: r.filter((x) => x.verb === 'watch').length,
      gets: r.filter((x) => x.verb === 'get').length,
      bytes: sim.bytesSent,
      watchConnections: sim.watchCount,
    };
  };

  const replaceOne = (): void => {
    const nodeName = nodeNames[rng.int(0, nodeNames.length - 1)]!;
    const pods = podsByNode.get(nodeName)!;
    const index = rng.int(0, pods.length - 1);
    const victim = pods[index]!;
    sim.delete('pods', victim.namespace, victim.name, { graceful: true });
    const namespace = namespaces[rng.int(0, namespaces.length - 1)]!;
    const name = `churn-${++replaced}`;
    sim.create('pods', podFor({ name, namespace, nodeName, labels: { app: 'churn' }, seed: replaced }));
    pods[index] = { namespace, name };
    // Its status update (Running, IPs) as a MODIFIED.
    sim.patchLabels('pods', namespace, name, { 'pod-template-hash': String(replaced % 7) });
  };

  process.on('message', (m: { cmd: string; perSecond?: number; seconds?: number }) => {
    void (async () => {
      switch (m.cmd) {
        case 'stats':
          return process.send!(stats());
        case 'kubelets': {
          for (const nodeName of nodeNames) kubelets.push(await startSimKubelet(sim, { nodeName, token: KUBELET_TOKEN }));
          return process.send!(kubelets.map((k) => k.url));
        }
        case 'churn': {
          const total = Math.round(m.perSecond! * m.seconds!);
          const started = Date.now();
          for (let i = 0; i < total; i++) {
            const due = started + (i * 1000) / m.perSecond!;
            if (due > Date.now()) await new Promise((r) => setTimeout(r, due - Date.now()));
            replaceOne();
          }
          return process.send!({ replaced: total });
        }
        case 'restart':
          await sim.stop();
          sim.faults.compact();
          await sim.restart();
          return process.send!({});
        case 'sizes': {
          const pod = sim.list('pods')[0]!;
          const podJson = JSON.stringify(sim.get('pods', pod.metadata.namespace, pod.metadata.name));
          return process.send!({ podGetBytes: Buffer.byteLength(podJson) + 40, namespaces: namespaces.length + 2 });
        }
        case 'stop':
          for (const k of kubelets) await k.close();
          await sim.close();
          process.exit(0);
      }
    })();
  });
  process.send!({ url: sim.url, pods: cluster.pods.length, nodes: nodeNames });
}

// ---------------------------------------------------------------- parent: the agents

class Child {
  readonly process: ChildProcess;
  constructor(p: ChildProcess) {
    this.process = p;
  }
  ask<T>(message: object): Promise<T> {
    return new Promise((resolve) => {
      this.process.once('message', (m: T) => resolve(m));
      this.process.send(message);
    });
  }
}

function startChild(): Promise<{ child: Child; url: string; pods: number; nodes: string[] }> {
  const p = spawn(process.execPath, ['--max-old-space-size=4096', fileURLToPath(import.meta.url), '--child'], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  return new Promise((resolve, reject) => {
    p.once('message', (m: { url: string; pods: number; nodes: string[] }) => resolve({ child: new Child(p), ...m }));
    p.once('exit', (code) => reject(new Error(`sim child exited with ${code}`)));
  });
}

const silent = { debug() {}, info() {}, warn() {}, error() {} };

function minus(a: Stats, b: Stats): Stats {
  return {
    requests: a.requests - b.requests,
    lists: a.lists - b.lists,
    consistentLists: a.consistentLists - b.consistentLists,
    listItems: a.listItems - b.listItems,
    watches: a.watches - b.watches,
    gets: a.gets - b.gets,
    bytes: a.bytes - b.bytes,
    watchConnections: a.watchConnections,
  };
}

async function until(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 300_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

interface ModeResult {
  mode: string;
  start: Stats;
  startMs: number;
  quiet: Stats;
  churn: Stats;
  replaced: number;
  restart: Stats;
  restartMs: number;
}

async function runMode(mode: 'apiserver' | 'kubelet', child: Child, url: string, nodes: string[], tokenFile: string): Promise<ModeResult> {
  const kubeletUrls = mode === 'kubelet' ? await child.ask<string[]>({ cmd: 'kubelets' }) : [];
  const kc = new KubeConfig();
  kc.loadFromString(kubeconfigYaml(url));
  const before = await child.ask<Stats>({ cmd: 'stats' });
  const started = performance.now();
  const agents: { reflectors: Reflectors; store: RetainingStore }[] = nodes.map((nodeName, i) => {
    const metrics = createMetrics(new Registry(), { processMetrics: false });
    const store = new RetainingStore({ deletionDelayMs: defaultDeletionDelayMs(), metrics });
    const reflectors = startReflectors({
      kubeConfig: kc,
      nodeName,
      watchNodes: true,
      watchNamespaces: true,
      watchTimeoutMs: 90_000,
      backoff: defaultBackoff(),
      writer: store.writer(),
      metrics,
      logger: silent,
      kubelet: mode === 'kubelet' ? { kubeConfig: kubeletKubeConfig({ url: kubeletUrls[i]!, tokenFile, insecureSkipTlsVerify: true }), pollIntervalMs: 5000 } : undefined,
    });
    return { reflectors, store };
  });
  await Promise.all(agents.map((a) => a.reflectors.ready()));
  const startMs = performance.now() - started;
  const watchesPerAgent = mode === 'kubelet' ? 2 : 3;
  await until(async () => (await child.ask<Stats>({ cmd: 'stats' })).watchConnections >= nodes.length * watchesPerAgent, 'every watch open');
  const afterStart = await child.ask<Stats>({ cmd: 'stats' });

  await new Promise((r) => setTimeout(r, QUIET_S * 1000));
  const afterQuiet = await child.ask<Stats>({ cmd: 'stats' });

  const perSecond = (nodes.length * PODS_PER_NODE * TARGET.replacedPerMinute * SPEEDUP) / 60;
  const { replaced } = await child.ask<{ replaced: number }>({ cmd: 'churn', perSecond, seconds: CHURN_S });
  // Let the last events arrive.
  await new Promise((r) => setTimeout(r, 2000));
  const afterChurn = await child.ask<Stats>({ cmd: 'stats' });

  const restartStarted = performance.now();
  await child.ask({ cmd: 'restart' });
  await until(async () => (await child.ask<Stats>({ cmd: 'stats' })).watchConnections >= nodes.length * watchesPerAgent, 'every watch re-opened after the restart');
  await new Promise((r) => setTimeout(r, 2000));
  const afterRestart = await child.ask<Stats>({ cmd: 'stats' });
  const restartMs = performance.now() - restartStarted;

  for (const a of agents) {
    await a.reflectors.stop();
    a.store.close();
  }
  return {
    mode,
    start: minus(afterStart, before),
    startMs,
    quiet: minus(afterQuiet, afterStart),
    churn: minus(afterChurn, afterQuiet),
    replaced,
    restart: minus(afterRestart, afterChurn),
    restartMs,
  };
}

function report(r: ModeResult, n: number, sizes: { podGetBytes: number; namespaces: number }): void {
  const perAgent = (x: number) => x / n;
  const quietBytesPerAgentS = perAgent(r.quiet.bytes) / QUIET_S;
  const quietReqPerAgentS = perAgent(r.quiet.requests) / QUIET_S;
  // Bytes the churn added beyond the quiet rate, per replacement (it reaches its node's agent only).
  // Clamped: with no pod watch (kubelet mode) what is left is the noise of the bookmark estimate.
  const churnBytes = Math.max(0, r.churn.bytes - (r.quiet.bytes / QUIET_S) * CHURN_S);
  const bytesPerReplacement = churnBytes / r.replaced;
  const targetReplacementsPerS = (TARGET.nodes * TARGET.podsPerNode * TARGET.replacedPerMinute) / 60;
  // Watches are re-opened by the server's timeout (timeoutSeconds 300-600, 450 on average).
  const rewatchPerAgentS = r.start.watches / n / 450;
  console.log(`\n### podSource: ${r.mode} (${n} agents, ${n * PODS_PER_NODE} pods)`);
  console.log(`start (all synced in ${fmt(r.startMs / 1000, 1)} s): per agent ${fmt(perAgent(r.start.requests), 1)} requests (${fmt(perAgent(r.start.lists), 1)} lists, ${fmt(perAgent(r.start.watches), 1)} watches), ${fmt(perAgent(r.start.listItems), 0)} objects listed, ${fmt(perAgent(r.start.bytes) / 1024, 0)} KiB`);
  console.log(`watch connections per agent: ${fmt(r.start.watchConnections / n, 1)}`);
  console.log(`quiet ${QUIET_S} s: per agent ${fmt(quietReqPerAgentS, 4)} requests/s, ${fmt(quietBytesPerAgentS, 1)} B/s (bookmarks)`);
  console.log(`churn ${CHURN_S} s, ${r.replaced} replacements (${SPEEDUP}x 1%/min): ${r.churn.requests} requests, ${fmt(bytesPerReplacement, 0)} B per replacement sent to the watchers`);
  console.log(`restart with history gone: ${r.restart.requests} requests, ${r.restart.lists} lists (${r.restart.consistentLists} consistent), ${r.restart.listItems} objects returned, ${fmt(r.restart.bytes / 1024, 0)} KiB, all watching again after ${fmt(r.restartMs / 1000, 1)} s`);
  const t = TARGET.nodes;
  const reqS = t * (quietReqPerAgentS + rewatchPerAgentS);
  const bytesS = t * quietBytesPerAgentS + targetReplacementsPerS * bytesPerReplacement;
  console.log(`extrapolated to ${t} nodes x ${TARGET.podsPerNode} pods, ${targetReplacementsPerS.toFixed(1)} replacements/s:`);
  console.log(`  requests/s ${fmt(reqS, 1)} (watch re-opens every ~450 s), bytes/s ${fmt(bytesS / 1024, 0)} KiB/s, watch connections ${fmt((r.start.watchConnections / n) * t, 0)}`);
  console.log(`  start of all agents: ${fmt((perAgent(r.start.requests) * t) / 1000, 1)} k requests, ${fmt((perAgent(r.start.bytes) * t) / 2 ** 30, 2)} GiB`);
  const podsListsAfterRestart = r.restart.lists;
  console.log(`  restart storm: ${fmt((r.restart.lists / n) * t, 0)} lists (${fmt((r.restart.consistentLists / n) * t, 0)} consistent), ${fmt((perAgent(r.restart.listItems) * t) / 1e6, 2)} M objects returned, ${fmt((perAgent(r.restart.bytes) * t) / 2 ** 30, 2)} GiB`);
  if (r.mode === 'apiserver') {
    const podListsPerAgent = podsListsAfterRestart > 0 ? 1 : 0;
    console.log(`  a consistent pods list with a field selector, served from etcd, reads every pod: ${fmt((podListsPerAgent * t * t * TARGET.podsPerNode) / 1e9, 2)} G objects read (from the watch cache, resourceVersion=0: filtered in memory)`);
    const perMissReqS = targetReplacementsPerS;
    console.log(`per-miss GET design on the same churn: ${fmt(perMissReqS, 1)} GETs/s of ~${fmt(sizes.podGetBytes / 1024, 1)} KiB = ${fmt((perMissReqS * sizes.podGetBytes) / 1024, 0)} KiB/s; no watch connections; with rsyslog's 1 h cache TTL, + ${fmt((t * TARGET.podsPerNode) / 3600, 0)} GETs/s = ${fmt(((t * TARGET.podsPerNode) / 3600) * sizes.podGetBytes / 1024, 0)} KiB/s`);
  }
}

async function main(): Promise<void> {
  console.log(`API-server load: ${NODES} agents against the simulated API server; quiet ${QUIET_S} s, churn ${CHURN_S} s at ${SPEEDUP}x 1%/min`);
  const { child, url, nodes } = await startChild();
  const dir = mkdtempSync(join(tmpdir(), 'kle-bench-load-'));
  const tokenFile = join(dir, 'token');
  writeFileSync(tokenFile, KUBELET_TOKEN);
  try {
    const sizes = await child.ask<{ podGetBytes: number; namespaces: number }>({ cmd: 'sizes' });
    for (const mode of ['apiserver', 'kubelet'] as const) report(await runMode(mode, child, url, nodes, tokenFile), nodes.length, sizes);
  } finally {
    child.process.send({ cmd: 'stop' });
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[2] === '--child') await runChild();
else await main();
