/**
 * Multi-line messages in `serve`, over real HTTP and WebSocket on loopback: joined within a POST
 * /v1/enrich batch (what is pending is flushed at its end) and across the messages of one
 * /v1/ingest connection (flushed by the connection's timer), in each output schema.
 */
import t from 'tap';
import { podFor } from '../../src/sim/index.ts';
import { criFragments, criLine, dockerLine, podLogPath, rfc3339 } from '../builders/lines.ts';
import { GO_TRACE, JAVA_TRACE, PLAIN_LINES, PYTHON_TRACE } from '../builders/traces.ts';
import { ndjson, parseNdjson, post, sampleValue, scrape, startStack, waitFor, WsClient } from './harness.ts';

const ANNOTATION = 'logs.kube-log-enricher.io/multiline';
const TRACES_POD = { namespace: 'shop', name: 'traces-0', uid: '0b6c1f0e-0000-4000-8000-00000000b001' };
const NDJSON_HEADERS = { 'content-type': 'application/x-ndjson' };

/** The field holding the message, per schema. */
const MESSAGE_FIELD = { vector: 'message', fluentbit: 'log', otel: 'body' } as const;

function file(container: string): string {
  return podLogPath({ ...TRACES_POD, pod: TRACES_POD.name, container });
}

let ms = Date.UTC(2026, 11, 5, 10, 0, 0);
/** A raw event of the traces pod: a CRI line with a fresh timestamp. */
function ev(container: string, message: string, stream: 'stdout' | 'stderr' = 'stderr') {
  return { file: file(container), line: criLine({ ts: rfc3339(++ms), stream, message }) };
}

async function stack(t: Parameters<typeof startStack>[0], schema: keyof typeof MESSAGE_FIELD, flushTimeout = '300ms', maxBytes = '256KiB') {
  return startStack(t, {
    config: { enrichment: { schema, multiline: { flushTimeout, maxBytes } } },
    beforeReflectors: (sim) =>
      void sim.create(
        'pods',
        podFor({
          ...TRACES_POD,
          containers: ['java', 'python', 'go', 'custom', 'invalid'],
          annotations: { [ANNOTATION]: 'java', [`${ANNOTATION}-python`]: 'python', [`${ANNOTATION}-go`]: 'go', [`${ANNOTATION}-custom`]: '^\\[', [`${ANNOTATION}-invalid`]: '(a+)+$' },
        }),
      ),
  });
}

for (const schema of ['vector', 'fluentbit', 'otel'] as const) {
  t.test(`POST /v1/enrich (${schema}): records joined within the batch, the pending one flushed at its end`, async (t) => {
    const s = await stack(t, schema);
    const field = MESSAGE_FIELD[schema];
    const events: unknown[] = [];
    // Java on stderr with stdout lines between; one frame split by the runtime into P/F fragments.
    JAVA_TRACE.forEach((line, i) => {
      if (i === 1) for (const f of criFragments(line, { size: 10, stream: 'stderr' })) events.push({ file: file('java'), line: f });
      else events.push(ev('java', line));
      events.push(ev('java', `request ${i}`, 'stdout'));
    });
    for (const line of [PLAIN_LINES[0]!, ...PYTHON_TRACE]) events.push(ev('python', line));
    // Go as Docker writes it (the message kept as JSON text until it is joined).
    for (const line of GO_TRACE) events.push({ file: file('go'), line: dockerLine({ message: line, stream: 'stderr', time: rfc3339(++ms) }) });
    for (const line of ['[1] start', '  more', '[2] next']) events.push(ev('custom', line, 'stdout'));
    for (const line of JAVA_TRACE.slice(0, 2)) events.push(ev('invalid', line));

    const res = await post(`${s.url}/v1/enrich`, ndjson(events), NDJSON_HEADERS);
    t.equal(res.status, 200);
    const out = parseNdjson(res.text);
    const messages = (container: string) => out.filter((e) => JSON.stringify(e).includes(`"${file(container)}"`)).map((e) => e[field]);
    t.same(messages('java'), [...JAVA_TRACE.map((_, i) => `request ${i}`), JAVA_TRACE.join('\n')], 'stdout lines as they come; the stderr trace once it ended (at the end of the batch)');
    t.same(messages('python'), [PLAIN_LINES[0], PYTHON_TRACE.join('\n')]);
    t.same(messages('go'), [GO_TRACE.join('\n')]);
    t.same(messages('custom'), ['[1] start\n  more', '[2] next']);
    t.same(messages('invalid'), JAVA_TRACE.slice(0, 2), 'an unusable annotation is ignored');

    // The next request starts afresh: nothing was held over.
    const next = parseNdjson((await post(`${s.url}/v1/enrich`, ndjson([ev('java', '\tat x.Y.z(Y.java:1)')]), NDJSON_HEADERS)).text);
    t.same(next.map((e) => e[field]), ['\tat x.Y.z(Y.java:1)']);
    const samples = await scrape(s.url);
    t.equal(sampleValue(samples, 'kube_log_enricher_multiline_events_total'), 4);
    t.ok(sampleValue(samples, 'kube_log_enricher_multiline_invalid_annotations_total') >= 1);
  });
}

t.test('/v1/ingest: a record continues across the messages of one connection and is flushed by its timer', async (t) => {
  const s = await stack(t, 'vector', '300ms');
  const client = await WsClient.open(`${s.url}/v1/ingest`);
  t.teardown(() => client.close());
  client.socket.send(ndjson(JAVA_TRACE.slice(0, 3).map((l) => ev('java', l))));
  client.socket.send(ndjson([ev('java', 'between', 'stdout')]));
  client.socket.send(ndjson(JAVA_TRACE.slice(3).map((l) => ev('java', l))));
  // Nothing ends the trace: the flush timeout does.
  await client.until(() => client.events().length === 2, 'the stdout line, then the trace');
  t.same(client.events().map((e) => e.message), ['between', JAVA_TRACE.join('\n')]);
  // A Python trace ends with its last line, within the next message.
  client.socket.send(ndjson(PYTHON_TRACE.slice(0, 2).map((l) => ev('python', l))));
  client.socket.send(ndjson(PYTHON_TRACE.slice(2).map((l) => ev('python', l))));
  await client.until(() => client.events().length === 3, 'the python trace');
  t.equal(client.events()[2]!.message, PYTHON_TRACE.join('\n'));
});

t.test('maxBytes: a long record goes out in parts within one request', async (t) => {
  const s = await stack(t, 'vector', '300ms', '200B');
  const trace = ['java.lang.RuntimeException: deep', ...Array.from({ length: 20 }, (_, i) => `\tat com.example.Frame${i}.call(Frame.java:${i})`)];
  const out = parseNdjson((await post(`${s.url}/v1/enrich`, ndjson(trace.map((l) => ev('java', l))), NDJSON_HEADERS)).text);
  const parts = out.map((e) => e.message as string);
  t.ok(parts.length > 1, `${parts.length} parts`);
  t.ok(parts.every((p) => Buffer.byteLength(p) <= 200));
  t.equal(parts.join('\n'), trace.join('\n'));
  t.equal(sampleValue(await scrape(s.url), 'kube_log_enricher_multiline_splits_total'), parts.length - 1);
});

t.test('/v1/ingest: the annotation removed while a record is held: the record goes out first, then lines as they are', async (t) => {
  // A flush timeout that never fires during the test.
  const s = await stack(t, 'vector', '1h');
  const client = await WsClient.open(`${s.url}/v1/ingest`);
  t.teardown(() => client.close());
  client.socket.send(ndjson(JAVA_TRACE.slice(0, 3).map((l) => ev('java', l))));
  client.socket.send(ndjson([ev('java', 'between', 'stdout')]));
  await client.until(() => client.events().length === 1, 'the stdout line');
  const pod = s.store.reader().podByUid(TRACES_POD.uid)!;
  const current = s.sim.update('pods', { ...podFor({ ...TRACES_POD, containers: ['java'] }) });
  t.ok(current.metadata.annotations?.[ANNOTATION] === undefined, 'the pod no longer carries the annotation');
  await waitFor(() => (s.store.reader().podByUid(TRACES_POD.uid)?.version ?? pod.version) !== pod.version, 'the store has the new pod');
  client.socket.send(ndjson([ev('java', JAVA_TRACE[3]!), ev('java', JAVA_TRACE[4]!)]));
  await client.until(() => client.events().length === 4, 'the held record, then the two lines');
  t.same(client.events().map((e) => e.message), ['between', JAVA_TRACE.slice(0, 3).join('\n'), JAVA_TRACE[3], JAVA_TRACE[4]]);
});
