import t from 'tap';
import { Registry } from 'prom-client';
import { createMetrics } from '../../src/metrics/index.ts';
import { MIRROR_ANNOTATION, RetainingStore } from '../../src/store/index.ts';
import { manualClock, modified, rawNamed, rawPod } from './builders.ts';

const DELAY = 60_000;

function setup(delay = DELAY) {
  const clock = manualClock();
  const metrics = createMetrics(new Registry(), { processMetrics: false });
  const store = new RetainingStore({ deletionDelayMs: delay, now: clock.now, timers: clock.timers, metrics });
  return { clock, metrics, store, reader: store.reader() };
}

async function metricValue(metrics: ReturnType<typeof createMetrics>, name: string, labels: Record<string, string>): Promise<number> {
  const m = await metrics.registry.getSingleMetric(name)!.get();
  const v = m.values.find((x) => Object.entries(labels).every(([k, val]) => x.labels[k] === val));
  return v?.value ?? 0;
}

t.test('add, update and delete a pod; versions only move on change', async (t) => {
  const { store, reader, clock } = setup();
  const pod = rawPod({ name: 'web', namespace: 'shop', uid: 'u1' });
  t.equal(store.apply('pods', 'ADDED', pod), 'added');
  const v1 = reader.podByUid('u1')!;
  t.equal(v1.object.name, 'web');
  t.equal(v1.deletedAt, undefined);
  t.equal(reader.podByName('shop', 'web'), v1);

  t.equal(store.apply('pods', 'MODIFIED', pod), 'unchanged', 'same resourceVersion is a no-op');
  t.equal(reader.podByUid('u1')!.version, v1.version);

  const changed = modified(pod, { labels: { app: 'web', version: '2' } });
  t.equal(store.apply('pods', 'MODIFIED', changed), 'updated');
  const v2 = reader.podByUid('u1')!;
  t.ok(v2.version > v1.version, 'a change gives a new version');
  t.same(v2.object.labels, { app: 'web', version: '2' });

  clock.advance(5);
  t.equal(store.apply('pods', 'DELETED', changed), 'deleted');
  const v3 = reader.podByUid('u1')!;
  t.ok(v3.version > v2.version);
  t.equal(v3.deletedAt, clock.now());
  t.equal(v3.expiresAt, clock.now() + DELAY);
  t.equal(reader.podByName('shop', 'web'), v3, 'a retained pod still answers by name');
  t.equal(store.apply('pods', 'DELETED', changed), 'unchanged', 'a repeated DELETED changes nothing');
  t.same(store.counts().find((c) => c.kind === 'pods'), { kind: 'pods', live: 0, retained: 1 });
});

t.test('a deleted pod is retained for the delay, then evicted by the store-owned timer', async (t) => {
  const { store, reader, clock, metrics } = setup();
  store.apply('pods', 'ADDED', rawPod({ name: 'job', uid: 'u1' }));
  store.apply('pods', 'DELETED', rawPod({ name: 'job', uid: 'u1' }));
  t.equal(await metricValue(metrics, 'kube_log_enricher_store_objects', { kind: 'pods', state: 'retained' }), 1);
  t.equal(clock.pendingTimers(), 1, 'one sweep timer');

  clock.advance(DELAY - 1);
  t.ok(reader.podByUid('u1'), 'still there just before the delay');
  t.equal(reader.podByUid('u1')!.deletedAt !== undefined, true);

  // Past the expiry but before the (coalesced) timer fired: readers no longer see it.
  store.apply('pods', 'ADDED', rawPod({ name: 'other', uid: 'u2' }));
  clock.advance(1);
  t.equal(reader.podByUid('u1'), undefined, 'expired entries are invisible even before the sweep');
  t.equal(reader.podByName('default', 'job'), undefined);
  t.same(store.counts().find((x) => x.kind === 'pods'), { kind: 'pods', live: 1, retained: 1 }, 'not evicted yet');

  clock.advance(1000);
  t.same(store.counts().find((x) => x.kind === 'pods'), { kind: 'pods', live: 1, retained: 0 }, 'evicted by the timer');
  t.equal(await metricValue(metrics, 'kube_log_enricher_store_evictions_total', { kind: 'pods' }), 1);
  t.equal(await metricValue(metrics, 'kube_log_enricher_store_objects', { kind: 'pods', state: 'retained' }), 0);
  t.equal(await metricValue(metrics, 'kube_log_enricher_store_objects', { kind: 'pods', state: 'live' }), 1);
  t.equal(clock.pendingTimers(), 0, 'no timer while nothing is retained');
});

t.test('the timer coalesces evictions and reschedules for later deletions', async (t) => {
  const { store, clock } = setup(10_000);
  for (let i = 0; i < 5; i++) {
    store.apply('pods', 'ADDED', rawPod({ name: `p${i}`, uid: `u${i}` }));
    store.apply('pods', 'DELETED', rawPod({ name: `p${i}`, uid: `u${i}` }));
    clock.advance(100);
  }
  clock.advance(5_000);
  store.apply('pods', 'DELETED', rawPod({ name: 'late', uid: 'late' }));
  t.equal(clock.pendingTimers(), 1);
  clock.advance(6_000); // first five expired at ~10.0-10.4 s
  t.same(store.counts()[0], { kind: 'pods', live: 0, retained: 1 }, 'first five evicted together');
  t.equal(clock.pendingTimers(), 1, 'rescheduled for the late one');
  clock.advance(10_000);
  t.same(store.counts()[0], { kind: 'pods', live: 0, retained: 0 });
});

t.test('a pod re-created under the same name does not clobber the old one', async (t) => {
  const { store, reader } = setup();
  const old = rawPod({ name: 'db-0', namespace: 'data', uid: 'old' });
  store.apply('pods', 'ADDED', old);
  store.apply('pods', 'DELETED', old);
  store.apply('pods', 'ADDED', rawPod({ name: 'db-0', namespace: 'data', uid: 'new' }));
  t.equal(reader.podByUid('old')!.object.uid, 'old');
  t.not(reader.podByUid('old')!.deletedAt, undefined, 'the old one is retained');
  t.equal(reader.podByUid('new')!.deletedAt, undefined);
  t.equal(reader.podByName('data', 'db-0')!.object.uid, 'new', 'by name: the live one');

  store.apply('pods', 'DELETED', rawPod({ name: 'db-0', namespace: 'data', uid: 'new' }));
  t.equal(reader.podByName('data', 'db-0')!.object.uid, 'new', 'by name: the most recently deleted');
});

t.test('a missed DELETED: the new pod of that name retires the old one', async (t) => {
  const { store, reader } = setup();
  store.apply('pods', 'ADDED', rawPod({ name: 'web', uid: 'old' }));
  store.apply('pods', 'ADDED', rawPod({ name: 'web', uid: 'new' }));
  t.not(reader.podByUid('old')!.deletedAt, undefined);
  t.equal(reader.podByName('default', 'web')!.object.uid, 'new');
  t.same(store.counts()[0], { kind: 'pods', live: 1, retained: 1 });
});

t.test('static pods are found by their config hash through podByUid', async (t) => {
  const { store, reader } = setup();
  const mirror = rawPod({ name: 'etcd-node-a', namespace: 'kube-system', uid: 'api-uid', annotations: { [MIRROR_ANNOTATION]: 'cfg-hash' } });
  store.apply('pods', 'ADDED', mirror);
  t.equal(reader.podByUid('cfg-hash')!.object.uid, 'api-uid');
  t.equal(reader.podByUid('api-uid')!.object.name, 'etcd-node-a');
  // The kubelet re-creates the mirror pod (new uid, same hash): the hash follows the live one.
  store.apply('pods', 'DELETED', mirror);
  t.equal(reader.podByUid('cfg-hash')!.object.uid, 'api-uid', 'retained mirror pod still answers');
  store.apply('pods', 'ADDED', rawPod({ name: 'etcd-node-a', namespace: 'kube-system', uid: 'api-uid-2', annotations: { [MIRROR_ANNOTATION]: 'cfg-hash' } }));
  t.equal(reader.podByUid('cfg-hash')!.object.uid, 'api-uid-2');
});

t.test('the mirror hash is released when the pod is evicted or its annotation changes', async (t) => {
  const { store, reader, clock } = setup(1000);
  const p = rawPod({ name: 's', uid: 'u', annotations: { [MIRROR_ANNOTATION]: 'h1' } });
  store.apply('pods', 'ADDED', p);
  store.apply('pods', 'MODIFIED', modified(p, { annotations: { [MIRROR_ANNOTATION]: 'h2' } }));
  t.equal(reader.podByUid('h1'), undefined);
  t.equal(reader.podByUid('h2')!.object.uid, 'u');
  store.apply('pods', 'DELETED', p);
  clock.advance(2000);
  t.equal(reader.podByUid('h2'), undefined);
  t.equal(reader.podByUid('u'), undefined);
});

t.test('replace after a relist: vanished objects are marked deleted, not dropped', async (t) => {
  const { store, reader, clock } = setup();
  const a = rawPod({ name: 'a', uid: 'ua' });
  const b = rawPod({ name: 'b', uid: 'ub' });
  const c = rawPod({ name: 'c', uid: 'uc' });
  t.same(store.replace('pods', [a, b, c]), { added: 3, updated: 0, unchanged: 0, deleted: 0, invalid: 0 });
  const aVersion = reader.podByUid('ua')!.version;
  clock.advance(10);
  const b2 = modified(b, { labels: { app: 'b', v: '2' } });
  const d = rawPod({ name: 'd', uid: 'ud' });
  t.same(store.replace('pods', [a, b2, d, { metadata: {} }]), { added: 1, updated: 1, unchanged: 1, deleted: 1, invalid: 1 });
  t.equal(reader.podByUid('ua')!.version, aVersion, 'unchanged objects keep their version');
  t.same(reader.podByUid('ub')!.object.labels, { app: 'b', v: '2' });
  const gone = reader.podByUid('uc')!;
  t.equal(gone.deletedAt, clock.now(), 'absent from the list: marked deleted now');
  t.equal(reader.podByName('default', 'c'), gone, 'and still answers');
  t.equal(reader.podByUid('ud')!.deletedAt, undefined);
  t.same(store.replace('pods', []), { added: 0, updated: 0, unchanged: 0, deleted: 3, invalid: 0 });
  t.same(store.counts()[0], { kind: 'pods', live: 0, retained: 4 });
});

t.test('namespace and node label changes are visible at once, with a new version', async (t) => {
  const { store, reader } = setup();
  const ns = rawNamed('shop', { team: 'shop' }, 'ns1');
  store.apply('namespaces', 'ADDED', ns);
  const before = reader.namespace('shop')!;
  store.apply('namespaces', 'MODIFIED', modified(ns, { labels: { team: 'checkout' } }));
  t.same(reader.namespace('shop')!.object.labels, { team: 'checkout' });
  t.ok(reader.namespace('shop')!.version > before.version);
  t.same(before.object.labels, { team: 'shop' }, 'old entries are immutable snapshots');

  const node = rawNamed('node-a', { zone: 'a' }, 'n1');
  store.replace('nodes', [node]);
  store.apply('nodes', 'MODIFIED', modified(node, { labels: { zone: 'b' } }));
  t.same(reader.node('node-a')!.object.labels, { zone: 'b' });
  t.equal(reader.node('node-b'), undefined);
  t.equal(reader.namespace('nope'), undefined);
});

t.test('namespaces and nodes are retained after deletion; a stale DELETED never kills a newer incarnation', async (t) => {
  const { store, reader, clock } = setup(1000);
  const ns1 = rawNamed('tmp', {}, 'first');
  store.apply('namespaces', 'ADDED', ns1);
  store.apply('namespaces', 'DELETED', ns1);
  t.not(reader.namespace('tmp')!.deletedAt, undefined);
  store.apply('namespaces', 'ADDED', rawNamed('tmp', { v: '2' }, 'second'));
  t.equal(reader.namespace('tmp')!.deletedAt, undefined, 'recreated: live again');
  t.equal(store.apply('namespaces', 'DELETED', ns1), 'unchanged', 'DELETED of the first incarnation ignored');
  clock.advance(5000);
  t.equal(reader.namespace('tmp')!.object.uid, 'second', 'the stale expiry did not evict the live one');
  store.replace('namespaces', []);
  t.not(reader.namespace('tmp')!.deletedAt, undefined);
  t.same(store.counts()[1], { kind: 'namespaces', live: 0, retained: 1 });
  clock.advance(5000);
  t.equal(reader.namespace('tmp'), undefined);
  t.same(store.counts()[1], { kind: 'namespaces', live: 0, retained: 0 });
});

t.test('a DELETED for a pod never seen keeps its final state as retained', async (t) => {
  const { store, reader } = setup();
  t.equal(store.apply('pods', 'DELETED', rawPod({ name: 'ghost', uid: 'g' })), 'deleted');
  t.not(reader.podByUid('g')!.deletedAt, undefined);
  t.equal(reader.podByName('default', 'ghost')!.object.uid, 'g');
});

t.test('bad input is reported as invalid, never thrown', async (t) => {
  const { store } = setup();
  for (const bad of [null, undefined, 1, 'x', [], {}, { metadata: { name: 'no-uid' } }]) {
    t.equal(store.apply('pods', 'ADDED', bad), 'invalid');
    t.equal(store.apply('pods', 'DELETED', bad), 'invalid');
    t.equal(store.apply('nodes', 'MODIFIED', bad), 'invalid');
  }
  t.same(store.counts().map((c) => c.live + c.retained), [0, 0, 0]);
  t.throws(() => new RetainingStore({ deletionDelayMs: -1 }), /deletionDelayMs must be a finite number >= 0/);
  t.throws(() => new RetainingStore({ deletionDelayMs: Number.NaN }), /deletionDelayMs/);
});

t.test('deletion delay 0: gone from readers at once', async (t) => {
  const { store, reader } = setup(0);
  store.apply('pods', 'ADDED', rawPod({ name: 'p', uid: 'u' }));
  store.apply('pods', 'DELETED', rawPod({ name: 'p', uid: 'u' }));
  t.equal(reader.podByUid('u'), undefined);
  t.equal(store.sweep(), 1);
});

t.test('close() stops the sweep timer; real timers are unref\'d', async (t) => {
  const { store, clock } = setup();
  store.apply('pods', 'DELETED', rawPod({ name: 'p', uid: 'u' }));
  t.equal(clock.pendingTimers(), 1);
  store.close();
  t.equal(clock.pendingTimers(), 0);
  store.apply('pods', 'DELETED', rawPod({ name: 'q', uid: 'v' }));
  t.equal(clock.pendingTimers(), 0, 'no timer after close');

  // With real timers: the store must not keep the process alive (this file exits by itself).
  const real = new RetainingStore({ deletionDelayMs: 3_600_000 });
  real.apply('pods', 'DELETED', rawPod({ name: 'p', uid: 'u' }));
  t.equal(real.reader().podByUid('u')!.object.name, 'p');
  real.close();
});

t.test('a paged replace: pages upsert as they come, commit marks the vanished; an abandoned one deletes nothing', async (t) => {
  const { store, reader } = setup();
  store.replace('pods', [rawPod({ name: 'a', uid: 'ua' }), rawPod({ name: 'b', uid: 'ub' })]);
  const abandoned = store.beginReplace('pods');
  t.equal(abandoned.add(rawPod({ name: 'c', uid: 'uc' })), 'added');
  t.ok(reader.podByUid('uc'), 'visible before the commit');
  // The list failed half-way: nothing is committed, so a and b stay live.
  t.same(store.counts()[0], { kind: 'pods', live: 3, retained: 0 });

  const session = store.beginReplace('pods');
  session.add(rawPod({ name: 'a', uid: 'ua' }));
  t.equal(session.add({ nonsense: true }), 'invalid');
  t.same(session.commit(), { added: 0, updated: 1, unchanged: 0, deleted: 2, invalid: 1 });
  t.not(reader.podByUid('ub')!.deletedAt, undefined);
  t.not(reader.podByUid('uc')!.deletedAt, undefined);
  t.throws(() => session.commit(), /already committed/);
  t.throws(() => session.add(rawPod({ name: 'd' })), /already committed/);
});

t.test('a replace from a writer whose resourceVersions lag its changes (the kubelet): keep() by key, add() never skipped', async (t) => {
  const { store, reader, clock } = setup();
  const a = rawPod({ name: 'a', uid: 'ua', resourceVersion: '7', labels: { v: '1' } });
  store.replace('pods', [a, rawPod({ name: 'b', uid: 'ub' })]);

  const session = store.beginReplace('pods', { resourceVersionTracksChanges: false });
  // Same resourceVersion, other labels: with trusted versions this would be "unchanged".
  t.equal(session.add({ ...a, metadata: { ...(a.metadata as object), labels: { v: '2' } } }), 'updated');
  t.equal(session.keep('ub'), true, 'b kept without its body');
  t.equal(session.keep('nobody'), false, 'an unknown key cannot be kept: add() it');
  t.same(session.commit(), { added: 0, updated: 1, unchanged: 1, deleted: 0, invalid: 0 });
  t.equal(reader.podByUid('ua')!.object.labels.v, '2');
  t.equal(reader.podByUid('ub')!.deletedAt, undefined, 'kept means seen: not marked deleted');
  t.throws(() => session.keep('ub'), /already committed/);

  // A pod deleted (retained) or evicted is not live: keep() says so.
  store.replace('pods', [a]);
  const next = store.beginReplace('pods', { resourceVersionTracksChanges: false });
  t.equal(next.keep('ub'), false, 'retained, not live');
  clock.advance(DELAY + 1);
  t.equal(next.keep('ub'), false, 'evicted');

  const trusted = store.beginReplace('pods');
  t.equal(trusted.add({ ...a, metadata: { ...(a.metadata as object), labels: { v: '3' } } }), 'unchanged', 'the API server\'s versions are trusted by default');
});

t.test('pending: a kind announced by its writer until its first list is committed; never one nobody watches', async (t) => {
  const { store, reader } = setup();
  store.expectSync('namespaces');
  t.equal(reader.pending('namespaces'), true);
  t.equal(reader.pending('nodes'), false, 'not announced: absent objects are simply absent');
  const session = store.beginReplace('namespaces');
  session.add(rawNamed('shop'));
  t.equal(reader.pending('namespaces'), true, 'a page is not the whole list');
  session.commit();
  t.equal(reader.pending('namespaces'), false);
  store.expectSync('namespaces');
  t.equal(reader.pending('namespaces'), false, 'synced once stays synced (a later relist is not a first sync)');
});

t.test('pods(): every visible pod, live and retained; an expired one is left out before the sweep runs', async (t) => {
  let now = 1_000_000;
  // A sweep timer that never fires: only the readers' own expiry check can hide the pod.
  const store = new RetainingStore({ deletionDelayMs: DELAY, now: () => now, timers: { setTimeout: () => 0, clearTimeout: () => {} } });
  const reader = store.reader();
  store.apply('pods', 'ADDED', rawPod({ name: 'a', uid: 'u1' }));
  store.apply('pods', 'ADDED', rawPod({ name: 'b', uid: 'u2' }));
  store.apply('pods', 'DELETED', rawPod({ name: 'b', uid: 'u2' }));
  const listed = () => [...reader.pods()].map((e) => `${e.object.name}:${e.deletedAt === undefined ? 'live' : 'retained'}`).sort();
  t.same(listed(), ['a:live', 'b:retained']);
  now += DELAY + 1;
  t.same(listed(), ['a:live'], 'the expired pod is gone for readers');
});
