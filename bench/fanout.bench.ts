/**
 * /v1/stream fan-out: what subscribers cost POST /v1/enrich. The real `serve` command (its own
 * process, the Helm chart's V8 flags, a simulated API server with 100 pods) enriches 20,000 CRI
 * lines posted as 20 NDJSON batches of 1,000, one after the other, while a second process holds
 * the subscribers and reads all they get. Measured from outside: the wall time of the 20 posts,
 * and the service's CPU seconds (utime + stime from /proc) while they run and until every
 * subscriber has its events (or their drops announced).
 *
 * Scenarios, 100 subscribers each (issue #12: "Goal: 100 subscribers slow /v1/enrich by at most
 * 1.5x"):
 *   idle  100 distinct filters that match nothing (namespace=idle-N): subscribers connected, nothing for them;
 *   pod   100 distinct filters, one per pod: every event goes to one subscriber;
 *   all   no filter: every event goes to every subscriber (100 x 20,000 deliveries, ~1 GB over
 *         loopback); 500 are asked for, server.maxStreamSubscribers (100) are let in;
 *   ten   10 distinct filters that all match every event (10 subscribers each): the same
 *         deliveries as `all`, but 10 groups to match and cut chunks for.
 * Ratios are against the same posts with no subscriber, in the same round.
 *
 * Run: npm run bench fanout   (ROUNDS, SCENARIOS=none,idle,pod,all,ten, NODE_FLAGS, BENCH_CLI env to change;
 * asserts nothing)
 */
import { spawn } from 'node:child_process';
import http from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { namespaceFor, nodeFor, podFor, SeededRandom, startSimApiServer } from '../src/sim/index.ts';
import { criLine, podLogPath, rfc3339 } from '../test/builders/lines.ts';
import { build, freePort, procCpuSeconds, runCommand, waitUntilReady } from './service-process.ts';
import { nodeFlags } from './harness.ts';
import { fmt, summarise } from './stats.ts';
import type { StreamClientsJob, StreamClientsMessage } from './stream-clients.ts';

const ROUNDS = Number(process.env.ROUNDS ?? 5);
const PODS = 100;
const BATCHES = 20;
const LINES_PER_BATCH = 1000;
const EVENTS = BATCHES * LINES_PER_BATCH;
const here = dirname(fileURLToPath(import.meta.url));

const pods = Array.from({ length: PODS }, (_, i) => ({
  namespace: `team-${i % 10}`,
  name: `svc-${i}-7d9f8b-x${i}`,
  uid: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
  container: 'app',
}));

type Scenario = 'none' | 'idle' | 'pod' | 'all' | 'ten';
const SCENARIOS = (process.env.SCENARIOS ?? 'none,idle,pod,all,ten').split(',') as Scenario[];

/** Ten distinct filters, each matching every event of the posts (all pods are `tier=web`, container `app`). */
const TEN_MATCH_ALL = [
  '?container=app',
  `?labelSelector=${encodeURIComponent('tier=web')}`,
  `?labelSelector=${encodeURIComponent('tier')}`,
  `?labelSelector=${encodeURIComponent('tier!=db')}`,
  `?labelSelector=${encodeURIComponent('tier in (web)')}`,
  `?labelSelector=${encodeURIComponent('tier notin (db)')}`,
  `?labelSelector=${encodeURIComponent('!canary')}`,
  `?labelSelector=${encodeURIComponent('app')}`,
  `?labelSelector=${encodeURIComponent('app,tier=web')}`,
  `?container=app&labelSelector=${encodeURIComponent('tier=web')}`,
];

function queriesOf(scenario: Scenario): string[] {
  switch (scenario) {
    case 'none':
      return [];
    case 'idle':
      return pods.map((_, i) => `?namespace=idle-${i}`);
    case 'pod':
      return pods.map((p) => `?pod=${p.name}`);
    case 'all':
      return Array.from({ length: 500 }, () => '');
    case 'ten':
      return Array.from({ length: 100 }, (_, i) => TEN_MATCH_ALL[i % TEN_MATCH_ALL.length]!);
  }
}

/** The same 20 batches every run: 50-300 character messages, files of all pods in turn. */
function batches(): Buffer[] {
  const rng = new SeededRandom(42);
  const words = ['GET', 'POST', '/api/v1/orders', 'status=200', 'latency_ms=12', 'user="alice"', 'trace_id=4bf92f3577b34da6', 'level=info', 'cache hit', 'ok'];
  let ms = Date.parse('2026-11-23T10:00:00Z');
  const out: Buffer[] = [];
  for (let b = 0; b < BATCHES; b++) {
    let body = '';
    for (let i = 0; i < LINES_PER_BATCH; i++) {
      const target = 50 + Math.floor(rng.next() * 250);
      let message = '';
      while (message.length < target) message += (message === '' ? '' : ' ') + words[Math.floor(rng.next() * words.length)];
      const p = pods[(b * LINES_PER_BATCH + i) % PODS]!;
      const file = podLogPath({ namespace: p.namespace, pod: p.name, uid: p.uid, container: p.container });
      body += `${JSON.stringify({ file, line: criLine({ ts: rfc3339(ms++), message: message.slice(0, target) }) })}\n`;
    }
    out.push(Buffer.from(body));
  }
  return out;
}

function post(agent: http.Agent, url: URL, body: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: 'POST', agent, headers: { 'content-type': 'application/x-ndjson', 'content-length': body.length } }, (res) => {
      res.resume();
      res.on('end', () => (res.statusCode === 200 ? resolve() : reject(new Error(`POST /v1/enrich: HTTP ${res.statusCode}`))));
    });
    req.on('error', reject);
    req.end(body);
  });
}

interface Clients {
  opened: number;
  refused: number;
  report(): Promise<{ events: number; dropped: number }>;
  close(): void;
}

function startClients(job: StreamClientsJob): Promise<Clients> {
  const child = spawn(process.execPath, [join(here, 'stream-clients.ts'), JSON.stringify(job)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const waiting: ((m: StreamClientsMessage) => void)[] = [];
  child.on('message', (m: StreamClientsMessage) => waiting.shift()?.(m));
  const next = () => new Promise<StreamClientsMessage>((resolve) => waiting.push(resolve));
  return next().then((ready) => {
    if (ready.type !== 'ready') throw new Error('stream clients: no ready message');
    return {
      opened: ready.opened,
      refused: ready.refused,
      async report() {
        const answer = next();
        child.send({ type: 'report' });
        const m = await answer;
        if (m.type !== 'report') throw new Error('stream clients: no report');
        return { events: m.events, dropped: m.dropped };
      },
      close: () => child.send({ type: 'close' }),
    };
  });
}

interface Sample {
  postSeconds: number;
  postCpu: number;
  /** Of postCpu, in the kernel (stime): mostly copying into the subscribers' sockets. */
  postKernelCpu: number;
  deliveredCpu: number;
  opened: number;
  refused: number;
  events: number;
  dropped: number;
}

async function runScenario(scenario: Scenario, url: string, pid: number, bodies: Buffer[]): Promise<Sample> {
  const clients = await startClients({ url: `${url.replace(/^http/, 'ws')}/v1/stream`, queries: queriesOf(scenario) });
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const target = new URL('/v1/enrich', url);
  try {
    const start = procCpuSeconds(pid);
    const cpu0 = start.total;
    const t0 = performance.now();
    for (const body of bodies) await post(agent, target, body);
    const postSeconds = (performance.now() - t0) / 1000;
    const end = procCpuSeconds(pid);
    const postCpu = end.total - cpu0;
    const postKernelCpu = postCpu - (end.user - start.user);
    // Until every subscriber has what it gets (events or announced drops), or nothing moves for 2 s.
    const expected = scenario === 'all' || scenario === 'ten' ? clients.opened * EVENTS : scenario === 'pod' ? EVENTS : 0;
    let last = await clients.report();
    let still = 0;
    while (last.events + last.dropped < expected && still < 20) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      const now = await clients.report();
      still = now.events + now.dropped === last.events + last.dropped ? still + 1 : 0;
      last = now;
    }
    return { postSeconds, postCpu, postKernelCpu, deliveredCpu: procCpuSeconds(pid).total - cpu0, opened: clients.opened, refused: clients.refused, ...last };
  } finally {
    agent.destroy();
    clients.close();
  }
}

const root = mkdtempSync(join(os.tmpdir(), 'fanout-bench-'));
const sim = await startSimApiServer();
try {
  build();
  sim.create('nodes', nodeFor({ name: 'node-a' }));
  for (const ns of new Set(pods.map((p) => p.namespace))) sim.create('namespaces', namespaceFor({ name: ns, labels: { team: ns } }));
  for (const p of pods) sim.create('pods', podFor({ name: p.name, namespace: p.namespace, uid: p.uid, nodeName: 'node-a', containers: [p.container], labels: { app: p.name, tier: 'web' } }));
  const kubeconfig = join(root, 'kubeconfig');
  await sim.writeKubeconfig(kubeconfig);
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const service = runCommand(['serve', '--kubeconfig', kubeconfig, '--node-name', 'node-a', '--listen', `127.0.0.1:${port}`]);
  try {
    await waitUntilReady(url, service);
    const bodies = batches();
    console.log(`${os.cpus().length} cores, shared with other work; node ${process.env.NODE_FLAGS ?? nodeFlags()}; ${fmt(EVENTS)} events in ${BATCHES} POSTs`);
    await runScenario('none', url, service.pid, bodies); // warm-up (JIT), not reported
    const samples = new Map<Scenario, Sample[]>(SCENARIOS.map((s) => [s, []]));
    for (let r = 0; r < ROUNDS; r++) {
      // A different order each round, so that the machine's slow spells fall on all alike.
      for (let k = 0; k < SCENARIOS.length; k++) {
        const scenario = SCENARIOS[(k + r) % SCENARIOS.length]!;
        const s = await runScenario(scenario, url, service.pid, bodies);
        samples.get(scenario)!.push(s);
        console.log(
          `  round ${r + 1} ${scenario.padEnd(4)}: ${s.opened} subscribers (${s.refused} refused), posts ${fmt(s.postSeconds, 2)} s, ` +
            `service CPU ${fmt(s.postCpu, 2)} s during the posts (${fmt(s.postKernelCpu, 2)} s kernel), ${fmt(s.deliveredCpu, 2)} s until delivered; ${fmt(s.events)} events received, ${fmt(s.dropped)} dropped`,
        );
      }
    }
    const base = samples.get('none')!;
    console.log(`\nPOST /v1/enrich of ${fmt(EVENTS)} events with /v1/stream subscribers (median [min..max] of ${ROUNDS}; ratios per round against no subscriber):`);
    for (const scenario of SCENARIOS) {
      const runs = samples.get(scenario)!;
      const wall = summarise(runs.map((s) => s.postSeconds));
      const cpu = summarise(runs.map((s) => s.postCpu));
      const wallRatio = summarise(runs.map((s, i) => s.postSeconds / base[i]!.postSeconds));
      const cpuRatio = summarise(runs.map((s, i) => s.postCpu / Math.max(0.01, base[i]!.postCpu)));
      const delivered = summarise(runs.map((s) => s.deliveredCpu));
      console.log(
        `  ${scenario.padEnd(4)} posts ${fmt(wall.median, 2)} s [${fmt(wall.min, 2)}..${fmt(wall.max, 2)}] = ${fmt(wallRatio.median, 2)}x; ` +
          `service CPU ${fmt(cpu.median, 2)} s [${fmt(cpu.min, 2)}..${fmt(cpu.max, 2)}] = ${fmt(cpuRatio.median, 2)}x ` +
          `(kernel ${fmt(summarise(runs.map((s) => s.postKernelCpu)).median, 2)} s); ` +
          `until delivered ${fmt(delivered.median, 2)} s CPU; received ${fmt(summarise(runs.map((s) => s.events)).median)}, dropped ${fmt(summarise(runs.map((s) => s.dropped)).median)}`,
      );
    }
  } finally {
    const code = await service.stop();
    if (code !== 0) console.log(`the service exited with ${code}:\n${service.log().slice(-2000)}`);
  }
} finally {
  await sim.close();
  rmSync(root, { recursive: true, force: true });
}
