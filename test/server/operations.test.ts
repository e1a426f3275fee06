/** Probes, metrics and /v1/lookup, against real reflectors syncing from the simulated API server. */
import t from 'tap';
import { containerLogPath } from '../builders/lines.ts';
import { fileOf, get, kubernetesOf, ndjson, parseNdjson, parsePrometheus, post, rawEvent, sampleValue, startStack, waitFor } from './harness.ts';

t.test('readiness follows the reflectors: 503 with reasons, then 200', async (t) => {
  const stack = await startStack(t, { waitForSync: false, beforeReflectors: (sim) => sim.faults.forbid('nodes') });
  t.equal((await get(`${stack.url}/healthz`)).status, 200, 'healthz: up while not ready');
  const notReady = await waitFor(async () => {
    const res = await get(`${stack.url}/readyz`);
    const body = JSON.parse(res.text) as { details?: { kind: string; message: string }[] };
    return res.status === 503 && body.details?.some((d) => d.kind === 'nodes' && /403|forbidden/i.test(d.message)) ? { res, body } : undefined;
  }, 'a 503 naming the forbidden nodes reflector');
  t.match(notReady.body, { error: 'not ready' });
  t.notOk(
    notReady.body.details!.some((d) => d.kind === 'pods'),
    'only the reflectors not synced are named',
  );
  stack.sim.faults.forbid(undefined);
  const ready = await waitFor(async () => {
    const res = await get(`${stack.url}/readyz`);
    return res.status === 200 ? res : undefined;
  }, 'ready');
  const body = JSON.parse(ready.text) as { reflectors: { kind: string; lastEventAgeSeconds: number; lastContactAgeSeconds: number }[] };
  t.match(body, {
    status: 'ready',
    reflectors: [
      { kind: 'pods', synced: true, lastError: null },
      { kind: 'namespaces', synced: true, lastError: null },
      { kind: 'nodes', synced: true, lastError: null },
    ],
  });
  for (const r of body.reflectors) {
    t.ok(r.lastEventAgeSeconds >= 0 && r.lastContactAgeSeconds >= 0, `${r.kind}: ages in seconds`);
    // Bringing the store up to date is an answer from the API server: contact is never older.
    t.ok(r.lastContactAgeSeconds <= r.lastEventAgeSeconds, `${r.kind}: last contact at least as recent as the last event`);
  }
});

t.test('lookup: a known pod whose namespace has not synced says what is pending, as its events do', async (t) => {
  // The namespace list is held back (403) while pods and nodes sync.
  const stack = await startStack(t, { waitForSync: false, beforeReflectors: (sim) => sim.faults.forbid('namespaces') });
  const cart = stack.pod('cart');
  const lookup = async () => JSON.parse((await get(`${stack.url}/v1/lookup?file=${encodeURIComponent(fileOf(cart))}`)).text) as Record<string, unknown>;
  await waitFor(
    () => stack.reflectors.status().every((s) => s.synced === (s.kind !== 'namespaces')),
    'pods and nodes synced, namespaces not',
  );
  const early = await lookup();
  t.match(early, { matched: true, pod: { metadata: { name: cart.name } }, namespace: null, node: { name: 'node-a' } });
  t.same(early.pendingMetadata, ['namespace'], 'the namespace is not known yet: pending, not absent');
  const res = await post(`${stack.url}/v1/enrich`, ndjson([rawEvent(cart, 'early')]), { 'content-type': 'application/x-ndjson' });
  t.same(kubernetesOf(parseNdjson(res.text)[0]!).pending_metadata, early.pendingMetadata, 'the same words as the event\'s marker');
  const readyz = await get(`${stack.url}/readyz`);
  t.equal(readyz.status, 503, 'not ready meanwhile');
  t.match(JSON.parse(readyz.text), { details: [{ kind: 'namespaces' }] });

  stack.sim.faults.forbid(undefined);
  await waitFor(async () => (await get(`${stack.url}/readyz`)).status === 200, 'ready');
  const late = await lookup();
  t.match(late, { matched: true, namespace: { name: 'shop', labels: { team: 'shop' } } });
  t.same(late.pendingMetadata, [], 'nothing pending once synced');
});

t.test('operations on a synced stack', async (t) => {
  const stack = await startStack(t);
  const cart = stack.pod('cart');

  t.test('healthz', async (t) => {
    const res = await get(`${stack.url}/healthz`);
    t.equal(res.status, 200);
    t.same(JSON.parse(res.text), { status: 'ok' });
  });

  t.test('metrics: Prometheus text, parseable, with the store and request series', async (t) => {
    await get(`${stack.url}/healthz`);
    const res = await get(`${stack.url}/metrics`);
    t.equal(res.status, 200);
    t.match(res.headers.get('content-type'), /^text\/plain; version=0\.0\.4/);
    const samples = parsePrometheus(res.text);
    t.equal(sampleValue(samples, 'kube_log_enricher_store_objects', { kind: 'pods', state: 'live' }), 3);
    t.equal(sampleValue(samples, 'kube_log_enricher_reflector_synced', { kind: 'nodes' }), 1);
    t.ok(sampleValue(samples, 'kube_log_enricher_http_request_duration_seconds_count', { route: '/healthz', method: 'GET', status_code: '200' }) >= 1);
  });

  t.test('lookup: a live pod, with its namespace and node', async (t) => {
    const res = await get(`${stack.url}/v1/lookup?file=${encodeURIComponent(fileOf(cart))}`);
    t.equal(res.status, 200);
    const body = JSON.parse(res.text);
    t.match(body, {
      file: fileOf(cart),
      matched: true,
      reason: null,
      identity: { layout: 'pods', namespace: 'shop', podName: cart.name, podUid: cart.uid, containerName: 'cart', restartCount: 0 },
      pod: { state: 'live', deletedAt: null, retainedUntil: null, metadata: { name: cart.name, labels: { app: 'cart' }, nodeName: 'node-a' } },
      namespace: { name: 'shop', state: 'live', labels: { team: 'shop' } },
      node: { name: 'node-a', state: 'live' },
      pendingMetadata: [],
    });
  });

  t.test('lookup: the containers layout resolves too', async (t) => {
    const pod = stack.sim.get('pods', 'shop', cart.name) as unknown as { status: { containerStatuses: { containerID: string }[] } };
    const id = pod.status.containerStatuses[0]!.containerID.replace(/^[a-z]+:\/\//, '');
    const file = containerLogPath({ namespace: 'shop', pod: cart.name, container: 'cart', containerId: id });
    const body = JSON.parse((await get(`${stack.url}/v1/lookup?file=${encodeURIComponent(file)}`)).text);
    t.match(body, { matched: true, identity: { layout: 'containers', containerId: id }, pod: { metadata: { uid: cart.uid } } });
  });

  t.test('lookup: a deleted pod is retained, and says until when', async (t) => {
    const db = stack.pod('db');
    const before = Date.now();
    stack.sim.delete('pods', db.namespace, db.name);
    const body = await waitFor(async () => {
      const b = JSON.parse((await get(`${stack.url}/v1/lookup?file=${encodeURIComponent(fileOf(db))}`)).text);
      return b.pod?.state === 'retained' ? b : undefined;
    }, 'the deletion to reach the store');
    t.equal(body.matched, true, 'lines of a retained pod are still enriched');
    const deletedAt = Date.parse(body.pod.deletedAt);
    const until = Date.parse(body.pod.retainedUntil);
    t.ok(deletedAt >= before - 1000, 'deletedAt is an ISO time of the deletion');
    t.equal(until - deletedAt, 60_000, 'retained for kubernetes.deletionDelay');
    t.match(body.pod.retainedUntil, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  });

  t.test('lookup: unknown pods and unrecognised paths are answered', async (t) => {
    const ghost = JSON.parse((await get(`${stack.url}/v1/lookup?file=${encodeURIComponent(fileOf({ ...cart, name: 'ghost', uid: '00000000-0000-0000-0000-000000000001' }))}`)).text);
    t.match(ghost, { matched: false, reason: 'pod_not_found', identity: { podName: 'ghost' }, pod: null, pendingMetadata: [] });
    const odd = JSON.parse((await get(`${stack.url}/v1/lookup?file=/etc/hosts`)).text);
    t.match(odd, { matched: false, reason: 'path_not_recognised', identity: null, pod: null, namespace: null, node: null });
  });

  t.test('lookup: a missing or empty file is a 400 naming it', async (t) => {
    for (const query of ['', '?file=', '?other=1', '?file=a&file=b']) {
      const res = await get(`${stack.url}/v1/lookup${query}`);
      t.equal(res.status, 400, query);
      t.match(JSON.parse(res.text), { error: 'invalid querystring: file', details: [{ field: 'file' }] }, query);
    }
  });
});
