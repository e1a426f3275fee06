/**
 * The service over loopback, driven from a second process (bench/http-load.ts) so that the
 * service has one core to itself: POST /v1/enrich with 1,000-line NDJSON batches over keep-alive
 * connections at fixed concurrency, the same batches over gRPC kle.v1.Enricher/Enrich (rounds
 * interleaved with the HTTP ones, A/B), and /v1/ingest over WebSockets. Reports lines/s,
 * requests/s, request latency p50/p99 and the service's CPU use, median [min..max] over rounds.
 * Target (issue "Enrichment service"): >= 250,000 lines/s on one service process.
 *
 * Run: npm run bench http   (ROUNDS, SECONDS, CONCURRENCY env to change; asserts nothing)
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createEnricher } from '../src/enrich/index.ts';
import { enricherService, startGrpcServer } from '../src/grpc/index.ts';
import { encodeEnrichRequest } from '../src/grpc/proto.ts';
import { createMetrics } from '../src/metrics/index.ts';
import { buildApp, createInflightBudget, EventBus, startServer } from '../src/server/index.ts';
import { SeededRandom } from '../src/sim/index.ts';
import { criLine, rfc3339 } from '../test/builders/lines.ts';
import { defaultEnricherOptions, defaultServerOptions } from '../test/builders/defaults.ts';
import type { LoadJob, LoadResult } from './http-load.ts';
import { nodeStore } from './node-store.ts';
import { fmt, summarise } from './stats.ts';

const ROUNDS = Number(process.env.ROUNDS ?? 3);
const SECONDS = Number(process.env.SECONDS ?? 5);
const CONCURRENCY = Number(process.env.CONCURRENCY ?? 4);
const LINES_PER_BATCH = 1000;
const BATCHES = 16;

const here = dirname(fileURLToPath(import.meta.url));

const WORDS = ['GET', 'POST', '/api/v1/orders', 'status=200', 'latency_ms=12', 'user="alice"', 'trace_id=4bf92f3577b34da6', 'level=info', 'msg="request served"', 'cache hit', 'retrying', 'ok'];

// --- The service: the real enricher over a store holding one node's ~100 pods ---------------------
const { store, files } = nodeStore();
const metrics = createMetrics(undefined, { processMetrics: false });
const enricherOptions = defaultEnricherOptions();
const enricher = createEnricher(enricherOptions, { store: store.reader(), metrics });
const serverOptions = defaultServerOptions();
const budget = createInflightBudget(serverOptions.maxInflightBytes, metrics);
const bus = new EventBus({ share: serverOptions.streamTimeShare });
const app = await buildApp({ enricher, store: store.reader(), readiness: { status: () => [] }, metrics, bus, budget, logger: false, options: serverOptions });
const server = await startServer(app, { listen: '127.0.0.1:0' });
// As runtime/service.ts starts it when server.grpcListen is set (no sink: Enrich only).
const grpcServer = await startGrpcServer({ listen: '127.0.0.1:0', maxMessageBytes: serverOptions.maxBodyBytes }, [
  enricherService({
    enricher,
    input: enricherOptions.input,
    bus,
    sink: undefined,
    budget,
    maxInflightWaitMs: serverOptions.maxInflightWaitMs,
    now: Date.now,
    onError: (err) => console.error(err),
  }),
]);

// --- The input: 16 distinct 1,000-line batches of CRI lines, 50-300 byte messages ---------------
const rng = new SeededRandom(42); // every run sends the same lines
const rand = () => rng.next();
let ms = Date.parse('2026-11-23T10:00:00Z');
const batches: string[] = [];
for (let b = 0; b < BATCHES; b++) {
  let body = '';
  for (let i = 0; i < LINES_PER_BATCH; i++) {
    const target = 50 + Math.floor(rand() * 250);
    let message = '';
    while (message.length < target) message += (message === '' ? '' : ' ') + WORDS[Math.floor(rand() * WORDS.length)];
    ms += Math.floor(rand() * 3);
    const line = criLine({ ts: rfc3339(ms), stream: rand() < 0.8 ? 'stdout' : 'stderr', message: message.slice(0, target) });
    body += JSON.stringify({ file: files[Math.floor(rand() * files.length)], line }) + '\n';
  }
  batches.push(body);
}
const dir = mkdtempSync(join(os.tmpdir(), 'http-bench-'));
const batchesFile = join(dir, 'batches.json');
writeFileSync(batchesFile, JSON.stringify(batches));
// The same events as EnrichRequests, for the gRPC rounds.
const grpcBatchesFile = join(dir, 'grpc-batches.json');
const grpcBatches = batches.map((body) => {
  const events = body.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Record<string, string>);
  return encodeEnrichRequest({ events }).toString('base64');
});
writeFileSync(grpcBatchesFile, JSON.stringify(grpcBatches));
const inputBytesPerLine = batches.reduce((n, b) => n + Buffer.byteLength(b), 0) / (BATCHES * LINES_PER_BATCH);

function load(job: Omit<LoadJob, 'url' | 'batchesFile' | 'linesPerBatch'>): Promise<{ result: LoadResult; serverCpu: number }> {
  const grpc = job.mode === 'grpc-enrich';
  const full: LoadJob = { ...job, url: grpc ? grpcServer.address : server.url, batchesFile: grpc ? grpcBatchesFile : batchesFile, linesPerBatch: LINES_PER_BATCH };
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(here, 'http-load.ts'), JSON.stringify(full)], { stdio: ['ignore', 'pipe', 'inherit'] });
    let output = '';
    // The service's CPU is measured over the load window only: from the generator's "go" to its result.
    let cpu0: NodeJS.CpuUsage | undefined;
    let wall0 = 0;
    let serverCpu = 0;
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      output += chunk;
      if (cpu0 === undefined && output.includes('go\n')) {
        cpu0 = process.cpuUsage();
        wall0 = performance.now();
      }
      if (cpu0 !== undefined && serverCpu === 0 && output.trimEnd().endsWith('}')) {
        const cpu = process.cpuUsage(cpu0);
        serverCpu = (cpu.user + cpu.system) / 1e6 / ((performance.now() - wall0) / 1000);
      }
    });
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) return reject(new Error(`load generator exited with ${code}`));
      resolve({ result: JSON.parse(output.trim().split('\n').at(-1)!) as LoadResult, serverCpu });
    });
  });
}

function report(label: string, runs: { result: LoadResult; serverCpu: number }[], latency: boolean): void {
  const rate = summarise(runs.map((r) => r.result.lines / r.result.seconds));
  const reqs = summarise(runs.map((r) => r.result.requests / r.result.seconds));
  const cpu = summarise(runs.map((r) => r.serverCpu * 100));
  // What one fully available core would do: throughput per second of service CPU.
  const perCpuSecond = summarise(runs.map((r) => r.result.lines / r.result.seconds / Math.max(0.01, r.serverCpu)));
  const outPerLine = runs[0]!.result.bytesReceived / Math.max(1, runs[0]!.result.lines);
  console.log(`\n${label} (median [min..max] of ${runs.length} x ${SECONDS} s, concurrency ${CONCURRENCY}):`);
  console.log(`  lines/s         ${fmt(rate.median)} [${fmt(rate.min)}..${fmt(rate.max)}]   target >= 250,000: ${fmt(rate.median / 250_000, 2)}x`);
  console.log(`  lines/CPU-s     ${fmt(perCpuSecond.median)} [${fmt(perCpuSecond.min)}..${fmt(perCpuSecond.max)}]   (lines per second of service CPU: the rate with a core to itself)`);
  console.log(`  batches/s       ${fmt(reqs.median)} [${fmt(reqs.min)}..${fmt(reqs.max)}]   (${fmt(inputBytesPerLine)} B in, ${fmt(outPerLine)} B out per line)`);
  if (latency) {
    const p50 = summarise(runs.map((r) => r.result.p50));
    const p99 = summarise(runs.map((r) => r.result.p99));
    console.log(`  latency p50 ms  ${fmt(p50.median, 1)} [${fmt(p50.min, 1)}..${fmt(p50.max, 1)}]`);
    console.log(`  latency p99 ms  ${fmt(p99.median, 1)} [${fmt(p99.min, 1)}..${fmt(p99.max, 1)}]`);
  }
  const loadCpu = summarise(runs.map((r) => (r.result.cpuSeconds / r.result.seconds) * 100));
  console.log(`  service CPU %   ${fmt(cpu.median)} [${fmt(cpu.min)}..${fmt(cpu.max)}]   (of one core; below ~95: starved by other work on the machine or by the load process)`);
  console.log(`  load CPU %      ${fmt(loadCpu.median)} [${fmt(loadCpu.min)}..${fmt(loadCpu.max)}]   (the generator process, of one core)`);
  const errors = runs.reduce((n, r) => n + r.result.errors, 0);
  if (errors > 0) console.log(`  ERRORS: ${errors} failed requests`);
}

try {
  console.log(`${os.cpus().length} cores, machine shared with other work; load from a second process over loopback`);
  await load({ mode: 'enrich', concurrency: CONCURRENCY, durationMs: 1000 }); // warm-up (JIT), not reported
  await load({ mode: 'grpc-enrich', concurrency: CONCURRENCY, durationMs: 1000 });
  // A/B, interleaved (HTTP, gRPC, HTTP, gRPC...): the machine's other load falls on both alike.
  type Run = Awaited<ReturnType<typeof load>>;
  const enrichRuns: Run[] = [];
  const grpcRuns: Run[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    const run = await load({ mode: 'enrich', concurrency: CONCURRENCY, durationMs: SECONDS * 1000 });
    console.log(`  enrich run ${r + 1}: ${fmt(run.result.lines / run.result.seconds)} lines/s, p50 ${fmt(run.result.p50, 1)} ms, p99 ${fmt(run.result.p99, 1)} ms`);
    enrichRuns.push(run);
    const grpcRun = await load({ mode: 'grpc-enrich', concurrency: CONCURRENCY, durationMs: SECONDS * 1000 });
    console.log(`  grpc run ${r + 1}: ${fmt(grpcRun.result.lines / grpcRun.result.seconds)} lines/s, p50 ${fmt(grpcRun.result.p50, 1)} ms, p99 ${fmt(grpcRun.result.p99, 1)} ms`);
    grpcRuns.push(grpcRun);
  }
  report('POST /v1/enrich, 1,000-line NDJSON batches', enrichRuns, true);
  report('gRPC kle.v1.Enricher/Enrich, the same batches as EnrichRequests, one HTTP/2 connection', grpcRuns, true);
  const perCpu = (runs: Run[]) => summarise(runs.map((r) => r.result.lines / r.result.seconds / Math.max(0.01, r.serverCpu))).median;
  console.log(`\n  gRPC / HTTP, lines/CPU-s (medians): ${fmt(perCpu(grpcRuns) / perCpu(enrichRuns), 2)}x`);

  const ingestRuns = [];
  for (let r = 0; r < ROUNDS; r++) {
    const run = await load({ mode: 'ingest', concurrency: CONCURRENCY, durationMs: SECONDS * 1000, window: 4 });
    console.log(`  ingest run ${r + 1}: ${fmt(run.result.lines / run.result.seconds)} lines/s`);
    ingestRuns.push(run);
  }
  report('/v1/ingest WebSocket, 1,000-line NDJSON messages, 4 in flight per connection', ingestRuns, false);
} finally {
  await grpcServer.close();
  await server.close();
  store.close();
  rmSync(dir, { recursive: true, force: true });
}
