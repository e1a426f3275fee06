/** POST /v1/enrich over a real socket, against a simulated cluster synced through real reflectors. */
import http from 'node:http';
import t from 'tap';
import { criFragments } from '../builders/lines.ts';
import { fileOf, kubernetesOf, ndjson, parseNdjson, post, postChunked, rawEvent, sampleValue, scrape, startStack } from './harness.ts';

const JSON_HEADERS = { 'content-type': 'application/json' };
const NDJSON_HEADERS = { 'content-type': 'application/x-ndjson' };

t.test('enrich', async (t) => {
  const stack = await startStack(t, { config: { server: { maxBodyBytes: '256KiB' } } });
  const url = `${stack.url}/v1/enrich`;
  const cart = stack.pod('cart');
  const db = stack.pod('db');

  t.test('JSON in, JSON out, in order, with pod metadata', async (t) => {
    const events = [rawEvent(cart, 'GET /a 200'), rawEvent(db, 'checkpoint'), rawEvent(cart, 'GET /b 200')];
    const res = await post(url, JSON.stringify({ events }), JSON_HEADERS);
    t.equal(res.status, 200);
    t.match(res.headers.get('content-type'), /^application\/json/);
    t.equal(res.headers.get('x-enrich-errors'), '0');
    const body = JSON.parse(res.text) as { events: Record<string, unknown>[]; errors: unknown[] };
    t.same(
      body.events.map((e) => e.message),
      ['GET /a 200', 'checkpoint', 'GET /b 200'],
    );
    t.same(body.errors, []);
    t.match(kubernetesOf(body.events[0]!), { pod_name: cart.name, pod_namespace: 'shop', pod_uid: cart.uid, container_name: 'cart', pod_labels: { app: 'cart' } });
    t.match(kubernetesOf(body.events[1]!), { pod_name: db.name, pod_namespace: 'data', namespace_labels: { team: 'data' } });
  });

  t.test('a bare JSON array, as Vector and Fluent Bit http outputs send', async (t) => {
    const res = await post(url, JSON.stringify([rawEvent(cart, 'one')]), { 'content-type': 'application/json; charset=utf-8' });
    t.equal(res.status, 200);
    t.same(
      (JSON.parse(res.text) as { events: { message: string }[] }).events.map((e) => e.message),
      ['one'],
    );
  });

  t.test('NDJSON in, NDJSON out; blank lines ignored', async (t) => {
    const body = `${JSON.stringify(rawEvent(cart, 'first'))}\n\n  \n${JSON.stringify(rawEvent(db, 'second'))}\n`;
    const res = await post(url, body, NDJSON_HEADERS);
    t.equal(res.status, 200);
    t.match(res.headers.get('content-type'), /^application\/x-ndjson/);
    t.ok(res.text.endsWith('\n'), 'each line ends with a newline');
    const events = parseNdjson(res.text);
    t.same(
      events.map((e) => e.message),
      ['first', 'second'],
    );
    t.equal(kubernetesOf(events[1]!).pod_name, db.name);
  });

  t.test('Accept picks the other format', async (t) => {
    const asJson = await post(url, ndjson([rawEvent(cart, 'x')]), { ...NDJSON_HEADERS, accept: 'application/json' });
    t.match(asJson.headers.get('content-type'), /^application\/json/);
    t.same((JSON.parse(asJson.text) as { events: { message: string }[] }).events[0]!.message, 'x');
    const asNdjson = await post(url, JSON.stringify({ events: [rawEvent(cart, 'y')] }), { ...JSON_HEADERS, accept: 'application/x-ndjson' });
    t.match(asNdjson.headers.get('content-type'), /^application\/x-ndjson/);
    t.same(parseNdjson(asNdjson.text)[0]!.message, 'y');
    const weighted = await post(url, ndjson([rawEvent(cart, 'z')]), { ...NDJSON_HEADERS, accept: 'application/x-ndjson;q=0.2, application/json' });
    t.match(weighted.headers.get('content-type'), /^application\/json/);
  });

  t.test('partial lines of one file are merged within the request', async (t) => {
    const long = 'x'.repeat(50) + 'END';
    const file = fileOf(cart);
    const fragments = criFragments(long, { size: 16 }).map((line) => ({ file, line }));
    t.ok(fragments.length > 2);
    const res = await post(url, ndjson([rawEvent(db, 'before'), ...fragments, rawEvent(db, 'after')]), NDJSON_HEADERS);
    t.equal(res.status, 200);
    const events = parseNdjson(res.text);
    t.same(
      events.map((e) => e.message),
      ['before', long, 'after'],
    );
    t.equal(res.headers.get('x-enrich-merged'), String(fragments.length - 1));
  });

  t.test('a trailing partial line is flushed at the end of the request', async (t) => {
    const res = await post(url, ndjson([rawEvent(cart, 'never finished', { partial: true })]), NDJSON_HEADERS);
    t.equal(res.status, 200);
    t.same(
      parseNdjson(res.text).map((e) => e.message),
      ['never finished'],
    );
  });

  t.test('order is kept across a large batch', async (t) => {
    const events = Array.from({ length: 1000 }, (_, i) => rawEvent(i % 2 === 0 ? cart : db, `n=${i}`));
    const res = await post(url, ndjson(events), NDJSON_HEADERS);
    t.equal(res.status, 200);
    t.same(
      parseNdjson(res.text).map((e) => e.message),
      events.map((_, i) => `n=${i}`),
    );
  });

  t.test('an event of an unknown pod is returned, not dropped', async (t) => {
    const ghost = { ...cart, name: 'ghost-1', uid: '00000000-0000-0000-0000-00000000dead' };
    const res = await post(url, ndjson([rawEvent(ghost, 'from a ghost'), { file: '/tmp/not-a-pod-log.txt', message: 'odd path' }]), NDJSON_HEADERS);
    t.equal(res.status, 200);
    const events = parseNdjson(res.text);
    t.same(
      events.map((e) => e.message),
      ['from a ghost', 'odd path'],
    );
    t.equal(kubernetesOf(events[0]!).pod_name, 'ghost-1', 'identity parsed from the path');
  });

  t.test('bad events are reported per event; the rest of the batch is answered', async (t) => {
    const events = [rawEvent(cart, 'good 1'), 42, rawEvent(cart, 'good 2'), { file: fileOf(cart), line: 'not a runtime line' }];
    const json = await post(url, JSON.stringify({ events }), JSON_HEADERS);
    t.equal(json.status, 200);
    const body = JSON.parse(json.text) as { events: { message: string }[]; errors: { index: number; field: string; error: string }[] };
    t.same(
      body.events.map((e) => e.message),
      ['good 1', 'good 2'],
    );
    t.same(
      body.errors.map((e) => e.index),
      [1, 3],
    );
    for (const e of body.errors) t.ok(e.error.length > 0 && typeof e.field === 'string', 'each error says what is wrong');

    const text = `${JSON.stringify(events[0])}\n\n${JSON.stringify(events[1])}\n${JSON.stringify(events[2])}\n`;
    const nd = await post(url, text, NDJSON_HEADERS);
    t.equal(nd.status, 200);
    t.equal(nd.headers.get('x-enrich-errors'), '1');
    t.same(JSON.parse(nd.headers.get('x-enrich-error-details')!), [{ index: 1, line: 3, field: body.errors[0]!.field, error: body.errors[0]!.error }]);
    t.same(
      parseNdjson(nd.text).map((e) => e.message),
      ['good 1', 'good 2'],
      'the NDJSON body carries only events',
    );
  });

  t.test('malformed bodies: 400 naming the line or position', async (t) => {
    const nd = await post(url, `${JSON.stringify(rawEvent(cart, 'ok'))}\n{"file": "x", "line":\n`, NDJSON_HEADERS);
    t.equal(nd.status, 400);
    const ndBody = JSON.parse(nd.text) as { error: string; details: { line: number; message: string }[] };
    t.match(ndBody.error, /line 2/);
    t.equal(ndBody.details[0]!.line, 2);

    const js = await post(url, '{"events": [\n {"file": "a"}\n {"file": "b"}]}', JSON_HEADERS);
    t.equal(js.status, 400);
    const jsBody = JSON.parse(js.text) as { error: string; details: { line: number; column: number }[] };
    t.equal(jsBody.error, 'malformed JSON body');
    t.equal(jsBody.details[0]!.line, 3);

    const empty = await post(url, '', JSON_HEADERS);
    t.equal(empty.status, 400);
  });

  t.test('a body that is not a batch: 400 naming the field', async (t) => {
    for (const body of ['{"events": 5}', '{"other": []}', '"text"', '7']) {
      const res = await post(url, body, JSON_HEADERS);
      t.equal(res.status, 400, body);
      const parsed = JSON.parse(res.text) as { error: string; details: { field: string }[] };
      t.equal(parsed.details[0]!.field, 'body', body);
    }
    const none = await fetch(url, { method: 'POST' });
    t.equal(none.status, 400);
    t.match(await none.json(), { error: 'missing request body', details: [{ field: 'body' }] });
  });

  t.test('other content types: 415', async (t) => {
    for (const type of ['text/plain', 'application/xml', 'application/jsonx', 'multipart/form-data; boundary=x']) {
      const res = await post(url, '{}', { 'content-type': type });
      t.equal(res.status, 415, type);
      t.match(JSON.parse(res.text), { error: 'unsupported Content-Type', details: [{ field: 'content-type' }] });
    }
  });

  t.test('bodies over maxBodyBytes: 413', async (t) => {
    const big = ndjson(Array.from({ length: 3000 }, (_, i) => rawEvent(cart, `line ${i} ${'p'.repeat(80)}`)));
    t.ok(big.length > 256 * 1024);
    const res = await post(url, big, NDJSON_HEADERS);
    t.equal(res.status, 413);
    t.match(JSON.parse(res.text), { error: /larger than 262144 bytes/, details: [{ limit: 262144 }] });
    const chunked = await postChunked(url, big, NDJSON_HEADERS);
    t.equal(chunked.status, 413, 'also without Content-Length');
  });

  t.test('unknown routes: 404 JSON, also for POSTs with a body', async (t) => {
    const res = await post(`${stack.url}/v1/enrichment`, '[', JSON_HEADERS);
    t.equal(res.status, 404);
    t.match(JSON.parse(res.text), { error: 'not found', details: [{ message: /POST \/v1\/enrichment/ }] });
    const method = await fetch(url);
    t.equal(method.status, 404);
  });

  t.test('metrics moved: events in/out and request durations by route pattern', async (t) => {
    const samples = await scrape(stack.url);
    t.ok(sampleValue(samples, 'kube_log_enricher_events_in_total', { route: 'enrich' }) >= 1000);
    t.ok(sampleValue(samples, 'kube_log_enricher_events_out_total', { route: 'enrich' }) >= 1000);
    t.ok(sampleValue(samples, 'kube_log_enricher_http_request_duration_seconds_count', { route: '/v1/enrich', method: 'POST', status_code: '200' }) >= 10);
    t.ok(sampleValue(samples, 'kube_log_enricher_http_request_duration_seconds_count', { route: '/v1/enrich', method: 'POST', status_code: '413' }) >= 1);
    t.ok(sampleValue(samples, 'kube_log_enricher_http_request_duration_seconds_count', { route: 'unmatched', status_code: '404' }) >= 1);
    t.notOk(
      samples.some((s) => s.labels.route === '/v1/enrichment'),
      'raw URLs never become label values',
    );
  });
});

t.test('answers are written into reused buffers: large concurrent answers read slowly are each their own request\'s', async (t) => {
  // Each answer (~8 MB) is more than the kernel buffers of a loopback connection hold, and the
  // client starts reading late: a buffer handed back for reuse before all its bytes were out
  // would show another request's events.
  const stack = await startStack(t, { config: { server: { maxBodyBytes: '4MiB' } } });
  const url = `${stack.url}/v1/enrich`;
  const pods = [stack.pod('cart'), stack.pod('db')];
  const agent = new http.Agent({ keepAlive: true, maxSockets: 3 });
  t.teardown(() => agent.destroy());
  const EVENTS = 4000;
  const expected = (r: number): string[] => Array.from({ length: EVENTS }, (_, i) => `r${r} e${i}`);
  const ask = (r: number, format: 'json' | 'ndjson'): Promise<string[]> => {
    const events = expected(r).map((message, i) => rawEvent(pods[i % 2]!, message));
    const body = format === 'json' ? JSON.stringify({ events }) : ndjson(events);
    return new Promise((resolve, reject) => {
      const req = http.request(url, { method: 'POST', agent, headers: format === 'json' ? JSON_HEADERS : NDJSON_HEADERS }, (res) => {
        res.pause();
        setTimeout(() => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            const answered = format === 'json' ? (JSON.parse(text) as { events: Record<string, unknown>[] }).events : parseNdjson(text);
            resolve(answered.map((e) => String(e.message)));
          });
          res.resume();
        }, 100 + (r % 3) * 100);
      });
      req.on('error', reject);
      req.end(body);
    });
  };
  const answers = await Promise.all(Array.from({ length: 6 }, (_, r) => ask(r, r % 3 === 0 ? 'json' : 'ndjson')));
  for (const [r, messages] of answers.entries()) t.same(messages, expected(r), `request ${r}: its own events, in order`);
});
