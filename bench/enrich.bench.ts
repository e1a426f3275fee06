/**
 * In-process enrichment throughput: raw runtime lines (containerd CRI and Docker json-file,
 * 50-500 byte messages, 10% of logical lines split into partial fragments as a stress mix, 1% in
 * the realistic one) of the ~100 pods of one node,
 * through enrichBatch(), against the baseline of JSON.stringify() of the bare messages.
 * Target (issue "Enrichment service"): enrichment costs at most 2x the baseline per line.
 *
 * Fair comparison: the baseline stringifies exactly the messages of the physical lines the
 * enricher gets (same text, same count, same loop shape). Both sides start every batch from
 * input just parsed from its JSON body, untimed, as the server hands events over: flat strings,
 * a path string per event, warm in the cache (not the builders' ropes, nor a 10 MB working set
 * gone cold between rounds). Rounds interleave the baseline and every variant, and ratios are
 * taken per round, so that load from other work on the machine weighs on both sides alike.
 *
 * Run: npm run bench enrich   (prints medians with min/max over rounds; asserts nothing)
 */
import os from 'node:os';
import { ByteWriter, createEnricher, type FieldRule, type SchemaName } from '../src/enrich/index.ts';
import { decodeLine, decodeLineKeepingJson, isDecodeFailure } from '../src/formats/index.ts';
import { generateCluster, SeededRandom } from '../src/sim/index.ts';
import { ndjsonOfRecords } from '../src/sink/index.ts';
import { RetainingStore } from '../src/store/index.ts';
import { criLine, dockerLine, podLogPath, rfc3339 } from '../test/builders/lines.ts';
import { defaultDeletionDelayMs, defaultEnricherOptions, type EnricherOptionsOverrides } from '../test/builders/defaults.ts';
import { fmt, summarise } from './stats.ts';

const LINES = 20_000;
const BATCH = 1000;
const ROUNDS = 15;
const WARMUP_ROUNDS = 3;
/** The stress mix: one logical line in ten split into fragments (each fragment is a line to enrich). */
const PARTIAL_SHARE = 0.1;
/**
 * The realistic mix: runtimes split only lines longer than 16 KiB (containerd, Docker) or their
 * buffer (CRI-O), which are rare in practice; one in a hundred is still generous.
 */
const REALISTIC_PARTIAL_SHARE = 0.01;
const DOCKER_SHARE = 0.3;

const WORDS = ['GET', 'POST', '/api/v1/orders', 'status=200', 'latency_ms=12', 'user="alice"', 'trace_id=4bf92f3577b34da6', 'level=info', 'msg="request served"', 'db.query', 'SELECT * FROM carts WHERE id = $1', 'cache hit', 'retrying', 'path=C:\\tmp', 'ok'];

function message(rand: () => number): string {
  const target = 50 + Math.floor(rand() * 450);
  let out = '';
  while (out.length < target) out += (out === '' ? '' : ' ') + WORDS[Math.floor(rand() * WORDS.length)];
  return out.slice(0, target);
}

/** A JSON object message of about the same size, as a service logging JSON writes it (enrichment.parseJson). */
function jsonMessage(rand: () => number): string {
  return JSON.stringify({ level: rand() < 0.9 ? 'info' : 'error', msg: message(rand).slice(0, 300), latency_ms: Math.floor(rand() * 500), trace_id: '4bf92f3577b34da6', user: { id: Math.floor(rand() * 1000) } });
}

/** Field rules as docs/schemas.md shows them: a handful of labels kept, some renamed. */
const FIELD_RULES: FieldRule[] = [
  { from: 'pod', kind: 'label', key: 'pod-template-hash', action: 'exclude' },
  { from: 'pod', kind: 'label', keyPattern: 'app\\.kubernetes\\.io/(.+)', as: 'app_$1', action: 'include' },
  { from: 'pod', kind: 'label', keyPattern: '.*', action: 'include' },
  { from: 'pod', kind: 'annotation', key: 'prometheus.io/scrape', as: 'scrape', action: 'include' },
  { from: 'namespace', kind: 'label', keyPattern: 'team|tier', action: 'include' },
  { from: 'node', kind: 'label', keyPattern: 'topology\\.kubernetes\\.io/(zone|region)', as: '$1', action: 'include' },
];

interface Workload {
  /** Each batch a shipper would post, as its JSON request body. */
  bodies: string[];
  /** The raw lines of each batch, as a JSON array (for the decoding step alone). */
  lineBodies: string[];
  /** The message of each physical line of each batch, as a JSON array: what the baseline stringifies. */
  messageBodies: string[];
  messages: string[];
}

/** The same messages and splits whatever `dockerShare` is (the PRNG is drawn alike); exactly LINES lines. */
function buildWorkload(files: readonly string[], dockerShare: number, partialShare = PARTIAL_SHARE, messageOf: (rand: () => number) => string = message): Workload {
  const seeded = new SeededRandom(42); // every run enriches the same lines
  const rand = () => seeded.next();
  const events: Record<string, unknown>[] = [];
  const lines: string[] = [];
  const messages: string[] = [];
  let ms = Date.parse('2026-11-23T10:00:00Z');
  while (events.length < LINES) {
    const file = files[Math.floor(rand() * files.length)]!;
    const docker = rand() < dockerShare;
    const stream = rand() < 0.8 ? 'stdout' : 'stderr';
    const text = messageOf(rand);
    ms += Math.floor(rand() * 3);
    const ts = rfc3339(ms);
    // A partial line: two or three fragments of the one message, in a row (as one file's reader sees them).
    const pieces = rand() < partialShare ? (rand() < 0.5 ? 2 : 3) : 1;
    const size = Math.ceil(text.length / pieces);
    for (let p = 0; p < pieces; p++) {
      const part = text.slice(p * size, (p + 1) * size);
      const partial = p < pieces - 1;
      const line = docker ? dockerLine({ time: ts, stream, message: part, partial }) : criLine({ ts, stream, message: part, partial });
      events.push({ file, line });
      lines.push(line);
      messages.push(part);
    }
  }
  events.length = lines.length = messages.length = LINES; // the last line may be cut: its start is flushed as incomplete
  const slices = <T>(xs: T[]): string[] => {
    const out: string[] = [];
    for (let start = 0; start < xs.length; start += BATCH) out.push(JSON.stringify(xs.slice(start, start + BATCH)));
    return out;
  };
  return { bodies: slices(events), lineBodies: slices(lines), messageBodies: slices(messages), messages };
}

let sink = 0;

/** One thing measured, batch by batch: `input` (untimed) parses what batch `b` starts from, `run` (timed) does the work. */
interface Pass {
  input(b: number): unknown;
  run(input: unknown, b: number): void;
}

/** A pass whose batch `b` starts from `bodies[b]`, parsed before the clock starts. */
function parsedPass<T>(bodies: readonly string[], run: (input: T, b: number) => void): Pass {
  return { input: (b) => JSON.parse(bodies[b]!) as unknown, run: (input, b) => run(input as T, b) };
}

/**
 * ns per line of each pass, one sample per round. Rounds are interleaved (baseline, a, b, ...,
 * baseline, a, b, ...) after warm-up rounds, so that load from other work on the machine weighs
 * on all of them alike. No forced GC: each pass pays for the garbage it makes.
 */
function measure(passes: Record<string, Pass>, batches: number, lines: number): Record<string, number[]> {
  const samples: Record<string, number[]> = {};
  for (let r = 0; r < WARMUP_ROUNDS + ROUNDS; r++) {
    for (const [name, pass] of Object.entries(passes)) {
      let elapsed = 0;
      for (let b = 0; b < batches; b++) {
        const input = pass.input(b);
        const t0 = performance.now();
        pass.run(input, b);
        elapsed += performance.now() - t0;
      }
      if (r >= WARMUP_ROUNDS) (samples[name] ??= []).push((elapsed * 1e6) / lines);
    }
  }
  return samples;
}

function main(): void {
  const cluster = generateCluster({ nodes: 1, podsPerNode: 100, seed: 7 });
  const store = new RetainingStore({ deletionDelayMs: defaultDeletionDelayMs() });
  store.replace('namespaces', cluster.namespaces);
  store.replace('nodes', cluster.nodes);
  store.replace('pods', cluster.pods);
  const files: string[] = [];
  for (const pod of cluster.pods) {
    for (const c of pod.spec.containers) {
      files.push(podLogPath({ namespace: pod.metadata.namespace!, pod: pod.metadata.name, uid: pod.metadata.uid!, container: c.name, restart: 0 }));
    }
  }
  const mixed = buildWorkload(files, DOCKER_SHARE);
  const criOnly = buildWorkload(files, 0);
  const realistic = buildWorkload(files, DOCKER_SHARE, REALISTIC_PARTIAL_SHARE);
  const jsonMessages = buildWorkload(files, DOCKER_SHARE, REALISTIC_PARTIAL_SHARE, jsonMessage);
  const { messages } = mixed;
  if (criOnly.messages.some((m, i) => m !== messages[i])) throw new Error('the CRI-only workload must carry the same messages');
  const count = messages.length;
  const avgBytes = messages.reduce((n, m) => n + m.length, 0) / count;
  console.log(
    `${cluster.pods.length} pods, ${files.length} files; ${count} lines (avg message ${fmt(avgBytes)} B, ~${PARTIAL_SHARE * 100}% of logical lines split (stress mix), ` +
      `${DOCKER_SHARE * 100}% Docker); ${ROUNDS} interleaved rounds; shared machine, load ${os.loadavg()[0]!.toFixed(1)} on ${os.availableParallelism()} CPUs`,
  );

  const batches = mixed.bodies.length;
  // Output goes into one reused buffer, as the agent's sink stage does (a response gets a fresh one).
  const out = new ByteWriter(1 << 20);
  const enrichPass = (schema: SchemaName, workload: Workload, toBytes: boolean, overrides: EnricherOptionsOverrides = {}): Pass => {
    const enricher = createEnricher(defaultEnricherOptions({ schema, ...overrides }), { store: store.reader() });
    let session = enricher.newSession();
    // One session a round, as one /v1/ingest connection; its last batch also flushes what is left.
    return parsedPass(workload.bodies, (events: Record<string, unknown>[], b) => {
      if (b === 0) session = enricher.newSession();
      const { records } = enricher.enrichBatch(events, session);
      if (b === batches - 1) records.push(...session.flush().records);
      if (toBytes) sink += ndjsonOfRecords(records, out).bytes.length;
      else sink += records.length;
    });
  };
  /** JSON.stringify of each physical line's message: what the enrichment of `workload` is measured against. */
  const baselinePass = (workload: Workload): Pass =>
    parsedPass(workload.messageBodies, (messages: string[]) => {
      for (let i = 0; i < messages.length; i++) sink += JSON.stringify(messages[i]).length;
    });
  const passes: Record<string, Pass> = {
    baseline: baselinePass(mixed),
    'baseline, 1% split': baselinePass(realistic),
    'baseline, to bytes': parsedPass(mixed.messageBodies, (messages: string[]) => {
      out.reset();
      for (let i = 0; i < messages.length; i++) {
        out.utf8(JSON.stringify(messages[i]));
        out.byte(0x0a);
      }
      sink += out.length;
    }),
    decodeLine: parsedPass(mixed.lineBodies, (lines: string[]) => {
      for (let i = 0; i < lines.length; i++) if (!isDecodeFailure(decodeLine(lines[i]!))) sink++;
    }),
    decodeLineKeepingJson: parsedPass(mixed.lineBodies, (lines: string[]) => {
      for (let i = 0; i < lines.length; i++) if (!isDecodeFailure(decodeLineKeepingJson(lines[i]!))) sink++;
    }),
    vector: enrichPass('vector', mixed, true),
    fluentbit: enrichPass('fluentbit', mixed, true),
    otel: enrichPass('otel', mixed, true),
    'vector, CRI only': enrichPass('vector', criOnly, true),
    'vector, records only': enrichPass('vector', mixed, false),
    'vector, 1% split': enrichPass('vector', realistic, true),
    'vector, 1% split, records only': enrichPass('vector', realistic, false),
    'vector, 1% split, field rules': enrichPass('vector', realistic, true, { fields: FIELD_RULES }),
    'baseline, JSON messages': baselinePass(jsonMessages),
    'vector, JSON messages': enrichPass('vector', jsonMessages, true),
    'vector, JSON messages parsed': enrichPass('vector', jsonMessages, true, { parseJson: { enabled: true } }),
    'otel, JSON messages parsed': enrichPass('otel', jsonMessages, true, { parseJson: { enabled: true } }),
  };
  const samples = measure(passes, batches, count);

  const row = (name: string, baseline = 'baseline'): void => {
    const base = samples[baseline]!;
    const s = summarise(samples[name]!);
    const ratio = summarise(samples[name]!.map((ns, i) => ns / base[i]!));
    console.log(
      `  ${name.padEnd(30)} median ${fmt(s.median).padStart(5)} ns/line (min ${fmt(s.min)}, max ${fmt(s.max)}); ` +
        `x baseline: median ${fmt(ratio.median, 2)} (min ${fmt(ratio.min, 2)}, max ${fmt(ratio.max, 2)})`,
    );
  };
  console.log('JSON.stringify(message), the baseline; the same written out as NDJSON bytes; the decoding step alone (how the cost splits):');
  for (const name of ['baseline', 'baseline, to bytes', 'decodeLine', 'decodeLineKeepingJson']) row(name);
  console.log(`enrichBatch(), ${BATCH} events a batch, every record written out as NDJSON bytes (what a response or a sink sends):`);
  for (const name of ['vector', 'fluentbit', 'otel', 'vector, CRI only']) row(name);
  console.log('enrichBatch() alone, the records not written out (how the cost splits):');
  row('vector, records only');
  console.log(
    `The realistic mix: ${REALISTIC_PARTIAL_SHARE * 100}% of logical lines split instead of ${PARTIAL_SHARE * 100}%, against the baseline of its own messages:`,
  );
  for (const name of ['baseline, 1% split', 'vector, 1% split', 'vector, 1% split, records only']) row(name, 'baseline, 1% split');
  console.log('The same with enrichment.fields rules (a handful of labels kept, some renamed: rendered once per pod, so per line the same or cheaper):');
  row('vector, 1% split, field rules', 'baseline, 1% split');
  console.log('JSON object messages (1% split), against the baseline of their own messages: not parsed, and parsed into fields (enrichment.parseJson):');
  for (const name of ['baseline, JSON messages', 'vector, JSON messages', 'vector, JSON messages parsed', 'otel, JSON messages parsed']) row(name, 'baseline, JSON messages');
  if (sink === -1) console.log(sink); // keep the work observable
}

main();
