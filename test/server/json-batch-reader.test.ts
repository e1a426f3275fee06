/**
 * JsonBatchReader: whatever the chunks a body arrives in, the same result as parsing the whole
 * body at once (parseJsonOrNdjsonBody), and faults named by line and column.
 */
import fc from 'fast-check';
import t from 'tap';
import { parseJsonOrNdjsonBody } from '../../src/server/batch-codec.ts';
import { ApiError } from '../../src/server/errors.ts';
import { JsonBatchReader } from '../../src/server/json-batch-reader.ts';

type Outcome = { value: unknown; lines: number[] | undefined } | { status: number; error: string; lines: (number | undefined)[] };

/** What a route takes from a body: of a batch object, its events only (other members are not kept). */
function outcome(read: () => { value: unknown; lines: Int32Array | undefined }): Outcome {
  try {
    const body = read();
    const value = body.value as { events?: unknown } | null;
    const used = typeof value === 'object' && value !== null && !Array.isArray(value) && Array.isArray(value.events) ? { events: value.events } : body.value;
    return { value: used, lines: body.lines === undefined ? undefined : [...body.lines] };
  } catch (err) {
    if (!(err instanceof ApiError)) throw err;
    return { status: err.statusCode, error: err.message, lines: err.details.map((d) => d.line) };
  }
}

/** The body given to a reader in pieces cut at `cuts` (byte offsets). */
function streamed(bytes: Buffer, cuts: readonly number[]): Outcome {
  return outcome(() => {
    const reader = new JsonBatchReader();
    let start = 0;
    for (const cut of [...cuts].sort((a, b) => a - b)) {
      reader.push(bytes.subarray(start, cut));
      start = cut;
    }
    reader.push(bytes.subarray(start));
    return reader.end();
  });
}

function whole(bytes: Buffer): Outcome {
  return outcome(() => parseJsonOrNdjsonBody(bytes.toString('utf8')));
}

/** Every way of cutting a short body in two and three pieces, and one byte at a time. */
function cutsOf(length: number): number[][] {
  const cuts: number[][] = [[], Array.from({ length: Math.max(0, length - 1) }, (_, i) => i + 1)];
  for (let a = 1; a < length; a++) {
    cuts.push([a]);
    for (let b = a + 1; b < length; b += 3) cuts.push([a, b]);
  }
  return cuts;
}

const BODIES = [
  // Batches: streamed.
  '[]',
  '{"events":[]}',
  '[{"file":"/a","line":"x"},{"file":"/b","message":"y"}]',
  ' \n{ "events" : [ {"a": [1, {"b": "]}"}]}, "plain", 12.5e3, true, null, [] ] }\n\n',
  '{"meta": {"x": [1, 2, "}"]}, "events": [{"m": "a"}], "after": "z"}',
  '{"events": [{"m": 1}], "events": [{"m": 2}]}',
  '{"events":[{"q":"a \\"quoted\\" \\\\ back\\\\\\\\","u":"\\u00e9\\ud83d\\ude00","x":"ünïcødé ✓ 😀"}]}',
  '[\n  {"file": "a"},\n  {"file": "b"}\n]\n',
  // Faults once streaming.
  '[{"a":1} {"b":2}]',
  '{\n  "events": [\n    {"file": "a"}\n    {"file": "b"}\n  ]\n}\n',
  '[{"a":1},]',
  '[,{"a":1}]',
  '[{"a":1},\n {"b" 2}]',
  '[{"a":tru}]',
  '[{"a":1}] [',
  '[{"a":1}',
  '{"events":[{"a":1}], "other": }',
  // Not a batch object: read whole, as before.
  '',
  '  \n ',
  '{"a":1}\n{"b":2}\n\n{"c":3}\n',
  '{"a":1}\r\n{"b":2}',
  '{"log":"x","filepath":"/p"}\n',
  '{"other":[]}',
  '{"a":1}\n{"b":2}\n{"c":\n{"d":4}\n',
  '{"a":1} {"b":2}',
  '{"events": 5}',
  '{"events": {"a": 1}}',
  '{"events": [1] oops',
  '"a string"',
  '\uFEFF{"events":[]}',
  '{"x": [1, 2}',
];

t.test('any chunking of these bodies: the same as the whole body at once', async (t) => {
  for (const body of BODIES) {
    const bytes = Buffer.from(body);
    const expected = whole(bytes);
    let mismatches = 0;
    for (const cuts of cutsOf(bytes.length)) {
      const got = streamed(bytes, cuts);
      if ('status' in expected && 'status' in got) {
        // A fault found while streaming is worded by the scanner, not by JSON.parse: the status,
        // the summary and the line are the same (V8 names no position for some faults; the
        // scanner always does).
        const sameLine = expected.lines[0] === undefined || got.lines[0] === expected.lines[0];
        if (got.status !== expected.status || got.error !== expected.error || !sameLine) mismatches++;
      } else if (JSON.stringify(got) !== JSON.stringify(expected)) {
        mismatches++;
        if (mismatches === 1) t.same(got, expected, `${JSON.stringify(body)} cut at ${JSON.stringify(cuts)}`);
      }
    }
    t.equal(mismatches, 0, `${JSON.stringify(body)}: ${JSON.stringify(expected).slice(0, 120)}`);
  }
});

t.test('faults are named by line and column, as for a whole body', async (t) => {
  const cases: [string, number, number][] = [
    ['{\n  "events": [\n    {"file": "a"}\n    {"file": "b"}\n  ]\n}\n', 4, 5],
    ['[{"a":1},\n {"b" 2}]', 2, 7],
    ['[{"a":1},]', 1, 10],
    ['[{"a":1}] x', 1, 11],
  ];
  for (const [body, line, column] of cases) {
    const reader = new JsonBatchReader();
    reader.push(Buffer.from(body));
    const error = outcome(() => reader.end());
    t.match(error, { status: 400, error: 'malformed JSON body', lines: [line] }, JSON.stringify(body));
    const old = outcome(() => parseJsonOrNdjsonBody(body)) as { status: number; lines: (number | undefined)[] };
    t.equal(old.status, 400);
    t.ok(old.lines[0] === undefined || old.lines[0] === line, 'the whole-body parser names the same line, when it names one');
    try {
      reader.end();
    } catch (err) {
      t.match((err as ApiError).details[0], { line, column, message: new RegExp(`^line ${line} column ${column}: `) }, `${JSON.stringify(body)}: column`);
    }
  }
});

t.test('property: generated batches, pretty or not, in random pieces', async (t) => {
  const text = fc.string({ unit: fc.constantFrom('a', 'é', '😀', '"', '\\', '/', '\n', '\t', '[', ']', '{', '}', ',', ':', ' ', '\u0000', '\u2028') });
  const value = fc.letrec((tie) => ({
    value: fc.oneof({ depthSize: 'small' }, text, fc.double({ noNaN: true, noDefaultInfinity: true }), fc.boolean(), fc.constant(null), tie('array'), tie('object')),
    array: fc.array(tie('value'), { maxLength: 3 }),
    object: fc.dictionary(text, tie('value'), { maxKeys: 3 }),
  })).value;
  await fc.assert(
    fc.property(fc.array(value, { maxLength: 8 }), fc.boolean(), fc.constantFrom(undefined, 2, '\t'), fc.array(fc.nat(), { maxLength: 6 }), (events, wrapped, indent, rawCuts) => {
      const bytes = Buffer.from(JSON.stringify(wrapped ? { events } : events, null, indent));
      const cuts = rawCuts.map((c) => c % (bytes.length + 1));
      const got = streamed(bytes, cuts);
      const expected = whole(bytes);
      return JSON.stringify(got) === JSON.stringify(expected);
    }),
    { numRuns: 500 },
  );
  t.pass('500 generated bodies');
});
