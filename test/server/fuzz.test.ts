/**
 * Random bytes, random JSON and random batches at every route: never a 5xx, never a crash or a
 * hang, and the service still answers afterwards. Bounded runs (200 per route).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import t from 'tap';
import { createFileSink } from '../../src/sink/index.ts';
import { criLine, podLogPath } from '../builders/lines.ts';
import { startStack, WsClient } from './harness.ts';

const RUNS = 200;
/** A request that takes this long counts as a hang. */
const HANG_MS = 5000;

const headerText = fc.stringMatching(/^[\x20-\x7e]{0,40}$/);
const contentType = fc.oneof(
  fc.constantFrom('application/json', 'application/x-ndjson', 'application/json; charset=utf-8', 'text/plain', 'application/octet-stream', 'application/x-ndjson; x=1'),
  headerText,
);
const accept = fc.oneof(fc.constant(undefined), fc.constantFrom('application/json', 'application/x-ndjson', '*/*', 'text/html;q=0.2'), headerText);

/** Raw events that look almost right: real paths and lines mixed with junk in every field. */
const rawEvent = fc.record(
  {
    file: fc.oneof(
      fc.string(),
      fc.constant(podLogPath({ namespace: 'shop', pod: 'cart-7d9f8-x2x4q', uid: '0b6c0000-0000-0000-0000-000000000000', container: 'cart' })),
      fc.jsonValue(),
    ),
    line: fc.oneof(fc.string(), fc.string().map((message) => criLine({ message })), fc.string().map((message) => criLine({ message, partial: true })), fc.jsonValue()),
    message: fc.oneof(fc.string(), fc.jsonValue()),
    timestamp: fc.oneof(fc.string(), fc.constant('2026-11-23T10:00:00Z'), fc.integer()),
    stream: fc.oneof(fc.constantFrom('stdout', 'stderr'), fc.string()),
  },
  { requiredKeys: [] },
);

const body = fc.oneof(
  fc.uint8Array({ maxLength: 4096 }).map((bytes) => Buffer.from(bytes)),
  fc.string({ maxLength: 2000 }),
  fc.jsonValue().map((v) => JSON.stringify(v) ?? 'null'),
  fc.array(fc.oneof(rawEvent, fc.jsonValue()), { maxLength: 30 }).map((events) => JSON.stringify({ events })),
  fc
    .tuple(fc.array(fc.oneof(rawEvent, fc.jsonValue()), { maxLength: 30 }), fc.constantFrom('\n', '\r\n', '\n\n'))
    .map(([events, separator]) => events.map((e) => JSON.stringify(e) ?? '').join(separator)),
);

t.test('fuzzing every route', async (t) => {
  const dir = t.testdir();
  const sink = createFileSink(join(dir, 'forwarded.ndjson'));
  t.teardown(() => sink.close());
  const stack = await startStack(t, { sink, config: { server: { maxBodyBytes: '64KiB' } } });

  async function request(path: string, init: RequestInit): Promise<number> {
    const res = await fetch(`${stack.url}${path}`, { ...init, signal: AbortSignal.timeout(HANG_MS) });
    await res.arrayBuffer();
    return res.status;
  }

  for (const path of ['/v1/enrich', '/v1/forward']) {
    t.test(`POST ${path}`, async (t) => {
      const statuses = new Set<number>();
      await fc.assert(
        fc.asyncProperty(body, contentType, accept, async (payload, type, acceptHeader) => {
          const headers: Record<string, string> = { 'content-type': type };
          if (acceptHeader !== undefined) headers.accept = acceptHeader;
          const status = await request(path, { method: 'POST', headers, body: payload });
          statuses.add(status);
          return status < 500;
        }),
        { numRuns: RUNS },
      );
      t.ok([...statuses].every((s) => s < 500), `statuses seen: ${[...statuses].sort().join(', ')}`);
    });
  }

  t.test('GET routes with random queries and paths', async (t) => {
    const statuses = new Set<number>();
    const route = fc.constantFrom('/v1/lookup', '/v1/stream', '/v1/ingest', '/healthz', '/readyz', '/metrics', '/openapi.json', '/v1/enrich', '/');
    const query = fc.dictionary(fc.constantFrom('file', 'namespace', 'pod', 'container', 'labelSelector', 'ack', 'x'), fc.string({ maxLength: 300 }), { maxKeys: 4 });
    await fc.assert(
      fc.asyncProperty(fc.oneof(route, fc.webPath()), query, async (path, params) => {
        const search = new URLSearchParams(params).toString();
        const status = await request(`${path.startsWith('/') ? path : `/${path}`}${search === '' ? '' : `?${search}`}`, { method: 'GET' });
        statuses.add(status);
        return status < 500 || (path === '/readyz' && status === 503);
      }),
      { numRuns: RUNS },
    );
    t.ok(true, `statuses seen: ${[...statuses].sort().join(', ')}`);
  });

  /** Sends random bodies as messages while the connection stays open; how many were sent. */
  async function sendRandomMessages(client: WsClient): Promise<number> {
    let sent = 0;
    await fc.assert(
      // Random bytes go in binary frames: a text frame must be UTF-8, and ws closes (1007) on one that is not.
      fc.asyncProperty(body, async (payload) => {
        client.socket.send(payload, { binary: Buffer.isBuffer(payload) });
        sent++;
        return client.closeCode === undefined;
      }),
      { numRuns: RUNS },
    );
    return sent;
  }

  t.test('WebSocket /v1/ingest with random messages: answered, never dropped', async (t) => {
    const client = await WsClient.open(`${stack.url}/v1/ingest`);
    const sent = await sendRandomMessages(client);
    client.socket.send(JSON.stringify({ file: '/x', message: 'still alive' }));
    await client.until(() => client.closeCode !== undefined || client.events().some((e) => e.message === 'still alive'), 'the connection to still work', 10_000);
    t.equal(client.closeCode, undefined, `still connected after ${sent} random messages`);
    await client.close();
  });

  t.test('WebSocket /v1/ingest?ack=true with random messages: every one acknowledged, in order', async (t) => {
    const client = await WsClient.open(`${stack.url}/v1/ingest?ack=true`);
    const sent = await sendRandomMessages(client);
    await client.until(() => client.closeCode !== undefined || client.messages.length === sent, `${sent} acknowledgements`, 10_000);
    t.equal(client.closeCode, undefined, `still connected after ${sent} random messages`);
    const acks = client.messages.map((m) => (JSON.parse(m.slice(0, m.indexOf('\n'))) as { ack: number }).ack);
    t.same(acks, Array.from({ length: sent }, (_, i) => i + 1), 'one acknowledgement per message, numbered in order');
    await client.close();
  });

  t.test('WebSocket /v1/stream with random filters', async (t) => {
    await fc.assert(
      fc.asyncProperty(fc.dictionary(fc.constantFrom('namespace', 'pod', 'container', 'labelSelector'), fc.string({ maxLength: 100 }), { maxKeys: 3 }), async (params) => {
        const url = `${stack.url}/v1/stream?${new URLSearchParams(params).toString()}`;
        const outcome = await WsClient.open(url).then(
          async (client) => {
            await client.close();
            return 101;
          },
          (err: { status?: number }) => err.status ?? 0,
        );
        return outcome === 101 || outcome === 400;
      }),
      { numRuns: RUNS },
    );
    t.pass('every filter was accepted (101) or refused with 400');
  });

  t.test('still healthy, and forwarded lines are whole NDJSON', async (t) => {
    t.equal(await request('/healthz', {}), 200);
    let text = '';
    try {
      text = readFileSync(join(dir, 'forwarded.ndjson'), 'utf8');
    } catch {
      // nothing forwarded: every random body was refused, which is fine
    }
    for (const line of text.split('\n').filter((l) => l !== '')) JSON.parse(line);
    t.pass(`${text.split('\n').length - 1} forwarded lines parse`);
  });
});
