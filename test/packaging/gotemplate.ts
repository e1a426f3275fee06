// A small interpreter for the subset of Go templates (text/template + the sprig/Helm
// functions) that the chart uses, so tests can render the chart without a helm binary.
// Strict where Helm is strict (a field of nil, an unknown function, `fail`, `required`)
// so a template mistake fails here too. Numbers follow Go: values from YAML are float64
// (JS number; printed like Go's %v, so 1000000 prints "1e+06" as it does in Helm),
// integer literals and `int` results are int (JS bigint), and `eq`/`ne` refuse to
// compare the two. Known gaps: toYaml formatting is the `yaml` package's, and `range`,
// `template`, `tpl`, `lookup` and `.Capabilities` are not supported (the chart does not
// use them; using one fails loudly).
import { createHash } from 'node:crypto';
import { stringify as yamlStringify } from 'yaml';

type Value = unknown;

type Operand =
  | { kind: 'field'; base: string; path: string[] } // base: '.', '$' or '$name'
  | { kind: 'literal'; value: Value }
  | { kind: 'ident'; name: string }
  | { kind: 'pipe'; pipe: Pipeline };

interface Pipeline {
  declare: string | undefined; // `$x := ...`
  commands: Operand[][];
}

type TemplateNode =
  | { kind: 'text'; text: string }
  | { kind: 'action'; pipe: Pipeline }
  | { kind: 'if'; branches: { cond: Pipeline; body: TemplateNode[] }[]; otherwise: TemplateNode[] }
  | { kind: 'with'; pipe: Pipeline; body: TemplateNode[]; otherwise: TemplateNode[] };

export class TemplateError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.code = code;
  }
}

// --- lexing: text and {{ actions }}, with Go's `{{- ` / ` -}}` trimming ----------------

interface RawAction { text: string; line: number }
type Piece = { kind: 'text'; text: string } | { kind: 'action'; action: RawAction };

function splitActions(source: string, name: string): Piece[] {
  const pieces: Piece[] = [];
  let pos = 0;
  let trimNextText = false;
  while (pos < source.length) {
    const open = source.indexOf('{{', pos);
    let text = source.slice(pos, open === -1 ? source.length : open);
    if (trimNextText) text = text.replace(/^\s+/, '');
    trimNextText = false;
    if (open === -1) {
      pieces.push({ kind: 'text', text });
      break;
    }
    const close = findActionEnd(source, open + 2, name);
    let inner = source.slice(open + 2, close);
    if (/^-\s/.test(inner)) {
      text = text.replace(/\s+$/, '');
      inner = inner.slice(1);
    }
    if (/\s-$/.test(inner)) {
      trimNextText = true;
      inner = inner.slice(0, -1);
    }
    pieces.push({ kind: 'text', text });
    const line = source.slice(0, open).split('\n').length;
    pieces.push({ kind: 'action', action: { text: inner.trim(), line } });
    pos = close + 2;
  }
  return pieces;
}

function findActionEnd(source: string, from: number, name: string): number {
  let quote: string | undefined;
  for (let i = from; i < source.length; i++) {
    const c = source[i];
    if (quote !== undefined) {
      if (c === '\\' && quote === '"') i++;
      else if (c === quote) quote = undefined;
    } else if (c === '"' || c === '`') quote = c;
    else if (c === '}' && source[i + 1] === '}') return i;
  }
  throw new TemplateError('unclosed_action', `${name}: "{{" without "}}"`);
}

type Token =
  | { t: 'str' | 'num' | 'ident' | 'field' | 'var'; v: string }
  | { t: '|' | '(' | ')' | ':=' };

function tokenize(action: string, where: string): Token[] {
  const tokens: Token[] = [];
  const re = /\s+|("(?:[^"\\]|\\.)*")|(`[^`]*`)|(-?\d+(?:\.\d+)?)\b|(:=)|([|()])|(\$[A-Za-z0-9_]*(?:\.[A-Za-z0-9_]+)*)|((?:\.[A-Za-z0-9_]+)+|\.)|([A-Za-z_][A-Za-z0-9_]*)/y;
  let pos = 0;
  while (pos < action.length) {
    re.lastIndex = pos;
    const m = re.exec(action);
    if (m === null) throw new TemplateError('bad_token', `${where}: cannot read "${action.slice(pos)}"`);
    pos = re.lastIndex;
    if (m[1] !== undefined) tokens.push({ t: 'str', v: JSON.parse(m[1]) as string });
    else if (m[2] !== undefined) tokens.push({ t: 'str', v: m[2].slice(1, -1) });
    else if (m[3] !== undefined) tokens.push({ t: 'num', v: m[3] });
    else if (m[4] !== undefined) tokens.push({ t: ':=' });
    else if (m[5] !== undefined) tokens.push({ t: m[5] as '|' | '(' | ')' });
    else if (m[6] !== undefined) tokens.push({ t: 'var', v: m[6] });
    else if (m[7] !== undefined) tokens.push({ t: 'field', v: m[7] });
    else if (m[8] !== undefined) tokens.push({ t: 'ident', v: m[8] });
  }
  return tokens;
}

function parsePipeline(tokens: Token[], where: string): Pipeline {
  let index = 0;
  let declare: string | undefined;
  const first = tokens[0];
  if (first?.t === 'var' && tokens[1]?.t === ':=') {
    declare = first.v;
    index = 2;
  }
  const parseUntil = (closing: ')' | undefined): Operand[][] => {
    const commands: Operand[][] = [[]];
    while (index < tokens.length) {
      const token = tokens[index++] as Token;
      const current = commands[commands.length - 1] as Operand[];
      if (token.t === ')') {
        if (closing !== ')') throw new TemplateError('bad_paren', `${where}: unexpected ")"`);
        return commands;
      }
      if (token.t === '|') commands.push([]);
      else if (token.t === '(') current.push({ kind: 'pipe', pipe: { declare: undefined, commands: parseUntil(')') } });
      else if (token.t === 'str') current.push({ kind: 'literal', value: token.v });
      else if (token.t === 'num') current.push({ kind: 'literal', value: /^-?\d+$/.test(token.v) ? BigInt(token.v) : Number(token.v) });
      else if (token.t === 'ident') {
        if (token.v === 'true' || token.v === 'false') current.push({ kind: 'literal', value: token.v === 'true' });
        else if (token.v === 'nil') current.push({ kind: 'literal', value: null });
        else current.push({ kind: 'ident', name: token.v });
      } else if (token.t === 'field') current.push({ kind: 'field', base: '.', path: token.v.split('.').filter(Boolean) });
      else if (token.t === 'var') {
        const [base, ...path] = token.v.split('.');
        current.push({ kind: 'field', base: base as string, path });
      } else throw new TemplateError('bad_token', `${where}: unexpected ":="`);
    }
    if (closing === ')') throw new TemplateError('bad_paren', `${where}: missing ")"`);
    return commands;
  };
  const commands = parseUntil(undefined);
  if (commands.some((c) => c.length === 0)) throw new TemplateError('empty_command', `${where}: empty command in pipeline`);
  return { declare, commands };
}

// --- parsing: a tree of text, actions, if/with blocks; defines go to a table -------------

export interface TemplateSet {
  templates: Map<string, TemplateNode[]>;
}

export function parseTemplates(files: Record<string, string>): TemplateSet {
  const templates = new Map<string, TemplateNode[]>();
  for (const [name, source] of Object.entries(files)) {
    const pieces = splitActions(source, name);
    let index = 0;
    const where = (a: RawAction): string => `${name}:${a.line}`;
    // Parses until an `end`/`else` at this level; returns the keyword that stopped it.
    const parseBody = (): { body: TemplateNode[]; stop: { word: string; rest: Token[]; action: RawAction } | undefined } => {
      const body: TemplateNode[] = [];
      while (index < pieces.length) {
        const piece = pieces[index++] as Piece;
        if (piece.kind === 'text') {
          if (piece.text !== '') body.push({ kind: 'text', text: piece.text });
          continue;
        }
        const action = piece.action;
        if (action.text.startsWith('/*')) {
          if (!action.text.endsWith('*/')) throw new TemplateError('bad_comment', `${where(action)}: unclosed comment`);
          continue;
        }
        const tokens = tokenize(action.text, where(action));
        const head = tokens[0];
        const word = head?.t === 'ident' ? head.v : undefined;
        if (word === 'end' || word === 'else') return { body, stop: { word, rest: tokens.slice(1), action } };
        if (word === 'if') {
          const branches = [{ cond: parsePipeline(tokens.slice(1), where(action)), body: [] as TemplateNode[] }];
          let otherwise: TemplateNode[] = [];
          for (;;) {
            const inner = parseBody();
            (branches[branches.length - 1] as { body: TemplateNode[] }).body = inner.body;
            if (inner.stop === undefined) throw new TemplateError('unclosed_block', `${where(action)}: "if" without "end"`);
            if (inner.stop.word === 'end') break;
            const next = inner.stop.rest[0];
            if (next?.t === 'ident' && next.v === 'if') {
              branches.push({ cond: parsePipeline(inner.stop.rest.slice(1), where(inner.stop.action)), body: [] });
              continue;
            }
            const last = parseBody();
            if (last.stop?.word !== 'end') throw new TemplateError('unclosed_block', `${where(action)}: "else" without "end"`);
            otherwise = last.body;
            break;
          }
          body.push({ kind: 'if', branches, otherwise });
        } else if (word === 'with') {
          const pipe = parsePipeline(tokens.slice(1), where(action));
          const inner = parseBody();
          let otherwise: TemplateNode[] = [];
          if (inner.stop === undefined) throw new TemplateError('unclosed_block', `${where(action)}: "with" without "end"`);
          if (inner.stop.word === 'else') {
            const last = parseBody();
            if (last.stop?.word !== 'end') throw new TemplateError('unclosed_block', `${where(action)}: "else" without "end"`);
            otherwise = last.body;
          }
          body.push({ kind: 'with', pipe, body: inner.body, otherwise });
        } else if (word === 'define') {
          const defined = tokens[1];
          if (defined?.t !== 'str') throw new TemplateError('bad_define', `${where(action)}: define needs a quoted name`);
          const inner = parseBody();
          if (inner.stop?.word !== 'end') throw new TemplateError('unclosed_block', `${where(action)}: "define" without "end"`);
          templates.set(defined.v, inner.body);
        } else if (word === 'range' || word === 'template' || word === 'block') {
          throw new TemplateError('unsupported', `${where(action)}: "${word}" is not supported by this test renderer`);
        } else {
          body.push({ kind: 'action', pipe: parsePipeline(tokens, where(action)) });
        }
      }
      return { body, stop: undefined };
    };
    const top = parseBody();
    if (top.stop !== undefined) throw new TemplateError('stray_keyword', `${where(top.stop.action)}: "${top.stop.word}" without a block`);
    templates.set(name, top.body);
  }
  return { templates };
}

// --- evaluation --------------------------------------------------------------------------

function isEmpty(v: Value): boolean {
  if (v === null || v === undefined || v === false || v === 0 || v === 0n || v === '') return true;
  if (Array.isArray(v)) return v.length === 0;
  if (typeof v === 'object') return Object.keys(v).length === 0;
  return false;
}

/** Go's %v of a float64: shortest digits, exponent form from 1e+06 up and below 1e-04. */
function goFloat(v: number): string {
  if (v === 0 || !Number.isFinite(v)) return String(v);
  const [mantissa, exponentText] = v.toExponential().split('e') as [string, string];
  const exponent = Number(exponentText);
  if (exponent < -4 || exponent >= 6) return `${mantissa}e${exponent < 0 ? '-' : '+'}${String(Math.abs(exponent)).padStart(2, '0')}`;
  return String(v);
}

function toText(v: Value): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'string') return v;
  if (typeof v === 'bigint' || typeof v === 'boolean') return String(v);
  if (typeof v === 'number') return goFloat(v);
  throw new TemplateError('print_object', `cannot print ${JSON.stringify(v)} directly: use toYaml or toJson`);
}

function toInt(v: Value): number {
  if (typeof v === 'bigint') return Number(v);
  if (typeof v === 'number') return Math.trunc(v);
  if (typeof v === 'string' && /^-?\d+$/.test(v)) return Number(v);
  if (v === null || v === undefined || v === false) return 0;
  if (v === true) return 1;
  throw new TemplateError('bad_int', `int: cannot convert ${JSON.stringify(v)}`);
}

function sprintf(format: string, args: Value[]): string {
  let i = 0;
  return format.replace(/%([sdqv%])/g, (_m, verb: string) => {
    if (verb === '%') return '%';
    const arg = args[i++];
    if (verb === 'd') return typeof arg === 'bigint' ? String(arg) : `%!d(${typeof arg === 'number' ? 'float64' : typeof arg}=${toText(arg)})`;
    if (verb === 'q') return JSON.stringify(toText(arg));
    return toText(arg);
  });
}

function indentLines(n: number, text: string): string {
  const pad = ' '.repeat(n);
  return pad + text.replaceAll('\n', `\n${pad}`);
}

type Fn = (args: Value[]) => Value;

/** reflect.Kind names as sprig's kindOf reports them for values from YAML and templates. */
function goKind(v: Value): string {
  if (v === null || v === undefined) return 'invalid';
  if (typeof v === 'string') return 'string';
  if (typeof v === 'boolean') return 'bool';
  if (typeof v === 'bigint') return 'int';
  if (typeof v === 'number') return 'float64';
  return Array.isArray(v) ? 'slice' : 'map';
}

/** Go's eq/ne fail on an int against a float64 (e.g. a YAML number against a literal). */
function comparable(a: Value, b: Value): true {
  const numeric = (v: Value) => typeof v === 'number' || typeof v === 'bigint';
  if (numeric(a) && numeric(b) && typeof a !== typeof b) {
    throw new TemplateError('incompatible_types', `incompatible types for comparison: ${toText(a)} and ${toText(b)} (wrap the value in int)`);
  }
  return true;
}

export interface RenderContext {
  [key: string]: Value;
}

export function renderTemplate(set: TemplateSet, name: string, root: RenderContext): string {
  const includeDepth = { n: 0 };
  const render = (nodes: TemplateNode[], dot: Value, scopes: Map<string, Value>[]): string => {
    let out = '';
    for (const node of nodes) {
      if (node.kind === 'text') out += node.text;
      else if (node.kind === 'action') {
        const value = evalPipeline(node.pipe, dot, scopes);
        if (node.pipe.declare === undefined) out += toText(value);
      } else if (node.kind === 'if') {
        let done = false;
        for (const branch of node.branches) {
          const inner = [...scopes, new Map<string, Value>()];
          if (!isEmpty(evalPipeline(branch.cond, dot, inner))) {
            out += render(branch.body, dot, inner);
            done = true;
            break;
          }
        }
        if (!done) out += render(node.otherwise, dot, [...scopes, new Map()]);
      } else {
        const inner = [...scopes, new Map<string, Value>()];
        const value = evalPipeline(node.pipe, dot, inner);
        out += isEmpty(value) ? render(node.otherwise, dot, inner) : render(node.body, value, inner);
      }
    }
    return out;
  };

  const include = (templateName: string, data: Value): string => {
    const nodes = set.templates.get(templateName);
    if (nodes === undefined) throw new TemplateError('no_template', `include: no template named "${templateName}"`);
    if (++includeDepth.n > 100) throw new TemplateError('recursion', 'include: too deep');
    try {
      return render(nodes, data, [new Map([['$', data]])]);
    } finally {
      includeDepth.n--;
    }
  };

  const functions: Record<string, Fn> = {
    include: ([n, data]) => include(toText(n), data),
    toYaml: ([v]) => (v === null || v === undefined ? 'null' : yamlStringify(v, { sortMapEntries: true }).replace(/\n$/, '')),
    toJson: ([v]) => JSON.stringify(v ?? null),
    nindent: ([n, s]) => `\n${indentLines(toInt(n), toText(s))}`,
    indent: ([n, s]) => indentLines(toInt(n), toText(s)),
    quote: (args) => args.filter((a) => a !== null && a !== undefined).map((a) => JSON.stringify(toText(a))).join(' '),
    default: ([fallback, given]) => (isEmpty(given) ? fallback : given),
    empty: ([v]) => isEmpty(v),
    kindIs: ([kind, v]) => toText(kind) === goKind(v),
    ternary: ([a, b, cond]) => (cond === true ? a : b),
    eq: ([a, ...rest]) => rest.some((b) => comparable(a, b) && a === b),
    ne: ([a, b]) => comparable(a, b) && a !== b,
    not: ([v]) => isEmpty(v),
    and: (args) => args.find((a) => isEmpty(a)) ?? args[args.length - 1],
    or: (args) => args.find((a) => !isEmpty(a)) ?? args[args.length - 1],
    printf: ([format, ...args]) => sprintf(toText(format), args),
    print: (args) => args.map(toText).join(''),
    int: ([v]) => BigInt(toInt(v)),
    lower: ([s]) => toText(s).toLowerCase(),
    upper: ([s]) => toText(s).toUpperCase(),
    trunc: ([n, s]) => toText(s).slice(0, toInt(n)),
    trimSuffix: ([suffix, s]) => {
      const text = toText(s);
      const end = toText(suffix);
      return end !== '' && text.endsWith(end) ? text.slice(0, -end.length) : text;
    },
    hasPrefix: ([prefix, s]) => toText(s).startsWith(toText(prefix)),
    contains: ([sub, s]) => toText(s).includes(toText(sub)),
    replace: ([from, to, s]) => toText(s).replaceAll(toText(from), toText(to)),
    sha256sum: ([s]) => createHash('sha256').update(toText(s)).digest('hex'),
    b64enc: ([s]) => Buffer.from(toText(s)).toString('base64'),
    dig: (args) => {
      const map = args[args.length - 1];
      const fallback = args[args.length - 2];
      let current: Value = map;
      for (const key of args.slice(0, -2)) {
        if (current === null || typeof current !== 'object' || !(toText(key) in current)) return fallback;
        current = (current as Record<string, Value>)[toText(key)];
      }
      return current;
    },
    required: ([message, v]) => {
      if (v === null || v === undefined || v === '') throw new TemplateError('required', toText(message));
      return v;
    },
    fail: ([message]) => {
      throw new TemplateError('fail', toText(message));
    },
  };

  const evalOperand = (operand: Operand, dot: Value, scopes: Map<string, Value>[]): Value => {
    if (operand.kind === 'literal') return operand.value;
    if (operand.kind === 'pipe') return evalPipeline(operand.pipe, dot, scopes);
    if (operand.kind === 'ident') return callFunction(operand.name, []);
    let current: Value;
    if (operand.base === '.') current = dot;
    else {
      const scope = [...scopes].reverse().find((s) => s.has(operand.base));
      if (scope === undefined) throw new TemplateError('undefined_variable', `undefined variable ${operand.base}`);
      current = scope.get(operand.base);
    }
    const walked: string[] = [];
    for (const key of operand.path) {
      if (current === null || current === undefined || typeof current !== 'object') {
        throw new TemplateError('nil_pointer', `nil pointer evaluating ${operand.base}${walked.map((k) => '.' + k).join('')}.${key}`);
      }
      current = (current as Record<string, Value>)[key];
      walked.push(key);
    }
    return current;
  };

  const callFunction = (name: string, args: Value[]): Value => {
    const fn = functions[name];
    if (fn === undefined) throw new TemplateError('unknown_function', `function "${name}" not defined in the test renderer`);
    return fn(args);
  };

  const evalPipeline = (pipe: Pipeline, dot: Value, scopes: Map<string, Value>[]): Value => {
    let piped: Value;
    let first = true;
    for (const command of pipe.commands) {
      const [head, ...rest] = command as [Operand, ...Operand[]];
      const args = rest.map((a) => evalOperand(a, dot, scopes));
      if (!first) args.push(piped);
      if (head.kind === 'ident') piped = callFunction(head.name, args);
      else if (args.length === 0) piped = evalOperand(head, dot, scopes);
      else throw new TemplateError('not_a_function', 'only a function can take arguments');
      first = false;
    }
    if (pipe.declare !== undefined) (scopes[scopes.length - 1] as Map<string, Value>).set(pipe.declare, piped);
    return piped;
  };

  return include(name, root);
}
