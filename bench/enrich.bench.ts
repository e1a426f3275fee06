/**
 * In-process enrichment throughput: raw runtime lines (containerd CRI and Docker json-file,
 * 50-500 byte messages, 10% of lines split into partial fragments) of the ~100 pods of one node,
 * through enrichBatch(), against the baseline of JSON.stringify() of the bare messages.
 * Target (issue "Enrichment service"): enrichment costs at most 2x the baseline per line.
 *
 * Run: npm run bench enrich   (prints medians with min/max over rounds; asserts nothing)
 */
import { Buffer } from 'node:buffer';
import { createEnricher, enricherOptions, type SchemaName } from '../src/enrich/index.ts';
import { decodeLine, isDecodeFailure } from '../src/formats/index.ts';
import { generateCluster } from '../src/sim/index.ts';
import { RetainingStore } from '../src/store/index.ts';
import { criLine, dockerLine, podLogPath, rfc3339 } from '../test/builders/lines.ts';
import { fmt, summarise } from './stats.ts';

const LINES = 20_000;
const BATCH = 1000;
const ROUNDS = 15;
const PARTIAL_SHARE = 0.1;

/** Deterministic PRNG (mulberry32), so every run enriches the same lines. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const WORDS = ['GET', 'POST', '/api/v1/orders', 'status=200', 'latency_ms=12', 'user="alice"', 'trace_id=4bf92f3577b34da6', 'level=info', 'msg="request served"', 'db.query', 'SELECT * FROM carts WHERE id = $1', 'cache hit', 'retrying', 'path=C:\\tmp', 'ok'];

function message(rand: () => number): string {
  const target = 50 + Math.floor(rand() * 450);
  let out = '';
  while (out.length < target) out += (out === '' ? '' : ' ') + WORDS[Math.floor(rand() * WORDS.length)];
  return out.slice(0, target);
}

interface Workload {
  events: Record<string, unknown>[];
  messages: string[];
}

function buildWorkload(files: readonly string[], dockerShare: number): Workload {
  const rand = prng(42);
  const events: Record<string, unknown>[] = [];
  const messages: string[] = [];
  let ms = Date.parse('2026-11-23T10:00:00Z');
  while (events.length < LINES) {
    const file = files[Math.floor(rand() * files.length)]!;
    const docker = rand() < dockerShare;
    const stream = rand() < 0.8 ? 'stdout' : 'stderr';
    const text = message(rand);
    ms += Math.floor(rand() * 3);
    const ts = rfc3339(ms);
    // A partial line: two or three fragments of the one message, in a row (as one file's reader sees them).
    const pieces = rand() < PARTIAL_SHARE ? (rand() < 0.5 ? 2 : 3) : 1;
    const size = Math.ceil(text.length / pieces);
    for (let p = 0; p < pieces; p++) {
      const part = text.slice(p * size, (p + 1) * size);
      const partial = p < pieces - 1;
      const line = docker ? dockerLine({ time: ts, stream, message: part, partial }) : criLine({ ts, stream, message: part, partial });
      events.push({ file, line });
      messages.push(part);
    }
  }
  return { events, messages };
}

function main(): void {
  const cluster = generateCluster({ nodes: 1, podsPerNode: 100, seed: 7 });
  const store = new RetainingStore({ deletionDelayMs: 60_000 });
  store.replace('namespaces', cluster.namespaces);
  store.replace('nodes', cluster.nodes);
  store.replace('pods', cluster.pods);
  const files: string[] = [];
  for (const pod of cluster.pods) {
    for (const c of pod.spec.containers) {
      files.push(podLogPath({ namespace: pod.metadata.namespace!, pod: pod.metadata.name, uid: pod.metadata.uid!, container: c.name, restart: 0 }));
    }
  }
  const { events, messages } = buildWorkload(files, 0.3);
  const avgBytes = messages.reduce((n, m) => n + m.length, 0) / messages.length;
  console.log(`${cluster.pods.length} pods, ${files.length} files; ${events.length} lines (avg message ${fmt(avgBytes)} B, ~${PARTIAL_SHARE * 100}% of logical lines split); ${ROUNDS} rounds; machine shared with other work`);

  // Baseline: JSON.stringify of each bare message.
  const baseline: number[] = [];
  const baselineFlat: number[] = [];
  let sink = 0;
  for (let r = 0; r < ROUNDS + 3; r++) {
    let t0 = performance.now();
    for (let i = 0; i < messages.length; i++) sink += JSON.stringify(messages[i]).length;
    const plain = ((performance.now() - t0) * 1e6) / messages.length;
    t0 = performance.now();
    for (let i = 0; i < messages.length; i++) sink += Buffer.byteLength(JSON.stringify(messages[i]));
    const flat = ((performance.now() - t0) * 1e6) / messages.length;
    if (r >= 3) {
      baseline.push(plain);
      baselineFlat.push(flat);
    }
  }
  const base = summarise(baseline);
  const baseFlat = summarise(baselineFlat);
  console.log(`baseline JSON.stringify(message): median ${fmt(base.median)} ns/line (min ${fmt(base.min)}, max ${fmt(base.max)}); with Buffer.byteLength: ${fmt(baseFlat.median)} ns/line`);

  // The decoding step alone (src/formats), to show how the enrichment cost splits.
  const decodeOnly: number[] = [];
  for (let r = 0; r < ROUNDS + 3; r++) {
    const t0 = performance.now();
    for (let i = 0; i < events.length; i++) {
      const d = decodeLine(events[i]!.line as string);
      if (!isDecodeFailure(d)) sink += d.message.length;
    }
    if (r >= 3) decodeOnly.push(((performance.now() - t0) * 1e6) / events.length);
  }
  const dec = summarise(decodeOnly);
  console.log(`of which decodeLine() alone: median ${fmt(dec.median)} ns/line (min ${fmt(dec.min)}, max ${fmt(dec.max)}), ${fmt(dec.median / base.median, 2)}x the baseline`);

  const rows: [string, SchemaName, readonly Record<string, unknown>[]][] = [
    ['vector', 'vector', events],
    ['fluentbit', 'fluentbit', events],
    ['otel', 'otel', events],
    // A containerd-only node (no Docker json-file lines): the same messages, cheaper to decode.
    ['vector, CRI only', 'vector', buildWorkload(files, 0).events],
  ];
  for (const [label, schema, input] of rows) {
    const enricher = createEnricher(enricherOptions({ schema }), { store: store.reader() });
    const perLine: number[] = [];
    const perLineFlat: number[] = [];
    let outputBytes = 0;
    let flatRecords = 0;
    for (let r = 0; r < ROUNDS + 3; r++) {
      for (const flatten of [false, true]) {
        const session = enricher.newSession();
        const t0 = performance.now();
        for (let start = 0; start < input.length; start += BATCH) {
          const result = enricher.enrichBatch(input.slice(start, start + BATCH), session);
          if (flatten) {
            for (const rec of result.records) outputBytes += Buffer.byteLength(rec.json);
            flatRecords += result.records.length;
          }
        }
        session.flush();
        const ns = ((performance.now() - t0) * 1e6) / input.length;
        if (r >= 3) (flatten ? perLineFlat : perLine).push(ns);
      }
    }
    const s = summarise(perLine);
    const f = summarise(perLineFlat);
    console.log(
      `${label.padEnd(16)} enrichBatch: median ${fmt(s.median)} ns/line (min ${fmt(s.min)}, max ${fmt(s.max)}), ${fmt(1e9 / s.median)} lines/s, ` +
        `ratio ${fmt(s.median / base.median, 2)}x (min/min ${fmt(s.min / base.min, 2)}x); ` +
        `flattened (Buffer.byteLength, as a sink would): ${fmt(f.median)} ns/line, ratio ${fmt(f.median / baseFlat.median, 2)}x; avg output ${fmt(outputBytes / flatRecords)} B`,
    );
  }
  if (sink === -1) console.log(sink); // keep the baseline's work observable
}

main();
