/**
 * Mistakes only a client can make, found before a route runs (a URL over the header limit, bytes
 * that are not HTTP), while its body is read (a connection reset part-way) or below the route (a
 * WebSocket frame that breaks the protocol, a /v1/ingest message that does not parse, a
 * connection cut in the middle of a frame): each gets the documented error shape or close code,
 * and the service logs it as the client's, at debug level, without a stack trace. A fault of the
 * service itself is logged at error level, with its stack.
 */
import type { Socket } from 'node:net';
import t from 'tap';
import { isClientError } from '../../src/server/client-errors.ts';
import { ApiError } from '../../src/server/errors.ts';
import type { Enricher } from '../../src/enrich/types.ts';
import { get, memoryLogger, ndjson, RawClient, rawEvent, sampleValue, scrape, startStack, waitFor, WsClient } from './harness.ts';

/** A real enricher that fails like a bug would on a message of "boom". */
function failingOnBoom(enricher: Enricher): Enricher {
  return {
    newSession: (options) => enricher.newSession(options),
    enrichBatch: (events, session) => {
      if (JSON.stringify(events).includes('boom')) throw new TypeError('an enricher bug');
      return enricher.enrichBatch(events, session);
    },
    enrichMessages: (files, messages) => enricher.enrichMessages(files, messages),
    resolve: (file) => enricher.resolve(file),
    fileView: (file) => enricher.fileView(file),
    retentionHint: enricher.retentionHint,
  };
}

/** The TCP socket under a WebSocket client, to send what ws itself would never send. */
function tcpOf(client: WsClient): Socket {
  return (client.socket as unknown as { _socket: Socket })._socket;
}

const debugLines = (lines: Record<string, unknown>[], pattern: RegExp) => lines.filter((l) => l.level === 20 && pattern.test(String(l.msg)));

t.test('client mistakes', async (t) => {
  const log = memoryLogger();
  const stack = await startStack(t, { config: { server: { maxBodyBytes: '64KiB' } }, logger: log.logger, wrapEnricher: failingOnBoom });
  const cart = stack.pod('cart');

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

  t.test('a client that resets its connection part-way through a body (JSON, NDJSON, chunked)', async (t) => {
    const body = ndjson([rawEvent(cart, 'cut short')]);
    const inflight = async () => sampleValue(await scrape(stack.url), 'kube_log_enricher_inflight_bytes');
    for (const [type, framing] of [
      ['application/json', 'Content-Length: 1000'],
      ['application/x-ndjson', 'Content-Length: 1000'],
      ['application/x-ndjson', 'Transfer-Encoding: chunked'],
    ] as const) {
      const before = log.lines.length;
      const client = await RawClient.open(stack.url);
      client.write(`POST /v1/enrich HTTP/1.1\r\nHost: x\r\nContent-Type: ${type}\r\n${framing}\r\n\r\n`);
      client.write(framing.startsWith('Content-Length') ? body.slice(0, 20) : `14\r\n${body.slice(0, 20)}\r\n`);
      // Its body is being read once it holds its share of maxInflightBytes.
      await waitFor(async () => (await inflight()) > 0, `${type} ${framing}: the request to be read`);
      client.socket.resetAndDestroy();
      await waitFor(() => debugLines(log.lines.slice(before), /went away|aborted|client error/).length > 0, `${type} ${framing}: the reset in the log`);
      await waitFor(async () => (await inflight()) === 0, `${type} ${framing}: its share given back`);
    }
    t.pass('each logged as the client leaving');
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

    // Bad framing: a client frame must be masked.
    const unmasked = await WsClient.open(`${stack.url}/v1/ingest`);
    tcpOf(unmasked).write(Buffer.from([0x81, 0x02, 0x68, 0x69]));
    await unmasked.until(() => unmasked.closeCode !== undefined, 'the close');
    t.equal(unmasked.closeCode, 1002, 'an unmasked frame: 1002 (protocol error)');

    // A reset in the middle of a frame: the header of a 4 KiB text frame and 5 bytes of it.
    const cut = await WsClient.open(`${stack.url}/v1/ingest`);
    await waitFor(() => stack.app.websocketServer.clients.size >= 1, 'the connection');
    tcpOf(cut).write(Buffer.from([0x81, 0xfe, 0x10, 0x00, 1, 2, 3, 4, 5]));
    tcpOf(cut).resetAndDestroy();
    await waitFor(() => stack.app.websocketServer.clients.size === 0, 'the server to let go of every connection');
  });

  t.test('bad /v1/ingest messages are answered, and logged as the client\'s', async (t) => {
    for (const query of ['', '?ack=true']) {
      const client = await WsClient.open(`${stack.url}/v1/ingest${query}`);
      client.socket.send('{"file": oops');
      client.socket.send(`${JSON.stringify(rawEvent(cart, 'ok'))}\n{"file":\n`);
      await client.until(() => client.messages.length === 2, 'two answers');
      t.match(client.messages[0], /malformed JSON body/, `${query || 'plain'}: the first`);
      t.match(client.messages[1], /malformed NDJSON on line 2/, `${query || 'plain'}: the second`);
      await client.close();
    }
    t.equal(debugLines(log.lines, /^client error on ingest message: malformed/).length, 4, 'four lines at debug');
  });

  t.test('a fault of the service is logged at error, with its stack; the connection goes on', async (t) => {
    const client = await WsClient.open(`${stack.url}/v1/ingest?ack=true`);
    client.socket.send(JSON.stringify(rawEvent(cart, 'boom')));
    client.socket.send(JSON.stringify(rawEvent(cart, 'fine')));
    await client.until(() => client.messages.length === 2, 'two answers');
    t.match(JSON.parse(client.messages[0]!.split('\n')[0]!), { ack: 1, events: 0, error: 'internal error', details: [{ message: 'see the service log' }] });
    t.match(JSON.parse(client.messages[1]!.split('\n')[0]!), { ack: 2, events: 1 });
    const faults = log.lines.filter((l) => l.level === 50);
    t.equal(faults.length, 1, 'one line at error');
    t.match(faults[0], { msg: 'ingest message failed', err: { type: 'TypeError', message: 'an enricher bug', stack: /TypeError: an enricher bug/ } });
    await client.close();
    // What the other subtests check leaves this one out.
    log.lines.splice(log.lines.indexOf(faults[0]!), 1);
  });

  t.test('all of them are logged as the client\'s mistakes: debug, no stack trace', async (t) => {
    await waitFor(() => debugLines(log.lines, /^client error on websocket connection/).length >= 3, 'the WebSocket protocol errors in the log');
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
    t.ok(
      debugLines(log.lines, /WS_ERR_EXPECTED_MASK|MASK must be set/).length + log.lines.filter((l) => l.code === 'WS_ERR_EXPECTED_MASK').length > 0,
      'the unmasked frame too, with its code',
    );
  });
});

t.test('isClientError: whose fault an error is', async (t) => {
  for (const err of [
    Object.assign(new Error('aborted'), { code: 'ECONNRESET' }),
    Object.assign(new Error('write EPIPE'), { code: 'EPIPE' }),
    Object.assign(new Error('Parse Error'), { code: 'HPE_INVALID_METHOD' }),
    Object.assign(new RangeError('Invalid WebSocket frame: MASK must be set'), { code: 'WS_ERR_EXPECTED_MASK' }),
    Object.assign(new Error('Body is too large'), { code: 'FST_ERR_CTP_BODY_TOO_LARGE', statusCode: 413 }),
    new ApiError(400, 'malformed_body', 'malformed JSON body'),
  ]) {
    t.ok(isClientError(err), `the client's: ${err.message}`);
  }
  for (const err of [
    new TypeError('Cannot read properties of undefined'),
    new ApiError(500, 'internal', 'internal error'),
    new ApiError(503, 'busy', 'retry later'),
    Object.assign(new Error('disk full'), { code: 'ENOSPC' }),
    'a string thrown',
    undefined,
  ]) {
    t.notOk(isClientError(err), `the service's: ${String((err as Error | undefined)?.message ?? err)}`);
  }
});
