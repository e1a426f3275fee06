import t from 'tap';
import { parseFieldSelector, matchesFields } from '../../src/sim/index.ts';
import type { KubeObject } from '../../src/sim/index.ts';

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
