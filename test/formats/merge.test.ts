import t from 'tap';
import fc from 'fast-check';
import { Buffer } from 'node:buffer';
import { PartialMerger, decodeLine, isDecodeFailure, utf8PrefixLength } from '../../src/formats/index.ts';
import type { DecodedLine, Fragment, JsonFragment, MergedLine, Stream } from '../../src/formats/index.ts';
import { defaultMergerOptions } from '../builders/defaults.ts';
import { jsonText } from '../builders/json-text.ts';
import { criFragments, criLine, dockerFragments, rfc3339 } from '../builders/lines.ts';

const FILE = '/var/log/pods/shop_cart_0b6c1d2e-1111-2222-3333-444455556666/cart/0.log';

function decode(line: string): DecodedLine {
  const r = decodeLine(line);
  if (isDecodeFailure(r)) throw new Error(`unexpected ${r.error}: ${r.detail}`);
  return r;
}

function frag(message: string, partial: boolean, stream: Stream = 'stdout', timestamp = 't'): Fragment {
  return { timestamp, stream, partial, message };
}

/** A fragment kept as JSON, as decodeLineKeepingJson gives a Docker line. */
function jsonFrag(messageJson: string, partial: boolean, stream: Stream = 'stdout', timestamp = 't'): JsonFragment {
  return { timestamp, stream, partial, messageJson };
}

/** A clock the test moves by hand. */
function manualClock(start = 1_000_000) {
  let now = start;
  return { now: () => now, advance: (ms: number) => (now += ms) };
}

/** Pushes every line and collects what comes out, then whatever flushAll still holds. */
function mergeAll<C>(merger: PartialMerger<C>, key: string, lines: string[]): MergedLine<C>[] {
  const out: MergedLine<C>[] = [];
  for (const line of lines) {
    const m = merger.push(key, decode(line));
    if (m !== undefined) out.push(m);
  }
  return out.concat(merger.flushAll());
}

t.test('a whole line comes straight back', async (t) => {
  const merger = new PartialMerger(defaultMergerOptions());
  const m = merger.push(FILE, decode(criLine({ message: 'hello' })));
  t.same(m, { key: FILE, timestamp: '2026-11-23T10:00:00.123456789Z', stream: 'stdout', message: 'hello', fragments: 1, truncated: false, incomplete: false, context: undefined });
  t.equal(merger.pendingCount, 0);
  t.same(merger.stats, { fragmentsMerged: 0, linesTruncated: 0, bytesDropped: 0, fragmentsDropped: 0, linesIncomplete: 0 });
});

t.test('P, P, F merge into one line with the FIRST fragment\'s timestamp', async (t) => {
  const ts = (i: number) => rfc3339(Date.UTC(2026, 10, 23, 10, 0, i));
  const lines = criFragments('alpha beta gamma', { size: 6, timestamps: ts });
  t.same(lines.map((l) => decode(l).partial), [true, true, false]);
  const merger = new PartialMerger(defaultMergerOptions());
  const out = mergeAll(merger, FILE, lines);
  t.equal(out.length, 1);
  t.match(out[0], { message: 'alpha beta gamma', timestamp: ts(0), fragments: 3, truncated: false, incomplete: false });
  t.equal(merger.stats.fragmentsMerged, 2);
  t.equal(merger.pendingBytes, 0);
});

t.test('Docker fragments (log without newline) merge the same way', async (t) => {
  const lines = dockerFragments('é'.repeat(40) + ' end', { size: 16 });
  const out = mergeAll(new PartialMerger(defaultMergerOptions()), FILE, lines);
  t.equal(out.length, 1);
  t.match(out[0], { message: 'é'.repeat(40) + ' end', fragments: lines.length });
});

t.test('stdout and stderr fragments interleave in one file and merge per stream', async (t) => {
  const merger = new PartialMerger(defaultMergerOptions());
  const seq = [
    criLine({ stream: 'stdout', partial: true, message: 'out-1 ' }),
    criLine({ stream: 'stderr', partial: true, message: 'err-1 ' }),
    criLine({ stream: 'stdout', partial: true, message: 'out-2 ' }),
    criLine({ stream: 'stderr', partial: false, message: 'err-end' }),
    criLine({ stream: 'stdout', partial: false, message: 'out-end' }),
  ];
  const out = mergeAll(merger, FILE, seq);
  t.same(
    out.map((m) => [m.stream, m.message, m.fragments]),
    [
      ['stderr', 'err-1 err-end', 2],
      ['stdout', 'out-1 out-2 out-end', 3],
    ],
  );
});

t.test('keys are independent, and a whole line passes while another key is pending', async (t) => {
  const merger = new PartialMerger(defaultMergerOptions());
  t.equal(merger.push('a', frag('a1 ', true)), undefined);
  t.match(merger.push('b', frag('b whole', false)), { key: 'b', message: 'b whole', fragments: 1 });
  t.equal(merger.push('b', frag('b1 ', true)), undefined);
  t.match(merger.push('a', frag('a2', false)), { key: 'a', message: 'a1 a2' });
  t.match(merger.push('b', frag('b2', false)), { key: 'b', message: 'b1 b2' });
  t.equal(merger.pendingCount, 0);
});

t.test('isPending says which file and stream a whole line must be pushed for', async (t) => {
  const merger = new PartialMerger(defaultMergerOptions({ maxMergedLineBytes: 8 }));
  t.notOk(merger.isPending(FILE, 'stdout'), 'nothing pending');
  merger.push(FILE, frag('part ', true, 'stderr'));
  t.ok(merger.isPending(FILE, 'stderr'));
  t.notOk(merger.isPending(FILE, 'stdout'), 'the other stream is free');
  t.notOk(merger.isPending('/var/log/pods/other/0.log', 'stderr'), 'other files are free');
  // A line cut at the bound still waits for its final fragment, which must be dropped, not emitted.
  t.same(merger.push(FILE, frag('0123456789', true, 'stderr'))?.truncated, true);
  t.ok(merger.isPending(FILE, 'stderr'), 'while dropping the rest of a cut line');
  t.equal(merger.push(FILE, frag('end', false, 'stderr')), undefined, 'the final fragment ends it');
  t.notOk(merger.isPending(FILE, 'stderr'));
});

t.test('a 1 MiB line split into 16 KiB fragments merges back exactly', async (t) => {
  const line = Array.from({ length: 1024 * 1024 / 32 }, (_, i) => `${String(i).padStart(8, '0')}-abcdefghijklmnopqrstuv `).join('');
  t.equal(Buffer.byteLength(line), 1024 * 1024);
  const lines = criFragments(line, { size: 16 * 1024 });
  t.equal(lines.length, 64);
  const out = mergeAll(new PartialMerger(defaultMergerOptions()), FILE, lines);
  t.equal(out.length, 1);
  t.ok(out[0]!.message === line, 'merged message equals the original');
  t.equal(out[0]!.fragments, 64);
});

t.test('past maxMergedLineBytes: the first bytes are emitted truncated at once, the rest dropped and counted', async (t) => {
  const merger = new PartialMerger(defaultMergerOptions({ maxMergedLineBytes: 10 }));
  t.equal(merger.push(FILE, frag('abcd', true, 'stdout', 't1')), undefined);
  const cut = merger.push(FILE, frag('efghijk', true, 'stdout', 't2'));
  t.same(cut, { key: FILE, timestamp: 't1', stream: 'stdout', message: 'abcdefghij', fragments: 2, truncated: true, incomplete: false, context: undefined });
  t.equal(merger.pendingBytes, 0, 'nothing is held once the line is being dropped');
  t.equal(merger.push(FILE, frag('klmnop', true)), undefined);
  t.equal(merger.push(FILE, frag('qr', false)), undefined, 'the final fragment ends the dropped line silently');
  t.equal(merger.pendingCount, 0);
  t.same(merger.stats, { fragmentsMerged: 1, linesTruncated: 1, bytesDropped: 1 + 6 + 2, fragmentsDropped: 2, linesIncomplete: 0 });
  // The next line starts fresh.
  t.equal(merger.push(FILE, frag('next ', true)), undefined);
  t.match(merger.push(FILE, frag('line', false)), { message: 'next line', truncated: false });
});

t.test('the bound: exactly maxMergedLineBytes fits; a first fragment beyond it is cut alone', async (t) => {
  const merger = new PartialMerger(defaultMergerOptions({ maxMergedLineBytes: 8 }));
  merger.push(FILE, frag('1234', true));
  t.match(merger.push(FILE, frag('5678', false)), { message: '12345678', truncated: false });
  const first = merger.push(FILE, frag('0123456789AB', true));
  t.match(first, { message: '01234567', truncated: true, fragments: 1 });
  t.equal(merger.stats.bytesDropped, 4);
  // A final fragment that crosses the bound emits the cut line and leaves nothing pending.
  merger.push(FILE, frag('x', false)); // ends the dropped line
  merger.push(FILE, frag('abcdef', true));
  t.match(merger.push(FILE, frag('ghijkl', false)), { message: 'abcdefgh', truncated: true, fragments: 2 });
  t.equal(merger.pendingCount, 0);
});

t.test('the cut never splits a UTF-8 character', async (t) => {
  const merger = new PartialMerger(defaultMergerOptions({ maxMergedLineBytes: 7 }));
  merger.push(FILE, frag('ab', true));
  const cut = merger.push(FILE, frag('é😀z', true)); // 2 + 2 + 4 bytes: only "é" fits after "ab"
  t.match(cut, { message: 'abé', truncated: true });
  t.equal(merger.stats.bytesDropped, 5);
  t.equal(utf8PrefixLength('😀😀', 5), 2);
  t.equal(utf8PrefixLength('😀😀', 3), 0);
  t.equal(utf8PrefixLength('a\ud800b', 4), 2, 'a lone surrogate counts as the 3 bytes of U+FFFD');
});

t.test('a final fragment that never comes is flushed after the timeout, as incomplete', async (t) => {
  const clock = manualClock();
  const merger = new PartialMerger(defaultMergerOptions({ flushTimeoutMs: 5000, now: clock.now }));
  t.equal(merger.nextFlushAt(), undefined);
  merger.push(FILE, frag('last words without newline', true, 'stderr', 't0'));
  t.equal(merger.nextFlushAt(), clock.now() + 5000);
  clock.advance(4000);
  merger.push(FILE, frag(' and more', true, 'stderr'));
  clock.advance(4000);
  t.same(merger.flushExpired(), [], 'a new fragment restarts the wait');
  t.equal(merger.nextFlushAt(), clock.now() + 1000);
  clock.advance(1000);
  t.same(merger.flushExpired(), [
    { key: FILE, timestamp: 't0', stream: 'stderr', message: 'last words without newline and more', fragments: 2, truncated: false, incomplete: true, context: undefined },
  ]);
  t.equal(merger.stats.linesIncomplete, 1);
  t.equal(merger.pendingCount, 0);
  t.equal(merger.pendingBytes, 0);
  t.same(merger.flushExpired(), []);
});

t.test('flushExpired takes an explicit time and only emits what is old enough', async (t) => {
  const clock = manualClock(0);
  const merger = new PartialMerger(defaultMergerOptions({ flushTimeoutMs: 100, now: clock.now }));
  merger.push('old', frag('o', true));
  clock.advance(60);
  merger.push('young', frag('y', true));
  t.same(merger.flushExpired(99).map((m) => m.key), []);
  t.same(merger.flushExpired(100).map((m) => m.key), ['old']);
  t.same(merger.flushExpired(160).map((m) => m.key), ['young']);
});

t.test('an expired line that was already cut emits nothing more', async (t) => {
  const clock = manualClock();
  const merger = new PartialMerger(defaultMergerOptions({ maxMergedLineBytes: 4, flushTimeoutMs: 10, now: clock.now }));
  t.match(merger.push(FILE, frag('123456', true)), { truncated: true });
  clock.advance(10);
  t.same(merger.flushExpired(), []);
  t.equal(merger.pendingCount, 0);
  t.match(merger.push(FILE, frag('new', false)), { message: 'new', truncated: false });
});

t.test('flushKey and flushAll emit in the order lines began', async (t) => {
  const merger = new PartialMerger(defaultMergerOptions());
  merger.push('a', frag('a-err', true, 'stderr'));
  merger.push('b', frag('b-out', true, 'stdout'));
  merger.push('a', frag('a-out', true, 'stdout'));
  t.same(merger.flushKey('a').map((m) => [m.stream, m.message, m.incomplete]), [
    ['stderr', 'a-err', true],
    ['stdout', 'a-out', true],
  ]);
  t.same(merger.flushKey('a'), []);
  t.same(merger.flushKey('nope'), []);
  merger.push('c', frag('c-out', true));
  t.same(merger.flushAll().map((m) => m.key), ['b', 'c']);
  t.same(merger.flushAll(), []);
  t.equal(merger.pendingCount, 0);
});

t.test('pendingBytes counts UTF-8 bytes held', async (t) => {
  const merger = new PartialMerger(defaultMergerOptions());
  merger.push('a', frag('héllo', true));
  merger.push('b', frag('😀', true, 'stderr'));
  t.equal(merger.pendingBytes, 6 + 4);
  merger.push('a', frag('!', false));
  t.equal(merger.pendingBytes, 4);
  merger.flushAll();
  t.equal(merger.pendingBytes, 0);
});

t.test('the context of the first fragment travels with the merged line', async (t) => {
  const merger = new PartialMerger<{ index: number }>(defaultMergerOptions());
  merger.push(FILE, frag('a', true), { index: 0 });
  t.match(merger.push(FILE, frag('b', false), { index: 1 }), { message: 'ab', context: { index: 0 } });
  t.match(merger.push(FILE, frag('c', false), { index: 2 }), { context: { index: 2 } });
});

t.test('invalid options are refused with the option named', async (t) => {
  t.throws(() => new PartialMerger(defaultMergerOptions({ maxMergedLineBytes: 0 })), { name: 'RangeError', message: /maxMergedLineBytes/ });
  t.throws(() => new PartialMerger(defaultMergerOptions({ maxMergedLineBytes: 1.5 })), { message: /maxMergedLineBytes/ });
  t.throws(() => new PartialMerger(defaultMergerOptions({ flushTimeoutMs: -1 })), { message: /flushTimeoutMs/ });
  t.throws(() => new PartialMerger(defaultMergerOptions({ flushTimeoutMs: Number.NaN })), { message: /flushTimeoutMs/ });
});

t.test('property: no text is lost or invented; every byte is emitted or counted as dropped', async (t) => {
  const fragment = fc.record({
    key: fc.constantFrom('a', 'b', 'c'),
    stream: fc.constantFrom<Stream>('stdout', 'stderr'),
    partial: fc.boolean(),
    message: fc.string({ unit: 'binary', maxLength: 12 }),
  });
  t.doesNotThrow(() =>
    fc.assert(
      fc.property(fc.array(fragment, { maxLength: 60 }), fc.integer({ min: 1, max: 40 }), (frags, bound) => {
        const merger = new PartialMerger(defaultMergerOptions({ maxMergedLineBytes: bound }));
        const out: MergedLine[] = [];
        let inBytes = 0;
        for (const f of frags) {
          inBytes += Buffer.byteLength(f.message);
          const m = merger.push(f.key, { timestamp: 't', stream: f.stream, partial: f.partial, message: f.message });
          if (m !== undefined) out.push(m);
        }
        out.push(...merger.flushAll());
        const outBytes = out.reduce((n, m) => n + Buffer.byteLength(m.message), 0);
        if (outBytes + merger.stats.bytesDropped !== inBytes) return false;
        if (merger.pendingCount !== 0 || merger.pendingBytes !== 0) return false;
        // Merged lines respect the bound; only a line that was never split may exceed it.
        return out.every((m) => m.fragments === 1 || Buffer.byteLength(m.message) <= bound);
      }),
      { numRuns: 1500 },
    ),
  );

  // Without a bound in reach, per key and stream the emitted text is exactly the input text, in order.
  t.doesNotThrow(() =>
    fc.assert(
      fc.property(fc.array(fragment, { maxLength: 60 }), (frags) => {
        const merger = new PartialMerger(defaultMergerOptions());
        const input = new Map<string, string>();
        const output = new Map<string, string>();
        const add = (m: Map<string, string>, k: string, s: string) => m.set(k, (m.get(k) ?? '') + s);
        for (const f of frags) {
          add(input, `${f.key}/${f.stream}`, f.message + '|'.repeat(f.partial ? 0 : 1));
          const m = merger.push(f.key, { timestamp: 't', stream: f.stream, partial: f.partial, message: f.message });
          if (m !== undefined) add(output, `${m.key}/${m.stream}`, `${m.message}|`);
        }
        for (const m of merger.flushAll()) add(output, `${m.key}/${m.stream}`, m.message);
        for (const [k, v] of input) if (output.get(k) !== v) return false;
        return input.size === output.size;
      }),
      { numRuns: 1500 },
    ),
  );
});

t.test('Docker fragments kept as JSON are joined as JSON: the same line, never decoded and re-encoded', async (t) => {
  const merger = new PartialMerger(defaultMergerOptions());
  t.equal(merger.push(FILE, jsonFrag('"GET \\"/a"', true)), undefined);
  t.equal(merger.push(FILE, jsonFrag('"\\u003cb\\u003e"', true)), undefined);
  const line = merger.push(FILE, jsonFrag('"\\" 200"', false))!;
  t.equal(line.messageJson, '"GET \\"/a\\u003cb\\u003e\\" 200"', 'the escapes as written');
  t.equal(line.message, 'GET "/a<b>" 200');
  t.equal(line.fragments, 3);

  // A text fragment among them: the line goes on as text.
  merger.push(FILE, jsonFrag('"caf\\u00e9 "', true));
  const mixed = merger.push(FILE, frag('au lait', false))!;
  t.equal(mixed.messageJson, undefined);
  t.equal(mixed.message, 'café au lait');
});

t.test('JSON fragments near the bound: escapes count as the text they stand for', async (t) => {
  // 6 bytes of text written as 12 bytes of JSON: fits a 10-byte bound, decided on the text.
  const merger = new PartialMerger(defaultMergerOptions({ maxMergedLineBytes: 10 }));
  merger.push(FILE, jsonFrag('"\\"\\"\\""', true));
  const line = merger.push(FILE, jsonFrag('"\\"\\"\\""', false))!;
  t.equal(line.message, '""""""');
  t.notOk(line.truncated);
  t.equal(merger.stats.linesTruncated, 0);
  // And cut on a character boundary of the text when the text does not fit.
  merger.push(FILE, jsonFrag('"\\u00e9\\u00e9\\u00e9\\u00e9"', true));
  const cut = merger.push(FILE, jsonFrag('"\\u00e9\\u00e9"', false))!;
  t.equal(cut.message, 'ééééé');
  t.ok(cut.truncated);
  t.equal(cut.messageJson, undefined);
  t.equal(merger.stats.bytesDropped, 2);
});

t.test('property: fragments pushed as JSON give exactly the lines and counts they give as text', async (t) => {
  const SPECIALS = ['"', '\\', '\n', '\r', '\t', '\u0000', '\u001f', '<', '&', '\u2028', 'é', '😀', 'n', 'u'];
  const text = fc.array(fc.oneof(fc.constantFrom(...SPECIALS), fc.string({ unit: 'grapheme', maxLength: 5 })), { maxLength: 6 }).map((parts) => parts.join(''));
  const fragment = fc.record({
    key: fc.constantFrom('a', 'b'),
    stream: fc.constantFrom<Stream>('stdout', 'stderr'),
    partial: fc.boolean(),
    message: text,
    asJson: fc.oneof({ arbitrary: fc.constant(true), weight: 4 }, { arbitrary: fc.constant(false), weight: 1 }),
    styles: fc.array(fc.integer({ min: 0, max: 3 }), { maxLength: 4 }),
  });
  let joinedAsJson = 0;
  const same = (a: MergedLine<number>, b: MergedLine<number>) =>
    a.key === b.key && a.stream === b.stream && a.timestamp === b.timestamp && a.message === b.message && a.fragments === b.fragments &&
    a.truncated === b.truncated && a.incomplete === b.incomplete && a.context === b.context;
  t.doesNotThrow(() =>
    fc.assert(
      fc.property(fc.array(fragment, { maxLength: 40 }), fc.integer({ min: 1, max: 60 }), (frags, bound) => {
        const asText = new PartialMerger<number>(defaultMergerOptions({ maxMergedLineBytes: bound }));
        const asJson = new PartialMerger<number>(defaultMergerOptions({ maxMergedLineBytes: bound }));
        const outText: MergedLine<number>[] = [];
        const outJson: MergedLine<number>[] = [];
        frags.forEach((f, i) => {
          const timestamp = `t${i}`;
          const a = asText.push(f.key, { timestamp, stream: f.stream, partial: f.partial, message: f.message }, i);
          const b = asJson.push(
            f.key,
            f.asJson ? { timestamp, stream: f.stream, partial: f.partial, messageJson: `"${jsonText(f.message, f.styles)}"` } : { timestamp, stream: f.stream, partial: f.partial, message: f.message },
            i,
          );
          if (a !== undefined) outText.push(a);
          if (b !== undefined) outJson.push(b);
        });
        if (asText.pendingCount !== asJson.pendingCount) return false;
        outText.push(...asText.flushAll());
        outJson.push(...asJson.flushAll());
        for (const m of outJson) if (m.messageJson !== undefined && m.fragments > 1) joinedAsJson++;
        return (
          outText.length === outJson.length &&
          outText.every((m, i) => same(m, outJson[i]!)) &&
          JSON.stringify(asText.stats) === JSON.stringify(asJson.stats) &&
          asJson.pendingBytes === 0 &&
          asJson.pendingCount === 0
        );
      }),
      { numRuns: 2000 },
    ),
  );
  t.ok(joinedAsJson > 200, `${joinedAsJson} lines were joined as JSON`);
});
