import t from 'tap';
import fc from 'fast-check';
import { decodeDocker, isDecodeFailure } from '../../src/formats/index.ts';
import type { DecodeResult, DecodedLine } from '../../src/formats/index.ts';
import { decodeDockerWithJsonParse } from '../../src/formats/docker.ts';
import { SAMPLE_TIME, dockerLine } from '../builders/lines.ts';

function decoded(r: DecodeResult): DecodedLine {
  if (isDecodeFailure(r)) throw new Error(`unexpected ${r.error}: ${r.detail}`);
  return r;
}

t.test('a full line: the trailing newline of "log" ends it and is removed', async (t) => {
  const r = decoded(decodeDocker(dockerLine({ message: 'GET /healthz 200', stream: 'stderr', newline: '\n' })));
  t.same(r, { format: 'docker', timestamp: SAMPLE_TIME, stream: 'stderr', partial: false, message: 'GET /healthz 200' });
  t.equal(decoded(decodeDocker(dockerLine({ message: 'crlf\r' }))).message, 'crlf', '"\\r\\n" at the end of log is one terminator');
});

t.test('a "log" without its trailing newline is a partial line', async (t) => {
  const r = decoded(decodeDocker(dockerLine({ message: 'first 16 KiB...', partial: true })));
  t.same([r.partial, r.message], [true, 'first 16 KiB...']);
  const empty = decoded(decodeDocker(dockerLine({ message: '', partial: true })));
  t.same([empty.partial, empty.message], [true, '']);
});

t.test('an empty line is {"log":"\\n"}', async (t) => {
  const r = decoded(decodeDocker(`{"log":"\\n","stream":"stdout","time":"${SAMPLE_TIME}"}\n`));
  t.same([r.partial, r.message], [false, '']);
});

t.test('escapes and unicode decode like JSON.parse', async (t) => {
  const cases: [string, string][] = [
    ['caf\\u00e9', 'café'],
    ['caf\u00e9', 'café'],
    ['\\ud83d\\ude00 grin', '😀 grin'],
    ['😀 raw', '😀 raw'],
    ['a\\tb', 'a\tb'],
    ['say \\"hi\\"', 'say "hi"'],
    ['back\\\\slash', 'back\\slash'],
    ['\\/path', '/path'],
    ['\\r\\b\\f', '\r\b\f'],
    ['\\u003chtml\\u003e \\u0026', '<html> &'],
    ['nul \\u0000 byte', 'nul \u0000 byte'],
    ['line1\\nline2', 'line1\nline2'],
    ['ends in backslash \\\\', 'ends in backslash \\'],
    ['lone \\ud800 surrogate', 'lone \ud800 surrogate'],
    ['\\u2028 separators \\u2029', '\u2028 separators \u2029'],
  ];
  for (const [json, text] of cases) {
    const line = `{"log":"${json}\\n","stream":"stdout","time":"${SAMPLE_TIME}"}`;
    t.equal(decoded(decodeDocker(line)).message, text, json);
    const partialLine = `{"log":"${json}","stream":"stdout","time":"${SAMPLE_TIME}"}`;
    const p = decoded(decodeDocker(partialLine));
    t.same([p.message, p.partial], [text, true], `${json} (partial)`);
  }
  // A literal "\n" inside the text (backslash + n) is not the terminator.
  const literal = decoded(decodeDocker(dockerLine({ message: 'path C:\\new', partial: true })));
  t.same([literal.message, literal.partial], ['path C:\\new', true]);
});

t.test('fields in any order, extra fields and whitespace are accepted', async (t) => {
  const lines = [
    `{"time":"${SAMPLE_TIME}","stream":"stdout","log":"reordered\\n"}`,
    `{"stream":"stdout","log":"reordered\\n","time":"${SAMPLE_TIME}"}`,
    `{"log": "reordered\\n", "stream": "stdout", "time": "${SAMPLE_TIME}"}`,
    dockerLine({ message: 'reordered', extra: { attrs: { tag: 'x', 'io.kubernetes.pod': 'p' } } }),
    `{"log":"reordered\\n","stream":"stdout","time":"${SAMPLE_TIME}","extra":[1,2,{"a":null}]}`,
    `  {"log":"reordered\\n","stream":"stdout","time":"${SAMPLE_TIME}"}  `,
  ];
  for (const line of lines) {
    const r = decoded(decodeDocker(line.trimStart()));
    t.same([r.message, r.stream, r.timestamp, r.partial], ['reordered', 'stdout', SAMPLE_TIME, false], line);
  }
});

t.test('timestamps with other precisions and offsets', async (t) => {
  for (const time of ['2016-10-20T18:39:20Z', '2016-10-20T18:39:20.5Z', '2016-10-20T18:39:20.57606443Z', '2016-10-20T19:39:20.576064430+01:00']) {
    t.equal(decoded(decodeDocker(dockerLine({ time, message: 'x' }))).timestamp, time);
  }
});

t.test('malformed lines name the field at fault and never throw', async (t) => {
  const cases: [string, string][] = [
    ['{', 'not valid JSON'],
    ['{"log":"unterminated', 'not valid JSON'],
    ['{"log":"raw\ttab\\n","stream":"stdout","time":"2016-10-20T18:39:20Z"}', 'not valid JSON'],
    ['{"log":"bad escape \\x","stream":"stdout","time":"2016-10-20T18:39:20Z"}', 'not valid JSON'],
    ['{"log":"x\\n","stream":"stdout","time":"2016-10-20T18:39:20Z"} trailing', 'not valid JSON'],
    ['[1,2]', 'expected a JSON object'],
    ['{}', '"log" is missing'],
    ['{"log":123,"stream":"stdout","time":"2016-10-20T18:39:20Z"}', '"log" is missing or not a string'],
    ['{"stream":"stderr","time":"2016-10-05T00:00:30.082640485Z"}', '"log" is missing'],
    ['{"log":"Hello world","time":"2016-10-20T18:39:20Z"}', '"stream" must be'],
    ['{"log":"Hello world","stream":"stdin","time":"2016-10-20T18:39:20Z"}', '"stream" must be "stdout" or "stderr", got "\\"stdin\\""'],
    ['{"log":"Hello world","stream":"stdout"}', '"time" is missing'],
    ['{"log":"Hello world","stream":"stdout","time":123}', '"time" is missing or not a string'],
    ['{"log":"Hello world","stream":"stdout","time":""}', '"time" "" is not RFC 3339'],
    ['{"log":"Hello world","stream":"stdout","time":"qwerty"}', '"time" "qwerty" is not RFC 3339'],
    ['{"log":"Hello world\\n","stream":"stdout","time":"2016-02-30T00:00:00Z"}', 'is not RFC 3339'],
  ];
  for (const [line, expected] of cases) {
    const r = decodeDocker(line);
    t.ok(isDecodeFailure(r), line);
    if (isDecodeFailure(r)) {
      t.equal(r.error, 'malformed_docker', line);
      t.match(r.detail, expected, line);
    }
  }
  for (const empty of ['', '\n', '\r\n']) {
    const r = decodeDocker(empty);
    t.ok(isDecodeFailure(r) && r.error === 'empty_line');
  }
});

t.test('a 1 MiB line decodes whole on both paths', async (t) => {
  const big = 'é'.repeat(512 * 1024) + 'x'.repeat(512 * 1024);
  const line = dockerLine({ message: big, newline: '\n' });
  t.ok(decoded(decodeDocker(line)).message === big);
  const escaped = dockerLine({ message: `${'"quoted"\t'.repeat(100_000)}end` });
  t.ok(decoded(decodeDocker(escaped)).message === `${'"quoted"\t'.repeat(100_000)}end`);
});

t.test('the fast path and JSON.parse agree on every line (property)', async (t) => {
  const stream = fc.constantFrom<'stdout' | 'stderr'>('stdout', 'stderr');
  t.doesNotThrow(() =>
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 200 }), fc.boolean(), stream, (message, partial, s) => {
        const line = dockerLine({ message, partial, stream: s });
        const fast = decodeDocker(line);
        if (JSON.stringify(fast) !== JSON.stringify(decodeDockerWithJsonParse(line))) return false;
        const r = decoded(fast);
        // The rule, restated: "log" ending in \n (or \r\n) is a whole line without it, else a fragment.
        const log = partial ? message : `${message}\n`;
        const whole = log.endsWith('\n');
        const expected = !whole ? log : log.endsWith('\r\n') ? log.slice(0, -2) : log.slice(0, -1);
        return r.message === expected && r.partial === !whole && r.stream === s;
      }),
      { numRuns: 2000 },
    ),
  );
  // Arbitrary text inside the common shape: both paths must still agree (or both fail alike).
  const shapes = [(x: string) => `{"log":"${x}`, (x: string) => `{"log":"${x}","stream":"stdout","time":"${SAMPLE_TIME}"}`];
  t.doesNotThrow(() =>
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 120 }), fc.constantFrom(...shapes), (tail, shape) => {
        const line = shape(tail);
        const a = decodeDocker(line);
        const b = decodeDockerWithJsonParse(line);
        return isDecodeFailure(a) ? isDecodeFailure(b) && a.error === b.error : JSON.stringify(a) === JSON.stringify(b);
      }),
      { numRuns: 3000 },
    ),
  );
});
