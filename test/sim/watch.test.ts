import t from 'tap';
import { startSimApiServer, podFor, namespaceFor } from '../../src/sim/index.ts';
import type { SimApiServer, SimApiServerOptions } from '../../src/sim/index.ts';
import { openWatch } from './watch-reader.ts';
import type { WatchItem, WatchReader } from './watch-reader.ts';

async function newSim(t: { teardown(fn: () => unknown): void }, options: SimApiServerOptions = {}): Promise<SimApiServer> {
  const sim = await startSimApiServer(options);
  t.teardown(() => sim.close());
  return sim;
}

async function watch(t: { teardown(fn: () => unknown): void }, sim: SimApiServer, query: string, path = '/api/v1/pods'): Promise<WatchReader> {
  const reader = await openWatch(`${sim.url}${path}?watch=true${query ? `&${query}` : ''}`);
  t.teardown(() => reader.close());
  return reader;
}

function summary(item: WatchItem): string {
  if (!('object' in item)) return item.type;
  return `${item.type} ${item.object.metadata?.name ?? ''}`;
}

/** Reads until `count` items arrived. */
async function take(reader: WatchReader, count: number): Promise<WatchItem[]> {
  const items: WatchItem[] = [];
  while (items.length < count) items.push(await reader.next());
  return items;
}

t.test('watch from RV 0 or none: chunked 200, synthetic ADDED for the current state, then live events', async (t) => {
  const sim = await newSim(t);
  sim.create('pods', podFor({ name: 'a', namespace: 'shop' }));
  sim.create('pods', podFor({ name: 'b', namespace: 'shop' }));
  for (const rv of ['resourceVersion=0', '']) {
    const w = await watch(t, sim, rv);
    t.equal(w.status, 200);
    t.equal(w.headers.get('transfer-encoding'), 'chunked');
    t.match(w.headers.get('content-type'), /application\/json/);
    const initial = await take(w, 2);
    t.same(initial.map(summary), ['ADDED a', 'ADDED b'], rv || 'no resourceVersion');
    const first = initial[0];
    t.match(first, { object: { kind: 'Pod', apiVersion: 'v1' } }, 'watch objects carry kind/apiVersion');
    w.close();
  }
  const live = await watch(t, sim, 'resourceVersion=0');
  await take(live, 2);
  sim.create('pods', podFor({ name: 'c', namespace: 'shop' }));
  sim.patchLabels('pods', 'shop', 'a', { version: '2' });
  const removed = sim.delete('pods', 'shop', 'b');
  const events = await take(live, 3);
  t.same(events.map(summary), ['ADDED c', 'MODIFIED a', 'DELETED b']);
  t.equal((events[1] as { object: { metadata: { labels: Record<string, string> } } }).object.metadata.labels.version, '2');
  t.match(events[2], { object: { metadata: { resourceVersion: removed.metadata.resourceVersion, uid: removed.metadata.uid } } }, 'DELETED carries the last state with the deletion RV');
  t.equal(sim.watchCount, 1);
});

t.test('watch from an RV replays exactly the changes after it, in order, then goes live', async (t) => {
  const sim = await newSim(t);
  sim.create('pods', podFor({ name: 'a', namespace: 'shop' }));
  const from = sim.resourceVersion;
  sim.create('pods', podFor({ name: 'b', namespace: 'shop' }));
  sim.create('namespaces', namespaceFor({ name: 'shop' })); // another kind: not replayed on a pod watch
  sim.patchLabels('pods', 'shop', 'a', { x: '1' });
  sim.delete('pods', 'shop', 'b');
  const w = await watch(t, sim, `resourceVersion=${from}`);
  const replay = await take(w, 3);
  t.same(replay.map(summary), ['ADDED b', 'MODIFIED a', 'DELETED b']);
  const rvs = replay.map((e) => Number((e as { object: { metadata: { resourceVersion: string } } }).object.metadata.resourceVersion));
  t.ok(rvs.every((rv, i) => i === 0 || rv > (rvs[i - 1] ?? 0)), 'increasing resourceVersions');
  sim.create('pods', podFor({ name: 'c', namespace: 'shop' }));
  t.same(summary(await w.next()), 'ADDED c');

  const nsWatch = await watch(t, sim, `resourceVersion=${from}`, '/api/v1/namespaces');
  t.same(summary(await nsWatch.next()), 'ADDED shop', 'kinds share one RV sequence but watch separately');

  const scoped = await watch(t, sim, `resourceVersion=${from}`, '/api/v1/namespaces/other/pods');
  sim.create('pods', podFor({ name: 'd', namespace: 'other' }));
  t.same(summary(await scoped.next()), 'ADDED d', 'a namespaced watch sees only its namespace');
});

t.test('an object leaving a watch selection is DELETED (previous state, new RV); entering it is ADDED', async (t) => {
  const sim = await newSim(t);
  sim.create('pods', podFor({ name: 'a', namespace: 'shop', nodeName: 'node-a', labels: { app: 'cart' } }));
  sim.create('pods', podFor({ name: 'b', namespace: 'shop', nodeName: 'node-a', labels: { app: 'web' } }));
  const w = await watch(t, sim, 'resourceVersion=0&labelSelector=app%3Dcart');
  t.same(summary(await w.next()), 'ADDED a');
  const moved = sim.patchLabels('pods', 'shop', 'a', { app: 'basket' });
  const left = await w.next();
  t.same(summary(left), 'DELETED a');
  t.match(left, { object: { metadata: { labels: { app: 'cart' }, resourceVersion: moved.metadata.resourceVersion } } });
  sim.patchLabels('pods', 'shop', 'b', { app: 'cart' });
  t.same(summary(await w.next()), 'ADDED b');
  sim.patchLabels('pods', 'shop', 'b', { extra: 'x' });
  t.same(summary(await w.next()), 'MODIFIED b');

  // Field selectors too, and in replay.
  const fromRv = sim.resourceVersion;
  const pod = sim.get('pods', 'shop', 'b');
  if (!pod) throw new Error('pod b missing');
  sim.update('pods', { ...pod, spec: { ...(pod.spec as object), nodeName: 'node-z' } });
  const byNode = await watch(t, sim, `resourceVersion=${fromRv}&fieldSelector=spec.nodeName%3Dnode-a`);
  t.same(summary(await byNode.next()), 'DELETED b', 'replayed transitions are filtered the same way');
  t.same(summary(await w.next()), 'MODIFIED b', 'the label watch sees a plain change');
});

t.test('a single-object watch path and the deprecated /watch/ path', async (t) => {
  const sim = await newSim(t);
  sim.create('pods', podFor({ name: 'a', namespace: 'shop' }));
  sim.create('pods', podFor({ name: 'b', namespace: 'shop' }));
  const one = await watch(t, sim, 'resourceVersion=0', '/api/v1/namespaces/shop/pods/b');
  t.same(summary(await one.next()), 'ADDED b');
  const legacy = await openWatch(`${sim.url}/api/v1/watch/namespaces/shop/pods?resourceVersion=0`);
  t.teardown(() => legacy.close());
  t.same((await take(legacy, 2)).map(summary), ['ADDED a', 'ADDED b']);
  t.equal(sim.requests.at(-1)?.verb, 'watch');
});

t.test('bookmarks only with allowWatchBookmarks: kind/apiVersion and only metadata.resourceVersion', async (t) => {
  const sim = await newSim(t, { bookmarkIntervalMs: 50 });
  sim.create('pods', podFor({ name: 'a', namespace: 'shop' }));
  const from = sim.resourceVersion;
  const w = await watch(t, sim, `resourceVersion=${from}&allowWatchBookmarks=true`);
  const bookmark = await w.next();
  t.same(bookmark, { type: 'BOOKMARK', object: { kind: 'Pod', apiVersion: 'v1', metadata: { resourceVersion: from } } });
  sim.create('namespaces', namespaceFor({ name: 'shop' }));
  let next = await w.next();
  while (next.type === 'BOOKMARK' && (next as { object: { metadata: { resourceVersion: string } } }).object.metadata.resourceVersion === from) next = await w.next();
  t.same(next, { type: 'BOOKMARK', object: { kind: 'Pod', apiVersion: 'v1', metadata: { resourceVersion: sim.resourceVersion } } }, 'the RV moves on with changes of other kinds');

  const plain = await watch(t, sim, `resourceVersion=${sim.resourceVersion}&timeoutSeconds=1`);
  t.same((await plain.rest()).map((i) => i.type), ['END'], 'no bookmark without the parameter, even after several intervals');
});

t.test('sendInitialEvents: ADDED for the state, then a BOOKMARK annotated initial-events-end', async (t) => {
  const sim = await newSim(t);
  sim.create('pods', podFor({ name: 'a', namespace: 'shop' }));
  const w = await watch(t, sim, 'sendInitialEvents=true&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true');
  const [added, end] = await take(w, 2);
  t.equal(summary(added as WatchItem), 'ADDED a');
  t.match(end, { type: 'BOOKMARK', object: { metadata: { resourceVersion: sim.resourceVersion, annotations: { 'k8s.io/initial-events-end': 'true' } } } });
  const bad = await fetch(`${sim.url}/api/v1/pods?watch=true&sendInitialEvents=true&resourceVersionMatch=NotOlderThan`);
  t.equal(bad.status, 400, 'sendInitialEvents needs bookmarks');
  t.match(await bad.json(), { details: { causes: [{ field: 'allowWatchBookmarks' }] } });
  const liveOnly = await watch(t, sim, 'sendInitialEvents=false&resourceVersionMatch=NotOlderThan&resourceVersion=0');
  sim.create('pods', podFor({ name: 'later', namespace: 'shop' }));
  t.equal(summary(await liveOnly.next()), 'ADDED later', 'sendInitialEvents=false: changes from now on only');
  const match = await fetch(`${sim.url}/api/v1/pods?watch=true&resourceVersionMatch=Exact&resourceVersion=1`);
  t.equal(match.status, 400, 'resourceVersionMatch alone is forbidden on watch');
});

t.test('timeoutSeconds ends the stream cleanly; a default timeout range applies otherwise', async (t) => {
  const sim = await newSim(t, { watchTimeoutSeconds: { min: 1, max: 1 } });
  sim.create('pods', podFor({ name: 'a', namespace: 'shop' }));
  const explicit = await watch(t, sim, `resourceVersion=${sim.resourceVersion}&timeoutSeconds=1`);
  t.same((await explicit.rest()).map((i) => i.type), ['END']);
  const byDefault = await watch(t, sim, 'resourceVersion=0');
  t.same((await byDefault.rest()).map(summary), ['ADDED a', 'END']);
  await sim.waitForWatchCount(0);
  t.equal(sim.watchCount, 0);
  const bad = await fetch(`${sim.url}/api/v1/pods?watch=1&timeoutSeconds=soon`);
  t.equal(bad.status, 400);
});

t.test('a watch from a compacted RV gets 200, one ERROR event with a 410 Expired Status, and the end', async (t) => {
  const sim = await newSim(t);
  sim.create('pods', podFor({ name: 'a', namespace: 'shop' }));
  const old = sim.resourceVersion;
  sim.create('pods', podFor({ name: 'b', namespace: 'shop' }));
  sim.faults.compact();
  const w = await watch(t, sim, `resourceVersion=${old}`);
  t.equal(w.status, 200);
  const items = await w.rest();
  t.same(items, [
    { type: 'ERROR', object: { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: `too old resource version: ${old} (${sim.resourceVersion})`, reason: 'Expired', code: 410 } },
    { type: 'END' },
  ]);
  const current = await watch(t, sim, `resourceVersion=${sim.resourceVersion}&timeoutSeconds=1`);
  t.same((await current.rest()).map((i) => i.type), ['END'], 'the compaction point itself is still watchable');
});

t.test('the history limit compacts the oldest changes by itself', async (t) => {
  const sim = await newSim(t, { historyLimit: 3 });
  const start = sim.resourceVersion;
  for (const name of ['a', 'b', 'c', 'd', 'e']) sim.create('pods', podFor({ name, namespace: 'shop' }));
  t.equal(sim.compactedResourceVersion, String(Number(start) + 2));
  const tooOld = await watch(t, sim, `resourceVersion=${start}`);
  t.match(await tooOld.next(), { type: 'ERROR', object: { code: 410 } });
  const kept = await watch(t, sim, `resourceVersion=${sim.compactedResourceVersion}`);
  t.same((await take(kept, 3)).map(summary), ['ADDED c', 'ADDED d', 'ADDED e']);
});

t.test('watch parameters are validated before the stream starts', async (t) => {
  const sim = await newSim(t);
  for (const [query, code] of [
    ['labelSelector=a%20in', 400], ['fieldSelector=spec.bogus%3D1', 400], ['resourceVersion=x1', 400], [`resourceVersion=999999`, 504],
  ] as const) {
    const res = await fetch(`${sim.url}/api/v1/pods?watch=true&${query}`);
    t.equal(res.status, code, query);
    t.match(await res.json(), { kind: 'Status', code });
  }
  t.equal(sim.watchCount, 0);
});
