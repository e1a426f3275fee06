import t from 'tap';
import { decodeCri, isDecodeFailure } from '../../src/formats/index.ts';
import type { DecodeResult, DecodedLine } from '../../src/formats/index.ts';
import { SAMPLE_TIME, criLine, rfc3339 } from '../builders/lines.ts';

/** The decoded line, or a thrown error (failing the test) naming the unexpected failure. */
function decoded(r: DecodeResult): DecodedLine {
  if (isDecodeFailure(r)) throw new Error(`unexpected ${r.error}: ${r.detail}`);
  return r;
}

t.test('full and partial lines as containerd and CRI-O write them', async (t) => {
  const full = decoded(decodeCri(criLine({ message: 'GET /healthz 200', newline: '\n' })));
  t.same(full, { format: 'cri', timestamp: SAMPLE_TIME, stream: 'stdout', partial: false, message: 'GET /healthz 200' });

  const partial = decoded(decodeCri(criLine({ stream: 'stderr', partial: true, message: 'first half ', newline: '\n' })));
  t.same(partial, { format: 'cri', timestamp: SAMPLE_TIME, stream: 'stderr', partial: true, message: 'first half ' });
});

t.test('one line terminator is removed: \\n, \\r\\n, or a \\r left by a reader that split on \\n', async (t) => {
  for (const newline of ['', '\n', '\r\n'] as const) {
    t.equal(decoded(decodeCri(criLine({ message: 'hello', newline }))).message, 'hello', JSON.stringify(newline));
  }
  t.equal(decoded(decodeCri(`${criLine({ message: 'hello' })}\r`)).message, 'hello');
  // Only one: a message that itself ended with \r keeps it.
  t.equal(decoded(decodeCri(criLine({ message: 'hello\r', newline: '\r\n' }))).message, 'hello\r');
});

t.test('empty messages: "F " then newline (what the runtimes write) and "F" without the space', async (t) => {
  for (const line of [`${SAMPLE_TIME} stdout F \n`, `${SAMPLE_TIME} stdout F `, `${SAMPLE_TIME} stdout F\n`, `${SAMPLE_TIME} stdout F`]) {
    const r = decoded(decodeCri(line));
    t.equal(r.message, '', JSON.stringify(line));
    t.equal(r.partial, false);
  }
  const p = decoded(decodeCri(`${SAMPLE_TIME} stderr P \n`));
  t.same([p.partial, p.message, p.stream], [true, '', 'stderr']);
});

t.test('messages keep their own spaces and look-alike fields', async (t) => {
  t.equal(decoded(decodeCri(criLine({ message: '  indented' }))).message, '  indented');
  t.equal(decoded(decodeCri(criLine({ message: 'trailing  ' }))).message, 'trailing  ');
  const nested = `${SAMPLE_TIME} stderr P x`;
  t.equal(decoded(decodeCri(criLine({ message: nested }))).message, nested);
  t.equal(decoded(decodeCri(criLine({ message: 'tab\there "quotes" \\ back' }))).message, 'tab\there "quotes" \\ back');
});

t.test('tags: the first ":"-separated component decides, like the kubelet', async (t) => {
  const p = decoded(decodeCri(criLine({ tags: 'P:TAG1:TAG2', message: 'cri stdout partial test log' })));
  t.same([p.partial, p.message], [true, 'cri stdout partial test log']);
  const f = decoded(decodeCri(criLine({ tags: 'F:x', message: 'done' })));
  t.same([f.partial, f.message], [false, 'done']);
  const bare = decoded(decodeCri(`${SAMPLE_TIME} stdout P:x`));
  t.same([bare.partial, bare.message], [true, '']);
});

t.test('a line without a tag field (pre-2018 format) keeps its whole message', async (t) => {
  const r = decoded(decodeCri(`${SAMPLE_TIME} stdout hello world`));
  t.same([r.partial, r.message], [false, 'hello world']);
  // Words that merely start with P or F are message, not tags.
  t.equal(decoded(decodeCri(`${SAMPLE_TIME} stdout Fatal: disk full`)).message, 'Fatal: disk full');
  t.equal(decoded(decodeCri(`${SAMPLE_TIME} stdout Processing 3 items`)).message, 'Processing 3 items');
  t.equal(decoded(decodeCri(`${SAMPLE_TIME} stdout I am ready`)).message, 'I am ready');
  // Legacy empty line: the stream followed by its space only.
  t.equal(decoded(decodeCri(`${SAMPLE_TIME} stderr \n`)).message, '');
});

t.test('timestamps: every fraction precision and offset the runtimes write', async (t) => {
  const ms = Date.UTC(2026, 10, 23, 10, 15, 0, 987);
  for (let digits = 0; digits <= 9; digits++) {
    for (const offsetMinutes of [0, 60, -300, 330, -720, 840]) {
      const ts = rfc3339(ms, { digits, offsetMinutes, nanos: 987_654_321 });
      const r = decoded(decodeCri(criLine({ ts, message: 'm' })));
      t.equal(r.timestamp, ts);
    }
  }
  t.equal(decoded(decodeCri(criLine({ ts: '2024-02-29T23:59:59.1+01:00' }))).timestamp, '2024-02-29T23:59:59.1+01:00');
  t.equal(decoded(decodeCri(criLine({ ts: '2000-02-29T00:00:00Z' }))).timestamp, '2000-02-29T00:00:00Z');
});

t.test('malformed timestamps are reported with the field', async (t) => {
  const bad = [
    '2026-11-23 10:00:00Z',
    '2026-11-23t10:00:00Z',
    '2026-11-23T10:00:00z',
    '2026-13-23T10:00:00Z',
    '2026-00-23T10:00:00Z',
    '2026-11-31T10:00:00Z',
    '2025-02-29T10:00:00Z',
    '1900-02-29T10:00:00Z',
    '2026-11-23T24:00:00Z',
    '2026-11-23T10:60:00Z',
    '2026-11-23T10:00:60Z',
    '2026-11-23T10:00:00.Z',
    '2026-11-23T10:00:00',
    '2026-11-23T10:00:00+1:00',
    '2026-11-23T10:00:00+01:60',
    '2026-11-23T10:00:00+0100',
    '2026-11-23T10:00:00ZZ',
    '26-11-23T10:00:00Z',
    '2026-1-23T10:00:00Z',
    '20261123T100000Z',
  ];
  for (const ts of bad) {
    const r = decodeCri(`${ts} stdout F msg`);
    t.ok(isDecodeFailure(r), ts);
    if (isDecodeFailure(r)) t.equal(r.error, 'malformed_cri', ts);
  }
  const r = decodeCri('2026-13-23T10:00:00Z stdout F msg');
  t.ok(isDecodeFailure(r) && r.detail.includes('timestamp') && r.detail.includes('2026-13-23T10:00:00Z'));
});

t.test('malformed structure: each failure says which field is wrong', async (t) => {
  const cases: [string, string][] = [
    ['2026-11-23T10:00:00Z', 'no space after the timestamp'],
    [`${SAMPLE_TIME} stdin F x`, 'stream "stdin"'],
    [`${SAMPLE_TIME} STDOUT F x`, 'stream "STDOUT"'],
    [`${SAMPLE_TIME} stdoutF x`, 'stream "stdoutF"'],
    [`${SAMPLE_TIME}  stdout F x`, 'stream ""'],
    [`${SAMPLE_TIME} stdout`, 'nothing follows the stream'],
    [`${SAMPLE_TIME} stderr\r\n`, 'nothing follows the stream'],
  ];
  for (const [line, expected] of cases) {
    const r = decodeCri(line);
    t.ok(isDecodeFailure(r), line);
    if (isDecodeFailure(r)) {
      t.equal(r.error, 'malformed_cri', line);
      t.match(r.detail, expected, line);
    }
  }
  for (const empty of ['', '\n', '\r\n', '\r']) {
    const r = decodeCri(empty);
    t.ok(isDecodeFailure(r) && r.error === 'empty_line', JSON.stringify(empty));
  }
});

t.test('a 1 MiB message decodes whole, and a 1 MiB garbage line gives a short detail', async (t) => {
  const big = 'x'.repeat(1024 * 1024 - 7) + 'é€😀';
  const r = decoded(decodeCri(criLine({ message: big, newline: '\n' })));
  t.equal(r.message.length, big.length);
  t.ok(r.message === big);

  const garbage = decodeCri('2'.repeat(1024 * 1024));
  t.ok(isDecodeFailure(garbage));
  if (isDecodeFailure(garbage)) t.ok(garbage.detail.length < 200, `detail is ${garbage.detail.length} chars`);
});

t.test('unicode messages pass through unchanged', async (t) => {
  for (const message of ['héllo wörld', '日本語のログ', '😀 emoji \u{1f680}', 'bidi \u202e text', 'nul \u0000 inside']) {
    t.equal(decoded(decodeCri(criLine({ message }))).message, message);
  }
});
