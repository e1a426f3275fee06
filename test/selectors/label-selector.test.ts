import t, { type Test } from 'tap';
import fc from 'fast-check';
import {
  labelSelectorMatches,
  parseLabelSelector,
  type LabelSelector,
  type LabelSelectorErrorCode,
  type LabelSelectorOptions,
} from '../../src/selectors/index.ts';

function selector(text: string, options?: LabelSelectorOptions): LabelSelector {
  const r = parseLabelSelector(text, options);
  if (!r.ok) throw new Error(r.error);
  return r.selector;
}

/** As the simulated API server parses: with `>` and `<`. */
function labelsMatch(text: string, labels: Record<string, string> | undefined): boolean {
  return labelSelectorMatches(selector(text, { allowComparisons: true }), labels);
}

const cart = { app: 'cart', tier: 'web', 'example.com/team': 'shop' };
const db = { app: 'db', tier: 'db' };

type MatchCase = [text: string, labels: Record<string, string>, expected: boolean, why?: string];

function checkMatches(t: Test, cases: readonly MatchCase[]): void {
  for (const [text, labels, expected, why] of cases) {
    t.equal(labelSelectorMatches(selector(text), labels), expected, why ?? `${JSON.stringify(text)} on ${JSON.stringify(labels)}`);
  }
}

t.test('equality-based requirements', async (t) => {
  checkMatches(t, [
    ['app=cart', cart, true],
    ['app==cart', cart, true],
    ['app=cart', db, false],
    ['tier!=db', cart, true],
    ['tier!=db', db, false],
    ['missing!=x', cart, true, '!= matches objects without the key, as in Kubernetes'],
    [' app = cart , tier = web ', cart, true, 'whitespace around tokens'],
    ['example.com/team=shop', cart, true, 'prefixed key'],
    ['empty=', { empty: '' }, true, 'empty value'],
    ['empty=', {}, false],
  ]);
});

t.test('set-based requirements', async (t) => {
  checkMatches(t, [
    ['app in (cart,front)', cart, true],
    ['app in (cart, front)', db, false],
    ['app notin (db)', cart, true],
    ['app notin (db)', db, false],
    ['other notin (x)', cart, true, 'notin matches objects without the key'],
    ['tier', db, true, 'exists'],
    ['canary', db, false],
    ['!canary', db, true, 'does not exist'],
    ['!tier', db, false],
    ['app in (cart,front),tier=web,!canary', cart, true, 'commas inside parentheses do not split'],
  ]);
});

t.test('the empty selector matches everything', async (t) => {
  t.ok(labelSelectorMatches(selector(''), cart));
  t.ok(labelSelectorMatches(selector('  '), {}));
  t.ok(labelSelectorMatches(selector(''), undefined), 'even an object without labels');
});

t.test('the parsed form: text kept, one requirement per comma outside parentheses', async (t) => {
  t.same(selector(' app in (a, b),!canary,tier!=db,x==y,team '), {
    text: ' app in (a, b),!canary,tier!=db,x==y,team ',
    requirements: [
      { key: 'app', operator: 'in', values: ['a', 'b'] },
      { key: 'canary', operator: 'doesNotExist', values: [] },
      { key: 'tier', operator: 'notEquals', values: ['db'] },
      { key: 'x', operator: 'equals', values: ['y'] },
      { key: 'team', operator: 'exists', values: [] },
    ],
  });
  t.same(selector('replicas>2,load<-1', { allowComparisons: true }).requirements, [
    { key: 'replicas', operator: 'greaterThan', values: ['2'] },
    { key: 'load', operator: 'lessThan', values: ['-1'] },
  ]);
});

t.test('label selector grammar, with > and < allowed as the API server does', async (t) => {
  const labels = { app: 'cart', 'app.kubernetes.io/name': 'cart', tier: 'api', replicas: '3', empty: '' };
  const cases: [string, boolean][] = [
    ['app=cart', true], ['app==cart', true], ['app=web', false], ['app!=web', true], ['missing!=x', true],
    ['app in (web,cart)', true], ['app in (web)', false], ['app notin (web)', true], ['missing notin (web)', true], ['app notin (cart)', false],
    ['app', true], ['missing', false], ['!missing', true], ['!app', false],
    ['app.kubernetes.io/name=cart', true], ['  app = cart ,  tier in ( api , web ) ', true], ['app=cart,tier=web', false],
    ['replicas>2', true], ['replicas<3', false], ['app>1', false], ['empty=', true], ['empty', true], ['', true],
  ];
  for (const [text, expected] of cases) t.equal(labelsMatch(text, labels), expected, JSON.stringify(text));
  t.notOk(labelsMatch('missing>1', labels), 'a comparison never matches an object without the key');
  t.notOk(labelsMatch('replicas>1', undefined), 'nor one without labels');
});

t.test('only own properties are labels (Object.prototype is not)', async (t) => {
  t.notOk(labelSelectorMatches(selector('constructor'), {}));
  t.ok(labelSelectorMatches(selector('!toString'), {}));
  t.notOk(labelSelectorMatches(selector('valueOf in (x)'), {}));
  t.ok(labelSelectorMatches(selector('constructor=x'), { constructor: 'x' }));
});

const NAME_RULE = "the name must be 1-63 characters, alphanumeric, '-', '_' or '.', starting and ending alphanumeric";
const PREFIX_RULE = 'the prefix must be a DNS subdomain (lowercase, at most 253 characters)';
const VALUE_RULE = "at most 63 characters, alphanumeric, '-', '_' or '.', starting and ending alphanumeric";
const SHAPES = 'expected key, !key, key=value, key!=value, key in (a,b) or key notin (a,b)';
const longValue = 'v'.repeat(64);
const longKey = 'k'.repeat(64);

t.test('bad selectors: a code and a message naming the requirement and what is wrong', async (t) => {
  const cases: [string, LabelSelectorErrorCode, string][] = [
    ['app in (cart', 'syntax', 'unbalanced parentheses in "app in (cart"'],
    ['app in (a', 'syntax', 'unbalanced parentheses in "app in (a"'],
    ['app in a)', 'syntax', 'unbalanced parentheses in "app in a)"'],
    ['app in ((a))', 'syntax', 'unbalanced parentheses in "app in ((a))"'],
    ['app in ()', 'empty_set', '"app in ()": the value set of in must not be empty'],
    ['app notin ( )', 'empty_set', '"app notin ( )": the value set of notin must not be empty'],
    ['app=ca rt', 'syntax', '"app=ca rt": cannot parse the value "ca rt"'],
    ['app=cart,', 'syntax', 'empty requirement (a stray comma?)'],
    ['app=x,', 'syntax', 'empty requirement (a stray comma?)'],
    ['=cart', 'syntax', `cannot parse "=cart": ${SHAPES}`],
    ['=x', 'syntax', `cannot parse "=x": ${SHAPES}`],
    ['Bad_Prefix!/x=y', 'syntax', `cannot parse "Bad_Prefix!/x=y": ${SHAPES}`],
    ['-bad=x', 'invalid_key', `label key "-bad": ${NAME_RULE}`],
    [`${longKey}=v`, 'invalid_key', `label key "${longKey}": ${NAME_RULE}`],
    ['Example.com/x=y', 'invalid_key', `label key "Example.com/x": ${PREFIX_RULE}`],
    ['UPPER.example/x=y', 'invalid_key', `label key "UPPER.example/x": ${PREFIX_RULE}`],
    [`app=${longValue}`, 'invalid_value', `label value "${longValue}": ${VALUE_RULE}`],
    ['k=-v', 'invalid_value', `label value "-v": ${VALUE_RULE}`],
    ['app in (a,b_)', 'invalid_value', `label value "b_": ${VALUE_RULE}`],
    ['replicas>3', 'unsupported_operator', '"replicas>3": the operators < and > are not supported here'],
    ['k>x', 'unsupported_operator', '"k>x": the operators < and > are not supported here'],
  ];
  for (const [text, code, error] of cases) t.same(parseLabelSelector(text), { ok: false, code, error }, text);
});

t.test('> and < when allowed: an integer value and a valid key', async (t) => {
  const allow = { allowComparisons: true };
  const cases: [string, LabelSelectorErrorCode, string][] = [
    ['k>x', 'not_an_integer', '"k>x": the value of > must be an integer'],
    ['k<1.5', 'not_an_integer', '"k<1.5": the value of < must be an integer'],
    ['-k>1', 'invalid_key', `label key "-k": ${NAME_RULE}`],
    ['a b>1', 'syntax', 'cannot parse "a b>1": expected key, !key, key=value, key!=value, key in (a,b), key notin (a,b), key>n or key<n'],
  ];
  for (const [text, code, error] of cases) t.same(parseLabelSelector(text, allow), { ok: false, code, error }, text);
  t.equal(parseLabelSelector('k>1', allow).ok, true);
});

t.test('notin is the negation of in, and != of =, for any labels (property)', async (t) => {
  const value = fc.stringMatching(/^[a-z0-9]([a-z0-9.-]{0,6}[a-z0-9])?$/);
  const key = fc.constantFrom('app', 'tier', 'zone');
  fc.assert(
    fc.property(fc.dictionary(key, value), key, fc.array(value, { minLength: 1, maxLength: 3 }), (labels, k, values) => {
      const set = values.join(',');
      return (
        labelsMatch(`${k} in (${set})`, labels) !== labelsMatch(`${k} notin (${set})`, labels) &&
        labelsMatch(`${k}=${values[0]}`, labels) !== labelsMatch(`${k}!=${values[0]}`, labels)
      );
    }),
    { numRuns: 300 },
  );
  t.pass('property held');
});

t.test('any text gives a result, never a throw; allowing > and < changes nothing else (property)', async (t) => {
  const alphabet = fc.constantFrom('a', 'b', '1', '-', '.', '/', '_', '=', '!', '<', '>', '(', ')', ',', ' ', 'in', 'notin');
  fc.assert(
    fc.property(fc.array(alphabet, { maxLength: 12 }).map((parts) => parts.join('')), (text) => {
      const strict = parseLabelSelector(text);
      const allowing = parseLabelSelector(text, { allowComparisons: true });
      if (!strict.ok && strict.error.length === 0) return false;
      if (/[<>]/.test(text)) return allowing.ok || allowing.error.length > 0;
      return JSON.stringify(strict) === JSON.stringify(allowing);
    }),
    { numRuns: 2000 },
  );
  t.pass('property held');
});
