/**
 * Slow, stalled and dead clients over real sockets: requests that take too long to arrive get 408
 * and lose their connection (slowloris), idle keep-alive connections are closed, WebSocket peers
 * that stop answering pings are cut off, while live WebSocket clients stay.
 */
import t, { type Test } from 'tap';
import { WebSocket } from 'ws';
import { get, makeCertificate, RawClient, startStack, waitFor, WsClient } from './harness.ts';

/** Short limits, so the tests wait for seconds at most; the caps below are generous for a loaded machine. */
const LIMITS = { headersTimeout: '300ms', requestTimeout: '600ms', maxInflightWait: '300ms', keepAliveTimeout: '300ms', websocketPingInterval: '200ms' };
const CAP_MS = 20_000;

/** Sends `text` one byte every `everyMs` until the connection closes or the text runs out. */
function trickle(client: RawClient, text: string, everyMs: number): () => void {
  let next = 0;
  const timer = setInterval(() => {
    if (client.closed || next >= text.length) return clearInterval(timer);
    client.write(text[next++]!);
  }, everyMs);
  return () => clearInterval(timer);
}

function assertRequestTimeout(t: Test, client: RawClient, what: string): void {
  t.equal(client.status, 408, `${what}: 408`);
  t.match(client.json(), { error: 'the request did not arrive in time', details: [{ message: /server\.requestTimeout/ }] }, `${what}: the documented error shape`);
}

t.test('slowloris: headers or a body trickling in get 408 and lose their connection', async (t) => {
  const stack = await startStack(t, { config: { server: LIMITS } });
  const headers = `POST /v1/enrich HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-ndjson\r\nContent-Length: 1000\r\n`;
  const slowHeaders = await Promise.all(Array.from({ length: 20 }, () => RawClient.open(stack.url)));
  const slowBodies = await Promise.all(Array.from({ length: 20 }, () => RawClient.open(stack.url)));
  const stops = [
    ...slowHeaders.map((c) => trickle(c, `${headers}\r\n${'x'.repeat(1000)}`, 100)),
    ...slowBodies.map((c) => {
      c.write(`${headers}\r\n`);
      return trickle(c, 'x'.repeat(1000), 100);
    }),
  ];
  t.teardown(() => stops.forEach((stop) => stop()));
  const all = [...slowHeaders, ...slowBodies];
  await waitFor(() => all.every((c) => c.closed), 'every slow connection to be closed', CAP_MS);
  for (const client of slowHeaders) assertRequestTimeout(t, client, 'slow headers');
  for (const client of slowBodies) assertRequestTimeout(t, client, 'slow body');
  t.equal((await get(`${stack.url}/healthz`)).status, 200, 'the service still answers');
});

t.test('an idle keep-alive connection is closed; one in use is not', async (t) => {
  const stack = await startStack(t, { config: { server: LIMITS } });
  const client = await RawClient.open(stack.url);
  client.write('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
  await waitFor(() => client.status !== undefined, 'the answer');
  t.equal(client.status, 200);
  await waitFor(() => client.closed, 'the idle connection to be closed', CAP_MS);
  t.pass('closed by the service');
});

t.test('WebSocket: live clients stay past every HTTP timeout, dead peers are cut off', async (t) => {
  const stack = await startStack(t, { config: { server: LIMITS } });
  const live = await WsClient.open(`${stack.url}/v1/stream`);
  // A peer that vanished: its library never answers pings.
  const dead = new WebSocket(`${stack.url.replace(/^http/, 'ws')}/v1/ingest`, { autoPong: false });
  await new Promise((resolve, reject) => {
    dead.once('open', resolve);
    dead.once('error', reject);
  });
  const deadClient = WsClient.wrap(dead);
  await deadClient.until(() => deadClient.closeCode !== undefined, 'the dead peer to be cut off', CAP_MS);
  t.equal(deadClient.closeCode, 1006, 'cut off without a close handshake');
  // By now the live client has been pinged more than once and outlived requestTimeout and keepAliveTimeout.
  await waitFor(() => stack.app.websocketServer.clients.size === 1, 'the server to let go of the dead peer', CAP_MS);
  t.equal(live.socket.readyState, WebSocket.OPEN, 'the live client is still connected');
  await live.close();
});

t.test('TLS: a slow request gets 408 and loses its connection too', async (t) => {
  const material = makeCertificate(t.testdir());
  if (material === undefined) {
    t.pass('skipped: openssl is not available to make a test certificate');
    return;
  }
  const stack = await startStack(t, { config: { server: { ...LIMITS, tls: { certFile: material.certFile, keyFile: material.keyFile } } } });
  const client = await RawClient.open(stack.url, material.cert);
  const stop = trickle(client, 'GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n', 100);
  t.teardown(stop);
  await waitFor(() => client.closed, 'the slow TLS connection to be closed', CAP_MS);
  assertRequestTimeout(t, client, 'over TLS');
});
