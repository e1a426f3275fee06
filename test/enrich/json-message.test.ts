/**
 * enrichment.parseJson and the parser annotation, through the real enricher and store: JSON
 * object messages become fields in all three schemas, never replacing an enrichment field; other
 * messages are left as they are and counted; the per-pod and per-container annotation.
 */
import t, { type Test } from 'tap';
import { loadConfig } from '../../src/config/index.ts';
import { ByteWriter, createEnricher, EnrichConfigError } from '../../src/enrich/index.ts';
import { createMetrics } from '../../src/metrics/index.ts';
import type { PodJson } from '../../src/sim/index.ts';
import { defaultEnricherOptions } from '../builders/defaults.ts';
import { criLine, dockerLine } from '../builders/lines.ts';
import { cluster, counterValue, harness, k8s, logPath, type Cluster } from './helpers.ts';

const TS = '2026-11-23T10:00:00.123456789Z';
const JSON_MESSAGE = '{"level":"error","msg":"payment failed","kubernetes":"spoofed","latency_ms":12.5,"user":{"id":7}}';

function fixture(t: Test, annotations: Record<string, string> = {}): { c: Cluster; pod: PodJson } {
  const c = cluster();
  c.addNamespace({ name: 'shop' });
  c.addNode({ name: 'node-a' });
  const pod = c.addPod({
    name: 'cart-0',
    namespace: 'shop',
    nodeName: 'node-a',
    annotations,
    containers: [{ name: 'cart', image: 'cart:1' }, { name: 'envoy', image: 'envoy:1' }],
  });
  t.teardown(() => c.close());
  return { c, pod };
}

t.test('vector: members into the root, the enrichment fields untouched, the message kept', async (t) => {
  const { c, pod } = fixture(t);
  const h = harness(c, { schema: 'vector', parseJson: { enabled: true } });
  const [event] = h.parsed([{ file: logPath(pod, 'cart'), line: criLine({ ts: TS, message: JSON_MESSAGE }) }]);
  t.equal(event!.level, 'error');
  t.equal(event!.msg, 'payment failed');
  t.equal(event!.latency_ms, 12.5);
  t.same(event!.user, { id: 7 });
  t.equal(k8s(event).pod_name, 'cart-0', '"kubernetes" in the message does not replace the enrichment');
  t.equal(event!.message, JSON_MESSAGE, 'the message kept');
});

t.test('vector and fluentbit: under a target, the message dropped', async (t) => {
  const { c, pod } = fixture(t);
  const v = harness(c, { schema: 'vector', parseJson: { enabled: true, target: 'json', keepMessage: false } });
  const [a] = v.parsed([{ file: logPath(pod, 'cart'), line: criLine({ ts: TS, stream: 'stderr', message: JSON_MESSAGE }) }]);
  t.same(a!.json, JSON.parse(JSON_MESSAGE));
  t.notOk('message' in a!, 'the message field dropped');
  t.equal(a!.stream, 'stderr', 'the rest of the record as usual');

  const f = harness(c, { schema: 'fluentbit', parseJson: { enabled: true, keepMessage: false } });
  const [b] = f.parsed([{ file: logPath(pod, 'cart'), line: dockerLine({ time: TS, message: JSON_MESSAGE }) }]);
  t.equal(b!.level, 'error', 'from a Docker json-file line too');
  t.notOk('log' in b!, 'fluentbit\'s log field dropped');
  const [plain] = f.parsed([{ file: logPath(pod, 'cart'), line: dockerLine({ time: TS, message: 'plain text' }) }]);
  t.equal(plain!.log, 'plain text', 'a message that is not JSON keeps its field even with keepMessage false');
});

t.test('otel: the body becomes a map', async (t) => {
  const { c, pod } = fixture(t);
  const h = harness(c, { schema: 'otel', parseJson: { enabled: true } });
  const [event] = h.parsed([{ file: logPath(pod, 'cart'), line: criLine({ ts: TS, message: JSON_MESSAGE }) }]);
  t.same(event!.body, JSON.parse(JSON_MESSAGE));
  t.equal((event!.resource as Record<string, unknown>)['k8s.pod.name'], 'cart-0');
});

t.test('other messages are left as they are, and counted', async (t) => {
  const { c, pod } = fixture(t);
  const h = harness(c, { schema: 'vector', parseJson: { enabled: true } });
  const messages = ['{"unclosed": ', 'plain text', '[1,2]', '  {"ok":true}  ', '42', '{}'];
  const events = h.parsed(messages.map((message) => ({ file: logPath(pod, 'cart'), line: criLine({ ts: TS, message }) })));
  t.same(events.map((e) => e.message), messages, 'every message kept as written');
  t.equal(events[3]!.ok, true, 'spaces around an object are fine');
  t.equal(await counterValue(h.metrics, 'jsonMessages', { result: 'parsed' }), 2);
  t.equal(await counterValue(h.metrics, 'jsonMessages', { result: 'invalid' }), 1);
  t.equal(await counterValue(h.metrics, 'jsonMessages', { result: 'not_an_object' }), 3);
  const deep = '['.repeat(20_000) + ']'.repeat(20_000);
  const [nested] = h.parsed([{ file: logPath(pod, 'cart'), line: criLine({ ts: TS, message: `{"a":${deep}}` }) }]);
  t.equal(nested!.message, `{"a":${deep}}`, 'nested too deeply to write back: left as it is, no crash');
});

t.test('pass-through fields keep their value', async (t) => {
  const { c, pod } = fixture(t);
  const h = harness(c, { schema: 'vector', parseJson: { enabled: true } });
  const [event] = h.parsed([{ file: logPath(pod, 'cart'), line: criLine({ ts: TS, message: '{"level":"info","host":"from-message"}' }), host: 'from-shipper' }]);
  t.equal(event!.host, 'from-shipper');
  t.equal(event!.level, 'info');
});

t.test('the pod annotation: every container, or the named ones', async (t) => {
  const all = fixture(t, { 'logs.kube-log-enricher.io/parser': 'json' });
  const h = harness(all.c, { schema: 'vector' });
  const [a] = h.parsed([{ file: logPath(all.pod, 'envoy'), line: criLine({ ts: TS, message: '{"x":1}' }) }]);
  t.equal(a!.x, 1, 'json: every container');

  const one = fixture(t, { 'logs.kube-log-enricher.io/parser': 'json/cart' });
  const g = harness(one.c, { schema: 'vector' });
  const [cart, envoy] = g.parsed([
    { file: logPath(one.pod, 'cart'), line: criLine({ ts: TS, message: '{"x":1}' }) },
    { file: logPath(one.pod, 'envoy'), line: criLine({ ts: TS, message: '{"x":1}' }) },
  ]);
  t.equal(cart!.x, 1, 'json/cart: the cart container');
  t.notOk('x' in envoy!, 'not the envoy container');

  const none = harness(one.c, { schema: 'vector', parseJson: { annotation: 'example.com/parse' } });
  const [other] = none.parsed([{ file: logPath(one.pod, 'cart'), line: criLine({ ts: TS, message: '{"x":1}' }) }]);
  t.notOk('x' in other!, 'another annotation key configured: this one means nothing');
});

t.test('records written as bytes equal their text, parsed or not, message kept or dropped', async (t) => {
  const { c, pod } = fixture(t);
  for (const schema of ['vector', 'fluentbit', 'otel'] as const) {
    for (const keepMessage of [true, false]) {
      const h = harness(c, { schema, parseJson: { enabled: true, keepMessage } });
      const { records } = h.run([
        { file: logPath(pod, 'cart'), line: criLine({ ts: TS, message: JSON_MESSAGE }) },
        { file: logPath(pod, 'cart'), line: criLine({ ts: TS, stream: 'stderr', message: '{"é":"ü ☕","n":null}' }), extra: 'pass' },
        { file: logPath(pod, 'cart'), line: criLine({ ts: TS, message: 'not json' }) },
      ]);
      for (const r of records) {
        const out = new ByteWriter();
        r.writeTo(out);
        t.equal(out.view().toString('utf8'), r.json, `${schema}, keepMessage ${keepMessage}: the same bytes`);
        t.ok(out.length <= r.maxBytes, 'within maxBytes');
      }
    }
  }
});

t.test('bad settings', async (t) => {
  const c = cluster();
  t.teardown(() => c.close());
  t.throws(
    () => createEnricher(defaultEnricherOptions({ schema: 'vector', parseJson: { target: 'kubernetes' } }), { store: c.store.reader(), metrics: createMetrics(undefined, { processMetrics: false }), now: c.clock.now }),
    EnrichConfigError,
    'a target that is an enrichment field is refused at start-up',
  );
  const bad = loadConfig({ argv: ['--config', 'c.json'], env: {}, cwd: '/', readFile: () => JSON.stringify({ enrichment: { parseJson: { enabled: 'yes', extra: 1 } } }) });
  t.equal(bad.ok, false);
  t.match(JSON.stringify(bad), 'enrichment.parseJson.enabled');
});
