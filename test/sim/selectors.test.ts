import t from 'tap';
import fc from 'fast-check';
import { parseLabelSelector, parseFieldSelector, matchesLabels, matchesFields } from '../../src/sim/index.ts';
import type { KubeObject } from '../../src/sim/index.ts';

function labelsMatch(selector: string, labels: Record<string, string>): boolean {
  const parsed = parseLabelSelector(selector);
  if (!parsed.ok) throw new Error(parsed.error);
  return matchesLabels(parsed.value, labels);
}

t.test('label selector grammar', async (t) => {
  const labels = { app: 'cart', 'app.kubernetes.io/name': 'cart', tier: 'api', replicas: '3', empty: '' };
  const cases: [string, boolean][] = [
    ['app=cart', true], ['app==cart', true], ['app=web', false], ['app!=web', true], ['missing!=x', true],
    ['app in (web,cart)', true], ['app in (web)', false], ['app notin (web)', true], ['missing notin (web)', true], ['app notin (cart)', false],
    ['app', true], ['missing', false], ['!missing', true], ['!app', false],
    ['app.kubernetes.io/name=cart', true], ['  app = cart ,  tier in ( api , web ) ', true], ['app=cart,tier=web', false],
    ['replicas>2', true], ['replicas<3', false], ['app>1', false], ['empty=', true], ['empty', true], ['', true],
  ];
  for (const [selector, expected] of cases) t.equal(labelsMatch(selector, labels), expected, JSON.stringify(selector));
});

t.test('label selector errors are values with a message naming the problem', async (t) => {
  const bad: [string, RegExp][] = [
    ['app in (a', /missing '\)'/],
    ['app in a)', /unexpected '\)'/],
    ['app in ()', /values set can't be empty/],
    ['=x', /expected key/],
    ['app=x,', /empty requirement/],
    ['Bad_Prefix!/x=y', /expected key|invalid label key/],
    ['UPPER.example/x=y', /prefix part must be a DNS-1123 subdomain/],
    [`${'k'.repeat(64)}=v`, /name part must/],
    [`k=${'v'.repeat(64)}`, /invalid label value/],
    ['k=-v', /invalid label value/],
    ['k>x', /must be an integer/],
  ];
  for (const [selector, message] of bad) {
    const parsed = parseLabelSelector(selector);
    t.equal(parsed.ok, false, selector);
    if (!parsed.ok) t.match(parsed.error, message, selector);
  }
});

t.test('notin is the negation of in, and != of =, for any labels (property)', async (t) => {
  const value = fc.stringMatching(/^[a-z0-9]([a-z0-9.-]{0,6}[a-z0-9])?$/);
  fc.assert(fc.property(fc.dictionary(fc.constantFrom('app', 'tier', 'zone'), value), fc.constantFrom('app', 'tier', 'zone'), fc.array(value, { minLength: 1, maxLength: 3 }), (labels, key, values) => {
    const set = values.join(',');
    return labelsMatch(`${key} in (${set})`, labels) !== labelsMatch(`${key} notin (${set})`, labels)
      && labelsMatch(`${key}=${values[0]}`, labels) !== labelsMatch(`${key}!=${values[0]}`, labels);
  }), { numRuns: 300 });
  t.pass('property held');
});

t.test('field selectors: supported fields per kind, escapes, errors', async (t) => {
  const pod: KubeObject = { metadata: { name: 'a,b', namespace: 'shop' }, spec: { nodeName: 'node-a', hostNetwork: true }, status: { phase: 'Running', podIP: '10.1.2.3' } };
  const match = (selector: string) => {
    const parsed = parseFieldSelector(selector, 'pods');
    if (!parsed.ok) throw new Error(parsed.error);
    return matchesFields(parsed.value, 'pods', pod);
  };
  t.equal(match('spec.nodeName=node-a'), true);
  t.equal(match('spec.nodeName==node-a,metadata.namespace=shop'), true);
  t.equal(match('spec.nodeName!=node-a'), false);
  t.equal(match('metadata.name=a\\,b'), true, 'escaped comma');
  t.equal(match('status.podIP=10.1.2.3'), true);
  t.equal(match('spec.hostNetwork=true'), true);
  t.equal(match('status.phase=Pending'), false);
  t.equal(match(''), true);

  const unsupported = parseFieldSelector('spec.nodeName=x', 'nodes');
  t.match(unsupported, { ok: false, error: 'field label not supported: spec.nodeName' });
  t.match(parseFieldSelector('spec.unschedulable=true', 'nodes'), { ok: true });
  t.match(parseFieldSelector('metadata.name', 'pods'), { ok: false, error: /invalid selector/ });
  t.match(parseFieldSelector('metadata.name=a\\x', 'pods'), { ok: false, error: /invalid escape/ });
  t.match(parseFieldSelector('metadata.name=a=b', 'pods'), { ok: false, error: /unescaped '='/ });
});
