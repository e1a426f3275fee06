/**
 * What a request may hold of the service's memory, over real sockets: the request bytes being
 * enriched at once (server.maxInflightBytes: beyond it a request waits up to server.maxInflightWait,
 * then 503 + Retry-After, however the body comes),
 * answers streamed in parts with backpressure instead of built whole, clients that stop reading
 * cut off after server.sendTimeout, and /v1/forward writing a large batch to the sink in parts.
 */
import http from 'node:http';
import { gzipSync } from 'node:zlib';
import t from 'tap';
import { podFor } from '../../src/sim/index.ts';
import type { NdjsonChunk, Sink } from '../../src/sink/types.ts';
import type { WebSocket } from 'ws';
import { ndjson, parseNdjson, post, postChunked, RawClient, rawEvent, sampleValue, scrape, startStack, waitFor, WsClient, type PodRef, type Stack, type Tap } from './harness.ts';

const NDJSON_HEADERS = { 'content-type': 'application/x-ndjson' };
const CAP_MS = 20_000;

/** Events of `pod`, as many as fill `bytes` of NDJSON. */
function bodyOf(pod: PodRef, bytes: number, tag = 'e'): string {
  const one = ndjson([rawEvent(pod, `${tag} 000000`)]).length;
  return ndjson(Array.from({ length: Math.floor(bytes / one) }, (_, i) => rawEvent(pod, `${tag} ${String(i).padStart(6, '0')}`)));
}

/** POST /v1/enrich on a raw connection: the headers and the first `sent` bytes of `body` only. */
async function startPost(url: string, body: string, sent: number): Promise<RawClient> {
  const client = await RawClient.open(url);
  client.write(`POST /v1/enrich HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-ndjson\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n`);
  client.write(body.slice(0, sent));
  return client;
}

/**
 * A stack with a budget of 64 KiB, 40 KiB of which a first request holds while its body is still
 * arriving; `finish()` sends the rest of it and waits for its answer.
 */
async function heldBudget(t: Tap, maxInflightWaitMs: number) {
  const limit = 64 * 1024;
  const stack = await startStack(t, { config: { server: { maxBodyBytes: `${limit}B`, maxInflightBytes: `${limit}B`, maxInflightWait: `${maxInflightWaitMs}ms` } } });
  const cart = stack.pod('cart');
  const first = bodyOf(cart, 40 * 1024, 'first');
  const holder = await startPost(stack.url, first, 1000);
  t.teardown(() => holder.close());
  const finish = async (): Promise<number | undefined> => {
    holder.write(first.slice(1000));
    await waitFor(() => holder.status !== undefined, 'the first answer');
    holder.close();
    return holder.status;
  };
  return { stack, url: `${stack.url}/v1/enrich`, cart, held: Buffer.byteLength(first), finish };
}

/** A pod with many labels: ~4 KB of metadata per tiny line, so its answers are ~25x its requests. */
async function chattyPod(stack: Stack): Promise<PodRef> {
  const labels = Object.fromEntries(Array.from({ length: 60 }, (_, i) => [`example.com/label-${i}`, `value-${i}-${'v'.repeat(30)}`]));
  const created = stack.sim.create('pods', podFor({ name: 'chatty-0', namespace: 'shop', labels, containers: ['app'], seed: 9 }));
  await waitFor(() => stack.store.reader().podByName('shop', 'chatty-0'), 'the pod to reach the store');
  return { namespace: 'shop', name: 'chatty-0', uid: created.metadata.uid!, container: 'app', labels };
}

t.test('maxInflightBytes: beyond it, after a short maxInflightWait, 503 + Retry-After; freed when the answer is done', async (t) => {
  const { url, cart, finish } = await heldBudget(t, 50);
  const second = bodyOf(cart, 40 * 1024, 'second');
  await waitFor(async () => (await post(url, second, NDJSON_HEADERS)).status === 503, 'a request that does not fit to be refused');
  const refused = await post(url, second, NDJSON_HEADERS);
  t.equal(refused.status, 503);
  t.equal(refused.headers.get('retry-after'), '1');
  t.match(JSON.parse(refused.text), { error: /retry later/, details: [{ message: /server\.maxInflightBytes.*0\.05 s.*server\.maxInflightWait/ }] });

  // Without Content-Length (chunked), or compressed: counted as it arrives, refused the same way.
  const chunked = await postChunked(url, second, NDJSON_HEADERS);
  t.equal(chunked.status, 503, 'chunked');
  const compressed = await post(url, gzipSync(second), { ...NDJSON_HEADERS, 'content-encoding': 'gzip' });
  t.equal(compressed.status, 503, 'gzip: its decompressed size counts');
  t.ok((await post(url, bodyOf(cart, 10 * 1024), NDJSON_HEADERS)).status === 200, 'a small one still fits');

  t.equal(await finish(), 200, 'the request holding the budget is answered');
  const retried = await post(url, second, NDJSON_HEADERS);
  t.equal(retried.status, 200, 'once it is done, the refused one gets through');
  t.equal(parseNdjson(retried.text).length, second.split('\n').length - 1, 'in full');
});

t.test('over maxInflightBytes, requests wait for room, their bodies unread, and are answered in full once it frees', async (t) => {
  // A wait far longer than the test needs: whatever the machine's load, the waiters are let in.
  const { stack, url, cart, held, finish } = await heldBudget(t, 30_000);
  const second = bodyOf(cart, 40 * 1024, 'second');
  const third = bodyOf(cart, 40 * 1024, 'third');
  const waiting = async () => sampleValue(await scrape(stack.url), 'kube_log_enricher_inflight_waiting');
  await waitFor(async () => sampleValue(await scrape(stack.url), 'kube_log_enricher_inflight_bytes') === held, 'the first request to hold its share');
  const secondAnswer = post(url, second, NDJSON_HEADERS);
  await waitFor(async () => (await waiting()) === 1, 'the second request to wait');
  // Without Content-Length: its first part waits the same way, behind the second.
  const thirdAnswer = postChunked(url, third, NDJSON_HEADERS);
  await waitFor(async () => (await waiting()) === 2, 'the third request to wait');

  t.equal(await finish(), 200, 'the request holding the budget is answered');
  for (const [name, answer, body] of [['second', secondAnswer, second], ['third', thirdAnswer, third]] as const) {
    const res = await answer;
    t.equal(res.status, 200, `the ${name} request, once there was room`);
    t.equal(parseNdjson(res.text).length, body.split('\n').length - 1, `${name}: in full`);
  }
  t.equal(await waiting(), 0, 'nobody waits any more');
  await waitFor(async () => sampleValue(await scrape(stack.url), 'kube_log_enricher_inflight_bytes') === 0, 'the budget to be free');
});

t.test('a client that goes away while its request waits for room leaves the line', async (t) => {
  const { stack, cart } = await heldBudget(t, 30_000);
  const waiting = async () => sampleValue(await scrape(stack.url), 'kube_log_enricher_inflight_waiting');
  const quitter = await startPost(stack.url, bodyOf(cart, 40 * 1024, 'quitter'), 0);
  await waitFor(async () => (await waiting()) === 1, 'the second request to wait');
  quitter.close();
  await waitFor(async () => (await waiting()) === 0, 'its wait to end with its connection');
  const small = await post(`${stack.url}/v1/enrich`, bodyOf(cart, 8 * 1024), NDJSON_HEADERS);
  t.equal(small.status, 200, 'a request that fits goes in: nobody waits ahead of it');
});

t.test('/v1/ingest shares maxInflightBytes: a message that does not fit waits, unanswered and with reading stopped, until room frees', async (t) => {
  const { stack, cart, held, finish } = await heldBudget(t, 50);
  const gauge = async (name: string) => sampleValue(await scrape(stack.url), `kube_log_enricher_${name}`);
  await waitFor(async () => (await gauge('inflight_bytes')) === held, 'the HTTP request to hold its share');
  const client = await WsClient.open(`${stack.url}/v1/ingest?ack=true`);
  await waitFor(() => stack.app.websocketServer.clients.size === 1, 'the server side of the connection');
  const serverSide = [...stack.app.websocketServer.clients][0] as WebSocket & { isPaused: boolean };
  const large = bodyOf(cart, 40 * 1024, 'large');
  client.socket.send(large);
  await waitFor(async () => (await gauge('inflight_waiting')) === 1, 'the message to wait for room');
  t.ok(serverSide.isPaused, 'reading from the connection stopped');
  client.socket.send(ndjson([rawEvent(cart, 'small')]));
  // Unlike an HTTP request, it waits for as long as it takes: no 503 to give (maxInflightWait is 50 ms here).
  t.equal(await finish(), 200, 'the HTTP request holding the budget is answered');
  await client.until(() => client.messages.length === 2, 'both answers', 20_000);
  const heads = client.messages.map((m) => JSON.parse(m.slice(0, m.indexOf('\n'))) as { ack: number; events: number });
  t.same(heads.map((h) => [h.ack, h.events]), [[1, large.split('\n').length - 1], [2, 1]], 'answered in full, in order');
  await waitFor(() => !serverSide.isPaused, 'reading resumed');
  await waitFor(async () => (await gauge('inflight_bytes')) === 0, 'every share given back once the answers are sent');
  await client.close();
});

t.test('/v1/ingest: an answer over 1 MiB goes out as one message in 1 MiB fragments, the next one written once the last is out', async (t) => {
  const stack = await startStack(t, { config: { server: { maxBodyBytes: '4MiB' } } });
  // ~2 MiB of tiny lines of a pod with many labels: an answer of ~50 MiB, more than the kernel
  // buffers of a loopback connection hold, so a client that does not read holds it up.
  const body = bodyOf(await chattyPod(stack), 2 * 1024 * 1024);
  const events = body.split('\n').length - 1;
  const client = await WsClient.open(`${stack.url}/v1/ingest?ack=true`);
  await waitFor(() => stack.app.websocketServer.clients.size === 1, 'the server side of the connection');
  const serverSide = [...stack.app.websocketServer.clients][0] as WebSocket & { isPaused: boolean };
  client.socket.pause();
  client.socket.send(body);
  const ingested = async () => sampleValue(await scrape(stack.url), 'kube_log_enricher_events_in_total', { route: 'ingest' });
  await waitFor(async () => (await ingested()) === events, 'the message to be enriched');
  await waitFor(() => serverSide.isPaused, 'reading to stop while the answer goes out');
  t.equal(sampleValue(await scrape(stack.url), 'kube_log_enricher_inflight_bytes'), Buffer.byteLength(body), 'the message holds its share meanwhile');
  t.ok(serverSide.bufferedAmount <= 2 * 1024 * 1024, `the service holds about one fragment of it (${serverSide.bufferedAmount} bytes unsent), not all of it`);
  client.socket.resume();
  await client.until(() => client.messages.length === 1, 'the answer', 60_000);
  const answer = client.messages[0]!;
  t.match(JSON.parse(answer.slice(0, answer.indexOf('\n'))), { ack: 1, events }, 'one message, led by its acknowledgement');
  t.equal(answer.split('\n').length - 2, events, 'every event in it');
  t.ok(answer.length > 32 * 1024 * 1024, `larger than the kernel buffers (${answer.length} bytes)`);
  await waitFor(async () => sampleValue(await scrape(stack.url), 'kube_log_enricher_inflight_bytes') === 0, 'its share given back');
  await client.close();
});

t.test('a request larger than maxInflightBytes runs when nothing else does', async (t) => {
  const stack = await startStack(t, { config: { server: { maxBodyBytes: '64KiB', maxInflightBytes: '16KiB', maxInflightWait: '0ms' } } });
  const url = `${stack.url}/v1/enrich`;
  const cart = stack.pod('cart');
  const big = bodyOf(cart, 40 * 1024);
  t.equal((await post(url, big, NDJSON_HEADERS)).status, 200, 'alone: answered');
  const holder = await startPost(stack.url, bodyOf(cart, 8 * 1024), 100);
  t.teardown(() => holder.close());
  await waitFor(async () => (await post(url, big, NDJSON_HEADERS)).status === 503, 'beside another: refused');
  t.pass('refused while another request is in flight');
});

t.test('large answers are streamed in parts, small ones sent whole', async (t) => {
  const stack = await startStack(t, { config: { server: { maxBodyBytes: '4MiB', maxInflightBytes: '4MiB' } } });
  const url = `${stack.url}/v1/enrich`;
  const cart = stack.pod('cart');
  const small = await post(url, bodyOf(cart, 10 * 1024), NDJSON_HEADERS);
  t.ok(Number(small.headers.get('content-length')) > 0, 'small: Content-Length');
  const body = bodyOf(cart, 2 * 1024 * 1024);
  const events = body.split('\n').length - 1;
  for (const accept of ['application/x-ndjson', 'application/json']) {
    const res = await post(url, body, { ...NDJSON_HEADERS, accept });
    t.equal(res.status, 200);
    t.equal(res.headers.get('transfer-encoding'), 'chunked', `${accept}: streamed`);
    t.ok(Buffer.byteLength(res.text) > 1024 * 1024, `${accept}: larger than one part`);
    const messages = accept === 'application/json' ? (JSON.parse(res.text) as { events: { message: string }[] }).events.map((e) => e.message) : parseNdjson(res.text).map((e) => e.message);
    t.equal(messages.length, events, `${accept}: every event`);
    t.equal(messages.at(-1), `e ${String(events - 1).padStart(6, '0')}`, `${accept}: in order, to the last`);
    t.equal(res.headers.get('x-enrich-errors'), '0');
  }
});

t.test('a client that stops reading its answer loses its connection after sendTimeout, and its share of the budget', async (t) => {
  const limit = 4 * 1024 * 1024;
  const stack = await startStack(t, { config: { server: { maxBodyBytes: `${limit}B`, maxInflightBytes: `${limit}B`, sendTimeout: '300ms' } } });
  // An answer of ~100 MiB, far more than the kernel buffers of a loopback connection hold (up to 32 MiB here).
  const chatty = await chattyPod(stack);
  const body = bodyOf(chatty, limit - 1024);
  const stalled = await startPost(stack.url, body, body.length);
  stalled.socket.pause();
  // Its request holds nearly all of the budget until the service gives up on it.
  const small = bodyOf(chatty, 64 * 1024);
  await waitFor(async () => (await post(`${stack.url}/v1/enrich`, small, NDJSON_HEADERS)).status === 200, 'the budget to be free again', CAP_MS);
  t.pass('the budget it held is free again');
  // Reading again, the client finds its answer cut short: no last chunk, then the end.
  stalled.socket.resume();
  await waitFor(() => stalled.closed, 'the connection to end', CAP_MS);
  t.equal(stalled.status, 200, 'the answer had begun');
  t.notOk(stalled.received.endsWith('0\r\n\r\n'), 'and was not completed');
});

t.test('/v1/forward: a batch over 1 MiB of output reaches the sink in parts, each acknowledged in turn', async (t) => {
  const writes: NdjsonChunk[] = [];
  const sink: Sink = {
    available: true,
    write: async (chunk) => {
      // The bytes are the sender's to reuse once the write settles: copied.
      writes.push({ bytes: Buffer.from(chunk.bytes), events: chunk.events });
    },
    close: async () => {},
  };
  const stack = await startStack(t, { sink, config: { server: { maxBodyBytes: '4MiB', maxInflightBytes: '4MiB' } } });
  const body = bodyOf(stack.pod('cart'), 2 * 1024 * 1024);
  const events = body.split('\n').length - 1;
  const res = await post(`${stack.url}/v1/forward`, body, NDJSON_HEADERS);
  t.equal(res.status, 200);
  t.match(JSON.parse(res.text), { accepted: events, errors: [] });
  t.ok(writes.length > 1, `${writes.length} parts`);
  t.ok(
    writes.every((w) => w.bytes.length <= 1024 * 1024 + 64 * 1024),
    'each about 1 MiB at most',
  );
  t.equal(
    writes.reduce((n, w) => n + w.events, 0),
    events,
    'their event counts add up',
  );
  const delivered = parseNdjson(Buffer.concat(writes.map((w) => w.bytes)).toString());
  t.same(
    delivered.map((e) => e.message),
    body.trimEnd().split('\n').map((l) => (JSON.parse(l) as { line: string }).line.split(' F ')[1]),
    'together, every event once, in order',
  );
});

t.test('a request refused for the budget does not break its keep-alive connection', async (t) => {
  const { stack, cart } = await heldBudget(t, 50);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  t.teardown(() => agent.destroy());
  const ask = (body: string) =>
    new Promise<number>((resolve, reject) => {
      const req = http.request(`${stack.url}/v1/enrich`, { method: 'POST', agent, headers: NDJSON_HEADERS }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      });
      req.on('error', reject);
      req.end(body);
    });
  await waitFor(async () => (await ask(bodyOf(cart, 40 * 1024))) === 503, 'the refusal');
  t.equal(await ask(bodyOf(cart, 1024)), 200, 'the next request on the same connection is answered');
});
