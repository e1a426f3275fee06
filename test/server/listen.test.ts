/** startServer: addresses, TLS, and graceful close (in-flight answered, WebSocket clients told 1001). */
import { readFileSync } from 'node:fs';
import { request as httpsRequest, Agent as HttpsAgent } from 'node:https';
import { join } from 'node:path';
import t from 'tap';
import { WebSocket } from 'ws';
import { createFileSink } from '../../src/sink/index.ts';
import { buildApp, ListenError, ServerOptionsError, startServer } from '../../src/server/index.ts';
import type { Sink } from '../../src/sink/types.ts';
import { defaultServerOptions } from '../builders/defaults.ts';
import { get, makeCertificate, ndjson, post, RawClient, rawEvent, startStack, waitFor, WsClient } from './harness.ts';

t.test('plain HTTP on 127.0.0.1, the default family', async (t) => {
  const stack = await startStack(t);
  t.match(stack.url, /^http:\/\/127\.0\.0\.1:\d+$/);
  t.equal((await get(`${stack.url}/healthz`)).status, 200);
  await stack.server.close();
  await stack.server.close();
  t.pass('closing twice is harmless');
  await t.rejects(fetch(`${stack.url}/healthz`), 'nothing listens after close');
});

t.test('IPv6 loopback', async (t) => {
  const stack = await startStack(t, { config: { server: { listen: '[::1]:0' } } }).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'EADDRNOTAVAIL' || err.code === 'EAFNOSUPPORT') return undefined;
    throw err;
  });
  if (stack === undefined) {
    t.pass('skipped: no IPv6 loopback on this machine');
    return;
  }
  t.match(stack.url, /^http:\/\/\[::1\]:\d+$/);
  t.equal((await get(`${stack.url}/healthz`)).status, 200);
});

t.test('server options are checked when the app is built', async (t) => {
  const stack = await startStack(t);
  const deps = { enricher: stack.enricher, store: stack.store.reader(), readiness: stack.reflectors, metrics: stack.metrics };
  for (const bad of [
    { maxBodyBytes: 0 },
    { streamBufferEvents: -1 },
    { ingestMaxPendingBytes: Number.NaN },
    { partialFlushTimeoutMs: 1.5 },
    { authToken: '' },
    { closeTimeoutMs: -1 },
    { websocketPingIntervalMs: 0 },
    { maxStreamSubscribers: 0 },
    { sendTimeoutMs: 0 },
    { headersTimeoutMs: defaultServerOptions().requestTimeoutMs + 1 },
    { streamTimeShare: 0 },
    { streamTimeShare: 1.5 },
    { streamTimeShare: Number.NaN },
    { maxInflightWaitMs: -1 },
    { maxInflightWaitMs: Number.NaN },
    { maxInflightWaitMs: defaultServerOptions().requestTimeoutMs + 1 },
  ]) {
    await t.rejects(buildApp({ ...deps, options: defaultServerOptions(bad) }), ServerOptionsError, JSON.stringify(bad));
  }
});

t.test('a WebSocket client that never answers the close frame is cut off after closeTimeoutMs', async (t) => {
  const stack = await startStack(t, { server: { closeTimeoutMs: 200 } });
  const client = await WsClient.open(`${stack.url}/v1/stream`);
  await waitFor(() => stack.bus.subscriberCount === 1, 'the subscription');
  client.socket.pause();
  await stack.server.close();
  t.equal(stack.app.websocketServer.clients.size, 0, 'the server let go of the connection');
  client.socket.resume();
  await client.until(() => client.closeCode !== undefined, 'the client to see the end');
  t.ok(client.closeCode === 1001 || client.closeCode === 1006, `closed (${client.closeCode})`);
});

t.test('bad listen addresses are refused with the reason', async (t) => {
  const stack = await startStack(t);
  for (const listen of ['8080', ':8080', '::1:8080', '127.0.0.1:99999']) {
    await t.rejects(startServer(stack.app, { listen }), ListenError, listen);
  }
});

t.test('graceful close: an in-flight forward is still answered', async (t) => {
  let release: (() => void) | undefined;
  const dir = t.testdir();
  const file = createFileSink(join(dir, 'out.ndjson'));
  // The file sink, held back until the test lets it write: a slow sink.
  const heldSink: Sink = {
    get available() {
      return file.available;
    },
    write: (lines) => new Promise<void>((resolve, reject) => (release = () => file.write(lines).then(resolve, reject))),
    close: () => file.close(),
  };
  const stack = await startStack(t, { sink: heldSink });
  const inFlight = post(`${stack.url}/v1/forward`, ndjson([rawEvent(stack.pod('cart'), 'in flight at shutdown')]), { 'content-type': 'application/x-ndjson' });
  await waitFor(() => release !== undefined, 'the forward to reach the sink');
  const closing = stack.server.close();
  release!();
  const res = await inFlight;
  t.equal(res.status, 200, 'answered during shutdown');
  await closing;
  t.match(readFileSync(join(dir, 'out.ndjson'), 'utf8'), /in flight at shutdown/);
});

t.test('a request arriving during shutdown: 503 shutting_down with Retry-After, in the documented shape', async (t) => {
  let release: (() => void) | undefined;
  // A sink that holds the in-flight forward until the test lets it go: shutdown waits for it.
  const heldSink: Sink = {
    available: true,
    write: () => new Promise<void>((resolve) => (release = resolve)),
    close: async () => {},
  };
  const stack = await startStack(t, { sink: heldSink });
  const inFlight = post(`${stack.url}/v1/forward`, ndjson([rawEvent(stack.pod('cart'), 'in flight')]), { 'content-type': 'application/x-ndjson' });
  await waitFor(() => release !== undefined, 'the forward to reach the sink');
  // A connection whose request has begun (so shutdown does not close it as idle) and ends after.
  const late = await RawClient.open(stack.url);
  late.write('POST /v1/enrich HTTP/1.1\r\n');
  // Same process: a few turns of the event loop and the server has read those bytes.
  await new Promise((resolve) => setTimeout(resolve, 50));
  const closing = stack.server.close();
  await waitFor(() => fetch(`${stack.url}/healthz`).then(() => false, () => true), 'new connections to be refused');
  const body = ndjson([rawEvent(stack.pod('cart'), 'too late')]);
  late.write(`Host: x\r\nContent-Type: application/x-ndjson\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
  await waitFor(() => late.closed, 'the late request to be answered and its connection closed');
  t.equal(late.status, 503);
  t.match(late.received, /\r\nretry-after: 5\r\n/i, 'Retry-After');
  t.match(late.received, /\r\nconnection: close\r\n/i, 'the connection closes');
  t.match(late.received, /\r\ncontent-type: application\/json/i);
  const answer = late.json() as Record<string, unknown>;
  t.same(Object.keys(answer), ['error', 'details'], 'the error shape of every other answer');
  t.match(answer, { error: 'the service is shutting down', details: [{ message: /Retry-After/ }] });
  release!();
  t.equal((await inFlight).status, 200, 'the request in flight is still answered');
  await closing;
});

function httpsGet(url: string, ca: string, agent: HttpsAgent): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(url, { ca, agent }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

t.test('TLS: HTTPS and WSS on the same routes; close tells WebSocket clients 1001', async (t) => {
  const material = makeCertificate(t.testdir());
  if (material === undefined) {
    t.pass('skipped: openssl is not available to make a test certificate');
    return;
  }
  const stack = await startStack(t, { config: { server: { tls: { certFile: material.certFile, keyFile: material.keyFile } } } });
  t.match(stack.url, /^https:\/\/127\.0\.0\.1:\d+$/);
  const agent = new HttpsAgent({ keepAlive: true, ca: material.cert });
  t.teardown(() => agent.destroy());
  const health = await httpsGet(`${stack.url}/healthz`, material.cert, agent);
  t.equal(health.status, 200);
  t.same(JSON.parse(health.body), { status: 'ok' });
  t.equal((await httpsGet(`${stack.url}/nope`, material.cert, agent)).status, 404);

  const socket = new WebSocket(`${stack.url.replace('https', 'wss')}/v1/ingest`, { ca: material.cert });
  await new Promise((resolve, reject) => {
    socket.once('open', resolve);
    socket.once('error', reject);
  });
  const client = WsClient.wrap(socket);
  client.socket.send(JSON.stringify(rawEvent(stack.pod('cart'), 'over tls')));
  await client.until(() => client.events().length === 1, 'the enriched event over wss');
  t.equal(client.events()[0]!.message, 'over tls');

  await stack.server.close();
  await client.until(() => client.closeCode !== undefined, 'the close');
  t.equal(client.closeCode, 1001);
});
