/**
 * The body types of the batch routes over real HTTP: NDJSON under each of its names and with
 * parameters, NDJSON labelled application/json (Fluent Bit's json_lines before v3.0.x), and the
 * 415 that lists what is accepted.
 */
import t from 'tap';
import { ndjson, parseNdjson, post, rawEvent, startStack } from './harness.ts';

interface JsonAnswer {
  events: { message: string }[];
  errors: { index: number; field: string }[];
}

t.test('content types', async (t) => {
  const stack = await startStack(t);
  const url = `${stack.url}/v1/enrich`;
  const cart = stack.pod('cart');
  const events = [rawEvent(cart, 'one'), rawEvent(cart, 'two'), rawEvent(cart, 'three')];

  t.test('NDJSON under each of its names, with or without parameters', async (t) => {
    const names = ['application/x-ndjson', 'application/ndjson', 'application/jsonl', 'application/json-lines', 'application/x-jsonlines'];
    for (const name of names) {
      for (const type of [name, `${name}; charset=utf-8`, `${name.toUpperCase()};Charset="UTF-8"`]) {
        const res = await post(url, ndjson(events), { 'content-type': type });
        t.equal(res.status, 200, `${type}: ${res.text}`);
        t.equal(res.headers.get('content-type'), 'application/x-ndjson; charset=utf-8', `${type}: answered as NDJSON`);
        t.same(parseNdjson(res.text).map((e) => e.message), ['one', 'two', 'three'], type);
      }
    }
    const json = await post(url, JSON.stringify({ events }), { 'content-type': 'application/json; charset=utf-8' });
    t.equal(json.status, 200);
    t.equal((JSON.parse(json.text) as JsonAnswer).events.length, 3);
  });

  t.test('Accept may name NDJSON by any of its names', async (t) => {
    const res = await post(url, JSON.stringify(events), { 'content-type': 'application/json', accept: 'application/jsonl' });
    t.equal(res.headers.get('content-type'), 'application/x-ndjson; charset=utf-8');
    t.equal(parseNdjson(res.text).length, 3);
  });

  t.test('NDJSON labelled application/json: read as NDJSON, answered as JSON', async (t) => {
    const body = `${ndjson(events)}${JSON.stringify({ file: 42, line: 'x' })}\n`;
    const res = await post(url, body, { 'content-type': 'application/json' });
    t.equal(res.status, 200, res.text);
    t.equal(res.headers.get('content-type'), 'application/json; charset=utf-8', 'the type the client named');
    const answer = JSON.parse(res.text) as JsonAnswer;
    t.same(answer.events.map((e) => e.message), ['one', 'two', 'three']);
    t.match(answer.errors, [{ index: 3, field: 'file' }]);

    const asNdjson = await post(url, body, { 'content-type': 'application/json', accept: 'application/x-ndjson' });
    t.equal(asNdjson.headers.get('content-type'), 'application/x-ndjson; charset=utf-8', 'unless Accept asks for NDJSON');
    t.match(JSON.parse(asNdjson.headers.get('x-enrich-error-details')!), [{ index: 3, line: 4, field: 'file' }], 'errors carry their line');

    const one = await post(url, `${JSON.stringify(rawEvent(cart, 'alone'))}\n`, { 'content-type': 'application/json' });
    t.equal(one.status, 200, 'a one-record chunk: one object and a newline');
    t.same((JSON.parse(one.text) as JsonAnswer).events.map((e) => e.message), ['alone']);
  });

  t.test('malformed NDJSON labelled application/json: 400 naming the line', async (t) => {
    const res = await post(url, `${ndjson(events.slice(0, 2))}{"file": "x", "line":\n${JSON.stringify(events[2])}\n`, { 'content-type': 'application/json' });
    t.equal(res.status, 400);
    t.match(JSON.parse(res.text), { error: /malformed NDJSON on line 3/, details: [{ line: 3 }] });
    const pretty = await post(url, '{\n  "events": [\n    {"file": "a"}\n    {"file": "b"}\n  ]\n}\n', { 'content-type': 'application/json' });
    t.equal(pretty.status, 400);
    t.match(JSON.parse(pretty.text), { error: 'malformed JSON body', details: [{ line: 4 }] });
  });

  t.test('other types: 415 listing the accepted ones', async (t) => {
    for (const type of ['text/plain', 'application/msgpack', 'application/x-ndjsonx', 'application/json-seq']) {
      const res = await post(url, ndjson(events), { 'content-type': type });
      t.equal(res.status, 415, type);
      const answer = JSON.parse(res.text) as { error: string; details: { field: string; message: string }[] };
      t.equal(answer.error, 'unsupported Content-Type');
      t.equal(answer.details[0]!.field, 'content-type');
      for (const accepted of ['application/json', 'application/x-ndjson', 'application/ndjson', 'application/jsonl', 'application/json-lines', 'application/x-jsonlines']) {
        t.ok(answer.details[0]!.message.includes(accepted), `${type}: the answer names ${accepted}`);
      }
    }
  });
});
