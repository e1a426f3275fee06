/**
 * Memory of the worst batch (issue #12, point 1): tiny events of a pod with many labels and
 * annotations, as many as fit in server.maxBodyBytes (8 MiB), so that the enriched answer is
 * ~12x the request. The real `serve` command runs in its own process with the Helm chart's V8
 * flags (`--max-semi-space-size=8 --max-old-space-size=128`), against a simulated API server;
 * a fresh process per run, since the peak (VmHWM, the kernel's high-water mark of RSS, read from
 * /proc) only goes up.
 *
 * Scenarios:
 *   enrich-1    one POST /v1/enrich (NDJSON in and out);
 *   enrich-4    four at once (NDJSON);
 *   json-4      four at once, as application/json ({"events": [...]} in, JSON out);
 *   forward-4   four POST /v1/forward at once (the sink: stdout, here /dev/null).
 * Clients act as shippers do: a 503 is retried after its Retry-After. Every answer is read and
 * checked (its events counted), never kept. Goal: peak RSS under 200 MiB, each request answered
 * in full or refused with a status it can act on.
 *
 * Run: npm run bench server-memory   (ROUNDS, SCENARIOS, NODE_FLAGS, BENCH_CLI env to change; asserts nothing)
 */
import http from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { namespaceFor, nodeFor, podFor, startSimApiServer } from '../src/sim/index.ts';
import { criLine, podLogPath } from '../test/builders/lines.ts';
import { nodeFlags } from './harness.ts';
import { build, freePort, procCpuSeconds, procKiB, runCommand, waitUntilReady } from './service-process.ts';
import { fmt, summarise } from './stats.ts';

const ROUNDS = Number(process.env.ROUNDS ?? 3);
const MAX_BODY_BYTES = 8 * 1024 * 1024;
const MAX_ATTEMPTS = 60;

type Scenario = 'enrich-1' | 'enrich-4' | 'json-4' | 'forward-4';
const SCENARIOS = (process.env.SCENARIOS ?? 'enrich-1,enrich-4,json-4,forward-4').split(',') as Scenario[];

const pod = { namespace: 'shop', name: 'cart-7d9f8b-x2x4q', uid: '00000000-0000-4000-8000-000000000001', container: 'cart' };
const file = podLogPath({ namespace: pod.namespace, pod: pod.name, uid: pod.uid, container: pod.container });

/** ~1.4 KB of metadata per event (the issue's 11.9x), as a pod of a Helm-installed, mesh-injected app has. */
function richLabels(prefix: string, count: number): Record<string, string> {
  return Object.fromEntries(Array.from({ length: count }, (_, i) => [`${prefix}.example.com/key-${i}`, `value-${i}-${'v'.repeat(20)}`]));
}

/** Tiny events, as many as fit in maxBodyBytes: NDJSON lines, and the same events as one JSON body. */
function bodies(): { ndjson: Buffer; json: Buffer; events: number } {
  const line = `${JSON.stringify({ file, line: criLine({ message: 'x' }) })}\n`;
  const events = Math.floor((MAX_BODY_BYTES - 64) / line.length);
  const ndjson = Buffer.from(line.repeat(events));
  const json = Buffer.from(`{"events":[${line.trimEnd().concat(',').repeat(events).slice(0, -1)}]}`);
  return { ndjson, json, events };
}

interface Answer {
  status: number;
  /** 503s before the answer. */
  retries: number;
  bytes: number;
  /** Events in the answer (NDJSON lines, JSON array items, or `accepted`). */
  events: number;
}

/** One key per enriched event (vector schema): counted across chunk boundaries, to check JSON answers. */
const MESSAGE_KEY = Buffer.from('"message":');

function once(url: URL, body: Buffer, type: string): Promise<{ status: number; retryAfter: number; bytes: number; events: number }> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: 'POST', headers: { 'content-type': type, 'content-length': body.length } }, (res) => {
      let bytes = 0;
      let newlines = 0;
      let keys = 0;
      let head = '';
      let carry = Buffer.alloc(0);
      res.on('data', (chunk: Buffer) => {
        bytes += chunk.length;
        if (head.length < 4096) head += chunk.subarray(0, 4096).toString();
        for (let i = chunk.indexOf(10); i >= 0; i = chunk.indexOf(10, i + 1)) newlines++;
        for (let i = chunk.indexOf(MESSAGE_KEY); i >= 0; i = chunk.indexOf(MESSAGE_KEY, i + 1)) keys++;
        // A key split between two chunks.
        const seam = Buffer.concat([carry, chunk.subarray(0, MESSAGE_KEY.length - 1)]);
        if (carry.length > 0 && seam.indexOf(MESSAGE_KEY) >= 0) keys++;
        carry = Buffer.from(chunk.subarray(Math.max(0, chunk.length - MESSAGE_KEY.length + 1)));
      });
      res.on('end', () => {
        const accepted = /^\{"accepted":(\d+)/.exec(head);
        const events = accepted !== null ? Number(accepted[1]) : type === 'application/json' ? keys : newlines;
        resolve({ status: res.statusCode ?? 0, retryAfter: Number(res.headers['retry-after'] ?? 1), bytes, events });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** As a shipper: retries 503 after Retry-After. */
async function send(url: URL, body: Buffer, type: string): Promise<Answer> {
  for (let retries = 0; ; retries++) {
    const r = await once(url, body, type);
    if (r.status !== 503 || retries + 1 >= MAX_ATTEMPTS) return { status: r.status, retries, bytes: r.bytes, events: r.events };
    await new Promise((resolve) => setTimeout(resolve, r.retryAfter * 1000));
  }
}

interface Sample {
  idleRss: number;
  peakRss: number;
  cpu: number;
  seconds: number;
  answers: Answer[];
}

async function runScenario(scenario: Scenario, kubeconfig: string, input: ReturnType<typeof bodies>): Promise<Sample> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const service = runCommand(['serve', '--kubeconfig', kubeconfig, '--node-name', 'node-a', '--listen', `127.0.0.1:${port}`]);
  try {
    await waitUntilReady(url, service);
    await new Promise((resolve) => setTimeout(resolve, 500));
    const idleRss = procKiB(service.pid, 'VmRSS') * 1024;
    const cpu0 = procCpuSeconds(service.pid).total;
    const [count, route, body, type] =
      scenario === 'enrich-1' ? [1, '/v1/enrich', input.ndjson, 'application/x-ndjson'] as const
      : scenario === 'enrich-4' ? [4, '/v1/enrich', input.ndjson, 'application/x-ndjson'] as const
      : scenario === 'json-4' ? [4, '/v1/enrich', input.json, 'application/json'] as const
      : [4, '/v1/forward', input.ndjson, 'application/x-ndjson'] as const;
    const started = performance.now();
    const answers = await Promise.all(Array.from({ length: count }, () => send(new URL(route, url), body, type)));
    const seconds = (performance.now() - started) / 1000;
    return { idleRss, peakRss: procKiB(service.pid, 'VmHWM') * 1024, cpu: procCpuSeconds(service.pid).total - cpu0, seconds, answers };
  } finally {
    const code = await service.stop();
    if (code !== 0) console.log(`  the service exited with ${code}:\n${service.log().slice(-2000)}`);
  }
}

const root = mkdtempSync(join(os.tmpdir(), 'memory-bench-'));
const sim = await startSimApiServer();
try {
  build();
  sim.create('nodes', nodeFor({ name: 'node-a', labels: richLabels('node', 1) }));
  sim.create('namespaces', namespaceFor({ name: pod.namespace, labels: richLabels('team', 1) }));
  sim.create('pods', podFor({ name: pod.name, namespace: pod.namespace, uid: pod.uid, containers: [pod.container], labels: richLabels('app', 4), annotations: richLabels('meta', 1) }));
  const kubeconfig = join(root, 'kubeconfig');
  await sim.writeKubeconfig(kubeconfig);
  const input = bodies();
  console.log(
    `${os.cpus().length} cores, shared with other work; node ${nodeFlags()}; ` +
      `${fmt(input.events)} tiny events per request (${fmt(input.ndjson.length / 2 ** 20, 2)} MiB NDJSON, ${fmt(input.json.length / 2 ** 20, 2)} MiB JSON)`,
  );
  const samples = new Map<Scenario, Sample[]>(SCENARIOS.map((s) => [s, []]));
  for (let r = 0; r < ROUNDS; r++) {
    for (const scenario of SCENARIOS) {
      const s = await runScenario(scenario, kubeconfig, input);
      samples.get(scenario)!.push(s);
      const statuses = s.answers.map((a) => `${a.status}${a.retries > 0 ? ` after ${a.retries} 503` : ''}`).join(', ');
      const complete = s.answers.every((a) => a.status === 200 && a.events === input.events);
      console.log(
        `  round ${r + 1} ${scenario.padEnd(9)}: peak RSS ${fmt(s.peakRss / 2 ** 20)} MiB (idle ${fmt(s.idleRss / 2 ** 20)}), ${fmt(s.seconds, 1)} s, CPU ${fmt(s.cpu, 1)} s; ` +
          `${statuses}; answers ${fmt(s.answers[0]!.bytes / 2 ** 20, 1)} MiB, ${complete ? 'all complete' : `INCOMPLETE: ${s.answers.map((a) => a.events).join(', ')} events`}`,
      );
    }
  }
  console.log(`\nworst-case batches, peak RSS of the real serve command (median [min..max] of ${ROUNDS}; goal < 200 MiB):`);
  for (const scenario of SCENARIOS) {
    const runs = samples.get(scenario)!;
    const peak = summarise(runs.map((s) => s.peakRss / 2 ** 20));
    const idle = summarise(runs.map((s) => s.idleRss / 2 ** 20));
    const growth = summarise(runs.map((s) => (s.peakRss - s.idleRss) / 2 ** 20));
    const retries = summarise(runs.map((s) => s.answers.reduce((n, a) => n + a.retries, 0)));
    const seconds = summarise(runs.map((s) => s.seconds));
    console.log(
      `  ${scenario.padEnd(9)} peak ${fmt(peak.median)} MiB [${fmt(peak.min)}..${fmt(peak.max)}] (idle ${fmt(idle.median)}, +${fmt(growth.median)}); ` +
        `${fmt(seconds.median, 1)} s until all answered; 503s retried: ${fmt(retries.median)}`,
    );
  }
} finally {
  await sim.close();
  rmSync(root, { recursive: true, force: true });
}
