/**
 * Issue #16 in the agent: the files of excluded pods (pod, container or namespace excluded, or not
 * opted in) are parked: never opened, their size looked at, and followed from there once the pod
 * is included again, across restarts and rotations. "Never opened" is checked for real: the
 * agent runs in this process, and /proc/self/fd lists what it has open.
 */
import { readFileSync, realpathSync, renameSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { KubeConfig } from '@kubernetes/client-node';
import t, { type Test } from 'tap';
import { startAgent } from '../../src/runtime/agent.ts';
import { namespaceFor, podFor } from '../../src/sim/index.ts';
import { testConfig } from '../builders/defaults.ts';
import { testRuntime } from '../builders/runtime.ts';
import { FAST_KUBERNETES, simulatedCluster, type PodSpec } from './cluster.ts';
import { append, completeLines, criLine, metricValue, openFiles, podDir, waitFor } from './fixtures.ts';

const EXCLUDE = 'logs.kube-log-enricher.io/exclude';
const INCLUDE = 'logs.kube-log-enricher.io/include';

interface Saved {
  path: string;
  ino: string;
  offset: number;
  parked?: boolean;
}

function savedEntry(dataDir: string, path: string): Saved | undefined {
  try {
    const doc = JSON.parse(readFileSync(join(dataDir, 'checkpoints.json'), 'utf8')) as { files: Saved[] };
    return doc.files.find((f) => f.path === path);
  } catch {
    return undefined;
  }
}

const cri = (messages: readonly string[]): string => messages.map((m) => criLine(m)).join('');

interface Setup {
  root: string;
  podsDir: string;
  dataDir: string;
  out: string;
  mode?: 'opt-out' | 'opt-in';
}

function setup(t: Test, mode: 'opt-out' | 'opt-in' = 'opt-out'): Setup {
  const root = t.testdir({ pods: {}, data: {} });
  return { root, podsDir: join(root, 'pods'), dataDir: join(root, 'data'), out: join(root, 'out.ndjson'), mode };
}

async function agentFor(t: Test, s: Setup, kubeConfig: KubeConfig) {
  const config = testConfig({
    server: { listen: '127.0.0.1:0' },
    kubernetes: FAST_KUBERNETES,
    enrichment: { exclude: { mode: s.mode ?? 'opt-out' } },
    source: { podsDir: s.podsDir, dataDir: s.dataDir, sink: `file:${s.out}`, rescanInterval: '200ms', checkpointInterval: '50ms', batchMaxEvents: 100, batchMaxWait: '10ms' },
  });
  const agent = await startAgent(config, testRuntime(), { kubeConfig });
  t.teardown(() => agent.stop());
  return agent;
}

function messagesOut(out: string, file?: string): string[] {
  return completeLines(out)
    .map((l) => JSON.parse(l) as { message: string; file: string })
    .filter((e) => file === undefined || e.file === file)
    .map((e) => e.message);
}

for (const mode of ['opt-out', 'opt-in'] as const) {
  t.test(`${mode}: files of excluded pods and namespaces are never opened; an included pod's file is read`, async (t) => {
    const s = setup(t, mode);
    const included: Record<string, string> = mode === 'opt-in' ? { [INCLUDE]: 'true' } : {};
    const pods: PodSpec[] = [
      { namespace: 'shop', name: 'cart-1', uid: '0b6c1f0e-0000-4000-8000-0000000000e1', containers: ['cart'], labels: included },
      // Excluded by its own label, by its annotation, by its namespace, and (opt-in) by not asking.
      { namespace: 'shop', name: 'noisy-1', uid: '0b6c1f0e-0000-4000-8000-0000000000e2', containers: ['noisy'], labels: { ...included, [EXCLUDE]: 'true' } },
      { namespace: 'shop', name: 'chatty-1', uid: '0b6c1f0e-0000-4000-8000-0000000000e3', containers: ['chatty'], labels: included, annotations: { [EXCLUDE]: 'true' } },
      { namespace: 'batch', name: 'job-1', uid: '0b6c1f0e-0000-4000-8000-0000000000e4', containers: ['job'], labels: included },
      ...(mode === 'opt-in' ? [{ namespace: 'shop', name: 'shy-1', uid: '0b6c1f0e-0000-4000-8000-0000000000e5', containers: ['shy'] }] : []),
    ];
    const { sim, kubeConfig } = await simulatedCluster(t, pods);
    sim.update('namespaces', namespaceFor({ name: 'batch', labels: { team: 'batch', [EXCLUDE]: 'true' } }));
    const logs = Object.fromEntries(pods.map((p) => [p.name, podDir(s.podsDir, p.namespace, p.name, p.uid, p.containers[0]).log]));
    // One late pod, found by a rescan while the agent runs, excluded too.
    const late: PodSpec = { namespace: 'shop', name: 'late-1', uid: '0b6c1f0e-0000-4000-8000-0000000000e6', containers: ['late'], labels: { ...included, [EXCLUDE]: 'true' } };
    sim.create('pods', podFor({ name: late.name, namespace: late.namespace, uid: late.uid, containers: late.containers, labels: { app: late.name, ...late.labels } }));
    for (const p of pods) append(logs[p.name]!, cri([`${p.name} before start`]));
    const agent = await agentFor(t, s, kubeConfig);
    const { metrics } = agent.service;
    const excluded = pods.filter((p) => p.name !== 'cart-1').map((p) => p.name);

    await waitFor('the included pod\'s first line', () => messagesOut(s.out).includes('cart-1 before start'));
    logs[late.name] = podDir(s.podsDir, late.namespace, late.name, late.uid, late.containers[0]).log;
    excluded.push(late.name);
    for (const name of Object.keys(logs)) append(logs[name]!, cri([`${name} running`]));
    await waitFor('the included pod\'s new line', () => messagesOut(s.out).includes('cart-1 running'));
    await waitFor('every excluded file parked, the late one too', async () => (await metricValue(metrics, 'kube_log_enricher_files_parked')) === excluded.length);

    const open = openFiles();
    t.ok(open.has(realpathSync(logs['cart-1']!)), 'the included pod\'s file is open');
    for (const name of excluded) t.notOk(open.has(realpathSync(logs[name]!)), `${name}'s file was never opened`);
    t.equal(agent.source.stats().pathsParked, excluded.length);
    t.equal(await metricValue(metrics, 'kube_log_enricher_bytes_read_total'), statSync(logs['cart-1']!).size, 'only the included file was read');
    t.equal(await metricValue(metrics, 'kube_log_enricher_bytes_passed_over_total'), 0, 'nothing to pass over: nothing was opened');
    t.equal(await metricValue(metrics, 'kube_log_enricher_events_excluded_total'), 0, 'no line of an excluded pod was read to be dropped');

    await agent.stop();
    t.same(messagesOut(s.out), ['cart-1 before start', 'cart-1 running']);
    for (const name of excluded) {
      t.match(savedEntry(s.dataDir, logs[name]!), { offset: statSync(logs[name]!).size, parked: true }, `${name} checkpointed as parked at its end`);
    }
  });
}

const NOISY: PodSpec = { namespace: 'shop', name: 'noisy-1', uid: '0b6c1f0e-0000-4000-8000-0000000000f2', containers: ['noisy'], labels: { [EXCLUDE]: 'true' } };
const CART: PodSpec = { namespace: 'shop', name: 'cart-1', uid: '0b6c1f0e-0000-4000-8000-0000000000f1', containers: ['cart'] };

/** Waits until the parked position of `log`, as the snapshot says, is its size now (what it had was looked at). */
async function parkedAtEnd(dataDir: string, log: string): Promise<void> {
  await waitFor(`${log} parked at its end`, () => {
    const e = savedEntry(dataDir, log);
    const st = statSync(log);
    return e?.parked === true && e.offset === st.size && e.ino === String(st.ino);
  });
}

t.test('parked, then a restart (still excluded: nothing opened), then included at runtime: only what was written after', async (t) => {
  const s = setup(t);
  const { sim, kubeConfig } = await simulatedCluster(t, [CART, NOISY]);
  const cart = podDir(s.podsDir, CART.namespace, CART.name, CART.uid, 'cart').log;
  const noisy = podDir(s.podsDir, NOISY.namespace, NOISY.name, NOISY.uid, 'noisy').log;
  append(cart, cri(['cart 1']));
  append(noisy, cri(['noisy before start 1', 'noisy before start 2']));
  let agent = await agentFor(t, s, kubeConfig);
  await waitFor('cart 1', () => messagesOut(s.out).includes('cart 1'));
  append(noisy, cri(['noisy while excluded 1', 'noisy while excluded 2']));
  await parkedAtEnd(s.dataDir, noisy);
  t.notOk(openFiles().has(realpathSync(noisy)), 'never opened while running');
  await agent.stop();

  // Down: more lines; up again with the pod still excluded.
  append(noisy, cri(['noisy while down']));
  agent = await agentFor(t, s, kubeConfig);
  append(cart, cri(['cart 2']));
  await waitFor('cart 2', () => messagesOut(s.out).includes('cart 2'));
  t.equal(agent.source.stats().pathsParked, 1);
  append(noisy, cri(['noisy while excluded after the restart']));
  await parkedAtEnd(s.dataDir, noisy);
  t.notOk(openFiles().has(realpathSync(noisy)), 'not opened after the restart either');

  // Included again: from the lines written after.
  sim.patchLabels('pods', NOISY.namespace, NOISY.name, { [EXCLUDE]: null });
  await waitFor('the store sees the label gone', () => !agent.service.enricher.fileView(noisy).excluded);
  await waitFor('followed', () => agent.source.stats().pathsParked === 0 && openFiles().has(realpathSync(noisy)));
  append(noisy, cri(['noisy included 1', 'noisy included 2']));
  await waitFor('noisy\'s lines after its inclusion', () => messagesOut(s.out, noisy).length >= 2);
  await agent.stop();
  t.same(messagesOut(s.out, noisy), ['noisy included 1', 'noisy included 2'], 'only what was written after the inclusion, none lost');
  t.same(messagesOut(s.out, cart), ['cart 1', 'cart 2']);
  t.match(savedEntry(s.dataDir, noisy), { offset: statSync(noisy).size }, 'checkpointed as a read file');
  t.notOk(savedEntry(s.dataDir, noisy)?.parked, 'no longer parked');
});

t.test('a line being written when the pod is included again is read whole', async (t) => {
  const s = setup(t);
  const { sim, kubeConfig } = await simulatedCluster(t, [CART, NOISY]);
  const noisy = podDir(s.podsDir, NOISY.namespace, NOISY.name, NOISY.uid, 'noisy').log;
  append(noisy, cri(['noisy before']));
  const agent = await agentFor(t, s, kubeConfig);
  await waitFor('parked', () => agent.source.stats().pathsParked === 1);
  const half = criLine('noisy was writing').slice(0, -1);
  append(noisy, cri(['noisy excluded']) + half);
  await parkedAtEnd(s.dataDir, noisy);
  sim.patchLabels('pods', NOISY.namespace, NOISY.name, { [EXCLUDE]: 'false' });
  await waitFor('followed', () => agent.source.stats().pathsParked === 0);
  append(noisy, ' this\n' + criLine('noisy included'));
  await waitFor('noisy\'s lines', () => messagesOut(s.out, noisy).includes('noisy included'));
  await agent.stop();
  t.same(messagesOut(s.out, noisy), ['noisy was writing this', 'noisy included']);
});

t.test('parked, then stopped, included while down: the restart starts at the parked position, not at the file\'s start', async (t) => {
  const s = setup(t);
  const { sim, kubeConfig } = await simulatedCluster(t, [CART, NOISY]);
  const noisy = podDir(s.podsDir, NOISY.namespace, NOISY.name, NOISY.uid, 'noisy').log;
  append(noisy, cri(['noisy excluded 1', 'noisy excluded 2']));
  let agent = await agentFor(t, s, kubeConfig);
  await waitFor('parked', () => agent.source.stats().pathsParked === 1);
  append(noisy, cri(['noisy excluded 3']));
  await parkedAtEnd(s.dataDir, noisy);
  await agent.stop();

  sim.patchLabels('pods', NOISY.namespace, NOISY.name, { [EXCLUDE]: null });
  append(noisy, cri(['noisy while down 1', 'noisy while down 2']));
  agent = await agentFor(t, s, kubeConfig);
  t.equal(agent.source.stats().pathsParked, 0, 'included at start-up: followed');
  append(noisy, cri(['noisy after the restart']));
  await waitFor('noisy\'s lines', () => messagesOut(s.out, noisy).includes('noisy after the restart'));
  await agent.stop();
  t.same(messagesOut(s.out, noisy), ['noisy while down 1', 'noisy while down 2', 'noisy after the restart'], 'from the parked position on');
});

t.test('rotated while parked: neither the rotated file nor the new one\'s earlier lines are read once included', async (t) => {
  const s = setup(t);
  const { sim, kubeConfig } = await simulatedCluster(t, [CART, NOISY]);
  const noisy = podDir(s.podsDir, NOISY.namespace, NOISY.name, NOISY.uid, 'noisy').log;
  append(noisy, cri(['noisy old file 1']));
  const agent = await agentFor(t, s, kubeConfig);
  await waitFor('parked', () => agent.source.stats().pathsParked === 1);
  append(noisy, cri(['noisy old file 2']));
  const rotated = `${noisy}.20261205-101500`;
  renameSync(noisy, rotated);
  append(noisy, cri(['noisy new file, excluded 1', 'noisy new file, excluded 2']));
  await parkedAtEnd(s.dataDir, noisy);
  t.equal(await metricValue(agent.service.metrics, 'kube_log_enricher_files_parked'), 1);

  sim.patchLabels('pods', NOISY.namespace, NOISY.name, { [EXCLUDE]: null });
  await waitFor('followed', () => agent.source.stats().pathsParked === 0);
  append(noisy, cri(['noisy included']));
  await waitFor('noisy\'s line', () => messagesOut(s.out, noisy).includes('noisy included'));
  const open = openFiles();
  t.ok(open.has(realpathSync(noisy)), 'the live file is followed');
  t.notOk(open.has(realpathSync(rotated)), 'the file rotated while parked was never opened');
  await agent.stop();
  t.same(messagesOut(s.out, noisy), ['noisy included']);
});
