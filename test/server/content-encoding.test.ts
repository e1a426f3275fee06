/**
 * Compressed request bodies (Content-Encoding) on the batch routes, over real HTTP: every
 * supported coding decodes, corrupt bodies are 400s naming the header, unknown codings 415s, and
 * the body limit holds for the decoded size (a decompression bomb gets 413, not the memory).
 */
import { brotliCompressSync, deflateRawSync, deflateSync, gzipSync, zstdCompressSync } from 'node:zlib';
import t from 'tap';
import { ndjson, parseNdjson, post, rawEvent, startStack, scrape, sampleValue } from './harness.ts';

const LIMIT = 256 * 1024;
const COMPRESS: Record<string, (body: Buffer) => Buffer> = {
  gzip: (b) => gzipSync(b),
  'x-gzip': (b) => gzipSync(b),
  deflate: (b) => deflateSync(b),
  br: (b) => brotliCompressSync(b),
  zstd: (b) => zstdCompressSync(b),
};

interface ErrorAnswer {
  error: string;
  details: { field?: string; message: string; limit?: number }[];
}

t.test('content encodings', async (t) => {
  const stack = await startStack(t, { config: { server: { maxBodyBytes: `${LIMIT}B` } } });
  const url = `${stack.url}/v1/enrich`;
  const cart = stack.pod('cart');
  const events = [rawEvent(cart, 'one'), rawEvent(cart, 'two é'), rawEvent(cart, 'three')];
  const body = Buffer.from(ndjson(events));

  t.test('gzip, x-gzip, deflate, br and zstd bodies are decoded', async (t) => {
    for (const [coding, compress] of Object.entries(COMPRESS)) {
      const res = await post(url, compress(body), { 'content-type': 'application/x-ndjson', 'content-encoding': coding });
      t.equal(res.status, 200, `${coding}: ${res.text}`);
      t.same(parseNdjson(res.text).map((e) => e.message), ['one', 'two é', 'three'], coding);
    }
    const json = await post(url, gzipSync(JSON.stringify({ events })), { 'content-type': 'application/json', 'content-encoding': 'GZIP' });
    t.equal(json.status, 200, 'a JSON body; the coding name in any case');
    t.equal((JSON.parse(json.text) as { events: unknown[] }).events.length, 3);
    const identity = await post(url, body, { 'content-type': 'application/x-ndjson', 'content-encoding': 'identity' });
    t.equal(identity.status, 200, 'identity: nothing to decode');
    const listed = await post(url, gzipSync(body), { 'content-type': 'application/x-ndjson', 'content-encoding': 'identity, gzip' });
    t.equal(listed.status, 200, 'identity in a list is skipped');
  });

  t.test('a compressed body sent in chunks, without Content-Length', async (t) => {
    const compressed = gzipSync(body);
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-ndjson', 'content-encoding': 'gzip' },
      body: new ReadableStream({
        start(controller) {
          for (let i = 0; i < compressed.length; i += 7) controller.enqueue(compressed.subarray(i, i + 7));
          controller.close();
        },
      }),
      duplex: 'half',
    } as RequestInit);
    t.equal(res.status, 200);
    t.same(parseNdjson(await res.text()).map((e) => e.message), ['one', 'two é', 'three']);
  });

  t.test('a body that does not decode: 400 naming Content-Encoding', async (t) => {
    const cases: [string, Buffer][] = [
      ['gzip', body],
      ['gzip', gzipSync(body).subarray(0, 20)],
      ['deflate', deflateRawSync(body).subarray(3)],
      ['br', Buffer.from('not brotli at all, just text')],
      ['zstd', Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 1, 2, 3, 4, 5])],
    ];
    for (const [coding, bytes] of cases) {
      const res = await post(url, bytes, { 'content-type': 'application/x-ndjson', 'content-encoding': coding });
      t.equal(res.status, 400, `${coding}: ${res.text}`);
      const answer = JSON.parse(res.text) as ErrorAnswer;
      t.equal(answer.error, `request body does not decode as Content-Encoding: ${coding}`);
      t.match(answer.details[0], { field: 'content-encoding', message: new RegExp(`compressed with ${coding}`) });
    }
  });

  t.test('a coding the service cannot decode: 415 naming it', async (t) => {
    for (const coding of ['snappy', 'compress', 'lz4', 'x-snappy-framed']) {
      const res = await post(url, Buffer.from('\xff\x06\x00\x00sNaPpY'), { 'content-type': 'application/x-ndjson', 'content-encoding': coding });
      t.equal(res.status, 415, coding);
      const answer = JSON.parse(res.text) as ErrorAnswer;
      t.equal(answer.error, `unsupported Content-Encoding: ${coding}`);
      t.match(answer.details[0], { field: 'content-encoding', message: /gzip, deflate, br, zstd, identity/ });
    }
    const twice = await post(url, gzipSync(gzipSync(body)), { 'content-type': 'application/x-ndjson', 'content-encoding': 'gzip, gzip' });
    t.equal(twice.status, 415);
    t.match(JSON.parse(twice.text), { details: [{ field: 'content-encoding', message: /one content coding at a time/ }] });
  });

  t.test('the body limit applies to the decoded size: decompression bombs get 413', async (t) => {
    // Gzip members may be concatenated: 10 of 16 MiB each inflate to 160 MiB from ~160 KB.
    const member = gzipSync(Buffer.alloc(16 << 20, 0x20));
    const bombs: [string, Buffer][] = [
      ['gzip', Buffer.concat(Array.from({ length: 10 }, () => member))],
      ['deflate', deflateSync(Buffer.alloc(64 << 20, 0x20))],
      ['zstd', zstdCompressSync(Buffer.alloc(64 << 20, 0x20))],
    ];
    for (const [coding, bomb] of bombs) {
      t.ok(bomb.length < LIMIT, `the ${coding} body itself is small (${bomb.length} bytes)`);
      const res = await post(url, bomb, { 'content-type': 'application/x-ndjson', 'content-encoding': coding });
      t.equal(res.status, 413, coding);
      const answer = JSON.parse(res.text) as ErrorAnswer;
      t.equal(answer.error, `request body is larger than ${LIMIT} bytes once decoded`);
      t.match(answer.details[0], { field: 'content-encoding', limit: LIMIT });
    }
    // Just over the limit once decoded, though a fraction of it compressed.
    const justOver = gzipSync(ndjson(Array.from({ length: 2000 }, (_, i) => rawEvent(cart, `line ${i} ${'p'.repeat(120)}`))));
    t.ok(justOver.length < LIMIT);
    t.equal((await post(url, justOver, { 'content-type': 'application/x-ndjson', 'content-encoding': 'gzip' })).status, 413);
    const after = await post(url, gzipSync(body), { 'content-type': 'application/x-ndjson', 'content-encoding': 'gzip' });
    t.equal(after.status, 200, 'the service answers normally afterwards');
    const samples = await scrape(stack.url);
    t.ok(sampleValue(samples, 'kube_log_enricher_http_request_duration_seconds_count', { route: '/v1/enrich', status_code: '413' }) >= 4);
  });

  t.test('a compressed body over the limit before decoding: 413 from its length', async (t) => {
    const random = Buffer.alloc(LIMIT + 1024);
    for (let i = 0; i < random.length; i++) random[i] = (i * 2654435761) >>> 24;
    const res = await post(url, gzipSync(random, { level: 0 }), { 'content-type': 'application/x-ndjson', 'content-encoding': 'gzip' });
    t.equal(res.status, 413);
  });

  t.test('/v1/forward decodes the same way', async (t) => {
    const res = await post(`${stack.url}/v1/forward`, Buffer.from('garbage'), { 'content-type': 'application/x-ndjson', 'content-encoding': 'gzip' });
    t.equal(res.status, 400, 'a corrupt body is a 400 before the sink question (501 here) arises');
    const unknown = await post(`${stack.url}/v1/forward`, body, { 'content-type': 'application/x-ndjson', 'content-encoding': 'snappy' });
    t.equal(unknown.status, 415);
  });
});
