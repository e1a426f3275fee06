/**
 * Raw events as shippers post them: the configurable input field names (Vector's file source,
 * Fluent Bit's tail with and without its cri parser), raw CRI and Docker lines, decoded messages,
 * pass-through fields, and a clear error naming the field for every kind of bad input.
 */
import t, { type Test } from 'tap';
import { criLine, dockerLine } from '../builders/lines.ts';
import { cluster, counterValue, harness, k8s, logPath, START_MS } from './helpers.ts';

function setup(t: Test) {
  const c = cluster();
  t.teardown(() => c.close());
  const pod = c.addPod({ name: 'api-0', namespace: 'default', labels: { app: 'api' }, containers: ['api'] });
  return { c, pod, file: logPath(pod) };
}

t.test('raw CRI and Docker lines in `line`, decoded `message` with timestamp and stream', async (t) => {
  const { c, file } = setup(t);
  const h = harness(c);
  const result = h.run([
    { file, line: criLine({ ts: '2026-11-23T10:00:00.5Z', stream: 'stderr', message: 'cri line' }) },
    { file, line: dockerLine({ time: '2026-11-23T10:00:01.25Z', stream: 'stdout', message: 'docker "quoted" line\twith tab' }) },
    { file, line: criLine({ message: 'with newline', newline: '\n' }) },
    { file, message: 'decoded', timestamp: '2026-11-23T10:00:02Z', stream: 'stderr' },
    { file, message: 'no timestamp, no stream' },
  ]);
  t.same(result.errors, []);
  const events = result.records.map((r) => JSON.parse(r.json) as Record<string, unknown>);
  t.same(
    events.map((e) => [e.timestamp, e.stream, e.message]),
    [
      ['2026-11-23T10:00:00.5Z', 'stderr', 'cri line'],
      ['2026-11-23T10:00:01.25Z', 'stdout', 'docker "quoted" line\twith tab'],
      ['2026-11-23T10:00:00.123456789Z', 'stdout', 'with newline'],
      ['2026-11-23T10:00:02Z', 'stderr', 'decoded'],
      [new Date(START_MS).toISOString(), undefined, 'no timestamp, no stream'],
    ],
  );
  t.notOk('stream' in events[4]!, 'an unknown stream is left out, not guessed');
  for (const e of events) t.equal(k8s(e).pod_name, 'api-0');
});

t.test("Vector's file source events fit unchanged (the raw line is in `message`)", async (t) => {
  const { c, file } = setup(t);
  const h = harness(c, { input: { line: 'message' } });
  const vectorEvent = {
    file,
    host: 'node-a',
    message: criLine({ ts: '2026-11-23T10:00:00.1Z', stream: 'stdout', message: 'hello from vector' }),
    source_type: 'file',
    timestamp: '2026-11-23T10:00:07.000Z',
  };
  const [event] = h.parsed([vectorEvent]);
  t.equal(event!.message, 'hello from vector', 'the raw line in `message` is decoded');
  t.equal(event!.timestamp, '2026-11-23T10:00:00.1Z', "the runtime's timestamp, not the read time");
  t.equal(event!.source_type, 'kubernetes_logs', 'output fields win over pass-through ones');
  t.equal(event!.host, 'node-a', 'other fields pass through');
  t.equal(k8s(event).pod_name, 'api-0');
});

t.test("Fluent Bit's tail records fit unchanged, with or without its cri parser", async (t) => {
  const { c, file } = setup(t);
  const input = { file: 'filename', line: 'log', message: 'log', timestamp: 'time', stream: 'stream' };
  const h = harness(c, { schema: 'fluentbit', input });
  // No parser: `log` holds the runtime's line.
  const raw = { filename: file, log: criLine({ ts: '2026-11-23T10:00:00.2Z', stream: 'stderr', message: 'raw in log' }) };
  // The cri parser ran: `log` holds the message, with `time`, `stream` and `logtag` beside it.
  const parsed = { filename: file, time: '2026-11-23T10:00:00.3Z', stream: 'stdout', logtag: 'F', log: 'parsed in log' };
  const [a, b] = h.parsed([raw, parsed]);
  t.same([a!.log, a!.stream, a!.time, a!.filename], ['raw in log', 'stderr', '2026-11-23T10:00:00.2Z', file]);
  t.same([b!.log, b!.stream, b!.time, b!.filename], ['parsed in log', 'stdout', '2026-11-23T10:00:00.3Z', file]);
  t.equal(b!.logtag, 'F', 'fields the enricher does not use pass through');
  t.equal(k8s(b).pod_name, 'api-0');
});

t.test('pass-through fields keep their values and types', async (t) => {
  const { c, file } = setup(t);
  const h = harness(c);
  const extra = { n: 1.5, ok: true, nothing: null, list: [1, 'two', { three: 3 }], nested: { 'k.with.dots': 'ünïcödé ✓', quote: '"' } };
  const [event] = h.parsed([{ file, line: criLine({ message: 'x' }), ...extra, kubernetes: 'shadowed', undef: undefined }]);
  for (const [key, value] of Object.entries(extra)) t.same(event![key], value, key);
  t.equal(typeof event!.kubernetes, 'object', 'a pass-through field cannot replace an output field');
  t.notOk('undef' in event!);
  t.notOk('line' in event!, 'input fields are consumed');
});

t.test('a pass-through field that cannot be written back is an error for its event, never a missing field', async (t) => {
  const { c, file } = setup(t);
  const h = harness(c);
  // JSON.parse reads any depth; writing it back recurses, and 100,000 levels overflow any stack.
  const depth = 100_000;
  const deep: unknown = JSON.parse('['.repeat(depth) + ']'.repeat(depth));
  const cyclic: Record<string, unknown> = { name: 'loop' };
  cyclic.self = cyclic;
  const line = criLine({ message: 'x' });
  const result = h.run([
    { file, line, ok: 'kept' },
    { file, line, deep },
    { file, line, cyclic },
    { file, line, big: 10n },
    { file, line: criLine({ message: 'first half', partial: true }), deep },
    { file, line: criLine({ message: 'ends the line' }), ok: 'fine' },
  ]);
  t.same(
    result.errors.map((e) => [e.index, e.field]),
    [
      [1, 'deep'],
      [2, 'cyclic'],
      [3, 'big'],
      [4, 'deep'],
    ],
  );
  t.match(result.errors[0]!.error, /nested too deeply/);
  t.match(result.errors[1]!.error, /cannot be written as JSON: .*circular/i);
  t.match(result.errors[2]!.error, /cannot be written as JSON: .*BigInt/);
  const events = result.records.map((r) => JSON.parse(r.json) as Record<string, unknown>);
  t.same(
    events.map((e) => [e.message, e.ok]),
    [
      ['x', 'kept'],
      ['ends the line', 'fine'],
    ],
    'the other events are answered, a rejected fragment takes no part in a merge',
  );
  t.equal(await counterValue(h.metrics, 'eventErrors', { reason: 'unserialisable_field' }), 4);
});

t.test('bad input: an error per event naming the configured field, the rest of the batch goes on', async (t) => {
  const { c, file } = setup(t);
  const h = harness(c, { input: { file: 'path' } });
  const good = { path: file, line: criLine({ message: 'fine' }) };
  const events: unknown[] = [
    42,
    null,
    ['an', 'array'],
    good,
    { path: 7, line: criLine({ message: 'x' }) },
    { path: file, line: { not: 'a string' } },
    { path: file, line: 'garbage that is no runtime line' },
    { path: file, line: '2026-11-23T10:00:00Z stdin F x' },
    { path: file },
    { path: file, message: 12 },
    { path: file, message: 'x', timestamp: 'yesterday' },
    { path: file, message: 'x', timestamp: 1795428000 },
    { path: file, message: 'x', stream: 'stdin' },
    good,
  ];
  const result = h.run(events);
  t.equal(result.records.length, 2, 'the good events are enriched');
  t.same(
    result.errors.map((e) => [e.index, e.field]),
    [
      [0, '(event)'],
      [1, '(event)'],
      [2, '(event)'],
      [4, 'path'],
      [5, 'line'],
      [6, 'line'],
      [7, 'line'],
      [8, 'line'],
      [9, 'message'],
      [10, 'timestamp'],
      [11, 'timestamp'],
      [12, 'stream'],
    ],
  );
  const byIndex = new Map(result.errors.map((e) => [e.index, e.error]));
  t.match(byIndex.get(0), /must be a JSON object, got a number/);
  t.match(byIndex.get(2), /got an array/);
  t.match(byIndex.get(4), /must be a string \(the log file path\), got a number/);
  t.match(byIndex.get(6), /^unknown_format: /);
  t.match(byIndex.get(7), /^malformed_cri: .*stdout.*stderr/);
  t.match(byIndex.get(8), /missing: give "line" .* or "message"/);
  t.match(byIndex.get(10), /RFC 3339.*"yesterday"/);
  t.match(byIndex.get(12), /"stdout" or "stderr", got "stdin"/);
  t.equal(await counterValue(h.metrics, 'eventErrors', { reason: 'not_an_object' }), 3);
  t.equal(await counterValue(h.metrics, 'eventErrors', { reason: 'invalid_field' }), 6);
  t.equal(await counterValue(h.metrics, 'eventErrors', { reason: 'undecodable_line' }), 2);
  t.equal(await counterValue(h.metrics, 'eventErrors', { reason: 'missing_field' }), 1);
  t.equal(await counterValue(h.metrics, 'eventsIn', { route: 'enrich' }), events.length);
  t.equal(await counterValue(h.metrics, 'eventsOut', { route: 'enrich' }), 2);
});

t.test('with `line` and `message` the same field, a value that is no runtime line is the message', async (t) => {
  const { c, file } = setup(t);
  const h = harness(c, { input: { line: 'log', message: 'log' } });
  const result = h.run([{ file, log: '{"level":"info","msg":"app json"}' }, { file, log: dockerLine({ message: 'docker raw' }) }, { file, log: 3 }]);
  const events = result.records.map((r) => JSON.parse(r.json) as Record<string, unknown>);
  t.equal(events[0]!.message, '{"level":"info","msg":"app json"}');
  t.equal(events[1]!.message, 'docker raw');
  t.same(result.errors, [{ index: 2, field: 'log', error: 'must be a string (the line as the runtime wrote it), got a number' }]);
});

t.test('a session from another enricher is refused', async (t) => {
  const { c } = setup(t);
  const a = harness(c);
  const b = harness(c);
  t.throws(() => a.enricher.enrichBatch([], b.session), /session must come from this enricher/);
  t.throws(() => a.enricher.enrichBatch([], { flush: () => ({ records: [], errors: [], excluded: 0, merged: 0 }), flushExpired: () => ({ records: [], errors: [], excluded: 0, merged: 0 }), nextFlushAt: () => undefined, pendingBytes: 0, maxFlushDelayMs: 0 }), TypeError);
});
