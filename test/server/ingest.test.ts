/** GET /v1/ingest over a real WebSocket: formats, order, merging, errors, limits, backpressure. */
import t from 'tap';
import type { WebSocket } from 'ws';
import { criFragments } from '../builders/lines.ts';
import { fileOf, kubernetesOf, ndjson, rawEvent, sampleValue, scrape, startStack, waitFor, WsClient } from './harness.ts';

t.test('ingest', async (t) => {
  const stack = await startStack(t, {
    config: { server: { maxBodyBytes: '4MiB' }, enrichment: { partialFlushTimeout: '100ms' } },
    server: { ingestMaxPendingBytes: 64 * 1024 },
  });
  const url = `${stack.url}/v1/ingest`;
  const cart = stack.pod('cart');
  const db = stack.pod('db');

  t.test('a JSON object, a JSON array and NDJSON text; answers as NDJSON, in order', async (t) => {
    const client = await WsClient.open(url);
    client.socket.send(JSON.stringify(rawEvent(cart, 'object')));
    client.socket.send(JSON.stringify([rawEvent(db, 'array 1'), rawEvent(cart, 'array 2')]));
    client.socket.send(ndjson([rawEvent(cart, 'ndjson 1'), rawEvent(db, 'ndjson 2')]));
    client.socket.send(Buffer.from(JSON.stringify(rawEvent(cart, 'binary frame'))), { binary: true });
    await client.until(() => client.events().length === 6, 'six events');
    t.same(
      client.events().map((e) => e.message),
      ['object', 'array 1', 'array 2', 'ndjson 1', 'ndjson 2', 'binary frame'],
    );
    t.ok(
      client.messages.every((m) => m.endsWith('\n')),
      'every answer is NDJSON text ending with a newline',
    );
    t.equal(kubernetesOf(client.events()[1]!).pod_name, db.name);
    await client.close();
  });

  t.test('order holds over many messages', async (t) => {
    const client = await WsClient.open(url);
    for (let m = 0; m < 50; m++) client.socket.send(ndjson(Array.from({ length: 20 }, (_, i) => rawEvent(cart, `${m}-${i}`))));
    await client.until(() => client.events().length === 1000, 'a thousand events');
    const expected = Array.from({ length: 1000 }, (_, k) => `${Math.floor(k / 20)}-${k % 20}`);
    t.same(
      client.events().map((e) => e.message),
      expected,
    );
    await client.close();
  });

  t.test('partial lines are merged across messages of one connection', async (t) => {
    const client = await WsClient.open(url);
    const long = 'y'.repeat(40) + '!';
    const fragments = criFragments(long, { size: 15 }).map((line) => ({ file: fileOf(cart), line }));
    for (const fragment of fragments) client.socket.send(JSON.stringify(fragment));
    client.socket.send(JSON.stringify(rawEvent(cart, 'next')));
    await client.until(() => client.events().length === 2, 'the merged line and the next');
    t.same(
      client.events().map((e) => e.message),
      [long, 'next'],
    );
    await client.close();
  });

  t.test('a final fragment that never comes is sent after the flush timeout', async (t) => {
    const client = await WsClient.open(url);
    client.socket.send(JSON.stringify(rawEvent(cart, 'waiting for an F', { partial: true })));
    await client.until(() => client.events().length === 1, 'the flushed partial line');
    t.equal(client.events()[0]!.message, 'waiting for an F');
    await client.close();
  });

  t.test('bad messages get an error message, and the connection goes on', async (t) => {
    const client = await WsClient.open(url);
    client.socket.send('{"file": oops');
    client.socket.send(`${JSON.stringify(rawEvent(cart, 'ok'))}\n{"file":\n`);
    client.socket.send('   ');
    client.socket.send(JSON.stringify([rawEvent(cart, 'good'), 'not an event', rawEvent(db, 'also good')]));
    await client.until(() => client.errors().length === 4 && client.events().length === 2, 'four errors and two events');
    const [malformed, badLine, empty, perEvent] = client.errors();
    t.match(malformed, { error: 'malformed JSON body' });
    t.match(badLine, { error: /malformed NDJSON on line 2/, details: [{ line: 2 }] });
    t.match(empty, { error: 'empty message' });
    t.match(perEvent, { error: /1 invalid event/, details: [{ index: 1, field: String, message: String }] });
    t.same(
      client.events().map((e) => e.message),
      ['good', 'also good'],
      'the whole malformed messages are ignored; per-event errors spare the rest',
    );
    t.equal(client.closeCode, undefined, 'still connected');
    await client.close();
  });

  t.test('a message over maxBodyBytes closes with 1009', async (t) => {
    const client = await WsClient.open(url);
    client.socket.send(JSON.stringify({ file: fileOf(cart), message: 'z'.repeat(4 * 1024 * 1024 + 10) }));
    await client.until(() => client.closeCode !== undefined, 'the close');
    t.equal(client.closeCode, 1009);
  });

  t.test('WebSocket clients are counted', async (t) => {
    const client = await WsClient.open(url);
    const during = await scrape(stack.url);
    t.equal(sampleValue(during, 'kube_log_enricher_websocket_clients', { route: '/v1/ingest' }), 1);
    await client.close();
    await waitFor(async () => sampleValue(await scrape(stack.url), 'kube_log_enricher_websocket_clients', { route: '/v1/ingest' }) === 0, 'the gauge back to 0');
  });

  t.test('a plain GET is told to upgrade', async (t) => {
    const res = await fetch(url);
    t.equal(res.status, 426);
    t.equal(res.headers.get('upgrade'), 'websocket');
  });

  t.test('a client that does not read is not read from: server buffering stays bounded', async (t) => {
    const ingested = async () => sampleValue(await scrape(stack.url), 'kube_log_enricher_events_in_total', { route: 'ingest' });
    const before = await ingested();
    const client = await WsClient.open(url);
    client.socket.pause();
    const serverSide = () => [...stack.app.websocketServer.clients][0] as WebSocket & { isPaused: boolean };
    await waitFor(() => stack.app.websocketServer.clients.size === 1, 'the server side of the connection');
    const perMessage = 200;
    let sent = 0;
    let largestAnswer = 0;
    while (!serverSide().isPaused) {
      if (sent >= 2000) break;
      client.socket.send(ndjson(Array.from({ length: perMessage }, (_, i) => rawEvent(cart, `m${sent}-${i} ${'w'.repeat(100)}`))));
      sent++;
      await new Promise((resolve) => setTimeout(resolve, 2));
      largestAnswer = Math.max(largestAnswer, serverSide().bufferedAmount);
    }
    t.ok(serverSide().isPaused, `reading paused after ${sent} messages`);
    // Keep sending: the server must not read (and buffer answers for) any of it.
    for (let i = 0; i < 20; i++) client.socket.send(ndjson(Array.from({ length: perMessage }, (_, k) => rawEvent(cart, `m${sent + i}-${k} ${'w'.repeat(100)}`))));
    sent += 20;
    await new Promise((resolve) => setTimeout(resolve, 100));
    const buffered = serverSide().bufferedAmount;
    t.ok(serverSide().isPaused, 'still paused');
    t.ok(buffered < 64 * 1024 + 4 * 1024 * 1024, `server-side buffer bounded (${buffered} bytes)`);
    t.ok((await ingested()) - before < sent * perMessage, 'the later input is left unread');

    client.socket.resume();
    await client.until(() => client.events().length === sent * perMessage, 'every event once the client reads', 15_000);
    const messages = client.events().map((e) => e.message as string);
    t.equal(messages[0]!.split(' ')[0], 'm0-0');
    t.equal(messages[messages.length - 1]!.split(' ')[0], `m${sent - 1}-${perMessage - 1}`);
    t.ok(
      messages.every((m, k) => m.startsWith(`m${Math.floor(k / perMessage)}-${k % perMessage} `)),
      'all in order',
    );
    await waitFor(() => !serverSide().isPaused, 'reading resumed');
    await client.close();
  });
});

t.test('shutdown sends what is pending, then closes with 1001', async (t) => {
  const stack = await startStack(t);
  const client = await WsClient.open(`${stack.url}/v1/ingest`);
  const subscriber = await WsClient.open(`${stack.url}/v1/stream`);
  client.socket.send(JSON.stringify(rawEvent(stack.pod('cart'), 'pending at shutdown', { partial: true })));
  await waitFor(() => stack.app.websocketServer.clients.size === 2, 'both connections');
  await new Promise((resolve) => setTimeout(resolve, 50));
  await stack.server.close();
  await client.until(() => client.closeCode !== undefined, 'the close');
  t.same(
    client.events().map((e) => e.message),
    ['pending at shutdown'],
  );
  t.equal(client.closeCode, 1001);
  t.equal(client.closeReason, 'server shutting down');
  await subscriber.until(() => subscriber.closeCode !== undefined, 'the subscriber close');
  t.equal(subscriber.closeCode, 1001);
});

t.test('answers are written into reused buffers: a reader behind by many large answers gets each intact', async (t) => {
  // A pending-bytes limit far above the answers' size, so that many answers wait in the socket
  // at once: a buffer handed back for reuse before ws sent it would show another message's events.
  // Answers under 1 MiB each: a larger one would go out in fragments, one at a time.
  const stack = await startStack(t, { config: { server: { maxBodyBytes: '4MiB' } }, server: { ingestMaxPendingBytes: 256 * 1024 * 1024 } });
  const cart = stack.pod('cart');
  const client = await WsClient.open(`${stack.url}/v1/ingest`);
  client.socket.pause();
  const MESSAGES = 24;
  const EVENTS = 500;
  for (let m = 0; m < MESSAGES; m++) client.socket.send(ndjson(Array.from({ length: EVENTS }, (_, i) => rawEvent(cart, `m${m} e${i}`))));
  const ingested = async () => sampleValue(await scrape(stack.url), 'kube_log_enricher_events_in_total', { route: 'ingest' });
  await waitFor(async () => (await ingested()) === MESSAGES * EVENTS, 'every message enriched while the client reads nothing');
  client.socket.resume();
  await client.until(() => client.events().length === MESSAGES * EVENTS, 'every event', 15_000);
  const messages = client.events().map((e) => e.message);
  t.same(
    messages,
    Array.from({ length: MESSAGES * EVENTS }, (_, k) => `m${Math.floor(k / EVENTS)} e${k % EVENTS}`),
    'every answer intact, in order',
  );
  await client.close();
});

t.test('?ack=true: exactly one answer per message, in order, led by its acknowledgement line', async (t) => {
  // `canary: "true"` pods are excluded here, so that a message can produce no event at all.
  const stack = await startStack(t, { config: { enrichment: { exclude: { label: 'canary' }, partialFlushTimeout: '50ms' } } });
  const [cart, db, front] = [stack.pod('cart'), stack.pod('db'), stack.pod('front')];
  const client = await WsClient.open(`${stack.url}/v1/ingest?ack=true`);
  const answers = () => client.messages.map((m) => {
    const [head, ...rest] = m.split('\n');
    return { head: JSON.parse(head!) as Record<string, unknown>, events: rest.filter((l) => l !== '').map((l) => JSON.parse(l) as Record<string, unknown>) };
  });
  client.socket.send(ndjson([rawEvent(cart, 'one'), rawEvent(db, 'two')]));
  client.socket.send(JSON.stringify(rawEvent(front, 'excluded')));
  client.socket.send(JSON.stringify([rawEvent(cart, 'good'), 'not an event']));
  client.socket.send('{"file": oops');
  client.socket.send(JSON.stringify(rawEvent(cart, 'first half ', { partial: true })));
  client.socket.send(JSON.stringify(rawEvent(cart, 'second half')));
  await client.until(() => client.messages.length === 6, 'six answers');
  const got = answers();
  t.same(got.map((a) => a.head.ack), [1, 2, 3, 4, 5, 6], 'numbered from 1, in order');
  t.same(got.map((a) => a.head.events), [2, 0, 1, 0, 0, 1], 'the event count of each');
  t.same(got.map((a) => a.events.map((e) => e.message)), [['one', 'two'], [], ['good'], [], [], ['first half second half']], 'the events follow their line');
  t.match(got[1]!.head, { excluded: 1, errors: [] }, 'a wholly excluded message is acknowledged too');
  t.match(got[2]!.head, { errors: [{ index: 1, field: String, message: String }] }, 'per-event errors in the acknowledgement');
  t.match(got[3]!.head, { ack: 4, events: 0, error: 'malformed JSON body' }, 'a message that cannot be read is acknowledged with its error');
  t.match(got[5]!.head, { merged: 1 });
  t.ok(client.messages.every((m) => m.endsWith('\n')), 'every answer ends with a newline');

  // No timer in this mode: an overdue partial line goes out with the next answer.
  client.socket.send(JSON.stringify([rawEvent(db, 'never ', { partial: true }), rawEvent(db, 'finished', { partial: true })]));
  await client.until(() => client.messages.length === 7, 'the seventh answer');
  await new Promise((resolve) => setTimeout(resolve, 200));
  t.equal(client.messages.length, 7, 'nothing unasked for');
  client.socket.send(JSON.stringify(rawEvent(cart, 'next')));
  await client.until(() => client.messages.length === 8, 'the eighth answer');
  t.same(answers()[7]!.events.map((e) => e.message), ['never finished', 'next']);
  t.match(answers()[6]!.head, { ack: 7, events: 0, merged: 0 }, 'the open line is not counted yet');
  t.match(answers()[7]!.head, { ack: 8, events: 2, merged: 1 }, 'counted in the answer it went out with');
  await client.close();
});

t.test('?ack= takes true or false; anything else is a 400 naming it, before the upgrade', async (t) => {
  const stack = await startStack(t);
  const plain = await WsClient.open(`${stack.url}/v1/ingest?ack=false`);
  plain.socket.send(JSON.stringify(rawEvent(stack.pod('cart'), 'plain')));
  await plain.until(() => plain.events().length === 1, 'a plain answer');
  t.notOk('ack' in plain.events()[0]!, 'no acknowledgement line');
  await plain.close();
  const refused = await WsClient.open(`${stack.url}/v1/ingest?ack=yes`).then(
    () => undefined,
    (e: unknown) => e as { status: number; body: string },
  );
  t.equal(refused?.status, 400);
  t.match(JSON.parse(refused!.body) as unknown, { error: String, details: [{ field: /ack/ }] });
});
