/** 401, 403 and rotating tokens: one clear log line per state change, a metric, retries, recovery. */
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { stringify } from 'yaml';
import { loadKubeConfig } from '../../src/kube/index.ts';
import { podFor, type SimApiServer } from '../../src/sim/index.ts';
import { metricValue, readyWithin, startHarness, startSim, tempDir, waitFor, type LogLine } from './helpers.ts';

const NODE = 'node-a';
const onlyPods = { nodeName: NODE, watchNodes: false, watchNamespaces: false } as const;
const errorsWith = (lines: LogLine[], code: string) => lines.filter((l) => l.code === code && l.level >= 50);

function assertNoSecret(t: Test, lines: LogLine[], ...secrets: string[]): void {
  const text = JSON.stringify(lines);
  for (const s of secrets) t.notOk(text.includes(s), `no log line contains the token "${s}"`);
}

t.test('401 while running: one error line, metric, retries with backoff, recovery when fixed', async (t) => {
  const sim = await startSim(t, { token: 's3cret-token' });
  const h = startHarness(t, sim, onlyPods);
  await readyWithin(h.reflectors);
  await sim.waitForWatchCount(1);

  sim.faults.requireToken('rotated-token');
  sim.faults.closeWatches();
  await waitFor(async () => (await metricValue(h.metrics, 'api_errors_total', { kind: 'pods', code: 'http_401' })) >= 4, 'several 401s');
  const errors = errorsWith(h.lines, 'http_401');
  t.equal(errors.length, 1, 'one error line for the whole 401 state');
  t.match(errors[0]!.msg, /rejected our credentials.*401.*retrying with backoff/);
  t.match(h.reflectors.status()[0]!.lastError, /401/);
  t.equal(h.reflectors.status()[0]!.synced, true, 'still synced: the store keeps serving what it has');

  sim.faults.requireToken('s3cret-token');
  sim.create('pods', podFor({ name: 'after', uid: 'u-after', nodeName: NODE }));
  await waitFor(() => h.store.reader().podByUid('u-after'), 'events after the fix');
  t.equal(h.reflectors.status()[0]!.lastError, undefined);
  t.equal(h.lines.filter((l) => /working again/.test(l.msg)).length, 1, 'one recovery line');
  t.equal(errorsWith(h.lines, 'http_401').length, 1);
  assertNoSecret(t, h.lines, 's3cret-token', 'rotated-token');
});

t.test('403 at start-up: not synced, one error line naming the missing permission, synced once allowed', async (t) => {
  const sim = await startSim(t);
  sim.create('pods', podFor({ name: 'a', uid: 'ua', nodeName: NODE }));
  sim.faults.forbid('pods');
  const h = startHarness(t, sim, onlyPods);
  await waitFor(async () => (await metricValue(h.metrics, 'api_errors_total', { kind: 'pods', code: 'http_403' })) >= 3, 'several 403s');
  t.equal(h.reflectors.status()[0]!.synced, false);
  t.match(h.reflectors.status()[0]!.lastError, /forbidden/);
  const errors = errorsWith(h.lines, 'http_403');
  t.equal(errors.length, 1, 'one error line');
  t.match(errors[0]!.msg, /not allowed to list\/watch pods \(403\).*ClusterRole/);
  t.match(errors[0]!.msg, /cannot list resource "pods"/, 'carries the API server\'s own explanation');
  t.equal(await metricValue(h.metrics, 'reflector_synced', { kind: 'pods' }), 0);

  sim.faults.forbid(undefined);
  await readyWithin(h.reflectors);
  t.ok(h.store.reader().podByUid('ua'));
  t.equal(await metricValue(h.metrics, 'reflector_synced', { kind: 'pods' }), 1);
});

/** A kubeconfig whose user reads its token from a file (kubectl's `tokenFile`). */
function tokenFileKubeconfig(t: Test, sim: SimApiServer, tokenPath: string) {
  const dir = tempDir(t);
  const path = join(dir, 'kubeconfig');
  writeFileSync(path, stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'sim', cluster: { server: sim.url, 'insecure-skip-tls-verify': true } }],
    users: [{ name: 'sa', user: { tokenFile: tokenPath } }],
    contexts: [{ name: 'sim', context: { cluster: 'sim', user: 'sa' } }],
    'current-context': 'sim',
  }));
  const result = loadKubeConfig({ kubeconfig: path, env: {}, homeDir: undefined });
  if (!result.ok) throw new Error(result.message);
  return result.kubeConfig;
}

t.test('a rotated token file is picked up by the next request, with no 401 in between', async (t) => {
  const sim = await startSim(t, { token: 'token-one' });
  const tokenPath = join(tempDir(t), 'token');
  writeFileSync(tokenPath, 'token-one\n');
  const h = startHarness(t, sim, { ...onlyPods, kubeConfig: tokenFileKubeconfig(t, sim, tokenPath) });
  await readyWithin(h.reflectors);
  await sim.waitForWatchCount(1);

  // The kubelet rotates the projected token; the API server stops accepting the old one.
  writeFileSync(tokenPath, 'token-two\n');
  sim.faults.requireToken('token-two');
  sim.faults.closeWatches();
  sim.create('pods', podFor({ name: 'after', uid: 'u-after', nodeName: NODE }));
  await waitFor(() => h.store.reader().podByUid('u-after'), 'events over the new token');
  t.equal(await metricValue(h.metrics, 'api_errors_total', { code: 'http_401' }), 0, 'never rejected');
  assertNoSecret(t, h.lines, 'token-one', 'token-two');
});

t.test('an unreadable token file is a clear, retried error; fixed by restoring the file', async (t) => {
  const sim = await startSim(t, { token: 'token-one' });
  const tokenPath = join(tempDir(t), 'token');
  const h = startHarness(t, sim, { ...onlyPods, kubeConfig: tokenFileKubeconfig(t, sim, tokenPath) });
  await waitFor(async () => (await metricValue(h.metrics, 'api_errors_total', { kind: 'pods', code: 'auth_config' })) >= 2, 'auth_config errors');
  const errors = errorsWith(h.lines, 'auth_config');
  t.equal(errors.length, 1);
  t.match(errors[0]!.msg, new RegExp(`cannot read the token file ${tokenPath.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} \\(ENOENT\\)`));
  writeFileSync(tokenPath, 'token-one');
  await readyWithin(h.reflectors);
  rmSync(tokenPath);
  t.pass('synced once the file exists');
});
