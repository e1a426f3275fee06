/** The three error shapes client-node produces, made for real against the simulated API server. */
import t from 'tap';
import { CoreV1Api, Watch } from '@kubernetes/client-node';
import { normaliseApiError, redact } from '../../src/kube/index.ts';
import { apiErrorFromStatus } from '../../src/kube/errors.ts';
import { createWatch } from '../../src/kube/watch.ts';
import { kubeConfigFor, startSim } from './helpers.ts';

/** Runs one client-node watch and returns what its done callback received. */
function watchError(watch: Watch, path = '/api/v1/pods'): Promise<unknown> {
  return new Promise((resolve) => {
    void watch.watch(path, {}, () => {}, resolve).catch(resolve);
  });
}

t.test('a non-200 watch answer (.statusCode)', async (t) => {
  const sim = await startSim(t);
  sim.faults.failNext(1, 503, { verb: 'watch' });
  const err = await watchError(new Watch(kubeConfigFor(t, sim)));
  t.equal((err as { statusCode?: number }).statusCode, 503, 'client-node shape');
  t.match(normaliseApiError(err), { code: 'http_5xx', status: 503, message: /503/ });
});

t.test('an ApiException from the generated client (.code and a Status body)', async (t) => {
  const sim = await startSim(t);
  sim.faults.forbid('namespaces');
  const api = kubeConfigFor(t, sim).makeApiClient(CoreV1Api);
  const err = await api.listNamespace().then(() => undefined, (e: unknown) => e);
  t.equal((err as { code?: number }).code, 403, 'client-node shape');
  const e = normaliseApiError(err);
  t.equal(e.code, 'http_403');
  t.equal(e.status, 403);
  t.match(e.message, /403: namespaces is forbidden: User .* cannot list resource "namespaces"/, 'the Status message, not the whole body');
});

t.test('connection refused, a cut stream, an inactivity timeout (no status at all)', async (t) => {
  const sim = await startSim(t);
  const kc = kubeConfigFor(t, sim);

  const cut = watchError(new Watch(kc));
  await sim.waitForWatchCount(1);
  sim.faults.destroyWatches();
  t.match(normaliseApiError(await cut), { code: 'terminated', status: undefined, message: /stream cut/ });
  await sim.waitForWatchCount(0);

  sim.faults.silenceWatches(true);
  const timeout = await watchError(createWatch(kc, 100));
  t.match(normaliseApiError(timeout), { code: 'timeout', status: undefined });

  await sim.stop();
  const refused = await watchError(new Watch(kc));
  t.match(normaliseApiError(refused), { code: 'connection', status: undefined, message: /cannot reach the API server: ECONNREFUSED/ });
});

t.test('Status objects (ERROR watch events) and odd values', async (t) => {
  t.same(apiErrorFromStatus({ kind: 'Status', code: 410, reason: 'Expired', message: 'too old resource version: 5 (9)' }), {
    code: 'http_410', status: 410, message: '410: too old resource version: 5 (9)',
  });
  t.same(apiErrorFromStatus({ code: 500 }), { code: 'http_5xx', status: 500, message: '500: no details' });
  t.same(apiErrorFromStatus('garbage'), { code: 'unknown', status: undefined, message: 'no details' });
  t.match(normaliseApiError(new SyntaxError('Unexpected token')), { code: 'decode' });
  t.match(normaliseApiError('a string'), { code: 'unknown', message: 'a string' });
  t.match(normaliseApiError(undefined), { code: 'unknown' });
  t.match(normaliseApiError({ statusCode: 429 }), { code: 'http_429' });
  t.match(normaliseApiError({ statusCode: 418 }), { code: 'http_4xx' });
});

t.test('redact removes credentials from messages', async (t) => {
  t.equal(redact('Authorization: Bearer abc.def-ghi failed'), 'Authorization: Bearer [redacted] failed');
  t.equal(redact('basic dXNlcjpwYXNz'), 'basic [redacted]');
  t.equal(redact('{"token":"s3cr3t"}'), '{"token":"[redacted]"}');
  t.equal(redact('token=abc,next'), 'token=[redacted],next');
  t.equal(redact('nothing to hide'), 'nothing to hide');
});
