import t from 'tap';
import { stat, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parse } from 'yaml';
import { startSimApiServer, podFor } from '../../src/sim/index.ts';
import type { SimApiServer, SimApiServerOptions } from '../../src/sim/index.ts';
import { openWatch } from './watch-reader.ts';

async function newSim(t: { teardown(fn: () => unknown): void }, options: SimApiServerOptions = {}): Promise<SimApiServer> {
  const sim = await startSimApiServer(options);
  t.teardown(() => sim.close());
  sim.create('pods', podFor({ name: 'a', namespace: 'shop' }));
  return sim;
}

t.test('bearer token: 401 Status for a missing or wrong token, health endpoints open', async (t) => {
  const sim = await newSim(t, { token: 's3cret' });
  const none = await fetch(`${sim.url}/api/v1/pods`);
  t.equal(none.status, 401);
  t.same(await none.json(), { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: 'Unauthorized', reason: 'Unauthorized', code: 401 });
  t.equal((await fetch(`${sim.url}/api/v1/pods`, { headers: { authorization: 'Bearer nope' } })).status, 401);
  t.equal((await fetch(`${sim.url}/api/v1/pods?watch=1`, { headers: { authorization: 'Bearer nope' } })).status, 401, 'watch too');
  t.equal((await fetch(`${sim.url}/api/v1/pods`, { headers: { authorization: 'Bearer s3cret' } })).status, 200);
  t.equal((await fetch(`${sim.url}/healthz`)).status, 200);
  sim.faults.requireToken(undefined);
  t.equal((await fetch(`${sim.url}/api/v1/pods`)).status, 200, 'requirement lifted');
  sim.faults.requireToken('other');
  t.equal((await fetch(`${sim.url}/api/v1/pods`, { headers: { authorization: 'Bearer s3cret' } })).status, 401, 'token changed at run time');
});

t.test('forbid: 403 Status for that kind only, with a message like RBAC\'s', async (t) => {
  const sim = await newSim(t);
  sim.faults.forbid('pods');
  const list = await fetch(`${sim.url}/api/v1/pods`);
  t.equal(list.status, 403);
  t.match(await list.json(), { kind: 'Status', reason: 'Forbidden', code: 403, details: { kind: 'pods' }, message: /^pods is forbidden: User ".+" cannot list resource "pods" in API group "" at the cluster scope$/ });
  const watch = await fetch(`${sim.url}/api/v1/namespaces/shop/pods?watch=true`);
  t.equal(watch.status, 403);
  t.match(await watch.json(), { message: /cannot watch resource "pods" in API group "" in the namespace "shop"/ });
  t.equal((await fetch(`${sim.url}/api/v1/namespaces`)).status, 200, 'other kinds unaffected');
  sim.faults.forbid(undefined);
  t.equal((await fetch(`${sim.url}/api/v1/pods`)).status, 200);
});

t.test('failNext answers n matching requests with a Status of that code, then recovers', async (t) => {
  const sim = await newSim(t);
  sim.faults.failNext(2, 500, { verb: 'list', kind: 'pods' });
  t.equal((await fetch(`${sim.url}/api/v1/namespaces`)).status, 200, 'another kind is not consumed');
  const w = await openWatch(`${sim.url}/api/v1/pods?watch=true&resourceVersion=0`);
  t.equal(w.status, 200, 'a watch is not consumed');
  w.close();
  const first = await fetch(`${sim.url}/api/v1/pods`);
  t.equal(first.status, 500);
  t.match(await first.json(), { kind: 'Status', status: 'Failure', reason: 'InternalError', code: 500 });
  t.equal((await fetch(`${sim.url}/api/v1/pods`)).status, 500);
  t.equal((await fetch(`${sim.url}/api/v1/pods`)).status, 200);

  sim.faults.failNext(1, 429, { verb: 'watch', retryAfterSeconds: 3 });
  const limited = await fetch(`${sim.url}/api/v1/pods?watch=true`);
  t.equal(limited.status, 429);
  t.equal(limited.headers.get('retry-after'), '3');
  t.match(await limited.json(), { reason: 'TooManyRequests', details: { retryAfterSeconds: 3 } });

  sim.faults.failNext(1, 410, { verb: 'watch' });
  const gone = await fetch(`${sim.url}/api/v1/pods?watch=true&resourceVersion=${sim.resourceVersion}`);
  t.equal(gone.status, 410);
  t.match(await gone.json(), { reason: 'Expired', code: 410 });

  for (const [code, reason] of [[503, 'ServiceUnavailable'], [504, 'Timeout'], [401, 'Unauthorized'], [403, 'Forbidden']] as const) {
    sim.faults.failNext(1, code);
    const res = await fetch(`${sim.url}/api/v1/pods`);
    t.equal(res.status, code);
    t.match(await res.json(), { reason, code });
  }
  t.same(sim.requests.slice(-4).map((r) => r.status), [503, 504, 401, 403], 'the request log records answers');
});

t.test('closeWatches ends streams cleanly; destroyWatches breaks them mid-stream', async (t) => {
  const sim = await newSim(t);
  const clean = await openWatch(`${sim.url}/api/v1/pods?watch=true&resourceVersion=0`);
  t.equal((await clean.next()).type, 'ADDED');
  await sim.waitForWatchCount(1);
  sim.faults.closeWatches();
  t.equal((await clean.next()).type, 'END');
  await sim.waitForWatchCount(0);

  const broken = await openWatch(`${sim.url}/api/v1/pods?watch=true&resourceVersion=0`);
  t.equal((await broken.next()).type, 'ADDED');
  sim.faults.destroyWatches();
  t.match(await broken.next(), { type: 'FAILED', error: /terminated|other side closed|socket/i });
  await sim.waitForWatchCount(0);
  t.equal(sim.watchCount, 0);
});

t.test('errorWatches sends an ERROR event with a Status of that code, then ends the streams', async (t) => {
  const sim = await newSim(t);
  const w = await openWatch(`${sim.url}/api/v1/pods?watch=true&resourceVersion=0`);
  t.equal((await w.next()).type, 'ADDED');
  sim.faults.errorWatches(500);
  t.match(await w.rest(), [{ type: 'ERROR', object: { kind: 'Status', status: 'Failure', reason: 'InternalError', code: 500 } }, { type: 'END' }]);
  const expired = await openWatch(`${sim.url}/api/v1/pods?watch=true&resourceVersion=${sim.resourceVersion}`);
  await sim.waitForWatchCount(1);
  sim.faults.errorWatches(410);
  t.match(await expired.rest(), [{ type: 'ERROR', object: { reason: 'Expired', code: 410, message: /too old resource version/ } }, { type: 'END' }]);
});

t.test('silenceWatches: open and new streams go dead (no events, no bookmarks, no end) until closed', async (t) => {
  const sim = await newSim(t, { bookmarkIntervalMs: 20, watchTimeoutSeconds: { min: 1, max: 1 } });
  const open = await openWatch(`${sim.url}/api/v1/pods?watch=true&resourceVersion=${sim.resourceVersion}&allowWatchBookmarks=true&timeoutSeconds=1`);
  t.equal((await open.next()).type, 'BOOKMARK', 'alive before');
  sim.faults.silenceWatches(true);
  const opened = await openWatch(`${sim.url}/api/v1/pods?watch=true&resourceVersion=0&allowWatchBookmarks=true`);
  t.equal(opened.status, 200, 'a new watch is accepted but stays silent');
  sim.create('pods', podFor({ name: 'b', namespace: 'shop' }));
  await sim.waitForWatchCount(2);
  // Outlive the 1 s timeout and many bookmark intervals: a dead stream neither ends nor speaks.
  await new Promise((resolve) => setTimeout(resolve, 1300));
  t.equal(sim.watchCount, 2, 'still open past its timeout');
  sim.faults.silenceWatches(false);
  sim.create('pods', podFor({ name: 'c', namespace: 'shop' }));
  sim.faults.closeWatches();
  const openRest = (await open.rest()).filter((i) => i.type !== 'BOOKMARK');
  t.same(openRest.map((i) => i.type), ['END'], 'nothing after the silence, then only the end');
  t.same((await opened.rest()).map((i) => i.type), ['END'], 'the silenced new stream got nothing at all');

  const fresh = await openWatch(`${sim.url}/api/v1/pods?watch=true&resourceVersion=0`);
  t.teardown(() => fresh.close());
  const names: string[] = [];
  for (let i = 0; i < 3; i++) {
    const item = await fresh.next();
    if ('object' in item) names.push(item.object.metadata?.name ?? '');
  }
  t.same(names, ['a', 'b', 'c'], 'new streams work again');
});

t.test('stop refuses connections and breaks watches; restart serves the same state on the same port', async (t) => {
  const sim = await newSim(t);
  const url = sim.url;
  const rv = sim.resourceVersion;
  const w = await openWatch(`${sim.url}/api/v1/pods?watch=true&resourceVersion=0`);
  t.equal((await w.next()).type, 'ADDED');
  await sim.stop();
  t.match(await w.next(), { type: 'FAILED' });
  t.notOk(sim.listening);
  await t.rejects(fetch(`${url}/api/v1/pods`), { cause: { code: 'ECONNREFUSED' } });
  t.equal(sim.watchCount, 0);
  sim.create('pods', podFor({ name: 'while-down', namespace: 'shop' }));
  await sim.restart();
  t.equal(sim.url, url, 'same port');
  const res = await fetch(`${sim.url}/api/v1/pods`);
  const body = (await res.json()) as { metadata: { resourceVersion: string }; items: { metadata: { name: string } }[] };
  t.same(body.items.map((p) => p.metadata.name), ['a', 'while-down']);
  t.equal(body.metadata.resourceVersion, String(Number(rv) + 1), 'RV sequence kept');
  const replay = await openWatch(`${sim.url}/api/v1/pods?watch=true&resourceVersion=${rv}`);
  t.teardown(() => replay.close());
  t.match(await replay.next(), { type: 'ADDED', object: { metadata: { name: 'while-down' } } }, 'history kept');
});

t.test('latency delays answers without changing them; the request log records every request', async (t) => {
  const sim = await newSim(t);
  sim.faults.setLatency(30);
  const res = await fetch(`${sim.url}/api/v1/namespaces/shop/pods?labelSelector=app%3Da&limit=5`, { headers: { 'user-agent': 'test-agent/1.0' } });
  t.equal(res.status, 200);
  t.same(sim.requests.at(-1), {
    method: 'GET', path: '/api/v1/namespaces/shop/pods', query: { labelSelector: 'app=a', limit: '5' }, status: 200, verb: 'list', kind: 'pods', userAgent: 'test-agent/1.0', items: 0,
  });
  t.ok(sim.bytesSent > 0, 'bytes sent are counted');
  sim.faults.reset();
  await fetch(`${sim.url}/api/v1/namespaces/shop/pods/a`);
  t.match(sim.requests.at(-1), { verb: 'get', kind: 'pods', status: 200 });
  await fetch(`${sim.url}/nope`);
  t.match(sim.requests.at(-1), { verb: undefined, kind: undefined, status: 404 });
});

t.test('kubeconfig: insecure-skip-tls-verify, token, namespace; written 0600', async (t) => {
  const sim = await newSim(t, { token: 'tok' });
  const config = parse(sim.kubeconfigYaml({ namespace: 'shop' })) as Record<string, unknown>;
  t.match(config, {
    apiVersion: 'v1', kind: 'Config', 'current-context': 'sim',
    clusters: [{ name: 'sim', cluster: { server: sim.url, 'insecure-skip-tls-verify': true } }],
    users: [{ name: 'sim-user', user: { token: 'tok' } }],
    contexts: [{ name: 'sim', context: { cluster: 'sim', user: 'sim-user', namespace: 'shop' } }],
  });
  const anonymous = parse(sim.kubeconfigYaml({ token: undefined })) as { users: { user: Record<string, string> }[] };
  t.same(anonymous.users[0]?.user, {}, 'an explicit undefined token leaves the user empty');
  const dir = t.testdir({});
  const path = join(dir, 'kubeconfig');
  await sim.writeKubeconfig(path, { token: 'other' });
  t.equal((await stat(path)).mode & 0o777, 0o600);
  t.match(await readFile(path, 'utf8'), /token: other/);
});
