/**
 * How the reflectors treat the API server (issue #12): lists from the watch cache, a consistent
 * list only after 410, our User-Agent on every request, backoff reset once a watch delivers, and
 * the age metrics. The real client against the simulated API server, which records every
 * request's query and User-Agent.
 */
import { readFileSync } from 'node:fs';
import t, { type Test } from 'tap';
import { Registry } from 'prom-client';
import { createMetrics } from '../../src/metrics/index.ts';
import { RetainingStore } from '../../src/store/index.ts';
import { Reflector } from '../../src/kube/reflector.ts';
import { namespaceFor, podFor, type RequestRecord, type SimApiServer } from '../../src/sim/index.ts';
import { captureLogger, kubeConfigFor, metricValue, readyWithin, startHarness, startSim, waitFor, type LogLine } from './helpers.ts';

const NODE = 'node-a';
const onlyPods = { nodeName: NODE, watchNodes: false, watchNamespaces: false } as const;
const pod = (name: string, uid: string) => podFor({ name, uid, nodeName: NODE, namespace: 'default' });
/** Generous: the machine running the tests may be heavily loaded. */
const CAP_MS = 20_000;

const podLists = (sim: SimApiServer): RequestRecord[] => sim.requests.filter((r) => r.kind === 'pods' && r.verb === 'list');

/** The pod list requests of a reflector whose first `failures` lists were answered `status`, once synced. */
async function listsAfterFailures(t: Test, failures: number, status: number): Promise<RequestRecord[]> {
  const sim = await startSim(t);
  sim.create('pods', pod('a', 'ua'));
  sim.faults.failNext(failures, status, { verb: 'list', kind: 'pods' });
  const h = startHarness(t, sim, onlyPods);
  await readyWithin(h.reflectors, CAP_MS);
  return podLists(sim);
}

t.test('every list and watch request carries kube-log-enricher/<version> as its User-Agent', async (t) => {
  const version = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
  const sim = await startSim(t, { token: 'sim-token' });
  sim.create('namespaces', namespaceFor({ name: 'default' }));
  sim.create('pods', pod('a', 'ua'));
  const h = startHarness(t, sim, { nodeName: NODE, kubeConfig: kubeConfigFor(t, sim, 'sim-token') });
  await readyWithin(h.reflectors, CAP_MS);
  await sim.waitForWatchCount(3, CAP_MS);
  sim.faults.closeWatches(); // a second round of watch requests
  await waitFor(() => sim.requests.filter((r) => r.verb === 'watch').length >= 6, 'the re-watches of all three kinds', CAP_MS);
  const verbs = new Set(sim.requests.map((r) => `${r.kind} ${r.verb}`));
  t.same([...verbs].sort(), ['namespaces list', 'namespaces watch', 'nodes list', 'nodes watch', 'pods list', 'pods watch']);
  t.same([...new Set(sim.requests.map((r) => r.userAgent))], [`kube-log-enricher/${version}`], 'one User-Agent, ours');
  t.ok(sim.requests.every((r) => r.status === 200), 'and the bearer token still went along');
});

t.test('lists read the watch cache (resourceVersion=0), also when retried after failures', async (t) => {
  const lists = await listsAfterFailures(t, 3, 503);
  t.same(lists.map((r) => r.status), [503, 503, 503, 200]);
  t.ok(lists.every((r) => r.query.resourceVersion === '0'), 'every attempt asks for any resourceVersion');
  t.ok(lists.every((r) => r.query.limit === '500'), 'with a page size the API server may honour');
});

t.test('a 410 on the watch earns consistent lists until one succeeds, then the watch resumes from it', async (t) => {
  const sim = await startSim(t);
  sim.create('pods', pod('a', 'ua'));
  const h = startHarness(t, sim, onlyPods);
  await readyWithin(h.reflectors, CAP_MS);
  await sim.waitForWatchCount(1, CAP_MS);

  sim.create('pods', pod('b', 'ub'));
  sim.faults.silenceWatches(true); // nothing reaches the reflector: its resourceVersion falls behind
  sim.create('pods', pod('c', 'uc'));
  sim.faults.compact();
  sim.faults.silenceWatches(false);
  sim.faults.failNext(1, 500, { verb: 'list', kind: 'pods' });
  sim.faults.closeWatches();
  await waitFor(() => h.store.reader().podByUid('uc'), 'the pod created while the watch was dead', CAP_MS);

  const lists = podLists(sim);
  t.same(lists.map((r) => [r.status, r.query.resourceVersion]), [[200, '0'], [500, undefined], [200, undefined]], 'the initial list from the cache; after the 410 from etcd, retried as such');
  t.equal(await metricValue(h.metrics, 'relists_total', { kind: 'pods', reason: 'expired' }), 1);
  const lastWatch = await waitFor(() => sim.requests.findLast((r) => r.verb === 'watch' && r.status === 200 && r.query.resourceVersion === sim.resourceVersion), 'a watch from the consistent list\'s resourceVersion', CAP_MS);
  t.equal(lastWatch.userAgent?.startsWith('kube-log-enricher/'), true);
});

t.test('a 410 answering the list itself (an expired continue token) makes the retry consistent', async (t) => {
  const lists = await listsAfterFailures(t, 1, 410);
  t.same(lists.map((r) => [r.status, r.query.resourceVersion]), [[410, '0'], [200, undefined]]);
});

t.test('a list from a watch cache behind etcd: the watch from its resourceVersion fills in what it lacked', async (t) => {
  const sim = await startSim(t);
  sim.create('pods', pod('early', 'u-early'));
  sim.faults.holdWatchCache(true);
  const cacheRv = sim.resourceVersion;
  sim.create('pods', pod('late', 'u-late'));
  sim.delete('pods', 'default', 'early');
  const h = startHarness(t, sim, onlyPods);
  await readyWithin(h.reflectors, CAP_MS);
  const reader = h.store.reader();
  await waitFor(() => reader.podByUid('u-late'), 'the pod the cache did not have yet', CAP_MS);
  await waitFor(() => reader.podByUid('u-early')?.deletedAt !== undefined, 'the deletion the cache did not have yet', CAP_MS);
  t.same(podLists(sim).map((r) => r.query.resourceVersion), ['0'], 'one list, no relist');
  t.equal(sim.requests.find((r) => r.verb === 'watch')?.query.resourceVersion, cacheRv, 'the watch started at the cache\'s resourceVersion');
});

/** The backoff delays the reflector logged (debug "retrying in"), after the first `skip` log lines. */
const retryDelays = (lines: LogLine[], skip: number): unknown[] => lines.slice(skip).filter((l) => typeof l.delayMs === 'number').map((l) => l.delayMs);

t.test('backoff starts over once a re-opened watch delivers an event: one short outage does not slow the next retry', async (t) => {
  const sim = await startSim(t);
  sim.create('pods', pod('a', 'ua'));
  // No jitter, so the delays are exact: 20, 40, 80, 160, 320 ms ...
  const h = startHarness(t, sim, { ...onlyPods, backoff: { initialMs: 20, maxMs: 60_000, factor: 2, jitter: 0 } });
  await readyWithin(h.reflectors, CAP_MS);
  await sim.waitForWatchCount(1, CAP_MS);

  // A short outage: the stream is cut, and the next three watch requests fail.
  sim.faults.failNext(3, 503, { verb: 'watch', kind: 'pods' });
  sim.faults.destroyWatches();
  sim.create('pods', pod('b', 'ub'));
  await waitFor(() => h.store.reader().podByUid('ub'), 'the event the re-opened watch delivers', CAP_MS);
  t.same(retryDelays(h.lines, 0), [20, 40, 80, 160], 'the outage backed off as usual');

  const before = h.lines.length;
  sim.faults.destroyWatches();
  sim.create('pods', pod('c', 'uc'));
  await waitFor(() => h.store.reader().podByUid('uc'), 'the event after the second cut', CAP_MS);
  t.same(retryDelays(h.lines, before), [20], 'the next failure waits the initial delay again, not 320 ms');
});

t.test('a bookmark is enough to reset the backoff', async (t) => {
  const sim = await startSim(t, { bookmarkIntervalMs: 50 });
  const metrics = createMetrics(new Registry(), { processMetrics: false });
  const store = new RetainingStore({ deletionDelayMs: 60_000 });
  const { logger, lines } = captureLogger();
  const reflector = new Reflector({
    kind: 'pods', path: '/api/v1/pods', fieldSelector: `spec.nodeName=${NODE}`, kubeConfig: kubeConfigFor(t, sim), writer: store.writer(), metrics, logger,
    backoff: { initialMs: 20, maxMs: 60_000, factor: 2, jitter: 0 }, watchTimeoutMs: 5000,
  });
  reflector.start();
  t.teardown(async () => {
    await reflector.stop();
    store.close();
  });
  await waitFor(() => reflector.status().synced, 'the initial list', CAP_MS);
  await sim.waitForWatchCount(1, CAP_MS);

  sim.faults.failNext(2, 503, { verb: 'watch', kind: 'pods' });
  sim.faults.destroyWatches();
  // Another kind moves the global resourceVersion on: only a BOOKMARK can bring this pod watch there.
  sim.create('namespaces', namespaceFor({ name: 'elsewhere' }));
  const target = sim.resourceVersion;
  await waitFor(() => reflector.resourceVersion === target, 'a BOOKMARK on the re-opened watch', CAP_MS);
  t.same(retryDelays(lines, 0), [20, 40, 80]);

  const before = lines.length;
  sim.faults.destroyWatches();
  await waitFor(() => sim.requests.filter((r) => r.verb === 'watch' && r.status === 200).length >= 3, 'the re-watch after the second cut', CAP_MS);
  t.same(retryDelays(lines, before), [20], 'started over');
});

t.test('age metrics: since the last event or bookmark, and since the API server last answered', async (t) => {
  let now = 1_000_000;
  const metrics = createMetrics(new Registry(), { processMetrics: false, now: () => now });
  const sim = await startSim(t);
  sim.create('pods', pod('a', 'ua'));
  const ages = async () => ({
    event: await metricValue(metrics, 'reflector_last_event_age_seconds', { kind: 'pods' }),
    contact: await metricValue(metrics, 'reflector_last_contact_age_seconds', { kind: 'pods' }),
  });

  sim.faults.forbid('pods');
  const h = startHarness(t, sim, { ...onlyPods, metrics });
  await waitFor(async () => (await metricValue(metrics, 'api_errors_total', { kind: 'pods', code: 'http_403' })) >= 1, 'a refused list', CAP_MS);
  now += 7_000;
  t.same(await ages(), { event: 7, contact: 7 }, 'never answered: both count from the start (a 403 is no answer)');

  sim.faults.forbid(undefined);
  await readyWithin(h.reflectors, CAP_MS);
  t.same(await ages(), { event: 0, contact: 0 }, 'the list brought the store up to date');

  await sim.waitForWatchCount(1, CAP_MS);
  now += 30_000;
  t.same(await ages(), { event: 30, contact: 30 }, 'a quiet watch: both grow');
  sim.create('pods', pod('b', 'ub'));
  await waitFor(() => h.store.reader().podByUid('ub'), 'a watch event', CAP_MS);
  t.same(await ages(), { event: 0, contact: 0 });

  now += 5_000;
  sim.faults.closeWatches(); // the re-watch is accepted (a contact) but brings no event
  await waitFor(() => sim.requests.filter((r) => r.verb === 'watch' && r.status === 200).length >= 2 && sim.watchCount === 1, 'the re-opened watch', CAP_MS);
  await waitFor(async () => (await ages()).contact === 0, 'the contact of the accepted watch', CAP_MS);
  t.equal((await ages()).event, 5, 'no event since');
});
