/**
 * decodeLineKeepingJson: a Docker line's `log` text kept as JSON instead of decoded. Its
 * answer must mean exactly what decodeLine's does (JSON.parse(messageJson) === message) for every
 * line, however the text is escaped (Docker's Go encoder writes <, >, &, U+2028 and U+2029 as
 * \u escapes, JSON.stringify does not), and it must fall back to decodeLine for everything else.
 */
import t from 'tap';
import fc from 'fast-check';
import { Buffer } from 'node:buffer';
import { decodeLine, decodeLineKeepingJson, isDecodeFailure } from '../../src/formats/index.ts';
import type { DecodeResult, JsonMessageLine } from '../../src/formats/index.ts';
import { jsonText } from '../builders/json-text.ts';
import { SAMPLE_TIME, criLine, dockerLine } from '../builders/lines.ts';

type KeepingResult = DecodeResult | JsonMessageLine;

function isJsonMessage(r: KeepingResult): r is JsonMessageLine {
  return !isDecodeFailure(r) && 'messageJson' in r;
}

/** Characters that stress the escaping, mixed with arbitrary text (lone surrogates included). */
const SPECIALS = ['"', '\\', '\n', '\r', '\t', '\b', '\f', '\u0000', '\u001f', '\u007f', '/', '<', '>', '&', '\u2028', '\u2029', '\ud800', '\udfff', '😀', 'é', '\\n', 'n', 'u'];
const messageArb = fc
  .array(fc.oneof(fc.constantFrom(...SPECIALS), fc.string({ unit: 'binary', maxLength: 8 })), { maxLength: 30 })
  .map((parts) => parts.join(''));
/** How the `log` text ends: Docker's newline, CRLF, none (partial), and endings that only look like a newline. */
const ENDINGS = ['\\n', '\\r\\n', '\\u000d\\n', '\\u000D\\n', '', '\\r', '\\u000a', '\\\\n', '\\\\\\n', '\\\\r\\n', '\\\\u000d\\n'];

function line(text: string, ending: string, stream: string, newline: string): string {
  return `{"log":"${text}${ending}","stream":"${stream}","time":"${SAMPLE_TIME}"}${newline}`;
}

/** Lines the properties saw kept as JSON: the fast path must really be exercised. */
let keptCount = 0;

/** The property: the kept JSON means what decodeLine decodes, and anything not kept is decodeLine's answer. */
function agrees(raw: string): boolean {
  const kept = decodeLineKeepingJson(raw);
  const decoded = decodeLine(raw);
  if (!isJsonMessage(kept)) return JSON.stringify(kept) === JSON.stringify(decoded);
  keptCount++;
  if (isDecodeFailure(decoded)) return false;
  const value: unknown = JSON.parse(kept.messageJson);
  return (
    value === decoded.message &&
    kept.timestamp === decoded.timestamp &&
    kept.stream === decoded.stream &&
    kept.format === 'docker' &&
    kept.partial === decoded.partial &&
    // Output-safe: no lone surrogate, so the UTF-8 bytes written decode back to the same text.
    Buffer.from(kept.messageJson, 'utf8').toString('utf8') === kept.messageJson
  );
}

t.test('a whole Docker line keeps its log text as JSON, without the newline escape', async (t) => {
  const r = decodeLineKeepingJson(dockerLine({ message: 'GET "/healthz" 200\tok', stream: 'stderr', newline: '\n' }));
  t.same(r, { format: 'docker', timestamp: SAMPLE_TIME, stream: 'stderr', partial: false, messageJson: '"GET \\"/healthz\\" 200\\tok"' });
  const crlf = decodeLineKeepingJson(dockerLine({ message: 'crlf\r' }));
  t.equal(isJsonMessage(crlf) && crlf.messageJson, '"crlf"', '"\\r\\n" at the end is one terminator, as decodeLine cuts it');
  const empty = decodeLineKeepingJson(dockerLine({ message: '' }));
  t.equal(isJsonMessage(empty) && empty.messageJson, '""');
});

t.test('a partial Docker line keeps its whole log text as JSON, to be merged as such', async (t) => {
  const r = decodeLineKeepingJson(dockerLine({ message: 'partial "fragment"', partial: true }));
  t.same(r, { format: 'docker', timestamp: SAMPLE_TIME, stream: 'stdout', partial: true, messageJson: '"partial \\"fragment\\""' });
  const notNewline = decodeLineKeepingJson(line('escaped backslash, then n', '\\\\n', 'stdout', ''));
  t.equal(isJsonMessage(notNewline) && notNewline.partial && JSON.parse(notNewline.messageJson), 'escaped backslash, then n\\n', 'an escaped backslash then n is text, not the newline');
  const cr = decodeLineKeepingJson(line('a carriage return', '\\r', 'stdout', ''));
  t.equal(isJsonMessage(cr) && cr.partial && cr.messageJson, '"a carriage return\\r"', 'a partial line keeps a final \\r: only a whole line\'s terminator is cut');
});

t.test("Docker's Go escapes are kept as written: the same value, other bytes", async (t) => {
  const go = line('\\u003chtml\\u003e \\u0026 \\u2028 caf\\u00e9 \\ud83d\\ude00 \\/', '\\n', 'stdout', '');
  const r = decodeLineKeepingJson(go);
  t.ok(isJsonMessage(r));
  if (isJsonMessage(r)) {
    t.equal(r.messageJson, '"\\u003chtml\\u003e \\u0026 \\u2028 caf\\u00e9 \\ud83d\\ude00 \\/"');
    t.equal(JSON.parse(r.messageJson), '<html> & \u2028 café 😀 /');
  }
  const lone = decodeLineKeepingJson(line('lone \\ud800 escaped', '\\n', 'stdout', ''));
  t.ok(isJsonMessage(lone), 'an escaped lone surrogate is plain ASCII text: kept');
});

t.test('everything else is exactly what decodeLine gives', async (t) => {
  const cases = [
    criLine({ message: 'a CRI line' }),
    line('newline as \\u escape', '\\u000a', 'stdout', ''),
    dockerLine({ message: 'with attrs', extra: { attrs: { tag: 'x' } } }),
    `{"time":"${SAMPLE_TIME}","stream":"stdout","log":"reordered\\n"}`,
    `{"log": "spaces\\n", "stream": "stdout", "time": "${SAMPLE_TIME}"}`,
    line('raw lone \ud800 surrogate', '\\n', 'stdout', ''),
    line('raw\ttab', '\\n', 'stdout', ''),
    line('bad \\x escape', '\\n', 'stdout', ''),
    line('short \\u12 escape', '\\n', 'stdout', ''),
    line('stdin', '\\n', 'stdin', ''),
    `{"log":"bad time\\n","stream":"stdout","time":"2016-02-30T00:00:00Z"}`,
    `{"log":"x\\n","stream":"stdout","time":"${SAMPLE_TIME}"} trailing`,
    `{"log":"a","stream":"stdout","time":"x","log":"b\\n","stream":"stdout","time":"${SAMPLE_TIME}"}`,
    '{"log":"unterminated',
    '',
    'not a line',
  ];
  for (const raw of cases) {
    t.notOk(isJsonMessage(decodeLineKeepingJson(raw)), JSON.stringify(raw));
    t.equal(JSON.stringify(decodeLineKeepingJson(raw)), JSON.stringify(decodeLine(raw)), JSON.stringify(raw));
  }
});

t.test('a 1 MiB line, escapes all along, is kept in one linear scan', async (t) => {
  const message = `${'"quoted"\t\\'.repeat(100_000)}end`;
  const r = decodeLineKeepingJson(dockerLine({ message, newline: '\n' }));
  t.ok(isJsonMessage(r) && JSON.parse(r.messageJson) === message);
  const broken = dockerLine({ message: `${'"quoted"\\'.repeat(100_000)}end` }).replace('end', 'e\u0001d');
  t.equal(JSON.stringify(decodeLineKeepingJson(broken)), JSON.stringify(decodeLine(broken)), 'and rejected in one when invalid');
});

t.test('property: kept JSON means what decodeLine decodes, for any text escaped any valid way', async (t) => {
  keptCount = 0;
  const styles = fc.array(fc.integer({ min: 0, max: 3 }), { maxLength: 7 });
  t.doesNotThrow(() =>
    fc.assert(
      fc.property(messageArb, styles, fc.constantFrom(...ENDINGS), fc.constantFrom('stdout', 'stderr'), fc.constantFrom('', '\n', '\r\n'), (message, st, ending, stream, newline) =>
        agrees(line(jsonText(message, st), ending, stream, newline)),
      ),
      { numRuns: 3000 },
    ),
  );
  t.ok(keptCount > 500, `${keptCount} of 3000 lines kept as JSON`);
});

t.test('property: arbitrary (mostly invalid) text in the frame is kept only when decodeLine agrees', async (t) => {
  keptCount = 0;
  const alphabet = fc.constantFrom('\\', '"', 'n', 'r', 'u', '0', '0', 'a', 'F', 'g', '/', 'x', ' ', '\u0001', '\u001f', '\ud800', '\udc00', '😀');
  const text = fc.array(alphabet, { maxLength: 24 }).map((cs) => cs.join(''));
  const tails = [`\\n","stream":"stdout","time":"${SAMPLE_TIME}"}`, `","stream":"stdout","time":"${SAMPLE_TIME}"}`, `","stream":"stderr","time":"2026-11-23T11:00:00.5+01:00"}`, `","stream":"stdout","time":"${SAMPLE_TIME}`, `","stream":"stdout"}`];
  t.doesNotThrow(() =>
    fc.assert(
      fc.property(text, fc.constantFrom(...tails), (x, tail) => agrees(`{"log":"${x}${tail}`)),
      { numRuns: 5000 },
    ),
  );
  t.ok(keptCount > 50, `${keptCount} of 5000 kept as JSON`);
});
