import t from 'tap';
import { hasNestedQuantifier, isRuleError, MultilineAnnotations, MultilineJoiner, parseMultilineRule, TEST_CHARS } from '../../src/multiline/index.ts';
import type { InvalidMultilineAnnotation, JoinedEvent, MultilineRule } from '../../src/multiline/index.ts';
import { GO_TRACE, JAVA_TRACE, PLAIN_LINES, PYTHON_TRACE } from '../builders/traces.ts';

interface Line {
  timestamp: string;
  stream: 'stdout' | 'stderr' | undefined;
  message: string;
}

function rule(value: string): MultilineRule {
  const r = parseMultilineRule(value);
  if (isRuleError(r)) throw new Error(r.error);
  return r;
}

function line(message: string, stream: 'stdout' | 'stderr' = 'stderr', timestamp = 't'): Line {
  return { timestamp, stream, message };
}

/** Joins `lines` of one stream under `value`'s rule and returns the events' messages, flushing at the end. */
function join(value: string, lines: readonly string[], maxBytes = 1 << 20): string[] {
  const joiner = new MultilineJoiner<Line, undefined>({ maxBytes, flushTimeoutMs: 1000 });
  const out: JoinedEvent<Line, undefined>[] = [];
  const r = rule(value);
  for (const text of lines) joiner.push('f', line(text), r, undefined, 0, out);
  joiner.flushAll(out);
  return out.map((e) => e.message);
}

t.test('java: exception, frames, Caused by and "... n more" are one event; plain lines around stay alone', async (t) => {
  t.same(join('java', [PLAIN_LINES[0]!, ...JAVA_TRACE, PLAIN_LINES[1]!]), [PLAIN_LINES[0], JAVA_TRACE.join('\n'), PLAIN_LINES[1]]);
  // Two traces in a row are two events.
  t.same(join('java', [...JAVA_TRACE, ...JAVA_TRACE]), [JAVA_TRACE.join('\n'), JAVA_TRACE.join('\n')]);
  // A bare exception name at the end of a line starts a trace too.
  t.same(join('java', ['java.lang.OutOfMemoryError', '\tat x.Y.z(Y.java:1)']), ['java.lang.OutOfMemoryError\n\tat x.Y.z(Y.java:1)']);
});

t.test('python: Traceback to the exception line is one event, ended by that line', async (t) => {
  t.same(join('python', [PLAIN_LINES[0]!, ...PYTHON_TRACE, PLAIN_LINES[1]!]), [PLAIN_LINES[0], PYTHON_TRACE.join('\n'), PLAIN_LINES[1]]);
  // The exception line ends the record at once: nothing waits for a flush.
  const joiner = new MultilineJoiner<Line, undefined>({ maxBytes: 1 << 20, flushTimeoutMs: 1000 });
  const out: JoinedEvent<Line, undefined>[] = [];
  for (const text of PYTHON_TRACE) joiner.push('f', line(text), rule('python'), undefined, 0, out);
  t.equal(out.length, 1);
  t.equal(out[0]!.end, 'rule');
  t.equal(joiner.pendingCount, 0);
});

t.test('go: panic, blank lines, goroutine headers and tab-indented frames are one event', async (t) => {
  t.same(join('go', [PLAIN_LINES[0]!, ...GO_TRACE, 'exit status 2']), [PLAIN_LINES[0], GO_TRACE.join('\n'), 'exit status 2']);
});

t.test('a custom regex starts a record; the lines not matching it continue the one before', async (t) => {
  const lines = ['2026-12-05 10:00:00 INFO start', '2026-12-05 10:00:01 ERROR failed', '  detail one', '  detail two', '2026-12-05 10:00:02 INFO next'];
  t.same(join('^\\d{4}-\\d{2}-\\d{2} ', lines), [lines[0], lines.slice(1, 4).join('\n'), lines[4]]);
  // Lines before the first start line go out alone.
  t.same(join('^\\[', ['orphan', '[start', 'cont']), ['orphan', '[start\ncont']);
});

t.test('stdout and stderr are separate streams: a stderr trace is joined, stdout lines between stay alone', async (t) => {
  const joiner = new MultilineJoiner<Line, number>({ maxBytes: 1 << 20, flushTimeoutMs: 1000 });
  const out: JoinedEvent<Line, number>[] = [];
  const r = rule('java');
  JAVA_TRACE.forEach((text, i) => {
    joiner.push('f', line(text, 'stderr', `t${i}`), r, i, 0, out);
    joiner.push('f', line(`stdout ${i}`, 'stdout'), r, 100 + i, 0, out);
  });
  joiner.flushAll(out);
  t.same(out.filter((e) => e.first.stream === 'stdout').map((e) => e.message), JAVA_TRACE.map((_, i) => `stdout ${i}`));
  const [trace, ...rest] = out.filter((e) => e.first.stream === 'stderr');
  t.same(rest, []);
  t.equal(trace!.message, JAVA_TRACE.join('\n'));
  t.equal(trace!.first.timestamp, 't0', "the first line's timestamp");
  t.equal(trace!.context, 0, "the first line's context");
  t.equal(trace!.lines, JAVA_TRACE.length);
});

t.test('maxBytes: the record goes out in parts, none longer than the bound, nothing dropped', async (t) => {
  const frames = Array.from({ length: 40 }, (_, i) => `\tat com.example.Frame${i}.call(Frame.java:${i})`);
  const trace = ['java.lang.RuntimeException: deep', ...frames];
  const parts = join('java', trace, 300);
  t.ok(parts.length > 1);
  for (const p of parts) t.ok(Buffer.byteLength(p) <= 300, `${Buffer.byteLength(p)} bytes`);
  t.same(parts.join('\n'), trace.join('\n'));
});

t.test('flushExpired emits a record with no new line for flushTimeoutMs; nextFlushAt says when', async (t) => {
  let now = 1000;
  const joiner = new MultilineJoiner<Line, undefined>({ maxBytes: 1 << 20, flushTimeoutMs: 500, now: () => now });
  const out: JoinedEvent<Line, undefined>[] = [];
  for (const text of JAVA_TRACE) joiner.push('f', line(text), rule('java'), undefined, 7, out);
  t.same(out, []);
  t.equal(joiner.nextFlushAt(), 1500);
  now = 1499;
  joiner.flushExpired(out);
  t.same(out, []);
  now = 1500;
  joiner.flushExpired(out);
  t.equal(out.length, 1);
  t.equal(out[0]!.message, JAVA_TRACE.join('\n'));
  t.equal(out[0]!.end, 'timeout');
  t.equal(out[0]!.weight, 7 * JAVA_TRACE.length);
  t.equal(joiner.nextFlushAt(), undefined);
  t.same(joiner.stats, { eventsJoined: 1, linesJoined: JAVA_TRACE.length - 1, splits: 0, timeouts: 1 });
});

t.test('unusable values are refused with a reason; built-in names are found', async (t) => {
  t.equal(rule(' java ').kind, 'java');
  t.equal(rule('go').kind, 'go');
  t.equal(rule('^\\S').kind, 'regex');
  for (const bad of ['(unclosed', '', '(a+)+$', '(?:\\w*\\s)*x', '(x{2,})*', '^\\d*']) {
    const r = parseMultilineRule(bad);
    t.ok(isRuleError(r), `${JSON.stringify(bad)} refused`);
  }
  t.notOk(hasNestedQuantifier('^\\d{4}-\\d{2}'));
  t.notOk(hasNestedQuantifier('^(ERROR|WARN)+ [a-z]+'), 'alternatives without quantifiers inside');
  t.notOk(hasNestedQuantifier('^[(+]+x'), 'a class is skipped');
  t.ok(hasNestedQuantifier('((a)+b)*'));
});

t.test('patterns see a line\'s first TEST_CHARS characters only', async (t) => {
  const long = 'x'.repeat(TEST_CHARS) + 'java.lang.IllegalStateException: late';
  t.same(join('java', [long, '\tat a.b(C.java:1)']), [long, '\tat a.b(C.java:1)']);
});

t.test('annotations: per container before per pod; unusable values reported once and ignored', async (t) => {
  const invalid: InvalidMultilineAnnotation[] = [];
  let ignored = 0;
  const a = new MultilineAnnotations('logs.kube-log-enricher.io/multiline', (i) => invalid.push(i), () => ignored++);
  const annotations = { 'logs.kube-log-enricher.io/multiline': 'java', 'logs.kube-log-enricher.io/multiline-sidecar': 'python', 'logs.kube-log-enricher.io/multiline-bad': '(a+)+' };
  t.equal(a.ruleFor(annotations, 'app')?.kind, 'java');
  t.equal(a.ruleFor(annotations, 'sidecar')?.kind, 'python');
  t.equal(a.ruleFor(annotations, 'bad'), undefined);
  t.equal(a.ruleFor(annotations, 'bad'), undefined);
  t.equal(a.ruleFor({}, 'app'), undefined);
  t.equal(invalid.length, 1);
  t.equal(invalid[0]!.annotation, 'logs.kube-log-enricher.io/multiline-bad');
  t.equal(ignored, 2);
  t.equal(a.ruleFor(annotations, 'app'), a.ruleFor(annotations, 'other'), 'one compiled rule per value');
});
