/**
 * Docker json-file lines are enriched without decoding their message: the `log` text goes into
 * the output as written (decodeLineKeepingJson), and the fragments of a split line are joined as
 * JSON text. The output must be the same event, value for value, as for the decoded message, in
 * every schema, and must stay well-formed UTF-8 JSON.
 */
import t, { type Test } from 'tap';
import fc from 'fast-check';
import { Buffer } from 'node:buffer';
import { SCHEMA_NAMES } from '../../src/enrich/index.ts';
import { criLine, dockerLine } from '../builders/lines.ts';
import { cluster, harness, logPath } from './helpers.ts';

const TIME = '2026-11-23T10:00:00.123456789Z';

/** A json-file line as Docker's Go encoder writes it: `<`, `>`, `&`, U+2028 and U+2029 as \u escapes. */
function goDockerLine(message: string, stream: 'stdout' | 'stderr' = 'stdout', partial = false): string {
  return dockerLine({ message, stream, partial, time: TIME }).replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

function setup(t: Test) {
  const c = cluster();
  t.teardown(() => c.close());
  const pod = c.addPod({ name: 'api-0', namespace: 'default', labels: { app: 'api' }, containers: ['api'] });
  return { c, file: logPath(pod) };
}

/** Output JSON that survives being written as UTF-8 and read back, and parses. */
function wellFormed(json: string): Record<string, unknown> {
  if (Buffer.from(json, 'utf8').toString('utf8') !== json) throw new Error(`not well-formed UTF-16: ${json}`);
  return JSON.parse(json) as Record<string, unknown>;
}

t.test('property: a whole Docker line gives the event its decoded message gives, in every schema', async (t) => {
  const { c, file } = setup(t);
  const specials = fc.constantFrom('"', '\\', '\n', '\r', '\t', '\u0000', '\u001f', '<', '>', '&', '\u2028', '\u2029', '\ud800', '\udc00', '😀', 'é', '/', '\\n');
  const message = fc.array(fc.oneof(specials, fc.string({ unit: 'binary', maxLength: 6 })), { maxLength: 20 }).map((p) => p.join(''));
  for (const schema of SCHEMA_NAMES) {
    const h = harness(c, { schema });
    t.doesNotThrow(
      () =>
        fc.assert(
          fc.property(message, fc.constantFrom<'stdout' | 'stderr'>('stdout', 'stderr'), (text, stream) => {
            const fromLine = h.run([{ file, line: goDockerLine(text, stream) }]);
            // The same line through the decoded-message input: JSON.stringify of the decoded text.
            const expected = text.endsWith('\r') ? text.slice(0, -1) : text;
            const fromMessage = h.run([{ file, message: expected, timestamp: TIME, stream }]);
            if (fromLine.errors.length > 0 || fromLine.records.length !== 1 || fromMessage.records.length !== 1) return false;
            const got = wellFormed(fromLine.records[0]!.json);
            return JSON.stringify(got) === JSON.stringify(wellFormed(fromMessage.records[0]!.json));
          }),
          { numRuns: 400 },
        ),
      schema,
    );
  }
});

t.test('a pending partial line elsewhere does not hold back a whole Docker line', async (t) => {
  const { c, file } = setup(t);
  const other = logPath(c.addPod({ name: 'web-0', namespace: 'default', containers: ['web'] }));
  const h = harness(c);
  const result = h.run([
    { file: other, line: criLine({ partial: true, message: 'other file, ' }) },
    { file, line: goDockerLine('stderr, ', 'stderr', true) },
    { file, line: goDockerLine('<b>"whole"</b> & done', 'stdout') },
    { file, line: goDockerLine('ends <here>', 'stderr') },
    { file: other, line: criLine({ message: 'ends too' }) },
  ]);
  t.same(result.errors, []);
  t.same(
    result.records.map((r) => {
      const e = wellFormed(r.json);
      return [e.stream, e.message];
    }),
    [
      ['stdout', '<b>"whole"</b> & done'],
      ['stderr', 'stderr, ends <here>'],
      ['stdout', 'other file, ends too'],
    ],
    'the whole line at once; the one ending a pending line of its file and stream merged with it',
  );
  t.equal(result.merged, 2);
});

t.test('property: a Docker line split into fragments gives the event its whole decoded message gives, in every schema', async (t) => {
  const { c, file } = setup(t);
  const specials = fc.constantFrom('"', '\\', '\n', '\r', '\t', '\u0000', '<', '&', '\u2028', '\ud83d', '\ude00', '😀', 'é', '\\n');
  const message = fc.array(fc.oneof(specials, fc.string({ unit: 'binary', maxLength: 6 })), { minLength: 1, maxLength: 16 }).map((p) => p.join(''));
  for (const schema of SCHEMA_NAMES) {
    t.doesNotThrow(
      () =>
        fc.assert(
          fc.property(message, fc.array(fc.nat(), { minLength: 1, maxLength: 3 }), fc.constantFrom<'stdout' | 'stderr'>('stdout', 'stderr'), (text, cuts, stream) => {
            // Cut anywhere, a surrogate pair too (that fragment is then decoded, not kept as JSON),
            // but not right after a newline: Docker splits only lines without one, a fragment
            // ending with it is a whole line.
            const points = [...new Set(cuts.map((n) => n % (text.length + 1)))].filter((p) => text[p - 1] !== '\n').sort((a, b) => a - b);
            const pieces = [...points, text.length].map((end, i, all) => text.slice(i === 0 ? 0 : all[i - 1], end));
            const h = harness(c, { schema }); // a session of its own: nothing pending from another run
            const lines = pieces.map((piece, i) => ({ file, line: goDockerLine(piece, stream, i < pieces.length - 1) }));
            const merged = h.run(lines);
            const expected = text.endsWith('\r') && !pieces.at(-1)!.endsWith('\r') ? text : text.endsWith('\r') ? text.slice(0, -1) : text;
            const whole = h.run([{ file, message: expected, timestamp: TIME, stream }]);
            if (merged.errors.length > 0 || merged.records.length !== 1 || whole.records.length !== 1) return false;
            return merged.merged === pieces.length - 1 && JSON.stringify(wellFormed(merged.records[0]!.json)) === JSON.stringify(wellFormed(whole.records[0]!.json));
          }),
          { numRuns: 300 },
        ),
      schema,
    );
  }
});
