import t from 'tap';
import fc from 'fast-check';
import { Buffer } from 'node:buffer';
import { decodeCri, decodeDocker, decodeLine, isDecodeFailure } from '../../src/formats/index.ts';
import type { DecodeResult } from '../../src/formats/index.ts';
import { SAMPLE_TIME, criLine, dockerLine, rfc3339 } from '../builders/lines.ts';

const ERRORS = new Set(['empty_line', 'malformed_cri', 'malformed_docker', 'unknown_format']);

/** A result is a decoded line or a failure with a known code and a bounded detail; nothing else. */
function wellFormed(r: DecodeResult): boolean {
  if (isDecodeFailure(r)) return ERRORS.has(r.error) && typeof r.detail === 'string' && r.detail.length > 0 && r.detail.length < 400;
  return (
    (r.format === 'cri' || r.format === 'docker') &&
    (r.stream === 'stdout' || r.stream === 'stderr') &&
    typeof r.partial === 'boolean' &&
    typeof r.message === 'string' &&
    typeof r.timestamp === 'string'
  );
}

t.test('the format is detected per line', async (t) => {
  const cri = decodeLine(criLine({ message: 'from containerd' }));
  const docker = decodeLine(dockerLine({ message: 'from docker' }));
  t.match(cri, { format: 'cri', message: 'from containerd' });
  t.match(docker, { format: 'docker', message: 'from docker' });
});

t.test('anything else is unknown_format or empty_line, with the start of the line in the detail', async (t) => {
  for (const line of ['hello world', ' 2026-11-23T10:00:00Z stdout F x', '\t{"log":"x"}', 'Z', '\u0000']) {
    const r = decodeLine(line);
    t.ok(isDecodeFailure(r) && r.error === 'unknown_format', JSON.stringify(line));
    if (isDecodeFailure(r)) t.match(r.detail, JSON.stringify(line.slice(0, 5)).slice(1, -1));
  }
  for (const line of ['', '\n', '\r\n', '\r']) {
    const r = decodeLine(line);
    t.ok(isDecodeFailure(r) && r.error === 'empty_line', JSON.stringify(line));
  }
  const digits = decodeLine('12345 not a timestamp');
  t.ok(isDecodeFailure(digits) && digits.error === 'malformed_cri');
  const brace = decodeLine('{not json');
  t.ok(isDecodeFailure(brace) && brace.error === 'malformed_docker');
});

t.test('decoders never throw, whatever the input (property)', async (t) => {
  const decoders = [decodeLine, decodeCri, decodeDocker];
  const check = (line: string) => decoders.every((decode) => wellFormed(decode(line)));
  t.doesNotThrow(() => fc.assert(fc.property(fc.string({ unit: 'binary', maxLength: 300 }), check), { numRuns: 3000 }));
  // Random bytes, read as UTF-8 (invalid sequences become U+FFFD) and as latin1.
  t.doesNotThrow(() =>
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        const buf = Buffer.from(bytes);
        return check(buf.toString('utf8')) && check(buf.toString('latin1'));
      }),
      { numRuns: 3000 },
    ),
  );
  // Near misses: a valid prefix followed by noise reaches the deeper branches.
  const prefixes = [
    `${SAMPLE_TIME} `,
    `${SAMPLE_TIME} stdout `,
    `${SAMPLE_TIME} stderr P`,
    `${SAMPLE_TIME} stdout F:`,
    '{"log":"',
    `{"log":"x\\n","stream":"`,
    `{"log":"x\\n","stream":"stdout","time":"`,
    '2026-',
    '{',
  ];
  t.doesNotThrow(() =>
    fc.assert(
      fc.property(fc.constantFrom(...prefixes), fc.string({ unit: 'binary', maxLength: 80 }), (prefix, noise) => check(prefix + noise)),
      { numRuns: 5000 },
    ),
  );
});

t.test('any message survives a round trip through both formats (property)', async (t) => {
  const message = fc.string({ unit: 'binary', maxLength: 200 }).filter((m) => !m.includes('\n') && !m.endsWith('\r'));
  const stream = fc.constantFrom<'stdout' | 'stderr'>('stdout', 'stderr');
  const time = fc
    .record({ ms: fc.integer({ min: 0, max: 4_102_444_800_000 }), digits: fc.integer({ min: 0, max: 9 }), offset: fc.integer({ min: -720, max: 840 }) })
    .map(({ ms, digits, offset }) => rfc3339(ms, { digits, offsetMinutes: offset }));
  t.doesNotThrow(() =>
    fc.assert(
      fc.property(message, stream, fc.boolean(), time, (m, s, partial, ts) => {
        for (const line of [criLine({ ts, stream: s, partial, message: m, newline: '\n' }), dockerLine({ time: ts, stream: s, partial, message: m })]) {
          const r = decodeLine(line);
          if (isDecodeFailure(r)) return false;
          if (r.message !== m || r.stream !== s || r.timestamp !== ts) return false;
        }
        return true;
      }),
      { numRuns: 2000 },
    ),
  );
});
