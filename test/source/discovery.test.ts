/** Discovery of <podsDir>/<pod>/<container>/<n>.log: filters, the own pod, watch events and rescans. */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { PodLogDiscovery, createPathFilter, isOwnPodDir } from '../../src/source/index.ts';
import { podDir, recordingLogger, waitFor } from './fixtures.ts';

t.test('isOwnPodDir and createPathFilter', async (t) => {
  t.equal(isOwnPodDir('kube-system_kle-abcde_1234-uid', '1234-uid', undefined), true);
  t.equal(isOwnPodDir('kube-system_kle-abcde_1234-uid', undefined, 'kle-abcde'), true);
  t.equal(isOwnPodDir('kube-system_kle-abcde_1234-uid', 'other', 'other'), false);
  t.equal(isOwnPodDir('kube-system_kle-abcde_1234-uid', '', ''), false, 'empty settings match nothing');
  t.equal(isOwnPodDir('not-a-pod-dir', 'not-a-pod-dir', undefined), false);
  const accepts = createPathFilter(['**/*.log'], ['kube-system_*/**', '**/istio-proxy/*.log']);
  t.equal(accepts('shop_cart_u1/app/0.log'), true);
  t.equal(accepts('shop_cart_u1/istio-proxy/0.log'), false);
  t.equal(accepts('kube-system_dns_u2/dns/0.log'), false);
  t.equal(createPathFilter([], [])('x/y/0.log'), true, 'no include globs: everything');
});

t.test('scans, reports new pods through watch events, and drops vanished ones', async (t) => {
  const podsDir = join(t.testdir(), 'pods');
  const a = podDir(podsDir, 'shop', 'cart', 'u1');
  writeFileSync(a.log, '');
  writeFileSync(`${a.log}.20261123-101500`, '');
  writeFileSync(`${a.log}.20261123-101000.gz`, '');
  writeFileSync(join(a.containerDir, '1.log'), '');
  writeFileSync(join(a.podDir, 'stray.log'), '');
  const own = podDir(podsDir, 'kube-system', 'kle-x', 'self-uid');
  writeFileSync(own.log, '');
  const scans: (readonly string[])[] = [];
  const changed: string[] = [];
  const discovery = new PodLogDiscovery(
    { podsDir, include: ['**/*.log'], exclude: [], selfPodUid: 'self-uid', selfPodName: undefined, rescanInterval: 60_000 },
    { onScan: (paths) => scans.push(paths), onFileChanged: (p) => changed.push(p) },
    recordingLogger(),
  );
  t.teardown(() => discovery.stop());
  const first = await discovery.start();
  t.same(first, [a.log, join(a.containerDir, '1.log')].sort(), 'live <n>.log files only: not rotated, compressed, stray or own');

  const b = podDir(podsDir, 'shop', 'api', 'u2');
  writeFileSync(b.log, 'x');
  await waitFor('the new pod reported', () => scans.some((s) => s.includes(b.log)));
  writeFileSync(a.log, 'appended');
  await waitFor('a change in a watched container directory', () => changed.includes(a.log));
  rmSync(a.podDir, { recursive: true });
  await waitFor('the vanished pod dropped', () => scans.length > 0 && !scans[scans.length - 1]!.includes(a.log));
  t.same(scans[scans.length - 1], [b.log]);
});

t.test('a pods directory that does not exist yet: said once, found by the periodic rescan', async (t) => {
  const podsDir = join(t.testdir(), 'pods');
  const logger = recordingLogger();
  const scans: (readonly string[])[] = [];
  const discovery = new PodLogDiscovery(
    { podsDir, include: ['**/*.log'], exclude: [], selfPodUid: undefined, selfPodName: undefined, rescanInterval: 20 },
    { onScan: (paths) => scans.push(paths), onFileChanged: () => {} },
    logger,
  );
  t.teardown(() => discovery.stop());
  t.same(await discovery.start(), []);
  await waitFor('a few rescans', () => scans.length >= 3);
  t.equal(logger.records.filter((r) => r.msg?.includes('does not exist')).length, 1, 'warned once, not per rescan');
  const pod = podDir(podsDir, 'ns', 'late', 'u9');
  mkdirSync(pod.containerDir, { recursive: true });
  writeFileSync(pod.log, '');
  await waitFor('found', () => scans.some((s) => s.includes(pod.log)));
});
