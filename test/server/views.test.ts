/**
 * POST /v1/views over real HTTP (the service as `serve` starts it, a simulated API server): per
 * file, known / excluded / multiline as the enricher decides them for events, following the
 * store; bad input answered 400 naming the field; auth like every /v1 route. And
 * `multiline=false` on /v1/enrich and /v1/ingest: lines of an annotated pod go out unjoined.
 */
import t from 'tap';
import { podFor } from '../../src/sim/index.ts';
import { MAX_VIEW_FILES } from '../../src/protocol/index.ts';
import { criLine, podLogPath, rfc3339 } from '../builders/lines.ts';
import { JAVA_TRACE } from '../builders/traces.ts';
import { fileOf, ndjson, parseNdjson, post, startStack, waitFor, WsClient } from './harness.ts';

const ANNOTATION = 'logs.kube-log-enricher.io/multiline';
const EXCLUDE = 'logs.kube-log-enricher.io/exclude';
const TRACES = { namespace: 'shop', name: 'traces-0', uid: '0b6c1f0e-0000-4000-8000-00000000c001' };
const JSON_HEADERS = { 'content-type': 'application/json' };

function tracesFile(container: string): string {
  return podLogPath({ ...TRACES, pod: TRACES.name, container });
}

async function stack(t: Parameters<typeof startStack>[0], config: Record<string, unknown> = {}) {
  return startStack(t, {
    config,
    beforeReflectors: (sim) =>
      void sim.create('pods', podFor({ ...TRACES, containers: ['java', 'custom', 'invalid'], annotations: { [ANNOTATION]: 'java', [`${ANNOTATION}-custom`]: '^\\[', [`${ANNOTATION}-invalid`]: '(a+)+$' } })),
  });
}

interface View {
  file: string;
  known: boolean;
  excluded: boolean;
  multiline: string | null;
}

async function views(url: string, files: readonly string[], headers: Record<string, string> = JSON_HEADERS): Promise<View[]> {
  const res = await post(`${url}/v1/views`, JSON.stringify({ files }), headers);
  if (res.status !== 200) throw new Error(`HTTP ${res.status}: ${res.text}`);
  return (JSON.parse(res.text) as { views: View[] }).views;
}

t.test('answers per file, in order: known, excluded, the multiline rule as annotated; follows the store', async (t) => {
  const s = await stack(t);
  const cart = s.pod('cart');
  const unknown = podLogPath({ namespace: 'shop', pod: 'gone-1', uid: '0b6c1f0e-0000-4000-8000-00000000c0ff', container: 'app' });
  const files = [tracesFile('java'), tracesFile('custom'), tracesFile('invalid'), fileOf(cart), unknown, '/not/a/pod/log.txt'];
  t.same(await views(s.url, files), [
    { file: files[0], known: true, excluded: false, multiline: 'java' },
    { file: files[1], known: true, excluded: false, multiline: '^\\[' },
    { file: files[2], known: true, excluded: false, multiline: null },
    { file: files[3], known: true, excluded: false, multiline: null },
    { file: unknown, known: false, excluded: false, multiline: null },
    { file: '/not/a/pod/log.txt', known: false, excluded: false, multiline: null },
  ]);
  t.same(await views(s.url, []), [], 'an empty list is a valid question');

  s.sim.patchLabels('pods', cart.namespace, cart.name, { [EXCLUDE]: 'true' });
  await waitFor(async () => (await views(s.url, [fileOf(cart)]))[0]!.excluded, 'the exclusion seen');
  s.sim.patchLabels('pods', cart.namespace, cart.name, { [EXCLUDE]: null });
  await waitFor(async () => !(await views(s.url, [fileOf(cart)]))[0]!.excluded, 'the inclusion seen');
});

t.test('opt-in: a pod that did not opt in, and one not known once the pods are listed, are excluded', async (t) => {
  const s = await stack(t, { enrichment: { exclude: { mode: 'opt-in' } } });
  const unknown = podLogPath({ namespace: 'shop', pod: 'gone-1', uid: '0b6c1f0e-0000-4000-8000-00000000c0ff', container: 'app' });
  t.match(await views(s.url, [fileOf(s.pod('cart')), unknown]), [
    { known: true, excluded: true },
    { known: false, excluded: true },
  ]);
});

t.test('bad inputs: 400 naming the field, 413, 415, and a bearer token like every /v1 route', async (t) => {
  const s = await stack(t, { server: { authToken: 'views-token', maxBodyBytes: '64KiB' } });
  const auth = { ...JSON_HEADERS, authorization: 'Bearer views-token' };
  const ask = (body: string, headers: Record<string, string> = auth) => post(`${s.url}/v1/views`, body, headers);

  const unauthorised = await ask(JSON.stringify({ files: [] }), JSON_HEADERS);
  t.equal(unauthorised.status, 401);
  t.match(JSON.parse(unauthorised.text), { error: 'authentication required' });

  const cases: [string, string, RegExp][] = [
    ['not JSON', '{"files": [', /"field":"body"/],
    ['no files', '{}', /"field":"files"/],
    ['files not an array', '{"files": "/var/log/pods/x"}', /"field":"files"/],
    ['a path not a string', '{"files": ["/var/log/pods/a", 7]}', /"field":"files\.1"/],
    ['an empty path', '{"files": [""]}', /"field":"files\.0"/],
    ['a path too long', JSON.stringify({ files: ['/'.repeat(5000)] }), /"field":"files\.0"/],
    ['a bare array', '["/var/log/pods/a"]', /invalid body/],
  ];
  for (const [what, body, field] of cases) {
    const res = await ask(body);
    t.equal(res.status, 400, what);
    t.match(res.text, field, `${what}: names the field`);
  }

  const tooMany = await post(`${s.url}/v1/views`, JSON.stringify({ files: Array.from({ length: MAX_VIEW_FILES + 1 }, () => 'x') }), auth);
  t.equal(tooMany.status, 400, `more than ${MAX_VIEW_FILES} files`);
  t.match(tooMany.text, /"field":"files"/);

  const tooLarge = await ask(JSON.stringify({ files: Array.from({ length: 100 }, (_, i) => `/var/log/pods/${'p'.repeat(1000)}/${i}.log`) }));
  t.equal(tooLarge.status, 413, 'over server.maxBodyBytes');

  const text = await ask('files=/var/log/pods/a', { ...auth, 'content-type': 'text/plain' });
  t.equal(text.status, 415);
  t.match(JSON.parse(text.text), { details: [{ field: 'content-type', message: /application\/json/ }] });

  const ok = await ask(JSON.stringify({ files: [tracesFile('java')] }));
  t.equal(ok.status, 200);
  t.match(JSON.parse(ok.text), { views: [{ multiline: 'java' }] });
});

let ms = Date.UTC(2026, 11, 5, 11, 0, 0);
const javaEvents = () => JAVA_TRACE.map((message) => ({ file: tracesFile('java'), line: criLine({ ts: rfc3339(++ms), stream: 'stderr', message }) }));

t.test('multiline=false on /v1/enrich and /v1/ingest: an annotated pod\'s lines go out one by one', async (t) => {
  const s = await stack(t);
  const headers = { 'content-type': 'application/x-ndjson' };
  const joined = parseNdjson((await post(`${s.url}/v1/enrich`, ndjson(javaEvents()), headers)).text);
  t.equal(joined.length, 1, 'joined by default');
  const apart = parseNdjson((await post(`${s.url}/v1/enrich?multiline=false`, ndjson(javaEvents()), headers)).text);
  t.same(apart.map((e) => e.message), JAVA_TRACE, 'not joined with multiline=false');
  const bad = await post(`${s.url}/v1/enrich?multiline=maybe`, ndjson(javaEvents()), headers);
  t.equal(bad.status, 400);
  t.match(bad.text, /"field":"multiline"/);

  const ws = await WsClient.open(`${s.url}/v1/ingest?ack=true&multiline=false`);
  t.teardown(() => ws.socket.close());
  ws.socket.send(ndjson(javaEvents()));
  await waitFor(() => ws.messages.length >= 1, 'the answer');
  const [head, ...events] = parseNdjson(ws.messages[0]!);
  t.match(head, { ack: 1, events: JAVA_TRACE.length });
  t.same(events.map((e) => e.message), JAVA_TRACE, 'not joined over the WebSocket either');
});

t.test('acknowledged /v1/ingest joining for its client: a held record goes out with the next answer, an empty message will do', async (t) => {
  const s = await stack(t, { enrichment: { multiline: { flushTimeout: '100ms' } } });
  const ws = await WsClient.open(`${s.url}/v1/ingest?ack=true`);
  t.teardown(() => ws.socket.close());
  ws.socket.send(ndjson(javaEvents()));
  await waitFor(() => ws.messages.length >= 1, 'the first answer');
  t.match(parseNdjson(ws.messages[0]!)[0], { ack: 1, events: 0 }, 'the record is held: it may go on');
  await new Promise((resolve) => setTimeout(resolve, 300));
  t.equal(ws.messages.length, 1, 'no answer comes unasked');
  ws.socket.send('[]');
  await waitFor(() => ws.messages.length >= 2, 'the second answer');
  const [head, ...events] = parseNdjson(ws.messages[1]!);
  t.match(head, { ack: 2, events: 1 });
  t.equal(events[0]!.message, JAVA_TRACE.join('\n'), 'the overdue record, with the answer to an empty message');
});
