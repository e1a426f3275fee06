import t from 'tap';
import { parseLabelSelector, selectorMatches, type LabelSelector } from '../../src/server/label-selector.ts';

function selector(text: string): LabelSelector {
  const r = parseLabelSelector(text);
  if (!r.ok) throw new Error(r.error);
  return r.selector;
}

const cart = { app: 'cart', tier: 'web', 'example.com/team': 'shop' };
const db = { app: 'db', tier: 'db' };

t.test('equality-based requirements', async (t) => {
  t.ok(selectorMatches(selector('app=cart'), cart));
  t.ok(selectorMatches(selector('app==cart'), cart));
  t.notOk(selectorMatches(selector('app=cart'), db));
  t.ok(selectorMatches(selector('tier!=db'), cart));
  t.notOk(selectorMatches(selector('tier!=db'), db));
  t.ok(selectorMatches(selector('missing!=x'), cart), '!= matches objects without the key, as in Kubernetes');
  t.ok(selectorMatches(selector(' app = cart , tier = web '), cart), 'whitespace around tokens');
  t.ok(selectorMatches(selector('example.com/team=shop'), cart), 'prefixed key');
  t.ok(selectorMatches(selector('empty='), { empty: '' }), 'empty value');
  t.notOk(selectorMatches(selector('empty='), {}));
});

t.test('set-based requirements', async (t) => {
  t.ok(selectorMatches(selector('app in (cart,front)'), cart));
  t.notOk(selectorMatches(selector('app in (cart, front)'), db));
  t.ok(selectorMatches(selector('app notin (db)'), cart));
  t.notOk(selectorMatches(selector('app notin (db)'), db));
  t.ok(selectorMatches(selector('other notin (x)'), cart), 'notin matches objects without the key');
  t.ok(selectorMatches(selector('tier'), db), 'exists');
  t.notOk(selectorMatches(selector('canary'), db));
  t.ok(selectorMatches(selector('!canary'), db), 'does not exist');
  t.notOk(selectorMatches(selector('!tier'), db));
  t.ok(selectorMatches(selector('app in (cart,front),tier=web,!canary'), cart), 'commas inside parentheses do not split');
});

t.test('the empty selector matches everything', async (t) => {
  t.ok(selectorMatches(selector(''), cart));
  t.ok(selectorMatches(selector('  '), {}));
});

t.test('bad selectors are named with the reason', async (t) => {
  const cases: [string, RegExp][] = [
    ['app in (cart', /unbalanced parentheses/],
    ['app in ()', /must not be empty/],
    ['app=ca rt', /cannot parse the value/],
    ['app=cart,', /empty requirement/],
    ['-bad=x', /label key "-bad"/],
    ['Example.com/x=y', /prefix must be a DNS subdomain/],
    [`app=${'v'.repeat(64)}`, /at most 63 characters/],
    ['replicas>3', /not supported/],
    ['app in ((a))', /unbalanced parentheses/],
    ['=cart', /cannot parse/],
  ];
  for (const [text, expected] of cases) {
    const r = parseLabelSelector(text);
    t.equal(r.ok, false, text);
    if (!r.ok) t.match(r.error, expected, text);
  }
});
