/**
 * POST /v1/forward with the real HTTP sink delivering to a receiver on loopback that fails, holds
 * and recovers on command: 200 only after the sink acknowledged, 503 + Retry-After while it is down.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import t from 'tap';
import { createHttpSink } from '../../src/sink/index.ts';
import { kubernetesOf, ndjson, parseNdjson, post, rawEvent, startStack, waitFor, WsClient, type Tap } from './harness.ts';

type Mode = { kind: 'ok' } | { kind: 'fail'; status: number; retryAfter?: number } | { kind: 'hold' };

/** An NDJSON receiver: keeps what it acknowledged, answers as `mode` says. */
async function startReceiver(t: Tap) {
  const state = {
    mode: { kind: 'ok' } as Mode,
    requests: 0,
    acknowledged: [] as string[],
    held: [] as { body: string; res: ServerResponse }[],
  };
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => (body += c));
    req.on('end', () => {
      state.requests++;
      const mode = state.mode;
      if (mode.kind === 'fail') {
        res.writeHead(mode.status, mode.retryAfter === undefined ? {} : { 'retry-after': String(mode.retryAfter) });
        res.end('receiver says no');
      } else if (mode.kind === 'hold') {
        state.held.push({ body, res });
      } else {
        state.acknowledged.push(...body.split('\n').filter((l) => l !== ''));
        res.end();
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
  const release = () => {
    for (const { body, res } of state.held.splice(0)) {
      state.acknowledged.push(...body.split('\n').filter((l) => l !== ''));
      res.end();
    }
  };
  return { state, release, url: new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}/ingest`) };
}

const NDJSON_HEADERS = { 'content-type': 'application/x-ndjson' };

t.test('forward to a sink that fails, then recovers', async (t) => {
  const receiver = await startReceiver(t);
  let clock = 1_000_000;
  const sink = createHttpSink(receiver.url, { attempts: 1, now: () => clock, timeoutMs: 5000 });
  t.teardown(() => sink.close());
  const stack = await startStack(t, { sink });
  const url = `${stack.url}/v1/forward`;
  const cart = stack.pod('cart');
  const db = stack.pod('db');
  const batch = [rawEvent(cart, 'one'), rawEvent(db, 'two'), rawEvent(cart, 'three')];

  t.test('sink down: 503 with the Retry-After it asked for; nothing acknowledged', async (t) => {
    receiver.state.mode = { kind: 'fail', status: 503, retryAfter: 7 };
    const res = await post(url, ndjson(batch), NDJSON_HEADERS);
    t.equal(res.status, 503);
    t.equal(res.headers.get('retry-after'), '7');
    t.match(JSON.parse(res.text), { error: 'the sink is unavailable, retry later', details: [{ message: /HTTP 503/ }] });
    t.equal(receiver.state.requests, 1);
    t.same(receiver.state.acknowledged, []);
  });

  t.test('while the sink reports itself unavailable: 503 at once, no delivery attempt', async (t) => {
    t.notOk(sink.available);
    const res = await post(url, ndjson(batch), NDJSON_HEADERS);
    t.equal(res.status, 503);
    t.equal(res.headers.get('retry-after'), '7');
    t.equal(receiver.state.requests, 1, 'the receiver was not called');
  });

  t.test('recovered: 200 with the count, the enriched events delivered in order', async (t) => {
    clock += 8000;
    receiver.state.mode = { kind: 'ok' };
    t.ok(sink.available);
    const res = await post(url, JSON.stringify({ events: [...batch, 17] }), { 'content-type': 'application/json' });
    t.equal(res.status, 200);
    const body = JSON.parse(res.text) as { accepted: number; errors: { index: number }[] };
    t.equal(body.accepted, 3);
    t.same(
      body.errors.map((e) => e.index),
      [3],
    );
    const delivered = receiver.state.acknowledged.map((l) => JSON.parse(l) as Record<string, unknown>);
    t.same(
      delivered.map((e) => e.message),
      ['one', 'two', 'three'],
    );
    t.equal(kubernetesOf(delivered[1]!).pod_name, db.name);
  });

  t.test('the answer waits for the acknowledgement; /v1/stream sees the events only then', async (t) => {
    const subscriber = await WsClient.open(`${stack.url}/v1/stream`);
    await waitFor(() => stack.bus.subscriberCount === 1, 'the subscription');
    receiver.state.mode = { kind: 'hold' };
    let settled = false;
    const pending = post(url, ndjson([rawEvent(cart, 'held back')]), NDJSON_HEADERS).finally(() => (settled = true));
    await waitFor(() => receiver.state.held.length === 1, 'the sink to deliver');
    await new Promise((resolve) => setImmediate(resolve));
    t.notOk(settled, 'no answer before the sink acknowledged');
    t.equal(subscriber.events().length, 0, 'nothing published before the acknowledgement');
    receiver.release();
    const res = await pending;
    t.equal(res.status, 200);
    t.equal((JSON.parse(res.text) as { accepted: number }).accepted, 1);
    await subscriber.until(() => subscriber.events().length === 1, 'the forwarded event on the stream');
    t.equal(subscriber.events()[0]!.message, 'held back');
    await subscriber.close();
    receiver.state.mode = { kind: 'ok' };
  });

  t.test('a receiver refusing the data for good: 503 with a long Retry-After, the shipper keeps it', async (t) => {
    receiver.state.mode = { kind: 'fail', status: 400 };
    const res = await post(url, ndjson(batch), NDJSON_HEADERS);
    t.equal(res.status, 503);
    t.equal(res.headers.get('retry-after'), '30');
    t.match(JSON.parse(res.text).details[0].message, /rejected the batch with HTTP 400/);
  });

  t.test('malformed input is still a 400, not a sink problem', async (t) => {
    clock += 60_000;
    receiver.state.mode = { kind: 'ok' };
    const res = await post(url, '{"file":\n', NDJSON_HEADERS);
    t.equal(res.status, 400);
  });
});

t.test('no sink configured: 501 with what to do', async (t) => {
  const stack = await startStack(t);
  const res = await post(`${stack.url}/v1/forward`, ndjson([rawEvent(stack.pod('cart'), 'x')]), NDJSON_HEADERS);
  t.equal(res.status, 501);
  t.match(JSON.parse(res.text), { error: 'no sink is configured for /v1/forward', details: [{ message: /POST \/v1\/enrich/ }] });
  // The same request on /v1/enrich works, proving the 501 is about the sink only.
  const enriched = await post(`${stack.url}/v1/enrich`, ndjson([rawEvent(stack.pod('cart'), 'x')]), NDJSON_HEADERS);
  t.equal(parseNdjson(enriched.text)[0]!.message, 'x');
});
