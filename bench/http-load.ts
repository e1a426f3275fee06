/**
 * Load generator for bench/http.bench.ts, run as a separate process so that the service under
 * test has its own core. Reads its job as JSON from argv[2], prints one JSON result line.
 *
 * - `enrich`: `concurrency` keep-alive connections each POSTing NDJSON batches to /v1/enrich back
 *   to back for `durationMs`, reading every answer in full; latency per request.
 * - `ingest`: `concurrency` WebSocket connections to /v1/ingest, each keeping `window` batches in
 *   flight, counting the enriched lines that come back.
 * - `grpc-enrich`: as `enrich`, over gRPC kle.v1.Enricher/Enrich on one HTTP/2 connection: the
 *   same batches, already encoded as EnrichRequests (`batchesFile` then holds them base64).
 */
import * as grpc from '@grpc/grpc-js';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import { WebSocket } from 'ws';

export interface LoadJob {
  mode: 'enrich' | 'ingest' | 'grpc-enrich';
  /** The HTTP base URL, or for grpc-enrich the gRPC host:port. */
  url: string;
  /** A JSON file holding an array of NDJSON batch bodies. */
  batchesFile: string;
  linesPerBatch: number;
  concurrency: number;
  durationMs: number;
  /** ingest: batches in flight per connection. */
  window?: number;
}

export interface LoadResult {
  seconds: number;
  lines: number;
  requests: number;
  bytesReceived: number;
  /** enrich only, milliseconds. */
  p50: number;
  p99: number;
  errors: number;
  /** CPU seconds of this load process (to tell a starved generator from a slow service). */
  cpuSeconds: number;
}

function cpuSeconds(): number {
  const cpu = process.cpuUsage();
  return (cpu.user + cpu.system) / 1e6;
}

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/**
 * `concurrency` workers sending batches back to back for `durationMs`; `send` resolves with the
 * bytes of the answer, or undefined when the request failed. Latency per request.
 */
async function closedLoop(job: LoadJob, batches: Buffer[], send: (body: Buffer) => Promise<number | undefined>): Promise<LoadResult> {
  const latencies: number[] = [];
  let bytesReceived = 0;
  let errors = 0;
  let next = 0;
  const start = performance.now();
  const deadline = start + job.durationMs;
  const worker = async () => {
    while (performance.now() < deadline) {
      const sent = performance.now();
      const received = await send(batches[next++ % batches.length]!);
      if (received === undefined) errors++;
      else {
        bytesReceived += received;
        latencies.push(performance.now() - sent);
      }
    }
  };
  await Promise.all(Array.from({ length: job.concurrency }, worker));
  const seconds = (performance.now() - start) / 1000;
  const sorted = Float64Array.from(latencies).sort();
  return { seconds, lines: latencies.length * job.linesPerBatch, requests: latencies.length, bytesReceived, p50: percentile(sorted, 50), p99: percentile(sorted, 99), errors, cpuSeconds: cpuSeconds() };
}

async function runEnrich(job: LoadJob, batches: Buffer[]): Promise<LoadResult> {
  const url = new URL('/v1/enrich', job.url);
  const agent = new http.Agent({ keepAlive: true, maxSockets: job.concurrency });
  const send = (body: Buffer) =>
    new Promise<number | undefined>((resolve) => {
      let received = 0;
      const req = http.request(url, { method: 'POST', agent, headers: { 'content-type': 'application/x-ndjson', 'content-length': body.length } }, (res) => {
        res.on('data', (chunk: Buffer) => (received += chunk.length));
        res.on('end', () => resolve(res.statusCode === 200 ? received : undefined));
      });
      req.on('error', () => resolve(undefined));
      req.end(body);
    });
  const result = await closedLoop(job, batches, send);
  agent.destroy();
  return result;
}

async function runIngest(job: LoadJob, batches: Buffer[]): Promise<LoadResult> {
  const url = new URL('/v1/ingest', job.url.replace(/^http/, 'ws'));
  const window = job.window ?? 4;
  let bytesReceived = 0;
  let linesReceived = 0;
  let requests = 0;
  let errors = 0;
  const start = performance.now();
  const deadline = start + job.durationMs;
  let lastAnswer = start;

  const connection = (index: number) =>
    new Promise<void>((resolve, reject) => {
      const socket = new WebSocket(url, { perMessageDeflate: false });
      let sentLines = 0;
      let gotLines = 0;
      let next = index;
      const pump = () => {
        while (performance.now() < deadline && sentLines - gotLines < window * job.linesPerBatch) {
          socket.send(batches[next++ % batches.length]!);
          sentLines += job.linesPerBatch;
          requests++;
        }
        if (performance.now() >= deadline && gotLines >= sentLines) socket.close();
      };
      socket.on('open', pump);
      socket.on('message', (data: Buffer) => {
        bytesReceived += data.length;
        if (data[0] === 0x7b && data.subarray(0, 9).toString() === '{"error":') {
          errors++;
          return;
        }
        let n = 0;
        for (let i = data.indexOf(10); i >= 0; i = data.indexOf(10, i + 1)) n++;
        gotLines += n;
        linesReceived += n;
        lastAnswer = performance.now();
        pump();
      });
      socket.on('close', () => resolve());
      socket.on('error', reject);
    });

  await Promise.all(Array.from({ length: job.concurrency }, (_, i) => connection(i)));
  const seconds = (lastAnswer - start) / 1000;
  return { seconds, lines: linesReceived, requests, bytesReceived, p50: 0, p99: 0, errors, cpuSeconds: cpuSeconds() };
}

async function runGrpcEnrich(job: LoadJob, requests: Buffer[]): Promise<LoadResult> {
  const bytes = (b: Buffer): Buffer => b;
  // Enriched batches are larger than grpc-js's default 4 MiB answer limit allows for; a larger
  // flow-control window than HTTP/2's 64 KiB lets a 2 MB answer come without a stall per window.
  const client = new grpc.Client(job.url, grpc.credentials.createInsecure(), { 'grpc.max_receive_message_length': -1, 'grpc-node.flow_control_window': 8 * 1024 * 1024 });
  const send = (request: Buffer) =>
    new Promise<number | undefined>((resolve) => {
      client.makeUnaryRequest('/kle.v1.Enricher/Enrich', bytes, bytes, request, (err, answer?: Buffer) => resolve(err === null && answer !== undefined ? answer.length : undefined));
    });
  const result = await closedLoop(job, requests, send);
  client.close();
  return result;
}

if (import.meta.main) {
  const job = JSON.parse(process.argv[2] ?? '{}') as LoadJob;
  const stored = JSON.parse(readFileSync(job.batchesFile, 'utf8')) as string[];
  const batches = stored.map((b) => Buffer.from(b, job.mode === 'grpc-enrich' ? 'base64' : 'utf8'));
  process.stdout.write('go\n');
  const result = job.mode === 'enrich' ? await runEnrich(job, batches) : job.mode === 'grpc-enrich' ? await runGrpcEnrich(job, batches) : await runIngest(job, batches);
  process.stdout.write(`${JSON.stringify(result)}\n`);
}
