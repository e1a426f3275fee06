/** GET /v1/stream over real WebSockets: filters, sources, and a slow subscriber that must not slow anyone. */
import t from 'tap';
import type { WebSocket } from 'ws';
import type { EnrichedRecord } from '../../src/enrich/types.ts';
import { EventBus } from '../../src/server/index.ts';
import { MAX_PENDING_EVENTS, StreamChunk } from '../../src/server/event-bus.ts';
import { textRecord } from '../builders/records.ts';
import { fileOf, get, ndjson, post, rawEvent, sampleValue, scrape, startStack, waitFor, WsClient, type PodRef } from './harness.ts';
import { defaultServerOptions } from '../builders/defaults.ts';

const NDJSON_HEADERS = { 'content-type': 'application/x-ndjson' };

t.test('publishing with no subscribers is a no-op', async (t) => {
  const bus = new EventBus({ share: defaultServerOptions().streamTimeShare });
  t.equal(bus.subscriberCount, 0);
  bus.publish([]);
  bus.publish([textRecord('{}')]);
  t.pass('no subscriber, nothing to do');
});

t.test('the bus serialises once per filter: subscribers of one filter share the bytes', async (t) => {
  const bus = new EventBus({ share: defaultServerOptions().streamTimeShare });
  const shop = { namespace: 'shop', podName: 'cart-1', containerName: 'cart', pod: undefined };
  const data = { namespace: 'data', podName: 'db-0', containerName: 'postgres', pod: undefined };
  const seen = new Map<string, Buffer[]>();
  const subscriber = (name: string) => ({
    deliver: (chunk: StreamChunk) => seen.set(name, [...(seen.get(name) ?? []), chunk.bytes]),
    skip: () => t.fail(`${name}: nothing is dropped here`),
  });
  const unsubscribeA = bus.subscribe({ namespace: 'shop' }, subscriber('a'));
  bus.subscribe({ namespace: 'shop' }, subscriber('b'));
  bus.subscribe({}, subscriber('all'));
  bus.subscribe({ container: 'cart' }, subscriber('cart'));
  bus.subscribe({ namespace: 'nowhere' }, subscriber('idle'));
  t.equal(bus.subscriberCount, 5);
  const records = Array.from({ length: 1200 }, (_, i) => textRecord(JSON.stringify({ i }), i % 3 === 0 ? data : shop));
  bus.publish(records);
  t.equal(seen.size, 0, 'a publish only takes note: the fan-out runs later');
  t.equal(bus.pendingEvents, 1200);
  await waitFor(() => bus.pendingEvents === 0, 'the fan-out');
  await waitFor(() => seen.get('all')?.length === 3, 'the last chunk');
  const linesIn = (bytes: Buffer) => bytes.toString().split('\n').length - 1;
  t.same(seen.get('all')!.map(linesIn), [500, 500, 200], 'at most 500 events a chunk');
  t.ok(
    seen.get('a')!.every((bytes, i) => bytes === seen.get('b')![i]),
    'the same buffers for both subscribers of a filter',
  );
  t.ok(
    seen.get('a')!.every((bytes, i) => bytes === seen.get('cart')![i]),
    'and for another filter that picked the same events',
  );
  const lines = (name: string) => seen.get(name)!.map((b) => b.toString()).join('').trimEnd().split('\n').map((l) => (JSON.parse(l) as { i: number }).i);
  t.same(lines('a'), records.map((_, i) => i).filter((i) => i % 3 !== 0), 'a filter gets its events, in order');
  t.same(lines('all'), records.map((_, i) => i), 'no filter: every event');
  t.notOk(seen.has('idle'), 'a filter matching nothing gets nothing');
  unsubscribeA();
  unsubscribeA();
  t.equal(bus.subscriberCount, 4, 'unsubscribing twice counts once');
});

t.test('a batch beyond what may wait for the fan-out is dropped at once, counted for each subscriber', async (t) => {
  const bus = new EventBus({ share: defaultServerOptions().streamTimeShare });
  const shop = { namespace: 'shop', podName: 'cart-1', containerName: 'cart', pod: undefined };
  const data = { namespace: 'data', podName: 'db-0', containerName: 'postgres', pod: undefined };
  const got = { shop: 0, all: 0 };
  const skipped = { shop: 0, all: 0 };
  const subscriber = (name: keyof typeof got) => ({
    deliver: (chunk: StreamChunk) => (got[name] += chunk.events),
    skip: (count: number) => (skipped[name] += count),
  });
  bus.subscribe({ namespace: 'shop' }, subscriber('shop'));
  bus.subscribe({}, subscriber('all'));
  const first = Array.from({ length: MAX_PENDING_EVENTS + 10 }, (_, i) => textRecord(JSON.stringify({ i }), shop));
  bus.publish(first);
  t.equal(bus.pendingEvents, first.length, 'a batch arriving at an empty queue is taken whole, whatever its size');
  bus.publish([textRecord('{}', shop), textRecord('{}', data), textRecord('{}', shop)]);
  t.same(skipped, { shop: 2, all: 3 }, 'the next one is dropped, each subscriber told how many of its events');
  t.equal(bus.pendingEvents, first.length);
  await waitFor(() => got.all === first.length, 'the first batch delivered');
  t.same(got, { shop: first.length, all: first.length });
  bus.publish([textRecord('{}', data)]);
  await waitFor(() => got.all === first.length + 1, 'room again once the fan-out caught up');
  t.same(skipped, { shop: 2, all: 3 });
});

t.test('a chunk\'s head: a view of most of it, a copy of a small part', async (t) => {
  const chunk = new StreamChunk(Buffer.from('{"a":1}\n{"b":2}\n{"c":3}\n'), Int32Array.from([8, 16, 24]));
  const most = chunk.head(2);
  const small = chunk.head(1);
  t.equal(most.bytes.toString(), '{"a":1}\n{"b":2}\n');
  t.equal(most.events, 2);
  t.equal(small.bytes.toString(), '{"a":1}\n');
  t.equal(small.events, 1);
  chunk.bytes.fill(0x20);
  t.equal(most.bytes.toString().trim(), '', 'two thirds: a view of the same memory (the chunk is shared anyway)');
  t.equal(small.bytes.toString(), '{"a":1}\n', 'a third: a copy, so a small part never keeps a large chunk\'s memory');
});

t.test('stream', async (t) => {
  const stack = await startStack(t, { config: { server: { streamBufferEvents: 100 } } });
  const cart = stack.pod('cart');
  const front = stack.pod('front');
  const db = stack.pod('db');
  const streamUrl = (query: string) => `${stack.url}/v1/stream${query}`;

  t.test('filters: namespace, pod, container, label selectors', async (t) => {
    const subscribers = {
      all: await WsClient.open(streamUrl('')),
      data: await WsClient.open(streamUrl('?namespace=data')),
      cart: await WsClient.open(streamUrl(`?pod=${cart.name}`)),
      sidecar: await WsClient.open(streamUrl('?container=sidecar')),
      webNoCanary: await WsClient.open(streamUrl(`?labelSelector=${encodeURIComponent('tier=web,!canary')}`)),
      dbOrFront: await WsClient.open(streamUrl(`?labelSelector=${encodeURIComponent('app in (db, front)')}&namespace=shop`)),
      // Integer comparisons, as kubectl and the API server take them (`apps.kubernetes.io/pod-index` is a StatefulSet pod's ordinal).
      firstOrdinal: await WsClient.open(streamUrl(`?labelSelector=${encodeURIComponent('apps.kubernetes.io/pod-index<1')}`)),
      laterOrdinal: await WsClient.open(streamUrl(`?labelSelector=${encodeURIComponent('apps.kubernetes.io/pod-index>0')}`)),
    };
    await waitFor(() => stack.bus.subscriberCount === 8, 'eight subscriptions');
    const ghost: PodRef = { ...cart, name: 'ghost-1', uid: '00000000-0000-0000-0000-00000000beef' };
    const batch = [
      rawEvent(cart, 'cart'),
      rawEvent(front, 'front'),
      rawEvent(front, 'front sidecar', { container: 'sidecar' }),
      rawEvent(db, 'db'),
      rawEvent(ghost, 'ghost'),
    ];
    const expected: Record<keyof typeof subscribers, string[]> = {
      all: ['cart', 'front', 'front sidecar', 'db', 'ghost'],
      data: ['db'],
      cart: ['cart'],
      sidecar: ['front sidecar'],
      webNoCanary: ['cart'],
      dbOrFront: ['front', 'front sidecar'],
      firstOrdinal: ['db'],
      laterOrdinal: [],
    };
    t.equal((await post(`${stack.url}/v1/enrich`, ndjson(batch), NDJSON_HEADERS)).status, 200);
    for (const [name, client] of Object.entries(subscribers)) {
      const want = expected[name as keyof typeof subscribers];
      await client.until(() => client.events().length >= want.length, `${name}: ${want.length} events`);
    }
    // A second round: anything extra from the first would show up as a surplus here.
    t.equal((await post(`${stack.url}/v1/enrich`, ndjson(batch), NDJSON_HEADERS)).status, 200);
    for (const [name, client] of Object.entries(subscribers)) {
      const want = expected[name as keyof typeof subscribers];
      await client.until(() => client.events().length >= 2 * want.length, `${name}: ${2 * want.length} events`);
      t.same(
        client.events().map((e) => e.message),
        [...want, ...want],
        name,
      );
    }
    for (const client of Object.values(subscribers)) await client.close();
    await waitFor(() => stack.bus.subscriberCount === 0, 'unsubscribed on close');
  });

  t.test('every entry point publishes: /v1/enrich, /v1/ingest and the in-process source', async (t) => {
    const subscriber = await WsClient.open(streamUrl(''));
    await waitFor(() => stack.bus.subscriberCount === 1, 'the subscription');
    await post(`${stack.url}/v1/enrich`, ndjson([rawEvent(cart, 'via enrich')]), NDJSON_HEADERS);
    const ingest = await WsClient.open(`${stack.url}/v1/ingest`);
    ingest.socket.send(JSON.stringify(rawEvent(db, 'via ingest')));
    await subscriber.until(() => subscriber.events().length === 2, 'two events');
    stack.bus.publish(stack.enricher.enrichMessages([fileOf(front)], [{ timestamp: '2026-11-23T10:00:00Z', stream: 'stderr', message: 'via agent' }]));
    await subscriber.until(() => subscriber.events().length === 3, 'three events');
    t.same(
      subscriber.events().map((e) => e.message),
      ['via enrich', 'via ingest', 'via agent'],
    );
    await ingest.close();
    await subscriber.close();
  });

  t.test('at most maxStreamSubscribers subscribers: one more gets 503 with Retry-After', async (t) => {
    const limited = await startStack(t, { config: { server: { maxStreamSubscribers: 3 } } });
    const url = `${limited.url}/v1/stream`;
    const first = await Promise.all([WsClient.open(url), WsClient.open(url), WsClient.open(`${url}?namespace=shop`)]);
    await waitFor(() => limited.bus.subscriberCount === 3, 'three subscriptions');
    const refused = await WsClient.open(url).then(
      () => undefined,
      (err: { status?: number; body?: string }) => err,
    );
    t.equal(refused?.status, 503);
    t.match(JSON.parse(refused?.body ?? '{}'), { error: /3 \/v1\/stream subscribers/, details: [{ message: /server\.maxStreamSubscribers/ }] });
    await first[0]!.close();
    await waitFor(() => limited.bus.subscriberCount === 2, 'a place free again');
    const next = await WsClient.open(url);
    await waitFor(() => limited.bus.subscriberCount === 3, 'the next subscriber in');
    t.pass('a freed place can be taken');
    for (const client of [...first.slice(1), next]) await client.close();
  });

  t.test('bad filters: 400 before the upgrade, naming the field', async (t) => {
    for (const [query, field] of [
      [`?labelSelector=${encodeURIComponent('app in (cart')}`, 'labelSelector'],
      [`?labelSelector=${encodeURIComponent('app=a b')}`, 'labelSelector'],
      [`?labelSelector=${encodeURIComponent('apps.kubernetes.io/pod-index>first')}`, 'labelSelector'],
      ['?pod=a&pod=b', 'pod'],
      ['?namespace=', 'namespace'],
    ] as const) {
      const refused = await WsClient.open(streamUrl(query)).then(
        () => undefined,
        (err: { status?: number; body?: string }) => err,
      );
      t.equal(refused?.status, 400, query);
      t.match(JSON.parse(refused?.body ?? '{}'), { details: [{ field }] }, query);
    }
    const plain = await get(streamUrl(''));
    t.equal(plain.status, 426, 'a plain GET is told to upgrade');
  });

  t.test('a slow subscriber gets drops, counted and announced; a fast one gets everything', async (t) => {
    const fast = await WsClient.open(streamUrl(''));
    const slow = await WsClient.open(streamUrl(''));
    await waitFor(() => stack.bus.subscriberCount === 2, 'two subscriptions');
    const slowServerSide = [...stack.app.websocketServer.clients].at(-1) as WebSocket;
    slow.socket.pause();
    const droppedBefore = sampleValue(await scrape(stack.url), 'kube_log_enricher_websocket_dropped_messages_total', { route: '/v1/stream' });

    // The in-process source's path: records from the real enricher, published in batches.
    const padding = 'p'.repeat(2000);
    const file = fileOf(cart);
    const batchOf = (round: number): EnrichedRecord[] =>
      stack.enricher.enrichMessages(
        Array.from({ length: 500 }, () => file),
        Array.from({ length: 500 }, (_, i) => ({ timestamp: '2026-11-23T10:00:00Z', stream: 'stdout' as const, message: `${round}-${i} ${padding}` })),
      );
    const droppedSoFar = async () =>
      sampleValue(await scrape(stack.url), 'kube_log_enricher_websocket_dropped_messages_total', { route: '/v1/stream' }) - droppedBefore;
    let published = 0;
    let maxServerBuffer = 0;
    let roundsAfterDrops = 0;
    // Until the slow subscriber's kernel buffers and queue are full and it has dropped a while.
    for (let round = 0; round < 60 && roundsAfterDrops < 3; round++) {
      stack.bus.publish(batchOf(round));
      published += 500;
      maxServerBuffer = Math.max(maxServerBuffer, slowServerSide.bufferedAmount);
      // The fast subscriber keeps up: the next batch comes once it has read this one.
      await fast.until(() => fast.events().length === published, `fast subscriber at ${published}`);
      if ((await droppedSoFar()) > 0) roundsAfterDrops++;
    }
    t.equal(fast.events().length, published, 'the fast subscriber got every event');
    t.notOk(
      fast.messages.some((m) => m.startsWith('{"dropped"')),
      'and no drop notice',
    );
    const dropped = await droppedSoFar();
    t.ok(dropped > 0, `the slow subscriber lost ${dropped} of ${published} events`);
    // At most: the high-water mark, one publish sent straight, and the queue (100 events).
    const eventBytes = Math.max(...fast.events().slice(0, 10).map((e) => JSON.stringify(e).length + 1));
    const bound = 256 * 1024 + (500 + 100) * eventBytes;
    t.ok(maxServerBuffer <= bound, `its server-side socket buffer stayed bounded (${maxServerBuffer} <= ${bound} bytes)`);

    slow.socket.resume();
    await slow.until(() => slow.messages.some((m) => m.startsWith('{"dropped"')), 'the drop notice');
    const notices = slow.messages.filter((m) => m.startsWith('{"dropped"')).map((m) => (JSON.parse(m) as { dropped: number }).dropped);
    const announced = notices.reduce((a, b) => a + b, 0);
    t.equal(announced, dropped, 'every dropped event is announced');
    await slow.until(() => slow.events().length + announced === published, 'the rest of what was kept');
    t.equal(slow.events().length + announced, published, 'received + dropped = published: nothing lost silently');
    const kept = slow.events().map((e) => (e.message as string).split(' ')[0]);
    t.equal(kept[0], '0-0', 'kept events start at the beginning');
    t.ok(kept.length <= published - dropped, 'no duplicates');

    // Caught up: the next events reach it again, after the notice.
    stack.bus.publish(batchOf(99).slice(0, 3));
    await slow.until(() => slow.events().length + announced === published + 3, 'new events after catching up');
    const lastNotice = slow.messages.findLastIndex((m) => m.startsWith('{"dropped"'));
    t.ok(
      slow.messages.slice(lastNotice + 1).join('').includes('99-2 '),
      'new events come after the notice',
    );
    await fast.close();
    await slow.close();
  });
});
