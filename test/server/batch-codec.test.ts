import t from 'tap';
import { ByteWriter } from '../../src/enrich/byte-writer.ts';
import {
  AnswerEncoder,
  errorsHeader,
  jsonAnswer,
  ndjsonAnswer,
  negotiateFormat,
  parseEventsMessage,
  parseJsonBody,
  parseJsonOrNdjsonBody,
  parseNdjsonBody,
} from '../../src/server/batch-codec.ts';
import { ApiError } from '../../src/server/errors.ts';
import { textRecord as record } from '../builders/records.ts';


function apiErrorOf(fn: () => unknown): ApiError {
  try {
    fn();
  } catch (err) {
    if (err instanceof ApiError) return err;
    throw err;
  }
  throw new Error('expected an ApiError');
}

t.test('NDJSON: one event per line, blank lines skipped, line numbers kept', async (t) => {
  const batch = parseNdjsonBody('{"a":1}\r\n\n   \n{"b":2}\n[3]\n');
  t.same(batch.events, [{ a: 1 }, { b: 2 }, [3]]);
  t.same([...batch.lines], [1, 4, 5]);
  t.same(parseNdjsonBody('').events, []);
  t.same(parseNdjsonBody('{"no":"newline"}').events, [{ no: 'newline' }]);
});

t.test('NDJSON: malformed lines are named, with the column', async (t) => {
  const error = apiErrorOf(() => parseNdjsonBody('{"a":1}\n{"b" 2}\n{"c":3}\nnot json\n'));
  t.equal(error.statusCode, 400);
  t.match(error.message, /line 2, 4/);
  t.same(
    error.details.map((d) => d.line),
    [2, 4],
  );
  t.match(error.details[0]!.message, /^line 2 column 6: /);
  t.match(error.details[1]!.message, /^line 4: /);
});

t.test('NDJSON from bytes reads exactly as the same body decoded as one string', async (t) => {
  const bodies = [
    '{"a":1}\r\n\n   \n{"b":2}\n[3]\n',
    '{"m":"ünïcødé ✓ 😀"}\n\u00a0\n\ufeff\n{"n":"é"}\r\n',
    // Invalid UTF-8 before a newline, and a 4-byte character cut at the end: replaced, same as a whole-body decode.
    Buffer.concat([Buffer.from('{"x":"'), Buffer.from([0xe2, 0x82]), Buffer.from('"}\n{"y":1}\n{"z":"'), Buffer.from([0xf0, 0x9f, 0x98])]),
    '{"a":1}\n{"b" 2}\n{"c":"é"\nnot json\n',
    '',
    '{"no":"newline"}',
  ];
  for (const body of bodies) {
    const bytes = typeof body === 'string' ? Buffer.from(body) : body;
    const text = bytes.toString('utf8');
    let fromText: unknown;
    let fromBytes: unknown;
    try {
      const batch = parseNdjsonBody(text);
      fromText = { events: batch.events, lines: [...batch.lines] };
    } catch (err) {
      fromText = { status: (err as ApiError).statusCode, message: (err as ApiError).message, details: (err as ApiError).details };
    }
    try {
      const batch = parseNdjsonBody(bytes);
      fromBytes = { events: batch.events, lines: [...batch.lines] };
    } catch (err) {
      fromBytes = { status: (err as ApiError).statusCode, message: (err as ApiError).message, details: (err as ApiError).details };
    }
    t.same(fromBytes, fromText, JSON.stringify(text));
  }
  t.same(parseNdjsonBody(Buffer.from('{"m":"ünïcødé 😀"}\n')).events, [{ m: 'ünïcødé 😀' }]);
});

t.test('JSON: position becomes line and column', async (t) => {
  t.same(parseJsonBody('{"events":[]}'), { events: [] });
  const error = apiErrorOf(() => parseJsonBody('{"events": [\n  {"a": 1},\n  {"b" 2}\n]}'));
  t.equal(error.statusCode, 400);
  t.equal(error.details[0]!.line, 3);
  t.equal(error.details[0]!.column, 8);
  t.equal(apiErrorOf(() => parseJsonBody('  ')).message, 'empty JSON body');
});

t.test('application/json bodies: one JSON value, or NDJSON under that label (old Fluent Bit json_lines)', async (t) => {
  t.same(parseJsonOrNdjsonBody('{"events":[{"a":1}]}'), { value: { events: [{ a: 1 }] }, lines: undefined });
  t.same(parseJsonOrNdjsonBody('[{"a":1},{"b":2}]'), { value: [{ a: 1 }, { b: 2 }], lines: undefined });
  t.same(parseJsonOrNdjsonBody('{\n  "events": [\n    {"a": 1}\n  ]\n}\n').value, { events: [{ a: 1 }] }, 'pretty-printed JSON stays JSON');
  t.same(parseJsonOrNdjsonBody('{"events":[]}\n').value, { events: [] }, 'a batch object with a newline is still a batch');

  const several = parseJsonOrNdjsonBody('{"a":1}\n{"b":2}\n\n{"c":3}\n');
  t.same(several.value, [{ a: 1 }, { b: 2 }, { c: 3 }], 'several JSON values, one per line');
  t.same([...several.lines!], [1, 2, 4], 'with their line numbers');
  t.same(parseJsonOrNdjsonBody('{"a":1}\r\n{"b":2}').value, [{ a: 1 }, { b: 2 }], 'CRLF, no final newline');
  const one = parseJsonOrNdjsonBody('{"log":"x","filepath":"/p"}\n');
  t.same(one.value, [{ log: 'x', filepath: '/p' }], 'one record followed by a newline: a one-line NDJSON body');
  t.same([...one.lines!], [1]);
  t.same(parseJsonOrNdjsonBody('{"other":[]}').value, { other: [] }, 'a lone object without a newline is left to the schema (400)');

  const badLine = apiErrorOf(() => parseJsonOrNdjsonBody('{"a":1}\n{"b":2}\n{"c":\n{"d":4}\n'));
  t.equal(badLine.statusCode, 400);
  t.match(badLine.message, /malformed NDJSON on line 3/, 'a bad line of an NDJSON body is named');
  t.same(badLine.details.map((d) => d.line), [3]);

  const badJson = apiErrorOf(() => parseJsonOrNdjsonBody('{"events": [\n  {"a": 1}\n  {"b": 2}\n]}'));
  t.equal(badJson.message, 'malformed JSON body', 'a first line that is no JSON value: reported as JSON');
  t.equal(badJson.details[0]!.line, 3);
  t.equal(apiErrorOf(() => parseJsonOrNdjsonBody('{"a":1} {"b":2}')).message, 'malformed JSON body', 'two values on one line are not NDJSON');
  t.same(parseJsonOrNdjsonBody('{"a":1}\n   \n').value, [{ a: 1 }], 'trailing blank lines are fine');
  t.equal(apiErrorOf(() => parseJsonOrNdjsonBody('\n \n')).message, 'empty JSON body');
});

t.test('WebSocket messages: object, array, NDJSON, pretty-printed object', async (t) => {
  t.same(parseEventsMessage('{"a":1}').events, [{ a: 1 }]);
  t.same(parseEventsMessage(' [{"a":1},{"b":2}] ').events, [{ a: 1 }, { b: 2 }]);
  t.same(parseEventsMessage('{"a":1}\n{"b":2}\n').events, [{ a: 1 }, { b: 2 }]);
  t.same(parseEventsMessage('{\n  "a": 1\n}\n').events, [{ a: 1 }]);
  t.same(parseEventsMessage('[\n{"a":1}\n]').events, [{ a: 1 }]);
  t.equal(apiErrorOf(() => parseEventsMessage(' \n ')).message, 'empty message');
  t.same(apiErrorOf(() => parseEventsMessage('{"a":1}\n{oops\n')).details[0]!.line, 2);
});

t.test('answers are built from the records JSON, untouched', async (t) => {
  const records = [record('{"message":"a"}'), record('{"message":"b\\u00e9"}')];
  t.equal(ndjsonAnswer(records).toString(), '{"message":"a"}\n{"message":"b\\u00e9"}\n');
  t.equal(ndjsonAnswer([]).length, 0);
  const unicode = [record('{"message":"ünïcødé ✓ 😀"}'), record('{"m":1}')];
  t.equal(ndjsonAnswer(unicode).toString('utf8'), '{"message":"ünïcødé ✓ 😀"}\n{"m":1}\n', 'multi-byte characters sized exactly');
  const wide = Array.from({ length: 50 }, (_, i) => record(JSON.stringify({ i, m: '😀€é'.repeat(300) })));
  t.same(
    ndjsonAnswer(wide).toString('utf8').split('\n').slice(0, -1).map((l) => (JSON.parse(l) as { i: number }).i),
    wide.map((_, i) => i),
    'an answer far larger in bytes than in characters grows its buffer',
  );
  t.equal(jsonAnswer(wide, []).length, Buffer.byteLength(`{"events":[${wide.map((r) => r.json).join(',')}],"errors":[]}`));
  const json = jsonAnswer([...records, ...unicode], [{ index: 2, field: 'line', error: 'bad ✗' }]);
  t.same(JSON.parse(json.toString('utf8')), {
    events: [{ message: 'a' }, { message: 'bé' }, { message: 'ünïcødé ✓ 😀' }, { m: 1 }],
    errors: [{ index: 2, field: 'line', error: 'bad ✗' }],
  });
  t.same(JSON.parse(jsonAnswer([], []).toString()), { events: [], errors: [] });
});

t.test('AnswerEncoder: parts of about partBytes that together are the whole answer, head first', async (t) => {
  const records = Array.from({ length: 40 }, (_, i) => record(JSON.stringify({ i, m: 'x'.repeat(100) })));
  const head = '{"ack":1,"events":40}\n';
  const parts: Buffer[] = [];
  const encoder = new AnswerEncoder(records, 'ndjson', [], head);
  const out = new ByteWriter();
  for (let last = false; !last; ) {
    last = encoder.next(out, 1000);
    parts.push(Buffer.from(out.view()));
  }
  t.ok(parts.length > 3, `${parts.length} parts`);
  t.ok(
    parts.every((p) => p.length < 1000 + 200),
    'none much larger than partBytes',
  );
  t.equal(Buffer.concat(parts).toString(), ndjsonAnswer(records, undefined, head).toString(), 'together: the head, then every record');
  t.equal(encoder.written, records.length);
});

t.test('the errors header is ASCII JSON, bounded, with NDJSON line numbers', async (t) => {
  const errors = Array.from({ length: 15 }, (_, i) => ({ index: i, field: 'line', error: `bad é ${i}\n` }));
  const header = errorsHeader(errors, Int32Array.from({ length: 15 }, (_, i) => i * 2 + 1));
  t.match(header, /^[\x20-\x7e]*$/);
  const parsed = JSON.parse(header) as { index: number; line: number; error: string }[];
  t.equal(parsed.length, 10);
  t.same(parsed[3], { index: 3, line: 7, field: 'line', error: 'bad é 3\n' });
});

t.test('content negotiation', async (t) => {
  t.equal(negotiateFormat(undefined, 'ndjson'), 'ndjson');
  t.equal(negotiateFormat('*/*', 'json'), 'json');
  t.equal(negotiateFormat('application/json', 'ndjson'), 'json');
  t.equal(negotiateFormat('application/x-ndjson', 'json'), 'ndjson');
  t.equal(negotiateFormat('application/json;q=0.5, application/x-ndjson', 'json'), 'ndjson');
  t.equal(negotiateFormat('application/x-ndjson;q=0.1, application/*;q=0.9', 'ndjson'), 'json');
  t.equal(negotiateFormat('text/html', 'ndjson'), 'ndjson', 'nothing acceptable: the request type');
  t.equal(negotiateFormat('application/json, application/x-ndjson', 'ndjson'), 'ndjson', 'a tie: the request type');
  for (const alias of ['application/ndjson', 'application/jsonl', 'application/json-lines', 'application/x-jsonlines']) {
    t.equal(negotiateFormat(alias, 'json'), 'ndjson', `${alias} is NDJSON`);
  }
  t.equal(negotiateFormat('application/jsonl;q=0.2, application/json;q=0.8', 'ndjson'), 'json');
  t.equal(negotiateFormat('application/x-ndjson;q=0.1, application/jsonl;q=0.9, application/json;q=0.5', 'json'), 'ndjson', 'the best q among NDJSON names');
});
