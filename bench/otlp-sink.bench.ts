/**
 * The OTLP sink's cost against the NDJSON http sink's, in the sending process: the same enriched
 * batches (the `otel` schema, 1,000 lines each, 100 contiguous lines per file as the file source
 * reads them, over a store of one node's ~100 pods) written one after the other, acknowledged
 * each, to a receiver in another process (bench/otlp-receiver.ts, which does not decode, so only
 * our side is measured). Three sinks: http:// (NDJSON, no compression), otlp+http:// (protobuf,
 * gzip) and otlp+grpc:// (protobuf, gzip). Rounds interleave the three (A, B, C, A, B, C, ...),
 * as the machine is shared; figures are lines per CPU-second of this process (all its threads:
 * gzip runs on libuv's pool), median [min..max], and the ratio to the NDJSON sink. For scale, the
 * enrichment of the same lines (what the agent spends on them before any sink) is measured too.
 *
 *   npm run bench otlp-sink          (ROUNDS, BATCHES env to change; asserts nothing)
 */
import { spawn } from 'node:child_process';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createEnricher } from '../src/enrich/index.ts';
import { createMetrics } from '../src/metrics/index.ts';
import { SeededRandom } from '../src/sim/index.ts';
import { createSink, ndjsonOfRecords, type NdjsonChunk } from '../src/sink/index.ts';
import { criLine, rfc3339 } from '../test/builders/lines.ts';
import { defaultEnricherOptions } from '../test/builders/defaults.ts';
import { nodeStore } from './node-store.ts';
import { fmt, summarise } from './stats.ts';

const ROUNDS = Number(process.env.ROUNDS ?? 5);
const BATCHES = Number(process.env.BATCHES ?? 200);
const LINES_PER_BATCH = 1000;
const LINES_PER_FILE = 100;
const WORDS = ['GET', 'POST', '/api/v1/orders', 'status=200', 'latency_ms=12', 'user="alice"', 'trace_id=4bf92f3577b34da6', 'level=info', 'msg="request served"', 'cache hit', 'retrying', 'ok'];

// --- The batches: enriched once, outside the timing ----------------------------------------------
const { store, files } = nodeStore();
const enricher = createEnricher(defaultEnricherOptions({ schema: 'otel' }), { store: store.reader(), metrics: createMetrics(undefined, { processMetrics: false }) });
const rng = new SeededRandom(42);
const rand = () => rng.next();
let ms = Date.parse('2026-11-23T10:00:00Z');
/** 16 distinct batches of raw events, sent round-robin. */
const rawBatches: { file: string; line: string }[][] = [];
for (let b = 0; b < 16; b++) {
  const events: { file: string; line: string }[] = [];
  let file = files[0]!;
  for (let i = 0; i < LINES_PER_BATCH; i++) {
    if (i % LINES_PER_FILE === 0) file = files[Math.floor(rand() * files.length)]!;
    const target = 50 + Math.floor(rand() * 250);
    let message = '';
    while (message.length < target) message += (message === '' ? '' : ' ') + WORDS[Math.floor(rand() * WORDS.length)];
    ms += Math.floor(rand() * 3);
    events.push({ file, line: criLine({ ts: rfc3339(ms), stream: rand() < 0.8 ? 'stdout' : 'stderr', message: message.slice(0, target) }) });
  }
  rawBatches.push(events);
}

function enrichAll(): { chunks: NdjsonChunk[]; cpuSeconds: number } {
  const before = process.cpuUsage();
  const chunks = rawBatches.map((events) => {
    const session = enricher.newSession({ route: 'bench' });
    const records = enricher.enrichBatch(events, session).records.concat(session.flush().records);
    return ndjsonOfRecords(records);
  });
  const used = process.cpuUsage(before);
  return { chunks, cpuSeconds: (used.user + used.system) / 1e6 };
}

const { chunks } = enrichAll();
const ndjsonBytes = chunks.reduce((n, c) => n + c.bytes.length, 0) / chunks.length;

// --- The receiver, in its own process -----------------------------------------------------------
const here = dirname(fileURLToPath(import.meta.url));
const receiver = spawn(process.execPath, [join(here, 'otlp-receiver.ts')], { stdio: ['pipe', 'pipe', 'inherit'] });
const ports = await new Promise<{ http: number; grpc: number }>((resolve, reject) => {
  receiver.stdout.setEncoding('utf8');
  receiver.stdout.once('data', (line: string) => resolve(JSON.parse(line) as { http: number; grpc: number }));
  receiver.once('exit', (code) => reject(new Error(`the receiver exited (${code})`)));
});

const SINKS = {
  'http:// NDJSON': `http://127.0.0.1:${ports.http}/ingest`,
  'otlp+http:// protobuf+gzip': `otlp+http://127.0.0.1:${ports.http}`,
  'otlp+grpc:// protobuf+gzip': `otlp+grpc://127.0.0.1:${ports.grpc}`,
} as const;
type SinkName = keyof typeof SINKS;

async function run(name: SinkName): Promise<number> {
  const sink = createSink(SINKS[name]);
  await sink.write(chunks[0]!); // connections up, modules loaded, outside the timing
  const before = process.cpuUsage();
  for (let b = 0; b < BATCHES; b++) await sink.write(chunks[b % chunks.length]!);
  const used = process.cpuUsage(before);
  await sink.close();
  return (BATCHES * LINES_PER_BATCH) / ((used.user + used.system) / 1e6);
}

const samples = new Map<SinkName, number[]>();
const enrichRates: number[] = [];
const names = Object.keys(SINKS) as SinkName[];
for (let r = 0; r <= ROUNDS; r++) {
  for (const name of names) {
    const rate = await run(name);
    if (r > 0) samples.set(name, [...(samples.get(name) ?? []), rate]);
    console.log(`  ${r === 0 ? 'warm-up' : `round ${r}`}: ${name.padEnd(28)} ${fmt(rate)} lines/CPU-s`);
  }
  const e = enrichAll();
  if (r > 0) enrichRates.push((chunks.length * LINES_PER_BATCH) / e.cpuSeconds);
}
receiver.stdin.end();

console.log(`\nsinks, ${fmt(BATCHES)} batches of ${fmt(LINES_PER_BATCH)} enriched otel lines (${fmt(ndjsonBytes / 1024)} KiB of NDJSON each), sent one at a time, each acknowledged; sender's CPU (${os.cpus().length} cores, shared; median [min..max] of ${ROUNDS} interleaved rounds):`);
const base = summarise(samples.get(names[0]!)!).median;
for (const name of names) {
  const s = summarise(samples.get(name)!);
  console.log(`  ${name.padEnd(28)} ${fmt(s.median).padStart(9)} [${fmt(s.min)}..${fmt(s.max)}] lines/CPU-s   ${fmt(s.median / base, 2)}x the NDJSON sink`);
}
const enrich = summarise(enrichRates);
console.log(`  for scale, enriching the same lines (otel schema, before any sink): ${fmt(enrich.median)} [${fmt(enrich.min)}..${fmt(enrich.max)}] lines/CPU-s`);
for (const name of names.slice(1)) {
  const perLine = 1 / enrich.median + 1 / summarise(samples.get(name)!).median;
  const ndjsonPerLine = 1 / enrich.median + 1 / base;
  console.log(`  enrichment + ${name}: ${fmt(1 / perLine)} lines/CPU-s, ${fmt(ndjsonPerLine / perLine, 2)}x enrichment + the NDJSON sink`);
}
