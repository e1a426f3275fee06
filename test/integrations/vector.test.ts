/**
 * The Vector recipe of docs/integrations.md: Vector's `file` source events, posted by its `http`
 * sink to /v1/forward exactly as the documented sink configuration encodes them, enriched by the
 * service configured as the recipe says, and delivered by our HTTP sink to a loopback stand-in for
 * Vector's `http_server` source.
 */
import t from 'tap';
import { createSink } from '../../src/sink/index.ts';
import { criLine, dockerLine } from '../builders/lines.ts';
import { serviceConfig, yamlRecipe } from './recipes.ts';
import { vectorCompressed, vectorFileEvent, vectorHttpRequest } from './shippers.ts';
import { ManualClock, NdjsonReceiver, send, startRecipeStack } from './stack.ts';

const TOKEN = 'vector-to-kle-token';
const ENV = { KLE_TOKEN: TOKEN };

interface VectorSink {
  type: string;
  uri: string;
  encoding?: { codec?: string };
  framing?: { method?: string };
  auth?: { strategy?: string; token?: string };
  batch?: { max_bytes?: number; max_events?: number };
}

function sinkOf(config: Record<string, unknown>, name: string): VectorSink {
  const sink = (config.sinks as Record<string, VectorSink> | undefined)?.[name];
  if (sink === undefined) throw new Error(`no sink ${name}`);
  return sink;
}

const vector = yamlRecipe('vector/vector.yaml');
const forwardSink = sinkOf(vector, 'kube_log_enricher');
const arraySink = sinkOf(yamlRecipe('vector/sink-json-array.yaml'), 'kube_log_enricher');
const config = serviceConfig('vector/kube-log-enricher.yaml');

t.test('the recipe is self-consistent', async (t) => {
  t.equal(forwardSink.type, 'http');
  t.equal(new URL(forwardSink.uri).pathname, '/v1/forward', 'Vector posts to /v1/forward');
  t.equal(new URL(forwardSink.uri).port, config.server.listen.split(':')[1], 'on the port the service listens on');
  t.equal(forwardSink.auth?.strategy, 'bearer');
  t.ok(config.server.authTokenFile, 'the service requires the token Vector sends');
  t.ok((forwardSink.batch?.max_bytes ?? Infinity) < config.server.maxBodyBytes, 'a full Vector batch is below server.maxBodyBytes (no 413)');
  t.same(config.enrichment.input, { file: 'file', line: 'message', message: 'message', timestamp: 'timestamp', stream: 'stream' });
  const source = (vector.sources as Record<string, { type: string; address?: string; decoding?: { codec?: string }; framing?: { method?: string } }>).enriched!;
  t.equal(source.type, 'http_server');
  t.equal(`http://${source.address}/`, config.source.sink, 'our sink posts to Vector\'s http_server source');
  t.same([source.decoding?.codec, source.framing?.method], ['json', 'newline_delimited'], 'which splits our NDJSON batches into events');
});

t.test('Vector http sink to /v1/forward and back into Vector', async (t) => {
  const receiver = await NdjsonReceiver.start(t);
  const clock = new ManualClock();
  // One attempt per write: the retry belongs to Vector, which gets our 503.
  const sink = createSink(receiver.url, { http: { attempts: 1, now: clock.now } });
  // The app shares the sink's clock: when it tries the sink again after a 503 is up to the test.
  const stack = await startRecipeStack(t, { config, sink, authToken: TOKEN, now: clock.now });
  const cart = stack.pod('cart');
  const db = stack.pod('db');
  const forwardUrl = (path: string) => `${stack.url}${path}`;

  /** A batch of Vector `file` source events: CRI lines, a split line, a Docker line, an unknown pod. */
  function batch(tag: string) {
    return [
      vectorFileEvent(cart.file, criLine({ ts: '2026-11-23T10:00:00.123456789Z', message: `GET /healthz 200 ${tag}` })),
      vectorFileEvent(cart.file, criLine({ ts: '2026-11-23T10:00:00.2Z', stream: 'stderr', message: `warn: slow ${tag}` })),
      vectorFileEvent(cart.file, criLine({ ts: '2026-11-23T10:00:00.3Z', partial: true, message: 'first half, ' })),
      vectorFileEvent(cart.file, criLine({ ts: '2026-11-23T10:00:00.3Z', message: `second half ${tag}` })),
      vectorFileEvent(db.file, dockerLine({ time: '2026-11-23T10:00:00.4Z', message: `checkpoint ${tag}` })),
      vectorFileEvent(stack.unknownPodFile, criLine({ ts: '2026-11-23T10:00:00.5Z', message: `orphan ${tag}` })),
    ];
  }

  t.test('NDJSON framing: every field of every event, in order, nothing lost', async (t) => {
    const request = vectorHttpRequest(forwardSink, batch('a'), ENV);
    t.equal(request.headers['content-type'], 'application/x-ndjson');
    t.notOk(request.body.endsWith('\n'), 'Vector sends no newline after the last event');
    const res = await send(forwardUrl(request.path), request);
    t.equal(res.status, 200, res.text);
    t.same(JSON.parse(res.text), { accepted: 5, errors: [] }, 'six lines, two of them one split line');

    t.equal(receiver.requests.at(-1)?.contentType, 'application/x-ndjson', 'our sink posts NDJSON');
    const [first, stderr, merged, docker, orphan, ...rest] = receiver.events.splice(0);
    t.same(rest, []);
    t.same(first, {
      timestamp: '2026-11-23T10:00:00.123456789Z',
      message: 'GET /healthz 200 a',
      stream: 'stdout',
      file: cart.file,
      source_type: 'kubernetes_logs',
      kubernetes: first!.kubernetes,
      host: 'node-a',
    }, 'the runtime\'s timestamp (not Vector\'s read time), the decoded message, Vector\'s host passed through');
    t.match(first!.kubernetes, {
      pod_name: cart.name,
      pod_namespace: 'shop',
      pod_uid: cart.uid,
      pod_labels: cart.labels,
      pod_node_name: 'node-a',
      pod_owner: 'ReplicaSet/cart-7d9f8',
      container_name: 'cart',
      container_image: cart.image,
      namespace_labels: { team: 'shop' },
      node_labels: { 'kubernetes.io/hostname': 'node-a' },
    });
    t.match(first!.kubernetes, { container_id: /^containerd:\/\/[0-9a-f]{64}$/, pod_ip: /^10\./ });
    t.notOk('unmatched_reason' in (first!.kubernetes as object));
    t.match(stderr, { message: 'warn: slow a', stream: 'stderr', timestamp: '2026-11-23T10:00:00.2Z' });
    t.match(merged, { message: 'first half, second half a', timestamp: '2026-11-23T10:00:00.3Z', kubernetes: { pod_name: cart.name } });
    t.match(docker, { message: 'checkpoint a', stream: 'stdout', file: db.file, kubernetes: { pod_name: db.name, pod_namespace: 'data', container_name: 'postgres' } });
    t.match(orphan, {
      message: 'orphan a',
      kubernetes: { pod_name: 'gone-6b7c8-zzzzz', pod_namespace: 'shop', container_name: 'gone', unmatched_reason: 'pod_not_found' },
    }, 'an unknown pod\'s line is delivered with what its path says');
  });

  t.test('JSON array codec (no framing): the same events', async (t) => {
    const request = vectorHttpRequest(arraySink, batch('b'), ENV);
    t.equal(request.headers['content-type'], 'application/json');
    t.ok(request.body.startsWith('[{') && request.body.endsWith('}]'));
    const res = await send(forwardUrl(request.path), request);
    t.equal(res.status, 200, res.text);
    t.same(JSON.parse(res.text), { accepted: 5, errors: [] });
    t.same(
      receiver.events.splice(0).map((e) => e.message),
      ['GET /healthz 200 b', 'warn: slow b', 'first half, second half b', 'checkpoint b', 'orphan b'],
    );
  });

  t.test('compression gzip, zlib and zstd: decoded, the same events', async (t) => {
    for (const compression of ['gzip', 'zlib', 'zstd']) {
      const request = vectorCompressed(vectorHttpRequest(forwardSink, batch(compression), ENV), compression);
      t.ok(Buffer.isBuffer(request.body) && request.headers['content-encoding'] !== undefined, `${compression}: sent compressed`);
      const res = await send(forwardUrl(request.path), request);
      t.equal(res.status, 200, `${compression}: ${res.text}`);
      t.same(JSON.parse(res.text), { accepted: 5, errors: [] });
      t.same(
        receiver.events.splice(0).map((e) => e.message),
        [`GET /healthz 200 ${compression}`, `warn: slow ${compression}`, `first half, second half ${compression}`, `checkpoint ${compression}`, `orphan ${compression}`],
      );
    }
  });

  t.test('compression snappy: 415 naming it (Vector drops the batch: do not configure it)', async (t) => {
    const request = vectorCompressed(vectorHttpRequest(forwardSink, batch('snappy'), ENV), 'snappy');
    const res = await send(forwardUrl(request.path), request);
    t.equal(res.status, 415);
    t.match(JSON.parse(res.text), { error: 'unsupported Content-Encoding: snappy', details: [{ field: 'content-encoding' }] });
    t.same(receiver.events, []);
  });

  t.test('an unusable event is reported in the 200 answer, the rest is delivered', async (t) => {
    const events = [vectorFileEvent(cart.file, criLine({ message: 'kept' })), { host: 'node-a', message: 'no path', source_type: 'file', timestamp: '2026-11-23T10:00:01.5Z' }];
    const res = await send(forwardUrl('/v1/forward'), vectorHttpRequest(forwardSink, events, ENV));
    t.equal(res.status, 200);
    t.same(JSON.parse(res.text), { accepted: 2, errors: [] }, 'a missing path is not an error: the event comes back unmatched');
    const [kept, noPath] = receiver.events.splice(0);
    t.equal(kept?.message, 'kept');
    t.match(noPath, { message: 'no path', kubernetes: { unmatched_reason: 'missing_file' } });

    const bad = [vectorFileEvent(cart.file, criLine({ message: 'kept too' })), { file: 42, message: 'x' }];
    const res2 = await send(forwardUrl('/v1/forward'), vectorHttpRequest(forwardSink, bad, ENV));
    t.equal(res2.status, 200);
    t.match(JSON.parse(res2.text), { accepted: 1, errors: [{ index: 1, field: 'file' }] });
    t.same(receiver.events.splice(0).map((e) => e.message), ['kept too']);
  });

  t.test('sink down: 503 with Retry-After; Vector\'s replay after recovery delivers once', async (t) => {
    const request = vectorHttpRequest(forwardSink, batch('c'), ENV);
    receiver.failWith = 503;
    const down = await send(forwardUrl(request.path), request);
    t.equal(down.status, 503, down.text);
    const retryAfter = Number(down.headers.get('retry-after'));
    t.ok(Number.isInteger(retryAfter) && retryAfter >= 1, `Retry-After is whole seconds (${retryAfter})`);
    t.match(JSON.parse(down.text), { error: /sink is unavailable/ });
    t.same(receiver.events, [], 'nothing was delivered');

    const attempts = receiver.requests.length;
    const early = await send(forwardUrl(request.path), request);
    t.equal(early.status, 503, 'a retry before Retry-After is answered at once');
    t.equal(receiver.requests.length, attempts, 'without hammering the sink');

    receiver.failWith = undefined;
    clock.advance(retryAfter * 1000);
    const replay = await send(forwardUrl(request.path), request);
    t.equal(replay.status, 200, replay.text);
    t.same(
      receiver.events.splice(0).map((e) => e.message),
      ['GET /healthz 200 c', 'warn: slow c', 'first half, second half c', 'checkpoint c', 'orphan c'],
      'the whole batch, once',
    );
  });

  t.test('a wrong or missing token is 401 (which Vector does not retry)', async (t) => {
    const request = vectorHttpRequest(forwardSink, batch('d'), { KLE_TOKEN: 'not-the-token' });
    const wrong = await send(forwardUrl(request.path), request);
    t.equal(wrong.status, 401);
    t.match(JSON.parse(wrong.text), { error: 'invalid token', details: [{ field: 'authorization' }] });
    const { authorization: _dropped, ...noAuth } = request.headers;
    const missing = await send(forwardUrl(request.path), { headers: noAuth, body: request.body });
    t.equal(missing.status, 401);
    t.same(receiver.events, []);
  });

  t.test('what our sink sent is what Vector\'s http_server source splits into events', async (t) => {
    const request = vectorHttpRequest(forwardSink, [vectorFileEvent(cart.file, criLine({ message: 'line with "quotes" and \\ and é' }))], ENV);
    t.equal((await send(forwardUrl(request.path), request)).status, 200);
    const [event] = receiver.events.splice(0);
    t.equal(event?.message, 'line with "quotes" and \\ and é', 'escaping survives the round trip');
  });
});
