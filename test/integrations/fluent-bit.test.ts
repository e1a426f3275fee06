/**
 * The Fluent Bit recipes of docs/integrations.md: `tail` records (raw runtime lines, or records of
 * the `cri` multiline parser) posted by the `http` output to /v1/forward exactly as the documented
 * output section encodes them, enriched in the `fluentbit` schema into the file the second `tail`
 * input reads.
 */
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import type { Config } from '../../src/config/index.ts';
import { createSink } from '../../src/sink/index.ts';
import { criLine, dockerLine } from '../builders/lines.ts';
import { findSection, parseFluentBitClassic, recipe, sectionValue, serviceConfig, type FluentBitSection } from './recipes.ts';
import { fluentBitCompressed, fluentBitHttpRequest, nsOf, tailCriRecord, tailRecord, type FluentBitRecord } from './shippers.ts';
import { ManualClock, parseNdjson, send, startRecipeStack, type RecipeStack, type Tap } from './stack.ts';

const TOKEN = 'fluent-bit-to-kle-token';
const ENV = { KLE_TOKEN: TOKEN };
/** When Fluent Bit read the lines (the record time of records without a parser). */
const READ_AT = nsOf('2026-11-23T10:00:01.250000000Z');

const sections = parseFluentBitClassic(recipe('fluent-bit/fluent-bit.conf'));
const output = findSection(sections, 'OUTPUT', 'http');
const podsTail = findSection(sections, 'INPUT', 'tail', 0);
const enrichedTail = findSection(sections, 'INPUT', 'tail', 1);
const parser = findSection(parseFluentBitClassic(recipe('fluent-bit/kube-log-enricher-parsers.conf')), 'PARSER', 'kube_log_enricher');
const criTail = findSection(parseFluentBitClassic(recipe('fluent-bit/tail-cri.conf')), 'INPUT', 'tail');
const config = serviceConfig('fluent-bit/kube-log-enricher.yaml');
const criConfig = serviceConfig('fluent-bit/kube-log-enricher-cri.yaml');

/** Where the recipe's sink writes, moved into the test's directory. */
function sinkFileIn(dir: string, c: Config): string {
  if (!c.source.sink.startsWith('file:')) throw new Error(`the recipe's sink is ${c.source.sink}, not a file`);
  return join(dir, c.source.sink.slice('file:'.length).split('/').at(-1)!);
}

function withEntry(section: FluentBitSection, key: string, value: string): FluentBitSection {
  return { kind: section.kind, entries: [...section.entries.filter(([k]) => k !== key), [key, value]] };
}

async function fileStack(tap: Tap, dir: string, c: Config): Promise<{ stack: RecipeStack; read: () => Record<string, unknown>[] }> {
  const path = sinkFileIn(dir, c);
  const stack = await startRecipeStack(tap, { config: c, sink: createSink(`file:${path}`), authToken: TOKEN });
  let seen = 0;
  return {
    stack,
    /** The lines appended since the last call. */
    read() {
      const all = parseNdjson(readFileSync(path, 'utf8'));
      const fresh = all.slice(seen);
      seen = all.length;
      return fresh;
    },
  };
}

t.test('the recipe is self-consistent', async (t) => {
  t.equal(sectionValue(output, 'uri'), '/v1/forward');
  t.equal(`${sectionValue(output, 'host')}:${sectionValue(output, 'port')}`, config.server.listen, 'Fluent Bit posts where the service listens');
  t.equal(sectionValue(output, 'format'), 'json', 'Format is set: the default, msgpack, is refused');
  t.equal(sectionValue(output, 'retry_limit'), 'no_limits', 'a 503 is retried until the sink is back');
  t.ok(config.server.authTokenFile, 'the service requires the token Fluent Bit sends');
  t.equal(sectionValue(podsTail, 'path_key'), config.enrichment.input.file, 'the path arrives under the configured file field');
  t.equal(sectionValue(podsTail, 'parser'), undefined, 'no parser: `log` holds the raw line');
  t.equal(sectionValue(podsTail, 'multiline.parser'), undefined);
  t.equal(config.enrichment.input.line, 'log');
  t.equal(config.enrichment.schema, 'fluentbit');
  t.equal(`file:${sectionValue(enrichedTail, 'path')}`, config.source.sink, 'the second tail reads the file our sink writes');
  t.equal(sectionValue(enrichedTail, 'parser'), sectionValue(parser, 'name'));
  t.same([sectionValue(parser, 'format'), sectionValue(parser, 'time_key')], ['json', 'time'], 'the fluentbit schema keeps the runtime timestamp in `time`');
  t.equal(sectionValue(criTail, 'multiline.parser'), 'cri');
  t.equal(sectionValue(criTail, 'path_key'), criConfig.enrichment.input.file);
  t.same(
    [criConfig.enrichment.input.message, criConfig.enrichment.input.timestamp, criConfig.enrichment.input.stream],
    ['log', 'time', 'stream'],
    'the cri parser\'s record fields',
  );
});

t.test('tail without parser, http output Format json / json_lines', async (t) => {
  const { stack, read } = await fileStack(t, t.testdir(), config);
  const cart = stack.pod('cart');
  const db = stack.pod('db');
  const url = `${stack.url}${sectionValue(output, 'uri')}`;
  const pathKey = sectionValue(podsTail, 'path_key')!;

  function chunk(tag: string): FluentBitRecord[] {
    return [
      tailRecord(pathKey, cart.file, criLine({ ts: '2026-11-23T10:00:00.123456789Z', message: `GET /healthz 200 ${tag}` }), READ_AT),
      tailRecord(pathKey, cart.file, criLine({ ts: '2026-11-23T10:00:00.2Z', stream: 'stderr', message: `warn: slow ${tag}` }), READ_AT),
      tailRecord(pathKey, cart.file, criLine({ ts: '2026-11-23T10:00:00.3Z', partial: true, message: 'first half, ' }), READ_AT),
      tailRecord(pathKey, cart.file, criLine({ ts: '2026-11-23T10:00:00.3Z', message: `second half ${tag}` }), READ_AT),
      tailRecord(pathKey, db.file, dockerLine({ time: '2026-11-23T10:00:00.4Z', message: `checkpoint ${tag}` }), READ_AT),
      tailRecord(pathKey, stack.unknownPodFile, criLine({ ts: '2026-11-23T10:00:00.5Z', message: `orphan ${tag}` }), READ_AT),
    ];
  }

  t.test('Format json: a JSON array with date doubles; every field of every record', async (t) => {
    const request = fluentBitHttpRequest(output, chunk('a'), { env: ENV });
    t.equal(request.headers['content-type'], 'application/json');
    t.equal(request.headers.authorization, `Bearer ${TOKEN}`);
    t.match(request.body, /^\[\{"date":1795428001\.25,"filepath":/, 'the date key first, a double');
    const res = await send(url, request);
    t.equal(res.status, 200, res.text);
    t.same(JSON.parse(res.text), { accepted: 5, errors: [] });

    const [first, stderr, merged, docker, orphan, ...rest] = read();
    t.same(rest, []);
    t.same(Object.keys(first!).sort(), ['date', 'filepath', 'kubernetes', 'kubernetes_namespace', 'log', 'stream', 'time']);
    t.match(first, {
      log: 'GET /healthz 200 a',
      stream: 'stdout',
      time: '2026-11-23T10:00:00.123456789Z',
      filepath: cart.file,
      date: 1795428001.25,
      kubernetes: {
        pod_name: cart.name,
        namespace_name: 'shop',
        pod_id: cart.uid,
        labels: cart.labels,
        host: 'node-a',
        container_name: 'cart',
        container_image: cart.image,
        docker_id: /^[0-9a-f]{64}$/,
      },
      kubernetes_namespace: { name: 'shop', labels: { team: 'shop' } },
    });
    t.match(stderr, { log: 'warn: slow a', stream: 'stderr', time: '2026-11-23T10:00:00.2Z' });
    t.match(merged, { log: 'first half, second half a', time: '2026-11-23T10:00:00.3Z' });
    t.match(docker, { log: 'checkpoint a', filepath: db.file, kubernetes: { pod_name: db.name, namespace_name: 'data', container_name: 'postgres' } });
    t.match(orphan, { log: 'orphan a', kubernetes: { pod_name: 'gone-6b7c8-zzzzz', namespace_name: 'shop', unmatched_reason: 'pod_not_found' } });
    for (const event of [first, stderr, merged, docker, orphan]) {
      // The parser's Time_Format %Y-%m-%dT%H:%M:%S.%L%z, as for Fluent Bit's own cri parser.
      t.match(event!.time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+(Z|[+-]\d\d:\d\d)$/);
    }
  });

  t.test('Format json_lines (application/x-ndjson): the same records', async (t) => {
    const request = fluentBitHttpRequest(withEntry(output, 'format', 'json_lines'), chunk('b'), { env: ENV });
    t.equal(request.headers['content-type'], 'application/x-ndjson');
    t.ok(request.body.endsWith('}\n'), 'each record ends with a newline');
    const res = await send(url, request);
    t.equal(res.status, 200, res.text);
    t.same(read().map((e) => e.log), ['GET /healthz 200 b', 'warn: slow b', 'first half, second half b', 'checkpoint b', 'orphan b']);
  });

  t.test('Format json_lines from Fluent Bit before v3.0.x (NDJSON labelled application/json): the same records', async (t) => {
    const jsonLines = withEntry(output, 'format', 'json_lines');
    const request = fluentBitHttpRequest(jsonLines, chunk('e'), { env: ENV, legacyJsonLinesContentType: true });
    t.equal(request.headers['content-type'], 'application/json');
    t.equal(request.body.split('\n').length, 7, 'six records, each ending with a newline');
    const res = await send(url, request);
    t.equal(res.status, 200, res.text);
    t.same(JSON.parse(res.text), { accepted: 5, errors: [] });
    t.same(read().map((e) => e.log), ['GET /healthz 200 e', 'warn: slow e', 'first half, second half e', 'checkpoint e', 'orphan e']);

    const single = fluentBitHttpRequest(jsonLines, chunk('f').slice(0, 1), { env: ENV, legacyJsonLinesContentType: true });
    t.match(single.body, /^\{[^\n]*\}\n$/, 'a one-record chunk: one object and a newline');
    const one = await send(url, single);
    t.equal(one.status, 200, one.text);
    t.same(read().map((e) => e.log), ['GET /healthz 200 f']);

    const broken = { ...request, body: request.body.replace('"log":"2026-11-23T10:00:00.2Z', '"log":2026-11-23T10:00:00.2Z') };
    const bad = await send(url, broken);
    t.equal(bad.status, 400);
    t.match(JSON.parse(bad.text), { error: /malformed NDJSON on line 2/, details: [{ line: 2 }] });
    t.same(read(), [], 'a malformed chunk writes nothing');
  });

  t.test('compress gzip and zstd: decoded, the same records', async (t) => {
    for (const compress of ['gzip', 'zstd']) {
      const request = fluentBitCompressed(fluentBitHttpRequest(withEntry(output, 'compress', compress), chunk(compress), { env: ENV }), compress);
      t.equal(request.headers['content-encoding'], compress);
      const res = await send(url, request);
      t.equal(res.status, 200, `${compress}: ${res.text}`);
      t.same(read().map((e) => e.log), [`GET /healthz 200 ${compress}`, `warn: slow ${compress}`, `first half, second half ${compress}`, `checkpoint ${compress}`, `orphan ${compress}`]);
    }
  });

  t.test('compress snappy: 415 naming it (Fluent Bit drops the chunk: do not configure it)', async (t) => {
    const request = fluentBitCompressed(fluentBitHttpRequest(output, chunk('g'), { env: ENV }), 'snappy');
    const res = await send(url, request);
    t.equal(res.status, 415);
    t.match(JSON.parse(res.text), { error: 'unsupported Content-Encoding: snappy', details: [{ field: 'content-encoding' }] });
    t.same(read(), []);
  });

  t.test('json_date_format iso8601: the date passes through as Fluent Bit wrote it', async (t) => {
    const request = fluentBitHttpRequest(withEntry(output, 'json_date_format', 'iso8601'), chunk('c').slice(0, 1), { env: ENV });
    t.equal((await send(url, request)).status, 200);
    t.same(read().map((e) => [e.log, e.date]), [['GET /healthz 200 c', '2026-11-23T10:00:01.250000Z']]);
  });

  t.test('the default Format msgpack is refused with 415 naming the types accepted', async (t) => {
    const res = await send(url, { headers: { 'content-type': 'application/msgpack', authorization: `Bearer ${TOKEN}` }, body: '\x91\x92' });
    t.equal(res.status, 415);
    t.match(JSON.parse(res.text), { details: [{ field: 'content-type', message: /application\/json.*application\/x-ndjson/ }] });
    t.same(read(), []);
  });

  t.test('a wrong token is 401 (Fluent Bit drops 4xx chunks)', async (t) => {
    const res = await send(url, fluentBitHttpRequest(output, chunk('d'), { env: { KLE_TOKEN: 'wrong' } }));
    t.equal(res.status, 401);
    t.same(read(), []);
  });
});

t.test('tail with the cri multiline parser: message, time and stream already parsed', async (t) => {
  const { stack, read } = await fileStack(t, t.testdir(), criConfig);
  const cart = stack.pod('cart');
  const pathKey = sectionValue(criTail, 'path_key')!;
  const records = [
    tailCriRecord(pathKey, cart.file, { time: '2026-11-23T10:00:00.123456789Z', stream: 'stdout', message: 'GET /healthz 200' }),
    // The parser already joined the P fragments: one record, one long message.
    tailCriRecord(pathKey, cart.file, { time: '2026-11-23T10:00:00.3Z', stream: 'stderr', message: 'x'.repeat(20_000) }),
  ];
  const request = fluentBitHttpRequest(output, records, { env: ENV });
  const res = await send(`${stack.url}${request.path}`, request);
  t.equal(res.status, 200, res.text);
  t.same(JSON.parse(res.text), { accepted: 2, errors: [] });
  const [first, long] = read();
  t.same(Object.keys(first!).sort(), ['_p', 'date', 'filepath', 'kubernetes', 'kubernetes_namespace', 'log', 'stream', 'time']);
  t.match(first, {
    log: 'GET /healthz 200',
    stream: 'stdout',
    time: '2026-11-23T10:00:00.123456789Z',
    filepath: cart.file,
    _p: 'F',
    date: 1795428000.123457,
    kubernetes: { pod_name: cart.name, namespace_name: 'shop', pod_id: cart.uid, labels: cart.labels },
  });
  t.match(long, { log: 'x'.repeat(20_000), stream: 'stderr', time: '2026-11-23T10:00:00.3Z' });

  t.test('a record whose `time` is not RFC 3339 is reported, the others delivered', async (t) => {
    const bad = { timeNs: READ_AT, body: { [pathKey]: cart.file, time: '23/Nov/2026:10:00:00 +0000', stream: 'stdout', _p: 'F', log: 'odd clock' } };
    const good = tailCriRecord(pathKey, cart.file, { time: '2026-11-23T10:00:02Z', stream: 'stdout', message: 'fine' });
    const res = await send(`${stack.url}${request.path}`, fluentBitHttpRequest(output, [bad, good], { env: ENV }));
    t.equal(res.status, 200);
    t.match(JSON.parse(res.text), { accepted: 1, errors: [{ index: 0, field: 'time', error: /RFC 3339/ }] });
    t.same(read().map((e) => e.log), ['fine']);
  });
});

t.test('sink down: 503 with Retry-After, nothing written; Fluent Bit\'s retry after recovery writes the chunk once', async (t) => {
  const dir = t.testdir();
  // The sink's directory is a regular file: every append fails until it is removed.
  const blocker = join(dir, 'not-a-directory');
  writeFileSync(blocker, '');
  const path = join(blocker, 'enriched.log');
  const clock = new ManualClock();
  const stack = await startRecipeStack(t, { config, sink: createSink(`file:${path}`), authToken: TOKEN, now: clock.now });
  const cart = stack.pod('cart');
  const request = fluentBitHttpRequest(output, [tailRecord('filepath', cart.file, criLine({ message: 'held back' }), READ_AT)], { env: ENV });
  const res = await send(`${stack.url}${request.path}`, request);
  t.equal(res.status, 503, res.text);
  const retryAfter = Number(res.headers.get('retry-after'));
  t.ok(retryAfter >= 1, 'Retry-After in seconds');
  t.match(JSON.parse(res.text), { error: /sink is unavailable/, details: [{ message: /file sink cannot append/ }] });

  // Fluent Bit retries on its own schedule: too early is another 503, without trying the sink.
  const early = await send(`${stack.url}${request.path}`, request);
  t.equal(early.status, 503);
  t.match(JSON.parse(early.text), { details: [{ message: /reports itself unavailable/ }] });

  rmSync(blocker);
  clock.advance(retryAfter * 1000);
  const retried = await send(`${stack.url}${request.path}`, request);
  t.equal(retried.status, 200, retried.text);
  t.same(parseNdjson(readFileSync(path, 'utf8')).map((e) => e.log), ['held back'], 'written once, though sent three times');
});
