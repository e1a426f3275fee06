/**
 * Start-of-record rules for multi-line messages (the `logs.kube-log-enricher.io/multiline`
 * annotation): which lines begin a record such as a stack trace, and which continue it.
 *
 * A rule is a small state machine over a stream's lines, the model of Fluent Bit's built-in
 * multiline parsers (src/multiline/flb_ml_parser_{java,python,go}.c, themselves from Google's
 * fluent-plugin-detect-exceptions): in a state, the first pattern a line matches says which state
 * comes next; a line that matches none ends the record, and is then tried as the start of a new
 * one. `java`, `python` and `go` are such tables, written here after Fluent Bit's; any other
 * annotation value is a regular expression that starts a record, every line not matching it
 * continuing the record before (OpenTelemetry's filelog `recombine` operator with
 * `is_first_entry`, Vector's `multiline` with `start_pattern`).
 *
 * Regular expressions are tested against a line's first TEST_CHARS characters only, and a custom
 * one with a quantified group that itself holds an unbounded quantifier (`(a+)+`, the shape of
 * catastrophic backtracking) is refused: the annotation is then ignored, as is one that does not
 * compile (the caller counts and logs it).
 */

/** Characters of a line a pattern is tested against: a long line costs no more than this. */
export const TEST_CHARS = 1024;

/** Next state of a transition that ends the record with the line that matched it (Python's last line). */
export const END = -1;

export interface Transition {
  readonly pattern: RegExp;
  /** The transition is taken when the line does NOT match (a custom rule's continuation lines). */
  readonly negate: boolean;
  /** Index in MultilineRule.states, or END. */
  readonly next: number;
}

export interface MultilineRule {
  /** `java`, `python`, `go` or `regex`. */
  readonly kind: string;
  /** The annotation value it was made from. */
  readonly source: string;
  /** states[0] is the start state: a line matching one of its transitions begins a record. */
  readonly states: readonly (readonly Transition[])[];
}

/** A rule table as written: state name → [pattern, next state name]; `start` is the start state. */
type Table = Record<string, readonly (readonly [RegExp, string])[]>;

function compileTable(kind: string, table: Table): MultilineRule {
  const names = Object.keys(table);
  const index = (name: string): number => {
    if (name === 'end') return END;
    const i = names.indexOf(name);
    if (i < 0) throw new Error(`multiline ${kind}: unknown state ${name}`);
    return i;
  };
  const states = names.map((name) => table[name]!.map(([pattern, next]) => ({ pattern, negate: false, next: index(next) })));
  return { kind, source: kind, states };
}

// Java (and JVM languages, C#, V8): an exception line, then frames, causes and "... n more".
const JAVA_START = [/.(?:Exception|Error|Throwable|V8 errors stack trace)(?::|$)/, 'after_exception'] as const;
const JAVA_FRAMES = [
  [/^[\t ]+(?:eval )?at /, 'frames'],
  [/^[\t ]+--- End of inner exception stack trace ---$/, 'frames'],
  [/^--- End of stack trace from previous location where exception was thrown ---$/, 'frames'],
  [/^[\t ]*(?:Caused by|Suppressed):/, 'after_exception'],
  [/^[\t ]*\.\.\. \d+ (?:more|common frames omitted)/, 'frames'],
] as const;
const JAVA: Table = {
  start: [JAVA_START],
  after_exception: [[/^[\t ]*nested exception is:[\t ]*/, 'nested'], [/^[\r\n]*$/, 'after_exception'], ...JAVA_FRAMES],
  frames: JAVA_FRAMES,
  nested: [JAVA_START],
};

// Python: "Traceback (most recent call last):", File/code line pairs, and the exception line ending it.
const PYTHON: Table = {
  start: [[/^Traceback \(most recent call last\):$/, 'frames']],
  frames: [
    [/^[\t ]+File /, 'code'],
    [/^(?:[^\s.():]+\.)*[^\s.():]+:/, 'end'],
  ],
  code: [[/[^\t ]/, 'frames']],
};

// Go: "panic: ...", an optional "[signal ...]" line, then goroutines, each a header and frames
// (a function line, then its tab-indented file line), separated by blank lines.
const GO: Table = {
  start: [
    [/\bpanic: /, 'after_panic'],
    [/http: panic serving/, 'goroutine'],
  ],
  after_panic: [
    [/^$/, 'goroutine'],
    [/^\[signal /, 'after_signal'],
  ],
  after_signal: [[/^$/, 'goroutine']],
  goroutine: [[/^goroutine \d+ \[[^\]]+\]:$/, 'frame_function']],
  frame_function: [
    [/^(?:[^\s.:]+\.)*[^\s.():]+\(|^created by /, 'frame_file'],
    [/^$/, 'goroutine'],
  ],
  frame_file: [[/^\s/, 'frame_function']],
};

const BUILT_IN: ReadonlyMap<string, MultilineRule> = new Map([
  ['java', compileTable('java', JAVA)],
  ['python', compileTable('python', PYTHON)],
  ['go', compileTable('go', GO)],
]);

/** Why an annotation value cannot be used. */
export interface RuleError {
  readonly error: string;
}

export function isRuleError(r: MultilineRule | RuleError): r is RuleError {
  return (r as RuleError).error !== undefined;
}

/**
 * The rule an annotation value names: `java`, `python`, `go`, or else a regular expression
 * (JavaScript syntax) that matches the first line of a record.
 */
export function parseMultilineRule(value: string): MultilineRule | RuleError {
  const source = value.trim();
  const builtIn = BUILT_IN.get(source);
  if (builtIn !== undefined) return builtIn;
  if (source === '') return { error: 'empty value: expected java, python, go or a regular expression' };
  let pattern: RegExp;
  try {
    pattern = new RegExp(source);
  } catch (e) {
    return { error: `not a valid regular expression: ${(e as Error).message}` };
  }
  if (hasNestedQuantifier(source)) return { error: 'a quantified group holds an unbounded quantifier (catastrophic backtracking); rewrite it without nesting' };
  if (pattern.test('')) return { error: 'the pattern matches an empty line, so every line would start a record' };
  return {
    kind: 'regex',
    source,
    states: [
      [{ pattern, negate: false, next: 1 }],
      [{ pattern, negate: true, next: 1 }],
    ],
  };
}

/**
 * Whether a group containing `+`, `*` or `{n,}` is itself followed by one of them: `(a+)+`,
 * `(?:\w*\s)*`. Character classes and escapes are skipped; a cheap look at the source, not a parser.
 */
export function hasNestedQuantifier(source: string): boolean {
  // Per open group: whether it holds an unbounded quantifier.
  const groups: boolean[] = [];
  let closedUnbounded = false;
  for (let i = 0; i < source.length; i++) {
    const c = source[i];
    if (c === '\\') {
      i++;
      closedUnbounded = false;
      continue;
    }
    if (c === '[') {
      // Skip the class (a `]` right after `[` or `[^` is a literal).
      i++;
      if (source[i] === '^') i++;
      if (source[i] === ']') i++;
      while (i < source.length && source[i] !== ']') i += source[i] === '\\' ? 2 : 1;
      closedUnbounded = false;
      continue;
    }
    if (c === '(') {
      groups.push(false);
      closedUnbounded = false;
      continue;
    }
    if (c === ')') {
      const inner = groups.pop() ?? false;
      closedUnbounded = inner;
      // The enclosing group holds what this one held.
      if (inner && groups.length > 0) groups[groups.length - 1] = true;
      continue;
    }
    const unbounded = c === '+' || c === '*' || (c === '{' && /^\{\d*,\}/.test(source.slice(i, i + 12)));
    if (unbounded) {
      if (closedUnbounded) return true;
      if (groups.length > 0) groups[groups.length - 1] = true;
    }
    closedUnbounded = false;
  }
  return false;
}

/** The transition a line takes from `state`, or undefined: none (the record ends before it). */
export function transitionFor(rule: MultilineRule, state: number, text: string): Transition | undefined {
  const tested = text.length > TEST_CHARS ? text.slice(0, TEST_CHARS) : text;
  for (const t of rule.states[state]!) {
    if (t.pattern.test(tested) !== t.negate) return t;
  }
  return undefined;
}
