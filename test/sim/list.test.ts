import t from 'tap';
import { startSimApiServer, podFor, namespaceFor, nodeFor } from '../../src/sim/index.ts';
import type { SimApiServer, PodJson } from '../../src/sim/index.ts';

interface ListBody {
  kind: string;
  apiVersion: string;
  metadata: { resourceVersion: string; continue?: string; remainingItemCount?: number };
  items: PodJson[];
}

async function getJson(url: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(url);
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

async function listPods(sim: SimApiServer, query = '', path = '/api/v1/pods'): Promise<ListBody> {
  const { status, body } = await getJson(`${sim.url}${path}${query ? `?${query}` : ''}`);
  if (status !== 200) throw new Error(`list ${query} answered ${status}: ${JSON.stringify(body)}`);
  return body as unknown as ListBody;
}

function names(list: ListBody): string[] {
  return list.items.map((p) => `${p.metadata.namespace}/${p.metadata.name}`);
}

async function simWithPods(t: { teardown(fn: () => unknown): void }): Promise<SimApiServer> {
  const sim = await startSimApiServer();
  t.teardown(() => sim.close());
  sim.create('namespaces', namespaceFor({ name: 'shop', labels: { team: 'storefront' } }));
  sim.create('namespaces', namespaceFor({ name: 'data' }));
  sim.create('nodes', nodeFor({ name: 'node-a' }));
  sim.create('pods', podFor({ name: 'cart-1', namespace: 'shop', nodeName: 'node-a', labels: { app: 'cart', tier: 'api' } }));
  sim.create('pods', podFor({ name: 'cart-2', namespace: 'shop', nodeName: 'node-b', labels: { app: 'cart', tier: 'api' } }));
  sim.create('pods', podFor({ name: 'web-1', namespace: 'shop', nodeName: 'node-a', labels: { app: 'web', tier: 'frontend' } }));
  sim.create('pods', podFor({ name: 'pg-0', namespace: 'data', nodeName: 'node-b', labels: { app: 'postgres' } }));
  sim.create('pods', podFor({ name: 'pending-1', namespace: 'data', nodeName: null, labels: { app: 'batch', 'release-track': '3' } }));
  return sim;
}

t.test('a list looks like the real one: kind, RV, items without kind/apiVersion, sorted by key', async (t) => {
  const sim = await simWithPods(t);
  const list = await listPods(sim);
  t.equal(list.kind, 'PodList');
  t.equal(list.apiVersion, 'v1');
  t.equal(list.metadata.resourceVersion, sim.resourceVersion);
  t.same(names(list), ['data/pending-1', 'data/pg-0', 'shop/cart-1', 'shop/cart-2', 'shop/web-1']);
  for (const item of list.items) {
    t.notOk('kind' in item, 'list items carry no kind');
    t.notOk('apiVersion' in item, 'list items carry no apiVersion');
    t.match(item.metadata.uid, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    t.match(item.metadata.resourceVersion, /^\d+$/);
    t.equal(item.metadata.generation, 1);
  }
  t.notOk(list.metadata.continue, 'no continue without a limit');

  const ns = await listPods(sim, '', '/api/v1/namespaces/data/pods');
  t.same(names(ns), ['data/pending-1', 'data/pg-0'], 'namespaced path lists one namespace');

  const nsList = (await getJson(`${sim.url}/api/v1/namespaces`)).body as unknown as ListBody;
  t.equal(nsList.kind, 'NamespaceList');
  t.same(nsList.items.map((n) => n.metadata.name), ['data', 'shop']);
  t.equal((await getJson(`${sim.url}/api/v1/nodes`)).body.kind, 'NodeList');
});

t.test('get returns one object with kind/apiVersion; unknown objects and routes get 404 Status', async (t) => {
  const sim = await simWithPods(t);
  const pod = await getJson(`${sim.url}/api/v1/namespaces/shop/pods/cart-1`);
  t.equal(pod.status, 200);
  t.equal(pod.body.kind, 'Pod');
  t.equal(pod.body.apiVersion, 'v1');
  const ns = await getJson(`${sim.url}/api/v1/namespaces/shop`);
  t.equal(ns.body.kind, 'Namespace');
  t.match(ns.body, { metadata: { labels: { 'kubernetes.io/metadata.name': 'shop', team: 'storefront' } } });
  const node = await getJson(`${sim.url}/api/v1/nodes/node-a`);
  t.equal(node.body.kind, 'Node');

  const missing = await getJson(`${sim.url}/api/v1/namespaces/shop/pods/nope`);
  t.equal(missing.status, 404);
  t.match(missing.body, { kind: 'Status', apiVersion: 'v1', status: 'Failure', reason: 'NotFound', code: 404, message: 'pods "nope" not found', details: { name: 'nope', kind: 'pods' } });
  const unknown = await getJson(`${sim.url}/api/v1/services`);
  t.equal(unknown.status, 404);
  t.match(unknown.body, { kind: 'Status', reason: 'NotFound', code: 404 });
  const post = await fetch(`${sim.url}/api/v1/pods`, { method: 'POST', body: '{}' });
  t.equal(post.status, 405);
  t.match(await post.json(), { kind: 'Status', reason: 'MethodNotAllowed' });
});

t.test('version and discovery', async (t) => {
  const sim = await startSimApiServer();
  t.teardown(() => sim.close());
  t.match((await getJson(`${sim.url}/version`)).body, { major: '1', gitVersion: /^v1\.\d+\.\d+$/ });
  t.match((await getJson(`${sim.url}/api`)).body, { kind: 'APIVersions', versions: ['v1'] });
  const resources = (await getJson(`${sim.url}/api/v1`)).body as { resources: { name: string; namespaced: boolean }[] };
  t.same(resources.resources.map((r) => [r.name, r.namespaced]), [['namespaces', false], ['nodes', false], ['pods', true]]);
  const health = await fetch(`${sim.url}/healthz`);
  t.equal(await health.text(), 'ok');
});

t.test('label selectors: =, ==, !=, in, notin, exists, !key, gt', async (t) => {
  const sim = await simWithPods(t);
  const q = async (selector: string) => names(await listPods(sim, `labelSelector=${encodeURIComponent(selector)}`));
  t.same(await q('app=cart'), ['shop/cart-1', 'shop/cart-2']);
  t.same(await q('app==web'), ['shop/web-1']);
  t.same(await q('app!=cart'), ['data/pending-1', 'data/pg-0', 'shop/web-1']);
  t.same(await q('app in (web, postgres)'), ['data/pg-0', 'shop/web-1']);
  t.same(await q('app notin (cart,web)'), ['data/pending-1', 'data/pg-0']);
  t.same(await q('tier'), ['shop/cart-1', 'shop/cart-2', 'shop/web-1']);
  t.same(await q('!tier'), ['data/pending-1', 'data/pg-0']);
  t.same(await q('tier!=frontend'), ['data/pending-1', 'data/pg-0', 'shop/cart-1', 'shop/cart-2'], '!= matches objects without the key');
  t.same(await q('app=cart, tier in (api)'), ['shop/cart-1', 'shop/cart-2']);
  t.same(await q('release-track>2'), ['data/pending-1']);
  t.same(await q(''), ['data/pending-1', 'data/pg-0', 'shop/cart-1', 'shop/cart-2', 'shop/web-1']);
});

t.test('field selectors: metadata.name, metadata.namespace, spec.nodeName, status.phase', async (t) => {
  const sim = await simWithPods(t);
  const q = async (selector: string) => names(await listPods(sim, `fieldSelector=${encodeURIComponent(selector)}`));
  t.same(await q('spec.nodeName=node-a'), ['shop/cart-1', 'shop/web-1']);
  t.same(await q('spec.nodeName==node-b,metadata.namespace=data'), ['data/pg-0']);
  t.same(await q('spec.nodeName='), ['data/pending-1'], 'an empty value matches unscheduled pods');
  t.same(await q('status.phase!=Running'), ['data/pending-1']);
  t.same(await q('metadata.name=web-1'), ['shop/web-1']);
  const both = await listPods(sim, `fieldSelector=spec.nodeName%3Dnode-a&labelSelector=app%3Dcart`);
  t.same(names(both), ['shop/cart-1'], 'label and field selectors combine');
});

t.test('bad selectors and parameters answer 400 Status naming the parameter', async (t) => {
  const sim = await simWithPods(t);
  const cases: [string, string, RegExp | string][] = [
    ['labelSelector=app%20in%20(a', 'labelSelector', 'labelSelector: unbalanced parentheses in "app in (a"'],
    ['labelSelector=-bad-=x', 'labelSelector', `labelSelector: label key "-bad-": the name must be 1-63 characters, alphanumeric, '-', '_' or '.', starting and ending alphanumeric`],
    ['labelSelector=app%3D%25%25', 'labelSelector', `labelSelector: label value "%%": at most 63 characters, alphanumeric, '-', '_' or '.', starting and ending alphanumeric`],
    ['labelSelector=replicas%3Ex', 'labelSelector', 'labelSelector: "replicas>x": the value of > must be an integer'],
    ['fieldSelector=spec.foo%3Dx', 'fieldSelector', /field label not supported: spec.foo/],
    ['fieldSelector=garbage', 'fieldSelector', /invalid selector/],
    ['limit=ten', 'limit', /must be an integer/],
    ['continue=notatoken', 'continue', /continue key is not valid/],
    ['resourceVersion=abc', 'resourceVersion', /resourceVersion/],
    ['resourceVersionMatch=Exact', 'resourceVersionMatch', /forbidden unless resourceVersion is provided/],
    ['resourceVersion=0&resourceVersionMatch=Exact', 'resourceVersionMatch', /forbidden for resourceVersion "0"/],
    ['resourceVersion=1&resourceVersionMatch=Sometimes', 'resourceVersionMatch', /Unsupported value/],
  ];
  for (const [query, field, message] of cases) {
    const { status, body } = await getJson(`${sim.url}/api/v1/pods?${query}`);
    t.equal(status, 400, query);
    t.match(body, { kind: 'Status', status: 'Failure', reason: 'BadRequest', code: 400, message, details: { causes: [{ field }] } }, query);
    if (typeof message === 'string') t.equal(body.message, message, `${query}: the exact message`);
  }
  const nodeField = await getJson(`${sim.url}/api/v1/nodes?fieldSelector=spec.nodeName%3Dx`);
  t.equal(nodeField.status, 400, 'field labels are per kind');
});

t.test('chunked lists: limit/continue, remainingItemCount, a consistent snapshot across pages', async (t) => {
  const sim = await simWithPods(t);
  const first = await listPods(sim, 'limit=2');
  t.same(names(first), ['data/pending-1', 'data/pg-0']);
  t.equal(first.metadata.remainingItemCount, 3);
  t.ok(first.metadata.continue);
  const listRv = first.metadata.resourceVersion;

  // Changes between pages must not show up: the continuation reads the list's RV.
  sim.delete('pods', 'shop', 'cart-2');
  sim.create('pods', podFor({ name: 'cart-0', namespace: 'shop', labels: { app: 'cart' } }));
  sim.patchLabels('pods', 'shop', 'web-1', { app: 'web-v2' });

  const second = await listPods(sim, `limit=2&continue=${encodeURIComponent(first.metadata.continue ?? '')}`);
  t.same(names(second), ['shop/cart-1', 'shop/cart-2']);
  t.equal(second.metadata.resourceVersion, listRv, 'every page reports the RV of the first');
  t.equal(second.metadata.remainingItemCount, 1);
  const third = await listPods(sim, `limit=2&continue=${encodeURIComponent(second.metadata.continue ?? '')}`);
  t.same(names(third), ['shop/web-1']);
  t.equal(third.items[0]?.metadata.labels?.app, 'web', 'the snapshot state, not the current one');
  t.notOk(third.metadata.continue);
  t.equal(third.metadata.remainingItemCount, undefined);

  const fresh = await listPods(sim);
  t.same(names(fresh), ['data/pending-1', 'data/pg-0', 'shop/cart-0', 'shop/cart-1', 'shop/web-1']);
  t.ok(Number(fresh.metadata.resourceVersion) > Number(listRv));

  const withSpecifiedRv = await getJson(`${sim.url}/api/v1/pods?limit=2&resourceVersion=5&continue=${encodeURIComponent(first.metadata.continue ?? '')}`);
  t.equal(withSpecifiedRv.status, 400, 'resourceVersion with continue is refused');
});

t.test('chunked lists with a selector: pages filled up to limit, no remainingItemCount, maybe an empty last page', async (t) => {
  const sim = await simWithPods(t);
  const pages: string[][] = [];
  let token = '';
  for (let i = 0; i < 10; i++) {
    const page = await listPods(sim, `limit=1&labelSelector=app%3Dcart${token ? `&continue=${encodeURIComponent(token)}` : ''}`);
    t.equal(page.metadata.remainingItemCount, undefined, 'no count with a selector');
    pages.push(names(page));
    if (!page.metadata.continue) break;
    token = page.metadata.continue;
  }
  t.same(pages.flat(), ['shop/cart-1', 'shop/cart-2']);
  t.same(pages, [['shop/cart-1'], ['shop/cart-2'], []], 'keys after the last match still yield a (last, empty) page');
});

t.test('a continue token older than the compacted history answers 410 Expired with an inconsistent token', async (t) => {
  const sim = await simWithPods(t);
  const first = await listPods(sim, 'limit=2');
  sim.create('pods', podFor({ name: 'zz-new', namespace: 'shop' }));
  sim.faults.compact();
  const expired = await getJson(`${sim.url}/api/v1/pods?limit=2&continue=${encodeURIComponent(first.metadata.continue ?? '')}`);
  t.equal(expired.status, 410);
  t.match(expired.body, { kind: 'Status', status: 'Failure', reason: 'Expired', code: 410, message: /continue parameter is too old/ });
  const inconsistent = (expired.body.metadata as { continue?: string }).continue;
  t.ok(inconsistent, 'a token to continue inconsistently');
  const rest = await listPods(sim, `continue=${encodeURIComponent(inconsistent ?? '')}`);
  t.same(names(rest), ['shop/cart-1', 'shop/cart-2', 'shop/web-1', 'shop/zz-new'], 'the remainder at the current state');
  t.equal(rest.metadata.resourceVersion, sim.resourceVersion);
});

t.test('resourceVersion semantics of list: Exact rebuilds history, NotOlderThan, too large, compacted', async (t) => {
  const sim = await simWithPods(t);
  const before = sim.resourceVersion;
  sim.delete('pods', 'shop', 'web-1');
  sim.patchLabels('pods', 'shop', 'cart-1', { app: 'basket' });
  sim.create('pods', podFor({ name: 'new-1', namespace: 'shop', labels: { app: 'cart' } }));

  const exact = await listPods(sim, `resourceVersion=${before}&resourceVersionMatch=Exact&labelSelector=app%3Dcart`);
  t.equal(exact.metadata.resourceVersion, before);
  t.same(names(exact), ['shop/cart-1', 'shop/cart-2'], 'the state at that RV');
  const exactAll = await listPods(sim, `resourceVersion=${before}&resourceVersionMatch=Exact`);
  t.ok(names(exactAll).includes('shop/web-1'), 'a deleted object is back at the older RV');
  t.notOk(names(exactAll).includes('shop/new-1'));

  const notOlder = await listPods(sim, `resourceVersion=${before}&resourceVersionMatch=NotOlderThan`);
  t.equal(notOlder.metadata.resourceVersion, sim.resourceVersion, 'served at the current RV');
  const any = await listPods(sim, 'resourceVersion=0');
  t.equal(any.metadata.resourceVersion, sim.resourceVersion);

  const tooLarge = await getJson(`${sim.url}/api/v1/pods?resourceVersion=${Number(sim.resourceVersion) + 100}`);
  t.equal(tooLarge.status, 504);
  t.match(tooLarge.body, { reason: 'Timeout', message: /Too large resource version/, details: { causes: [{ reason: 'ResourceVersionTooLarge' }], retryAfterSeconds: 1 } });

  sim.faults.compact();
  const compacted = await getJson(`${sim.url}/api/v1/pods?resourceVersion=${before}&resourceVersionMatch=Exact`);
  t.equal(compacted.status, 410);
  t.match(compacted.body, { reason: 'Expired', code: 410, message: `too old resource version: ${before} (${sim.resourceVersion})` });
});

t.test('the in-process write API: uid/RV/timestamps, conflicts, graceful deletion, copies', async (t) => {
  const sim = await startSimApiServer({ now: () => new Date('2026-02-01T10:00:00.456Z') });
  t.teardown(() => sim.close());
  const rv0 = Number(sim.resourceVersion);
  const ns = sim.create('namespaces', namespaceFor({ name: 'shop' }));
  t.equal(ns.metadata.resourceVersion, String(rv0 + 1));
  t.equal(ns.metadata.creationTimestamp, '2026-02-01T10:00:00Z');
  const pod = sim.create('pods', { metadata: { name: 'a', namespace: 'shop' }, spec: { containers: [] } });
  t.equal(pod.metadata.resourceVersion, String(rv0 + 2), 'one RV sequence across kinds');
  t.throws(() => sim.create('pods', { metadata: { name: 'a', namespace: 'shop' } }), { code: 'AlreadyExists' });
  t.throws(() => sim.create('pods', { metadata: { name: 'b' } }), { code: 'Invalid', message: /metadata.namespace is required/ });
  t.throws(() => sim.update('pods', { metadata: { name: 'zzz', namespace: 'shop' } }), { code: 'NotFound' });
  t.throws(() => sim.update('pods', { ...pod, metadata: { ...pod.metadata, resourceVersion: '1' } }), { code: 'Conflict' });

  pod.metadata.labels = { mutated: 'locally' };
  t.same(sim.get('pods', 'shop', 'a')?.metadata.labels, undefined, 'returned objects are copies');

  const relabelled = sim.patchLabels('pods', 'shop', 'a', { app: 'x' });
  t.equal(relabelled.metadata.generation, 1, 'labels do not bump generation');
  const respecced = sim.update('pods', { ...relabelled, spec: { containers: [{ name: 'c', image: 'nginx' }] } });
  t.equal(respecced.metadata.generation, 2, 'a spec change bumps generation');
  t.equal(respecced.metadata.uid, pod.metadata.uid);
  t.same(sim.patchLabels('pods', 'shop', 'a', { app: null }).metadata.labels, {}, 'null removes a label');

  const gone = sim.delete('pods', 'shop', 'a', { graceful: true });
  t.equal(gone.metadata.deletionTimestamp, '2026-02-01T10:00:00Z');
  t.equal(gone.metadata.resourceVersion, sim.resourceVersion, 'the deletion has its own RV');
  t.equal(sim.get('pods', 'shop', 'a'), undefined);
  t.throws(() => sim.delete('pods', 'shop', 'a'), { code: 'NotFound' });
  t.same(sim.list('namespaces').map((n) => n.metadata.name), ['shop']);
});
