/**
 * Mistakes only a client can make, found before a route runs (a URL over the header limit, bytes
 * that are not HTTP) or below it (a WebSocket frame that breaks the protocol): each gets the
 * documented error shape or close code, and the service logs it as the client's, at debug level,
 * without a stack trace.
 */
import t from 'tap';
import { get, memoryLogger, RawClient, startStack, waitFor, WsClient } from './harness.ts';

t.test('client mistakes', async (t) => {
  const log = memoryLogger();
  const stack = await startStack(t, { server: { maxBodyBytes: 64 * 1024 }, logger: log.logger });

  t.test('a URL over the header limit: 431 in the documented shape', async (t) => {
    const res = await get(`${stack.url}/v1/stream?labelSelector=${'a'.repeat(20_000)}`);
    t.equal(res.status, 431);
    t.match(JSON.parse(res.text), { error: /request line and headers are larger than \d+ bytes/, details: [{ message: /URL .* headers under \d+ bytes/, limit: Number }] });
    t.match(res.headers.get('content-type'), /^application\/json/);
  });

  t.test('bytes that are not HTTP: 400 in the documented shape', async (t) => {
    const client = await RawClient.open(stack.url);
    client.write('NOT HTTP AT ALL\r\n\r\n');
    await waitFor(() => client.closed, 'the connection to be closed');
    t.equal(client.status, 400);
    t.match(client.json(), { error: 'malformed HTTP request', details: [{ message: String }] });
  });

  t.test('WebSocket protocol errors close with their code', async (t) => {
    const badText = await WsClient.open(`${stack.url}/v1/ingest`);
    badText.socket.send(Buffer.from([0xff, 0xfe, 0xfd]), { binary: false });
    await badText.until(() => badText.closeCode !== undefined, 'the close');
    t.equal(badText.closeCode, 1007, 'invalid UTF-8 in a text frame: 1007');

    const tooBig = await WsClient.open(`${stack.url}/v1/ingest`);
    tooBig.socket.send('x'.repeat(65 * 1024));
    await tooBig.until(() => tooBig.closeCode !== undefined, 'the close');
    t.equal(tooBig.closeCode, 1009, 'a message over maxBodyBytes: 1009');
  });

  t.test('all of them are logged as the client\'s mistakes: debug, no stack trace', async (t) => {
    await waitFor(() => log.lines.filter((l) => /websocket client error/.test(String(l.msg))).length >= 2, 'both WebSocket errors in the log');
    const serious = log.lines.filter((l) => Number(l.level) >= 40);
    t.same(serious, [], 'nothing at warn or above');
    t.notOk(
      log.lines.some((l) => JSON.stringify(l).includes('"stack"')),
      'no stack traces',
    );
    t.ok(
      log.lines.some((l) => l.status === 431),
      'the 431 is in the debug log',
    );
  });
});
