/** The HTTP sink against a real server on loopback: batches, keep-alive, retries, hard errors. */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import t, { type Test } from 'tap';
import { createMetrics } from '../../src/metrics/index.ts';
import { SinkRejectedError, SinkUnavailableError, createHttpSink, ndjsonOfTexts } from '../../src/sink/index.ts';

interface Received {
  body: string;
  contentType: string | undefined;
  socket: number;
}

/** A receiver whose answer per request is decided by `answer(n)` (n counts from 0). */
async function receiver(t: Test, answer: (n: number) => { status: number; body?: string; headers?: Record<string, string> }) {
  const received: Received[] = [];
  const sockets = new Map<object, number>();
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (!sockets.has(req.socket)) sockets.set(req.socket, sockets.size);
      const n = received.length;
      received.push({ body: Buffer.concat(chunks).toString(), contentType: req.headers['content-type'], socket: sockets.get(req.socket)! });
      const a = answer(n);
      res.writeHead(a.status, a.headers);
      res.end(a.body ?? '');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  }));
  const url = new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}/ingest`);
  return { url, received };
}

const fast = { initialMs: 5, maxMs: 20, factor: 2, jitter: 0.2 };

t.test('posts NDJSON batches over one keep-alive connection', async (t) => {
  const { url, received } = await receiver(t, () => ({ status: 200 }));
  const sink = createHttpSink(url, { backoff: fast });
  for (let i = 0; i < 5; i++) await sink.write(ndjsonOfTexts([`{"n":${i}}`, `{"m":${i}}`]));
  await sink.write(ndjsonOfTexts([]));
  await sink.close();
  t.equal(received.length, 5, 'empty batches are not sent');
  t.equal(received[0]?.body, '{"n":0}\n{"m":0}\n');
  t.equal(received[0]?.contentType, 'application/x-ndjson');
  t.same(new Set(received.map((r) => r.socket)), new Set([0]), 'one connection reused');
});

t.test('5xx, 429 and 408 are retried with backoff within a write', async (t) => {
  const answers = [{ status: 503 }, { status: 429, headers: { 'retry-after': '0' } }, { status: 408 }, { status: 204 }];
  const { url, received } = await receiver(t, (n) => answers[n] ?? { status: 200 });
  const metrics = createMetrics(undefined, { processMetrics: false });
  const sink = createHttpSink(url, { attempts: 4, backoff: fast, metrics });
  await sink.write(ndjsonOfTexts(['{"x":1}']));
  t.equal(received.length, 4);
  t.ok(received.every((r) => r.body === '{"x":1}\n'), 'the same batch each time');
  t.equal((await metrics.sinkErrors.get()).values.find((v) => v.labels.sink === 'http')?.value, 3);
  t.equal(sink.available, true);
  await sink.close();
});

t.test('still failing after the attempts: SinkUnavailableError, unavailable until the backoff passed', async (t) => {
  let now = 1_000_000;
  let healthy = false;
  const { url } = await receiver(t, () => (healthy ? { status: 200 } : { status: 500, body: 'database\n  is down', headers: { 'retry-after': '7' } }));
  const sink = createHttpSink(url, { attempts: 2, backoff: fast, now: () => now });
  const err = await sink.write(ndjsonOfTexts(['{}'])).then(() => undefined, (e: unknown) => e);
  t.type(err, SinkUnavailableError);
  t.notOk(err instanceof SinkRejectedError, 'not a hard error');
  t.match((err as Error).message, /http sink http:\/\/127\.0\.0\.1:\d+\/ingest is unavailable after 2 attempt\(s\): HTTP 500: database is down/);
  t.equal((err as SinkUnavailableError).retryAfterSeconds, 7, 'Retry-After of the receiver');
  t.equal(sink.available, false);
  now += 7_000;
  t.equal(sink.available, true, 'worth a try again after the delay');
  healthy = true;
  await sink.write(ndjsonOfTexts(['{}']));
  t.equal(sink.available, true);
  await sink.close();
});

t.test('other 4xx: a hard error reported clearly, not retried', async (t) => {
  const { url, received } = await receiver(t, () => ({ status: 400, body: '{"error":"field \\"message\\" missing"}' }));
  const sink = createHttpSink(url, { attempts: 5, backoff: fast });
  const err = await sink.write(ndjsonOfTexts(['{}'])).then(() => undefined, (e: unknown) => e);
  t.type(err, SinkRejectedError);
  t.type(err, SinkUnavailableError, 'callers that only know the base class still keep the data');
  t.equal((err as SinkRejectedError).status, 400);
  t.equal((err as SinkRejectedError).permanent, true);
  t.match((err as Error).message, /rejected the batch with HTTP 400: \{"error":"field \\"message\\" missing"\}/);
  t.equal(received.length, 1, 'no retries');
  t.equal(sink.available, false);
  await sink.close();
});

t.test('connection refused is retried, then reported with its cause', async (t) => {
  const { url } = await receiver(t, () => ({ status: 200 }));
  const closed = createServer();
  await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
  const port = (closed.address() as AddressInfo).port;
  await new Promise<void>((resolve) => closed.close(() => resolve()));
  const sink = createHttpSink(new URL(`http://127.0.0.1:${port}/x`), { attempts: 2, backoff: fast });
  await t.rejects(sink.write(ndjsonOfTexts(['{}'])), /unavailable after 2 attempt\(s\): ECONNREFUSED/);
  await sink.close();
  await t.rejects(sink.write(ndjsonOfTexts(['{}'])), /is closed/);
  t.ok(url);
});

t.test('a slow receiver times out and is retried', async (t) => {
  let n = 0;
  const server = createServer((req, res) => {
    req.resume();
    if (n++ === 0) return; // never answers the first request
    req.on('end', () => res.end());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  }));
  const sink = createHttpSink(new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`), { attempts: 2, backoff: fast, timeoutMs: 100 });
  await sink.write(ndjsonOfTexts(['{}']));
  t.equal(n, 2);
  await sink.close();
});
