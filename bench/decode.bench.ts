/**
 * The per-line hot path before enrichment: decode (CRI or Docker), merge partials, identify the
 * pod from the path. Realistic mix: 100 pods (half CRI, half Docker json-file), 50-500 byte
 * messages (some needing JSON escapes), about 10% of physical lines partial fragments, paths in
 * both layouts. Baseline: JSON.stringify of the same messages (the cheapest thing any shipper does
 * per line). Also: the Docker fast path against JSON.parse alone, and the path cache's hit cost.
 */
import os from 'node:os';
import { decodeLine, decodeLineKeepingJson, isDecodeFailure, PartialMerger } from '../src/formats/index.ts';
import { decodeDocker, decodeDockerWithJsonParse } from '../src/formats/docker.ts';
import { createPathResolver, podIdentityFromPath } from '../src/paths/index.ts';
import { defaultMergerOptions } from '../test/builders/defaults.ts';
import { containerId, containerLogPath, criLine, dockerLine, podLogPath, podUid, rfc3339 } from '../test/builders/lines.ts';
import { SeededRandom } from '../src/sim/index.ts';
import { fmt, summarise } from './stats.ts';

const PODS = 100;
const LINES = 200_000;
const ROUNDS = 9;

const seeded = new SeededRandom(42); // every run measures the same input
const random = () => seeded.next();
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!;
const WORDS = ['GET', 'POST', '/api/v1/orders', 'status=200', 'latency_ms=12', 'user=4711', 'cache', 'miss', 'retrying', 'upstream', 'connect', 'timeout', 'ok', 'level=info', 'msg=request_done', 'trace_id=4bf92f3577b34da6'];
const SPICE = ['"quoted"', 'tab\there', 'café', 'naïve', '→', 'back\\slash', '😀'];

/** 50-500 characters: mostly plain text, 1 in 5 a structured JSON log (escaped again by Docker). */
function message(): string {
  const target = 50 + Math.floor(random() * 451);
  if (random() < 0.2) {
    const fields: Record<string, string> = { level: pick(['info', 'warn', 'error']), ts: rfc3339(Date.UTC(2026, 10, 23), { digits: 3 }) };
    for (let i = 0; JSON.stringify(fields).length < target; i++) fields[`k${i}`] = pick(WORDS);
    return JSON.stringify(fields);
  }
  let s = '';
  while (s.length < target) s += (s.length === 0 ? '' : ' ') + (random() < 0.01 ? pick(SPICE) : pick(WORDS));
  return s.slice(0, target);
}

interface Pod {
  path: string;
  format: 'cri' | 'docker';
}

const pods: Pod[] = Array.from({ length: PODS }, (_, i) => {
  const namespace = `team-${i % 5}`;
  const pod = `svc-${i % 20}-7d9f8b${(i * 7919).toString(36).slice(0, 3)}-x${i}`;
  const container = i % 3 === 0 ? 'istio-proxy' : 'app';
  const path =
    i % 5 === 0
      ? containerLogPath({ namespace, pod, container, containerId: containerId(pod) })
      : podLogPath({ prefix: '/host/var/log/pods', namespace, pod, uid: podUid(pod), container, restart: i % 4 });
  return { path, format: i % 2 === 0 ? 'cri' : 'docker' };
});

/** One physical line: the file it came from, the raw line, and the message alone (for the baseline). */
interface Input {
  file: string;
  line: string;
  message: string;
}

function build(): Input[] {
  const out: Input[] = [];
  let ms = Date.UTC(2026, 10, 23, 10, 0, 0);
  while (out.length < LINES) {
    const pod = pick(pods);
    const stream = random() < 0.8 ? 'stdout' : 'stderr';
    const text = message();
    // 7.5% of logical lines split in 2-3 fragments: about 10% of physical lines are partial.
    const parts = random() < 0.075 ? 2 + Math.floor(random() * 2) : 1;
    const size = Math.ceil(text.length / parts);
    for (let p = 0; p < parts; p++) {
      ms += 1;
      const piece = text.slice(p * size, (p + 1) * size);
      const partial = p < parts - 1;
      const ts = rfc3339(ms, { digits: 9 });
      const line = pod.format === 'cri' ? criLine({ ts, stream, partial, message: piece }) : dockerLine({ time: ts, stream, partial, message: piece });
      out.push({ file: pod.path, line, message: piece });
    }
  }
  return out;
}

const inputs = build();
const partialShare = inputs.filter((i) => {
  const r = decodeLine(i.line);
  return !isDecodeFailure(r) && r.partial;
}).length / inputs.length;
const dockerLines = inputs.filter((i) => i.line.charCodeAt(0) === 123).map((i) => i.line);
const dockerEscaped = dockerLines.filter((l) => l.indexOf('\\') !== l.lastIndexOf('\\')).length / dockerLines.length;
let sink = 0;

function hotPath(): void {
  const merger = new PartialMerger(defaultMergerOptions());
  const resolver = createPathResolver();
  for (const input of inputs) {
    const decoded = decodeLine(input.line);
    if (isDecodeFailure(decoded)) throw new Error(decoded.detail);
    const merged = merger.push(input.file, decoded);
    if (merged !== undefined) {
      const id = resolver.resolve(merged.key);
      if (id.ok) sink += id.identity.podName.length + merged.message.length;
    }
  }
  sink += merger.flushAll().length;
}

function baseline(): void {
  for (const input of inputs) sink += JSON.stringify(input.message).length;
}

function dockerFast(): void {
  for (const line of dockerLines) {
    const r = decodeDocker(line);
    if (!isDecodeFailure(r)) sink += r.message.length;
  }
}

function dockerJsonParse(): void {
  for (const line of dockerLines) {
    const r = decodeDockerWithJsonParse(line);
    if (!isDecodeFailure(r)) sink += r.message.length;
  }
}

/** What the enricher needs of a Docker line: its message as JSON, decoded and re-encoded... */
function dockerDecodeStringify(): void {
  for (const line of dockerLines) {
    const r = decodeDocker(line);
    if (!isDecodeFailure(r)) sink += JSON.stringify(r.message).length;
  }
}

/** ...or kept as the JSON text Docker wrote (whole lines in Docker's own shape). */
function dockerKeepingJson(): void {
  for (const line of dockerLines) {
    const r = decodeLineKeepingJson(line);
    if (!isDecodeFailure(r)) sink += 'messageJson' in r ? r.messageJson.length : JSON.stringify(r.message).length;
  }
}

const pathsPerLine = inputs.map((i) => i.file);
const resolver = createPathResolver();
function resolveCached(): void {
  for (const p of pathsPerLine) {
    const m = resolver.resolve(p);
    if (m.ok) sink += m.identity.namespace.length;
  }
}
function resolveUncached(): void {
  for (const p of pathsPerLine) {
    const m = podIdentityFromPath(p);
    if (m.ok) sink += m.identity.namespace.length;
  }
}
/** What a true LRU would cost per hit (delete + re-insert to refresh recency). */
const lru = new Map<string, ReturnType<typeof podIdentityFromPath>>();
function resolveLru(): void {
  for (const p of pathsPerLine) {
    let m = lru.get(p);
    if (m === undefined) m = podIdentityFromPath(p);
    else lru.delete(p);
    lru.set(p, m);
    if (m.ok) sink += m.identity.namespace.length;
  }
}

/**
 * Lines per second of each function, rounds interleaved (a, b, c, a, b, c, ...) after one warm-up,
 * so load from other processes on the shared machine hits all of them alike.
 */
function measure(fns: Record<string, () => void>, count: number): Record<string, number[]> {
  const rates: Record<string, number[]> = {};
  for (const fn of Object.values(fns)) fn();
  for (let r = 0; r < ROUNDS; r++) {
    for (const [name, fn] of Object.entries(fns)) {
      (globalThis as { gc?: () => void }).gc?.();
      const start = process.hrtime.bigint();
      fn();
      const ns = Number(process.hrtime.bigint() - start);
      (rates[name] ??= []).push(count / (ns / 1e9));
    }
  }
  return rates;
}

function report(name: string, rates: number[]): void {
  const s = summarise(rates);
  console.log(`  ${name.padEnd(52)} median ${fmt(s.median).padStart(11)} lines/s  (min ${fmt(s.min)}, max ${fmt(s.max)})`);
}

/** Median of the per-round ratios a/b (robust to load changing between rounds). */
function ratio(a: number[], b: number[]): string {
  const s = summarise(a.map((x, i) => x / b[i]!));
  return `${fmt(s.median, 2)} (min ${fmt(s.min, 2)}, max ${fmt(s.max, 2)})`;
}

console.log(
  `input: ${fmt(inputs.length)} lines from ${PODS} pods, ${fmt(partialShare * 100, 1)}% partial, ` +
    `${fmt((dockerLines.length / inputs.length) * 100, 1)}% Docker (${fmt(dockerEscaped * 100, 1)}% of those with escapes beyond the final \\n); ` +
    `${ROUNDS} interleaved rounds; shared machine, load ${os.loadavg()[0]!.toFixed(1)} on ${os.availableParallelism()} CPUs`,
);

const hot = measure({ hot: hotPath, base: baseline }, inputs.length);
report('decode + merge + identify', hot.hot!);
report('baseline: JSON.stringify(message)', hot.base!);
console.log(`  ratio hot path / baseline: ${ratio(hot.hot!, hot.base!)}   (1.00 = as fast as stringifying the message)`);

const docker = measure({ fast: dockerFast, parse: dockerJsonParse }, dockerLines.length);
report('Docker decode, fast path + JSON.parse fallback', docker.fast!);
report('Docker decode, JSON.parse only', docker.parse!);
console.log(`  ratio: ${ratio(docker.fast!, docker.parse!)}`);

const json = measure({ keep: dockerKeepingJson, reencode: dockerDecodeStringify }, dockerLines.length);
report('Docker message as JSON: kept (decodeLineKeepingJson)', json.keep!);
report('Docker message as JSON: decodeDocker + stringify', json.reencode!);
console.log(`  ratio: ${ratio(json.keep!, json.reencode!)}`);

const paths = measure({ cached: resolveCached, lru: resolveLru, parsed: resolveUncached }, pathsPerLine.length);
report('path identity, cached (insertion-order bound)', paths.cached!);
report('path identity, true LRU (delete+set per hit)', paths.lru!);
report('path identity, parsed every time', paths.parsed!);
console.log(`  ratio cached / LRU: ${ratio(paths.cached!, paths.lru!)}; cached / parsed: ${ratio(paths.cached!, paths.parsed!)}`);
if (sink === 42) console.log('');
