/** The stdout (stream) and file sinks, and parsing of the `sink` setting. */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import t from 'tap';
import { ByteWriter } from '../../src/enrich/index.ts';
import { textRecord } from '../builders/records.ts';
import { SinkSpecError, SinkUnavailableError, createFileSink, createSink, createStreamSink, ndjsonOfRecords, ndjsonOfTexts, parseSinkSpec } from '../../src/sink/index.ts';

t.test('parseSinkSpec', async (t) => {
  t.same(parseSinkSpec('stdout'), { ok: true, spec: { kind: 'stdout' } });
  t.same(parseSinkSpec('file:/var/log/out.ndjson'), { ok: true, spec: { kind: 'file', path: '/var/log/out.ndjson' } });
  t.same(parseSinkSpec('file:relative/out.ndjson'), { ok: true, spec: { kind: 'file', path: 'relative/out.ndjson' } });
  t.same(parseSinkSpec('file:///tmp/a%20b.ndjson'), { ok: true, spec: { kind: 'file', path: '/tmp/a b.ndjson' } });
  const http = parseSinkSpec('https://logs.example:8443/ingest?x=1');
  t.equal(http.ok && http.spec.kind === 'http' && http.spec.url.href, 'https://logs.example:8443/ingest?x=1');
  for (const [spec, error] of [
    ['file:', /"file:" needs a path/],
    ['stderr', /sink "stderr": unknown kind of sink; expected "stdout", "file:PATH", an http:\/\/ or https:\/\/ URL, or an OTLP endpoint/],
    ['ftp://x', /unknown kind of sink/],
    ['http://', /not a valid URL/],
    ['', /unknown kind of sink/],
  ] as const) {
    const r = parseSinkSpec(spec);
    t.equal(r.ok, false, spec);
    if (!r.ok) t.match(r.error, error, spec);
  }
  t.throws(() => createSink('kafka://x'), SinkSpecError);
  t.throws(() => createSink('kafka://x'), { code: 'invalid_sink_spec' });
  const r = parseSinkSpec('http://user:secret@host:1/p?token=abc');
  t.equal(r.ok, true);
  const bad = parseSinkSpec('http://user:secret@[bad/p?token=abc');
  t.notMatch(bad.ok ? '' : bad.error, /secret|token=abc/, 'credentials never end up in messages');
});

/** A writable that takes `delayMs` per chunk, with a tiny buffer, so backpressure shows. */
function slowStream(delayMs: number) {
  const chunks: string[] = [];
  const stream = new Writable({
    highWaterMark: 16,
    write(chunk: Buffer, _enc, cb) {
      setTimeout(() => {
        chunks.push(chunk.toString());
        cb();
      }, delayMs);
    },
  });
  return { stream, chunks };
}

t.test('stream sink: NDJSON, resolves once the stream took and drained the data', async (t) => {
  const { stream, chunks } = slowStream(5);
  const sink = createStreamSink(stream, 'stdout');
  t.equal(sink.available, true);
  await sink.write(ndjsonOfTexts(['{"a":1}', '{"b":2}']));
  t.same(chunks, ['{"a":1}\n{"b":2}\n'], 'the write resolved only after the slow stream consumed it');
  t.equal(stream.writableLength, 0, 'drained');
  await sink.write(ndjsonOfTexts([]));
  await Promise.all([sink.write(ndjsonOfTexts(['{"c":3}'])), sink.write(ndjsonOfTexts(['{"d":4}']))]);
  t.same(chunks.join(''), '{"a":1}\n{"b":2}\n{"c":3}\n{"d":4}\n');
  await sink.close();
});

t.test('stream sink: a broken stream rejects with SinkUnavailableError and reports unavailable', async (t) => {
  const stream = new Writable({
    write(_c, _e, cb) {
      cb(Object.assign(new Error('write EPIPE'), { code: 'EPIPE' }));
    },
  });
  const sink = createStreamSink(stream, 'stdout');
  await t.rejects(sink.write(ndjsonOfTexts(['x'])), SinkUnavailableError);
  t.equal(sink.available, false);
  await t.rejects(sink.write(ndjsonOfTexts(['y'])), /stdout sink cannot write/);
});

t.test('file sink: appends in call order, creates the directory, survives reopen', async (t) => {
  const dir = t.testdir();
  const path = join(dir, 'sub', 'out.ndjson');
  const sink = createFileSink(path);
  await Promise.all([sink.write(ndjsonOfTexts(['1', '2'])), sink.write(ndjsonOfTexts(['3'])), sink.write(ndjsonOfTexts([])), sink.write(ndjsonOfTexts(['4']))]);
  t.equal(readFileSync(path, 'utf8'), '1\n2\n3\n4\n');
  await sink.close();
  await t.rejects(sink.write(ndjsonOfTexts(['5'])), /is closed/);
  const again = createFileSink(path, { fsync: true });
  await again.write(ndjsonOfTexts(['5']));
  await again.close();
  t.equal(readFileSync(path, 'utf8'), '1\n2\n3\n4\n5\n', 'appends, never truncates');
});

t.test('file sink: a line torn by a crash is ended before the next append, so no line is glued to it', async (t) => {
  const dir = t.testdir();
  const path = join(dir, 'out.ndjson');
  // What a SIGKILL in the middle of a batch's write leaves.
  writeFileSync(path, '{"message":"whole"}\n{"message":"tor');
  const sink = createFileSink(path);
  await sink.write(ndjsonOfTexts(['{"message":"again"}']));
  await sink.write(ndjsonOfTexts(['{"message":"next"}']));
  await sink.close();
  t.equal(readFileSync(path, 'utf8'), '{"message":"whole"}\n{"message":"tor\n{"message":"again"}\n{"message":"next"}\n');
  const clean = createFileSink(path);
  await clean.write(ndjsonOfTexts(['{"message":"last"}']));
  await clean.close();
  t.match(readFileSync(path, 'utf8'), /"next"\}\n\{"message":"last"\}\n$/, 'a file that ends whole gets nothing added');
});

t.test('file sink: failures are clear, retried writes succeed once the cause is gone', async (t) => {
  const dir = t.testdir();
  const path = join(dir, 'blocked', 'out.ndjson');
  writeFileSync(join(dir, 'blocked'), 'a file where a directory should be');
  const sink = createFileSink(path);
  const err = await sink.write(ndjsonOfTexts(['x'])).then(() => undefined, (e: unknown) => e);
  t.type(err, SinkUnavailableError);
  t.match((err as Error).message, new RegExp(`file sink cannot append to ${path.replace(/[/.]/g, '\\$&')}: (ENOTDIR|EEXIST)`));
  t.equal(sink.available, false);
  // Fix the cause: the next write works and the sink is available again.
  rmSync(join(dir, 'blocked'));
  mkdirSync(join(dir, 'blocked'));
  await sink.write(ndjsonOfTexts(['y']));
  t.equal(sink.available, true);
  t.equal(readFileSync(path, 'utf8'), 'y\n');
  await sink.close();
});

t.test('createSink builds each kind', async (t) => {
  const dir = t.testdir();
  const { stream, chunks } = slowStream(0);
  const stdout = createSink('stdout', { stdout: stream });
  await stdout.write(ndjsonOfTexts(['s']));
  t.same(chunks, ['s\n']);
  const file = createSink(`file:${join(dir, 'f.ndjson')}`);
  await file.write(ndjsonOfTexts(['f']));
  t.equal(readFileSync(join(dir, 'f.ndjson'), 'utf8'), 'f\n');
  const http = createSink('http://127.0.0.1:9/none');
  t.equal(http.available, true);
  await Promise.all([stdout.close(), file.close(), http.close()]);
});

t.test('NDJSON encoders: same bytes as joining, across growth and multi-byte characters', async (t) => {
  const lines = ['{"a":"é"}', `{"big":"${'😀'.repeat(300_000)}"}`, '{}', `{"z":"${'x'.repeat(700_000)}"}`];
  const expected = Buffer.from(lines.join('\n') + '\n');
  const exact = ndjsonOfTexts(lines);
  t.ok(exact.bytes.equals(expected), 'texts, in a buffer of their exact size');
  t.equal(exact.bytes.buffer.byteLength >= exact.bytes.length, true);
  t.equal(exact.events, 4);
  t.same(ndjsonOfTexts([]), { bytes: Buffer.alloc(0), events: 0 });
  // Records that state their size honestly (maxBytes) write through utf8(), which checks its own room.
  const records = lines.map((json) => textRecord(json));
  t.ok(ndjsonOfRecords(records).bytes.equals(expected), 'records, in a buffer of their own');
  const reused = new ByteWriter(16);
  t.ok(ndjsonOfRecords(records, reused).bytes.equals(expected), 'records, in a reused writer grown past its first megabyte');
  const again = ndjsonOfRecords(records.slice(2, 3), reused);
  t.ok(again.bytes.equals(Buffer.from('{}\n')), 'and reused from its start');
  t.equal(again.events, 1);
});
