/**
 * POST /v1/forward with the real HTTP sink delivering to a receiver on loopback that fails, holds
 * and recovers on command, and with a real file sink whose directory is missing, then restored:
 * 200 only after the sink acknowledged, 503 + Retry-After while it is down, one probe per retry
 * period while the sink reports itself unavailable, and every event delivered exactly once.
 */
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import t from 'tap';
import { createHttpSink, createSink } from '../../src/sink/index.ts';
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
  // The sink and the app share the clock: the sink's own Retry-After and the app's probe period agree.
  const stack = await startStack(t, { sink, now: () => clock });
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

t.test('a file sink that fails, then recovers: one probe per retry period, every event exactly once', async (t) => {
  let clock = 2_000_000;
  const blocker = join(t.testdir(), 'out');
  const path = join(blocker, 'enriched.ndjson');
  const sink = createSink(`file:${path}`);
  t.teardown(() => sink.close());
  const stack = await startStack(t, { sink, now: () => clock });
  // A regular file where the sink's directory should be: appending fails (also as root) until it
  // is removed.
  writeFileSync(blocker, 'not a directory');
  const url = `${stack.url}/v1/forward`;
  const cart = stack.pod('cart');
  const batches = [0, 1, 2].map((b) => [rawEvent(cart, `b${b} e0`), rawEvent(cart, `b${b} e1`), rawEvent(cart, `b${b} e2`)]);
  const send = (b: number) => post(url, ndjson(batches[b]!), NDJSON_HEADERS);
  const detailOf = (text: string) => (JSON.parse(text) as { details: { message: string }[] }).details[0]!.message;

  const first = await send(0);
  t.equal(first.status, 503, 'the write was tried and failed');
  t.equal(first.headers.get('retry-after'), '5', "the file sink's retry period");
  t.match(detailOf(first.text), /file sink cannot append/);
  t.notOk(sink.available);

  const early = await send(0);
  t.equal(early.status, 503);
  t.match(detailOf(early.text), /reports itself unavailable/, 'within the period: refused without a write');
  t.equal(early.headers.get('retry-after'), '5');
  clock += 4000;
  const later = await send(0);
  t.match(detailOf(later.text), /reports itself unavailable/);
  t.equal(later.headers.get('retry-after'), '1', 'Retry-After counts down to the next probe');

  clock += 1000;
  const probeStillDown = await send(0);
  t.equal(probeStillDown.status, 503);
  t.match(detailOf(probeStillDown.text), /file sink cannot append/, 'after the period one request tries the write');

  rmSync(blocker);
  const beforePeriod = await send(0);
  t.match(detailOf(beforePeriod.text), /reports itself unavailable/, 'the directory is back, but the next probe is not due yet');
  t.notOk(existsSync(path), 'nothing written meanwhile');

  clock += 5000;
  const recovered = await send(0);
  t.equal(recovered.status, 200, recovered.text);
  t.same(JSON.parse(recovered.text), { accepted: 3, errors: [] });
  t.ok(sink.available, 'the successful probe made the sink available again');
  for (const b of [1, 2]) t.equal((await send(b)).status, 200, `batch ${b} written at once`);

  const written = parseNdjson(readFileSync(path, 'utf8')).map((e) => e.message);
  t.same(written, ['b0 e0', 'b0 e1', 'b0 e2', 'b1 e0', 'b1 e1', 'b1 e2', 'b2 e0', 'b2 e1', 'b2 e2'], 'every event once, in order, across six 503s');
});

t.test('while a probe is in flight, the other requests get 503 at once', async (t) => {
  const receiver = await startReceiver(t);
  // Two clocks: the sink's stands still, so the sink keeps reporting itself unavailable and only the
  // route's probe (on the app's clock) can try it.
  let appClock = 3_000_000;
  const sink = createHttpSink(receiver.url, { attempts: 1, now: () => 3_000_000, timeoutMs: 5000 });
  t.teardown(() => sink.close());
  const stack = await startStack(t, { sink, now: () => appClock });
  const url = `${stack.url}/v1/forward`;
  const cart = stack.pod('cart');

  receiver.state.mode = { kind: 'fail', status: 503, retryAfter: 3 };
  t.equal((await post(url, ndjson([rawEvent(cart, 'probe')]), NDJSON_HEADERS)).status, 503);
  t.notOk(sink.available);

  appClock += 3000;
  receiver.state.mode = { kind: 'hold' };
  const probe = post(url, ndjson([rawEvent(cart, 'probe')]), NDJSON_HEADERS);
  await waitFor(() => receiver.state.held.length === 1, 'the probe to reach the receiver');
  const concurrent = await post(url, ndjson([rawEvent(cart, 'concurrent')]), NDJSON_HEADERS);
  t.equal(concurrent.status, 503, 'refused while the probe is in flight');
  t.match(JSON.parse(concurrent.text).details[0].message, /reports itself unavailable/);
  t.equal(concurrent.headers.get('retry-after'), '3');
  t.equal(receiver.state.requests, 2, 'the receiver saw the first attempt and the probe only');

  receiver.release();
  t.equal((await probe).status, 200, 'the probe is answered like any write');
  receiver.state.mode = { kind: 'ok' };
  t.ok(sink.available, 'a delivered batch makes the HTTP sink available again');
  t.equal((await post(url, ndjson([rawEvent(cart, 'concurrent')]), NDJSON_HEADERS)).status, 200, "the refused batch's retry");
  t.same(
    receiver.state.acknowledged.map((l) => (JSON.parse(l) as { message: string }).message),
    ['probe', 'concurrent'],
    'each once',
  );
});
