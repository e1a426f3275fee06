/**
 * A deleted pod kept past kubernetes.deletionDelay while a RetentionHint still needs it: until
 * deletionDelay after it was last needed, at most maxRetention after the deletion; asked by the
 * sweep and by lookups alike (a reader never sees what the sweep would evict, nor misses what it
 * would keep). Then through the real enricher: a pod that events keep asking for stays.
 */
import t from 'tap';
import { Registry } from 'prom-client';
import { createEnricher } from '../../src/enrich/index.ts';
import { createMetrics } from '../../src/metrics/index.ts';
import { RetainingStore, type RetentionReason } from '../../src/store/index.ts';
import { podFor } from '../../src/sim/index.ts';
import { defaultEnricherOptions } from '../builders/defaults.ts';
import { criLine, podLogPath } from '../builders/lines.ts';
import { manualClock, rawPod } from './builders.ts';

const DELAY = 60_000;
const MAX = 600_000;

function setup() {
  const clock = manualClock();
  const metrics = createMetrics(new Registry(), { processMetrics: false });
  const store = new RetainingStore({ deletionDelayMs: DELAY, maxRetentionMs: MAX, now: clock.now, timers: clock.timers, metrics });
  const needed = new Map<string, { at: number; reason: RetentionReason }>();
  store.addRetentionHint({ podNeededAt: (uid) => needed.get(uid) });
  return { clock, metrics, store, reader: store.reader(), needed };
}

async function extensions(metrics: ReturnType<typeof createMetrics>, reason: string): Promise<number> {
  const m = await metrics.registry.getSingleMetric('kube_log_enricher_store_retention_extensions_total')!.get();
  return m.values.find((v) => v.labels.reason === reason)?.value ?? 0;
}

t.test('no hint needs it: evicted after deletionDelay, as before', async (t) => {
  const { store, reader, clock } = setup();
  store.apply('pods', 'ADDED', rawPod({ name: 'a', uid: 'u1' }));
  store.apply('pods', 'DELETED', rawPod({ name: 'a', uid: 'u1' }));
  clock.advance(DELAY + 2_000);
  t.equal(reader.podByUid('u1'), undefined);
});

t.test('still needed: kept until deletionDelay after it was last needed, with the reason', async (t) => {
  const { store, reader, clock, needed, metrics } = setup();
  store.apply('pods', 'ADDED', rawPod({ name: 'a', uid: 'u1' }));
  store.apply('pods', 'DELETED', rawPod({ name: 'a', uid: 'u1' }));
  const deletedAt = clock.now();
  needed.set('u1', { at: deletedAt + 50_000, reason: 'unread_files' });
  clock.advance(DELAY + 2_000);
  const kept = reader.podByUid('u1');
  t.ok(kept, 'kept past the delay');
  t.equal(kept?.keptBy, 'unread_files');
  t.equal(kept?.expiresAt, deletedAt + 50_000 + DELAY, 'until the delay after it was last needed');
  t.equal(await extensions(metrics, 'unread_files'), 1);
  needed.set('u1', { at: deletedAt + 100_000, reason: 'recent_lookups' });
  clock.advance(50_000);
  t.equal(reader.podByUid('u1')?.keptBy, 'recent_lookups', 'extended again, for the newest reason');
  needed.delete('u1');
  clock.advance(DELAY + 2_000);
  t.equal(reader.podByUid('u1'), undefined, 'not needed any more: gone after its last delay');
});

t.test('capped at maxRetention after the deletion', async (t) => {
  const { store, reader, clock, needed } = setup();
  store.apply('pods', 'ADDED', rawPod({ name: 'a', uid: 'u1' }));
  store.apply('pods', 'DELETED', rawPod({ name: 'a', uid: 'u1' }));
  const deletedAt = clock.now();
  for (let at = deletedAt; at <= deletedAt + MAX + DELAY; at += 10_000) {
    needed.set('u1', { at: clock.now(), reason: 'unread_files' });
    clock.advance(10_000);
  }
  t.equal(reader.podByUid('u1'), undefined, 'needed all along, but forgotten at maxRetention');
});

t.test('a lookup past the delay asks the hint before evicting, as the sweep does', async (t) => {
  // No timer ever fires: only lookups can decide.
  let now = 1_000_000;
  const store = new RetainingStore({ deletionDelayMs: DELAY, maxRetentionMs: MAX, now: () => now, timers: { setTimeout: () => 0, clearTimeout: () => undefined } });
  const needed = new Map<string, { at: number; reason: RetentionReason }>();
  store.addRetentionHint({ podNeededAt: (uid) => needed.get(uid) });
  const reader = store.reader();
  for (const uid of ['u2', 'u3']) {
    store.apply('pods', 'ADDED', rawPod({ name: uid, namespace: 'shop', uid }));
    store.apply('pods', 'DELETED', rawPod({ name: uid, namespace: 'shop', uid }));
  }
  needed.set('u2', { at: now + DELAY, reason: 'recent_lookups' });
  now += DELAY + 1;
  t.equal(reader.podByName('shop', 'u2')?.keptBy, 'recent_lookups', 'needed: kept');
  t.equal(reader.podByName('shop', 'u3'), undefined, 'not needed: gone');
});

t.test('bad maxRetention refused', async (t) => {
  t.throws(() => new RetainingStore({ deletionDelayMs: DELAY, maxRetentionMs: DELAY - 1 }), RangeError);
  t.throws(() => new RetainingStore({ deletionDelayMs: DELAY, maxRetentionMs: Number.NaN }), RangeError);
});

t.test('serve: a deleted pod that events keep asking for stays; once they stop, it goes after deletionDelay', async (t) => {
  const clock = manualClock();
  const metrics = createMetrics(new Registry(), { processMetrics: false });
  const store = new RetainingStore({ deletionDelayMs: DELAY, maxRetentionMs: MAX, now: clock.now, timers: clock.timers, metrics });
  const enricher = createEnricher(defaultEnricherOptions(), { store: store.reader(), metrics, now: clock.now });
  store.addRetentionHint(enricher.retentionHint);
  t.teardown(() => store.close());
  const pod = podFor({ name: 'late-0', namespace: 'shop', uid: '7c1e6a2b-0000-4000-8000-000000000009', nodeName: 'node-a' });
  store.apply('pods', 'ADDED', pod);
  store.apply('pods', 'DELETED', pod);
  const file = podLogPath({ namespace: 'shop', pod: 'late-0', uid: pod.metadata.uid!, container: pod.spec.containers[0]!.name, restart: 0 });
  const session = enricher.newSession();
  const podName = () => (JSON.parse(enricher.enrichBatch([{ file, line: criLine({ message: 'x' }) }], session).records[0]!.json) as { kubernetes: { pod_name?: string; unmatched_reason?: string } }).kubernetes;
  // Asked every 40 s for 5 minutes: never 60 s without a request.
  for (let i = 0; i < 8; i++) {
    t.equal(podName().pod_name, 'late-0', `asked at ${i * 40} s: still enriched`);
    clock.advance(40_000);
  }
  t.equal(await extensions(metrics, 'recent_lookups') > 0, true, 'counted');
  clock.advance(DELAY + 2_000);
  t.equal(podName().unmatched_reason, 'pod_not_found', 'not asked for a whole delay: forgotten');
});
