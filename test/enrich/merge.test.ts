/**
 * Partial lines within a session (one request, one /v1/ingest connection): merged per file and
 * stream, across batches, bounded in size, flushed at the end or after the timeout.
 */
import t, { type Test } from 'tap';
import { criLine, dockerLine } from '../builders/lines.ts';
import { cluster, counterValue, harness, k8s, logPath } from './helpers.ts';

const T = (s: number): string => `2026-11-23T10:00:0${s}.000000001Z`;

function setup(t: Test) {
  const c = cluster();
  t.teardown(() => c.close());
  const api = c.addPod({ name: 'api-0', namespace: 'default', containers: ['api'] });
  const web = c.addPod({ name: 'web-0', namespace: 'default', containers: ['web'] });
  return { c, apiFile: logPath(api), webFile: logPath(web) };
}

t.test('interleaved stdout and stderr fragments of one file merge per stream', async (t) => {
  const { c, apiFile: file } = setup(t);
  const h = harness(c);
  const result = h.run([
    { file, line: criLine({ ts: T(1), stream: 'stdout', partial: true, message: 'out-1 ' }), first: 'out' },
    { file, line: criLine({ ts: T(2), stream: 'stderr', partial: true, message: 'err-1 ' }), first: 'err' },
    { file, line: criLine({ ts: T(3), stream: 'stdout', partial: true, message: 'out-2 ' }), first: 'no' },
    { file, line: criLine({ ts: T(4), stream: 'stderr', message: 'err-2' }) },
    { file, line: criLine({ ts: T(5), stream: 'stdout', message: 'out-3' }) },
    { file, line: criLine({ ts: T(6), stream: 'stdout', message: 'whole' }) },
  ]);
  const events = result.records.map((r) => JSON.parse(r.json) as Record<string, unknown>);
  t.same(
    events.map((e) => [e.stream, e.message, e.timestamp, e.first]),
    [
      ['stderr', 'err-1 err-2', T(2), 'err'],
      ['stdout', 'out-1 out-2 out-3', T(1), 'out'],
      ['stdout', 'whole', T(6), undefined],
    ],
    'emitted when their final fragment arrives; first fragment\'s timestamp and pass-through fields',
  );
  t.equal(result.merged, 3, 'fragments folded into a later event');
  t.equal(await counterValue(h.metrics, 'eventsMerged'), 3);
  t.equal(await counterValue(h.metrics, 'eventsIn', { route: 'enrich' }), 6);
  t.equal(await counterValue(h.metrics, 'eventsOut', { route: 'enrich' }), 3);
  t.equal(k8s(events[0]).pod_name, 'api-0');
});

t.test('a line split across batches of one session (a /v1/ingest connection)', async (t) => {
  const { c, apiFile: file } = setup(t);
  const h = harness(c);
  const first = h.run([{ file, line: dockerLine({ time: T(1), partial: true, message: 'docker split ' }) }]);
  t.same(first.records, []);
  t.ok(h.session.pendingBytes > 0);
  const second = h.run([{ file, line: dockerLine({ time: T(2), message: 'ends here' }) }]);
  t.same(second.records.map((r) => (JSON.parse(r.json) as Record<string, unknown>).message), ['docker split ends here']);
  t.equal(second.merged, 1);
  t.equal(h.session.pendingBytes, 0);
});

t.test('files do not mix; what is still open is emitted by flush()', async (t) => {
  const { c, apiFile, webFile } = setup(t);
  const h = harness(c);
  const result = h.run([
    { file: apiFile, line: criLine({ ts: T(1), partial: true, message: 'api half' }) },
    { file: webFile, line: criLine({ ts: T(2), message: 'web whole' }) },
  ]);
  t.same(result.records.map((r) => [r.origin.podName, (JSON.parse(r.json) as Record<string, unknown>).message]), [['web-0', 'web whole']]);
  const flushed = h.session.flush();
  t.same(flushed.records.map((r) => [r.origin.podName, (JSON.parse(r.json) as Record<string, unknown>).message]), [['api-0', 'api half']]);
  t.equal(h.session.pendingBytes, 0);
  t.same(h.session.flush().records, [], 'nothing twice');
});

t.test('sessions are separate: a fragment never waits for another request', async (t) => {
  const { c, apiFile: file } = setup(t);
  const h = harness(c);
  const other = h.enricher.newSession({ route: 'ingest' });
  h.run([{ file, line: criLine({ partial: true, message: 'in session one' }) }]);
  const result = h.enricher.enrichBatch([{ file, line: criLine({ message: 'in session two' }) }], other);
  t.same(result.records.map((r) => (JSON.parse(r.json) as Record<string, unknown>).message), ['in session two']);
  t.equal(await counterValue(h.metrics, 'eventsIn', { route: 'ingest' }), 1, 'the session\'s route labels its metrics');
  t.equal(await counterValue(h.metrics, 'eventsOut', { route: 'ingest' }), 1);
});

t.test('a final fragment that never comes: flushExpired after the timeout', async (t) => {
  const { c, apiFile: file } = setup(t);
  const h = harness(c, { partialFlushTimeoutMs: 5_000 });
  h.run([{ file, line: criLine({ ts: T(1), partial: true, message: 'no end' }) }]);
  const due = h.session.nextFlushAt();
  t.equal(due, c.clock.ms + 5_000);
  t.same(h.session.flushExpired().records, [], 'not yet');
  c.clock.advance(5_000);
  const flushed = h.session.flushExpired();
  t.same(flushed.records.map((r) => (JSON.parse(r.json) as Record<string, unknown>).message), ['no end']);
  t.equal(h.session.nextFlushAt(), undefined);
});

t.test('a merged line is cut at maxMergedLineBytes, the rest of it dropped', async (t) => {
  const { c, apiFile: file } = setup(t);
  const h = harness(c, { maxMergedLineBytes: 10 });
  const result = h.run([
    { file, line: criLine({ partial: true, message: 'abcdef' }) },
    { file, line: criLine({ partial: true, message: 'ghijkl' }) },
    { file, line: criLine({ message: 'mnop' }) },
    { file, line: criLine({ message: 'next' }) },
  ]);
  t.same(result.records.map((r) => (JSON.parse(r.json) as Record<string, unknown>).message), ['abcdefghij', 'next']);
  t.equal(await counterValue(h.metrics, 'linesTruncated', { reason: 'max_merged_line_bytes' }), 1);
});

t.test('merge bounds are checked when the enricher is made', async (t) => {
  const c = cluster();
  t.teardown(() => c.close());
  t.throws(() => harness(c, { maxMergedLineBytes: 0 }), RangeError);
  t.throws(() => harness(c, { partialFlushTimeoutMs: -1 }), RangeError);
});
