/**
 * Chunked lists over real HTTP at a realistic size (generated pods of ~10 KB, bodies of several
 * MB sent in chunks): every page concatenated is the full list, at the first page's snapshot even
 * while the cluster changes between pages; an expired snapshot answers 410.
 */
import t from 'tap';
import { request } from 'node:http';
import { generateCluster, loadCluster, podFor, startSimApiServer } from '../../src/sim/index.ts';
import type { KubeObject, PodJson, SimApiServer, SimApiServerOptions } from '../../src/sim/index.ts';
import { openWatch } from './watch-reader.ts';

interface ListBody {
  kind: string;
  metadata: { resourceVersion: string; continue?: string; remainingItemCount?: number };
  items: KubeObject[];
}

async function list(sim: SimApiServer, query: string, path = '/api/v1/pods'): Promise<ListBody> {
  const res = await fetch(`${sim.url}${path}?${query}`);
  const body = (await res.json()) as ListBody;
  if (res.status !== 200) throw new Error(`${path}?${query} answered ${res.status}: ${JSON.stringify(body)}`);
  return body;
}

function continueQuery(query: string, token: string | undefined): string {
  return token ? `${query}&continue=${encodeURIComponent(token)}` : query;
}

const keyOf = (o: KubeObject): string => `${o.metadata.namespace ?? ''}/${o.metadata.name}`;

interface PagingOptions {
  path?: string;
  /** Continue from this token rather than starting a list. */
  token?: string | undefined;
  /** Runs after each page but the last. */
  between?: (page: number) => void;
}

/** Every page of a chunked list (at most 1,000, so a paging bug fails rather than loops). */
async function allPages(sim: SimApiServer, query: string, options: PagingOptions = {}): Promise<ListBody[]> {
  const { path, between } = options;
  const pages: ListBody[] = [];
  let token = options.token;
  do {
    if (pages.length === 1000) throw new Error(`${query}: more than 1,000 pages`);
    const page = await list(sim, continueQuery(query, token), path);
    pages.push(page);
    token = page.metadata.continue;
    if (token) between?.(pages.length);
  } while (token);
  return pages;
}

async function generatedSim(t: { teardown(fn: () => unknown): void }, options: SimApiServerOptions = {}): Promise<SimApiServer> {
  const sim = await startSimApiServer(options);
  t.teardown(() => sim.close());
  loadCluster(sim, generateCluster({ seed: 11, nodes: 3, podsPerNode: 60, namespaces: 5 }));
  return sim;
}

t.test('pages of a multi-megabyte list concatenate to the unpaged list, with exact remaining counts', async (t) => {
  const sim = await generatedSim(t);
  const full = await list(sim, '');
  const total = full.items.length;
  t.ok(total > 150, `${total} pods`);
  t.ok(JSON.stringify(full).length > 1.5 * (1 << 20), 'the body spans several chunks');
  t.same(full.items.map(keyOf), full.items.map(keyOf).sort(), 'in key order');

  for (const limit of [1, 37, 500]) {
    const pages = await allPages(sim, `limit=${limit}`);
    t.equal(pages.length, Math.ceil(total / limit), `limit=${limit}: page count`);
    t.same(pages.flatMap((p) => p.items), full.items, `limit=${limit}: the same objects, byte for byte`);
    const counts = pages.map((page) => [page.metadata.resourceVersion, page.metadata.remainingItemCount]);
    const expected = pages.map((_, i) => [full.metadata.resourceVersion, i < pages.length - 1 ? total - Math.min(total, limit * (i + 1)) : undefined]);
    t.same(counts, expected, `limit=${limit}: every page at the list's RV, remainingItemCount exact (none on the last)`);
  }

  const namespace = full.items[0]?.metadata.namespace ?? '';
  const inNamespace = full.items.filter((p) => p.metadata.namespace === namespace);
  const nsPages = await allPages(sim, 'limit=7', { path: `/api/v1/namespaces/${namespace}/pods` });
  t.same(nsPages.flatMap((p) => p.items), inNamespace, 'a namespace pages through its own slice');
  t.equal(nsPages[0]?.metadata.remainingItemCount, inNamespace.length > 7 ? inNamespace.length - 7 : undefined);

  const nodeOf = (p: KubeObject | undefined): unknown => (p as PodJson | undefined)?.spec.nodeName;
  const nodeName = String(nodeOf(full.items[5]));
  const onNode = full.items.filter((p) => nodeOf(p) === nodeName);
  const selected = await allPages(sim, `limit=25&fieldSelector=spec.nodeName%3D${nodeName}`);
  t.same(selected.flatMap((p) => p.items), onNode, 'a field selector pages through its matches only');
  t.ok(selected.every((p) => p.metadata.remainingItemCount === undefined));
});

t.test('writes between pages do not show: the pages are the state at the first page\'s RV', async (t) => {
  const sim = await generatedSim(t);
  const before = await list(sim, '');
  const keys = before.items.map(keyOf);
  /** Namespace and name of the i-th pod of the first list, if it still exists. */
  const existing = (i: number): [string, string] | undefined => {
    const [namespace, name] = (keys[i] ?? '/').split('/') as [string, string];
    return sim.get('pods', namespace, name) ? [namespace, name] : undefined;
  };
  const pages = await allPages(sim, 'limit=40', { between: (page) => {
    const cursor = page * 40;
    // Behind and ahead of the cursor: delete, relabel, delete and re-create, and new keys.
    const behind = existing(cursor - 3);
    if (behind) sim.delete('pods', ...behind);
    const ahead = existing(cursor + 5);
    if (ahead) sim.delete('pods', ...ahead, { graceful: true });
    const next = existing(cursor + 1);
    if (next) sim.patchLabels('pods', ...next, { changed: String(page) });
    const again = existing(cursor + 9);
    if (again) {
      sim.delete('pods', ...again);
      sim.create('pods', podFor({ name: again[1], namespace: again[0], labels: { recreated: 'yes' } }));
    }
    const [namespace, name] = (keys[cursor] ?? '').split('/') as [string, string];
    sim.create('pods', podFor({ name: `${name}-new-${page}`, namespace }));
    sim.create('pods', podFor({ name: `aaa-${page}`, namespace }));
  } });
  t.ok(pages.length > 3, `${pages.length} pages`);
  t.same(pages.flatMap((p) => p.items), before.items, 'exactly the objects as they were');
  t.ok(pages.every((p) => p.metadata.resourceVersion === before.metadata.resourceVersion), 'every page reports the snapshot RV');
  for (const [i, page] of pages.entries()) {
    if (page.metadata.continue) t.equal(page.metadata.remainingItemCount, keys.length - 40 * (i + 1), `page ${i + 1}: remaining in the snapshot`);
  }

  const exact = await list(sim, `resourceVersion=${before.metadata.resourceVersion}&resourceVersionMatch=Exact`);
  t.same(exact.items, before.items, 'an Exact list rebuilds the same state');
  const now = await list(sim, '');
  t.not(now.items.length, 0);
  t.notSame(now.items.map(keyOf), keys, 'while the current state differs');
  t.same(now.items.map(keyOf), now.items.map(keyOf).sort(), 'still in key order');

  // A selector on the snapshot: a label changed after the first page does not move pods in or out.
  const [labelKey, labelValue] = Object.entries(now.items[0]?.metadata.labels ?? {})[0] ?? ['', ''];
  const matching = now.items.filter((p) => p.metadata.labels?.[labelKey] === labelValue);
  t.ok(matching.length > 3, `${matching.length} pods with ${labelKey}=${labelValue}`);
  const selected = await allPages(sim, `limit=3&labelSelector=${encodeURIComponent(`${labelKey}=${labelValue}`)}`, { between: () => {
    for (const pod of matching) {
      if (sim.get('pods', pod.metadata.namespace, pod.metadata.name)) sim.patchLabels('pods', pod.metadata.namespace, pod.metadata.name, { [labelKey]: 'moved' });
    }
  } });
  t.same(selected.flatMap((p) => p.items), matching, 'the selection as of the first page, though every match moved out since');
});

t.test('history passing a paged list by (historyLimit) answers 410 with a token for the rest now', async (t) => {
  const sim = await generatedSim(t, { historyLimit: 5 });
  const first = await list(sim, 'limit=10');
  const tenth = first.items[9] as KubeObject;
  for (let i = 0; i < 6; i++) sim.patchLabels('pods', tenth.metadata.namespace, tenth.metadata.name, { round: String(i) });
  const res = await fetch(`${sim.url}/api/v1/pods?limit=10&continue=${encodeURIComponent(first.metadata.continue ?? '')}`);
  t.equal(res.status, 410);
  const status = (await res.json()) as { reason: string; metadata: { continue?: string } };
  t.equal(status.reason, 'Expired');
  t.ok(status.metadata.continue, 'a token to continue inconsistently');
  const rest = await allPages(sim, 'limit=50');
  const inconsistent = await allPages(sim, 'limit=50', { token: status.metadata.continue });
  const current = rest.flatMap((p) => p.items);
  t.same(inconsistent.flatMap((p) => p.items), current.slice(10), 'the remainder at the current state');
  t.equal(inconsistent[0]?.metadata.resourceVersion, sim.resourceVersion);
});

t.test('resourceVersion=0 is answered from the watch cache, which ignores limit by default', async (t) => {
  const sim = await generatedSim(t);
  const full = await list(sim, '');
  const cached = await list(sim, 'resourceVersion=0&limit=10');
  t.same(cached.items, full.items, 'everything in one page');
  t.equal(cached.metadata.continue, undefined, 'no continue token');
  t.equal(cached.metadata.remainingItemCount, undefined);
  t.equal(cached.metadata.resourceVersion, sim.resourceVersion, 'a cache that is up to date');
  const consistent = await list(sim, 'limit=10');
  t.equal(consistent.items.length, 10, 'without resourceVersion (etcd) the limit applies');
  t.ok(consistent.metadata.continue);
  t.same(sim.requests.slice(-2).map((r) => r.query), [{ resourceVersion: '0', limit: '10' }, { limit: '10' }], 'the request log keeps each query');
});

t.test('watchCacheLimit honoured: resourceVersion=0 pages through a snapshot, continued without a resourceVersion', async (t) => {
  const sim = await generatedSim(t, { watchCacheLimit: 'honoured' });
  const full = await list(sim, '');
  const first = await list(sim, 'resourceVersion=0&limit=40');
  t.equal(first.items.length, 40);
  const rest = await allPages(sim, 'limit=40', { token: first.metadata.continue, between: (page) => sim.create('pods', podFor({ name: `late-${page}`, namespace: 'shop' })) });
  t.same([...first.items, ...rest.flatMap((p) => p.items)], full.items, 'the pages are the state of the first one');
  t.ok(rest.every((p) => p.metadata.resourceVersion === first.metadata.resourceVersion), 'at its resourceVersion');
});

t.test('a held watch cache answers resourceVersion=0 with an older state; etcd and a watch from it catch up', async (t) => {
  const sim = await generatedSim(t);
  const before = await list(sim, '');
  sim.faults.holdWatchCache(true);
  const added = sim.create('pods', podFor({ name: 'after-hold', namespace: 'shop' }));
  const stale = await list(sim, 'resourceVersion=0');
  t.equal(stale.metadata.resourceVersion, before.metadata.resourceVersion, 'the cache\'s resourceVersion, behind etcd');
  t.same(stale.items, before.items, 'without the pod created since');
  const consistent = await list(sim, '');
  t.equal(consistent.metadata.resourceVersion, sim.resourceVersion, 'a consistent list reads etcd');
  t.ok(consistent.items.some((p) => p.metadata.uid === added.metadata.uid));
  const watch = await openWatch(`${sim.url}/api/v1/pods?watch=true&resourceVersion=${stale.metadata.resourceVersion}`);
  t.teardown(() => watch.close());
  t.match(await watch.next(), { type: 'ADDED', object: { metadata: { name: 'after-hold' } } }, 'a watch from the stale list replays what it missed');
  sim.faults.holdWatchCache(false);
  t.equal((await list(sim, 'resourceVersion=0')).metadata.resourceVersion, sim.resourceVersion, 'released: up to date again');
});

t.test('a client leaving mid-list does not disturb the server', async (t) => {
  const sim = await generatedSim(t);
  await new Promise<void>((resolve, reject) => {
    const req = request(`${sim.url}/api/v1/pods`, (res) => {
      res.once('data', () => {
        req.destroy();
        resolve();
      });
    });
    req.on('error', (err) => (req.destroyed ? undefined : reject(err)));
    req.end();
  });
  const after = await list(sim, 'limit=5');
  t.equal(after.items.length, 5, 'the next list is served');
});

t.test('get and watch objects put kind and apiVersion first, then the stored fields', async (t) => {
  const sim = await startSimApiServer();
  t.teardown(() => sim.close());
  const created = sim.create('pods', podFor({ name: 'a', namespace: 'shop' }));
  const text = await (await fetch(`${sim.url}/api/v1/namespaces/shop/pods/a`)).text();
  t.ok(text.startsWith('{"kind":"Pod","apiVersion":"v1","metadata":{'), text.slice(0, 60));
  t.same(JSON.parse(text), { kind: 'Pod', apiVersion: 'v1', ...created });
  const watch = await openWatch(`${sim.url}/api/v1/pods?watch=true&resourceVersion=0`);
  t.teardown(() => watch.close());
  t.same(await watch.next(), { type: 'ADDED', object: { kind: 'Pod', apiVersion: 'v1', ...created } });
  const listed = await list(sim, '');
  t.same(listed.items, [created], 'list items carry no kind/apiVersion');
});
