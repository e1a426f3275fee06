import t from 'tap';
import { ClusterChurn, generateCluster, loadCluster, startChurn, startSimApiServer } from '../../src/sim/index.ts';
import type { ChurnAction, PodJson, SimApiServer, Change } from '../../src/sim/index.ts';

const NOW = new Date('2026-01-15T09:30:00Z');

async function clusterSim(t: { teardown(fn: () => unknown): void }): Promise<SimApiServer> {
  const sim = await startSimApiServer();
  t.teardown(() => sim.close());
  loadCluster(sim, generateCluster({ seed: 11, nodes: 3, podsPerNode: 20, namespaces: 4 }));
  return sim;
}

function pod(sim: SimApiServer, key: string): PodJson | undefined {
  const [namespace, name] = key.split('/');
  return sim.get<PodJson>('pods', namespace, name ?? '');
}

t.test('rollout: every pod of a ReplicaSet is replaced by one of a new ReplicaSet (graceful deletes)', async (t) => {
  const sim = await clusterSim(t);
  const changes: Change[] = [];
  sim.subscribe((c) => changes.push(c));
  const churn = new ClusterChurn(sim, { seed: 3, intervalMs: 0, now: () => NOW });
  const action = churn.perform('rollout');
  if (!action) throw new Error('no rollout happened');
  t.ok(action.deleted.length > 0);
  t.equal(action.created.length, action.deleted.length, 'same replica count');
  for (const key of action.deleted) t.equal(pod(sim, key), undefined, `${key} gone`);
  const created = action.created.map((k) => pod(sim, k) as PodJson);
  const hashes = new Set(created.map((p) => p.metadata.labels?.['pod-template-hash']));
  t.equal(hashes.size, 1, 'one new pod-template-hash');
  const owner = created[0]?.metadata.ownerReferences?.[0];
  t.ok(owner?.name.endsWith(`-${[...hashes][0]}`), 'owner named after the hash');
  for (const p of created) {
    t.match(p.metadata.name, new RegExp(`^${owner?.name}-[a-z0-9]{5}$`));
    t.equal(p.metadata.creationTimestamp, '2026-01-15T09:30:00Z');
    t.ok(p.status.containerStatuses?.every((s) => s.restartCount === 0 && /^containerd:\/\/[0-9a-f]{64}$/.test(s.containerID ?? '')));
  }
  const deletes = changes.filter((c) => c.type === 'DELETED');
  t.equal(deletes.length, action.deleted.length);
  t.ok(deletes.every((c) => c.object.metadata.deletionTimestamp), 'deleted pods carry a deletionTimestamp');
  t.equal(changes.filter((c) => c.type === 'MODIFIED').length, action.deleted.length, 'graceful: one MODIFIED per pod first');
});

t.test('restart: a new container id, restartCount + 1, lastState pointing at the old container', async (t) => {
  const sim = await clusterSim(t);
  const churn = new ClusterChurn(sim, { seed: 5, intervalMs: 0, now: () => NOW });
  const before = structuredClone(sim.list<PodJson>('pods'));
  const action = churn.perform('restart') as ChurnAction;
  const key = action.modified[0] ?? '';
  const old = before.find((p) => `${p.metadata.namespace}/${p.metadata.name}` === key);
  const now = pod(sim, key);
  const changed = now?.status.containerStatuses?.find((s, i) => s.containerID !== old?.status.containerStatuses?.[i]?.containerID);
  const previous = old?.status.containerStatuses?.find((s) => s.name === changed?.name);
  t.ok(changed, 'one container has a new id');
  t.equal(changed?.restartCount, (previous?.restartCount ?? 0) + 1);
  t.match(changed?.lastState, { terminated: { containerID: previous?.containerID } });
  t.equal(now?.metadata.uid, old?.metadata.uid, 'same pod');
});

t.test('cronjob: the next Job starts, the running one completes, at most 3 runs are kept', async (t) => {
  const sim = await startSimApiServer();
  t.teardown(() => sim.close());
  loadCluster(sim, generateCluster({ seed: 5, nodes: 6, podsPerNode: 30, namespaces: 8 }));
  const churn = new ClusterChurn(sim, { seed: 1, intervalMs: 0, now: () => NOW });
  let action: ChurnAction | undefined;
  for (let i = 0; i < 4; i++) action = churn.perform('cronjob');
  if (!action) throw new Error('no cronjob action');
  const created = pod(sim, action.created[0] ?? '');
  const job = created?.metadata.ownerReferences?.[0];
  t.match(job, { kind: 'Job', apiVersion: 'batch/v1', name: /-\d{8}$/ });
  t.equal(created?.metadata.labels?.['job-name'], job?.name);
  t.equal(created?.status.phase, 'Running');
  const cronjob = job?.name.replace(/-\d{8}$/, '');
  const runs = sim.list<PodJson>('pods').filter((p) => p.metadata.namespace === created?.metadata.namespace && p.metadata.ownerReferences?.[0]?.name.replace(/-\d{8}$/, '') === cronjob);
  t.ok(runs.length <= 3, `${runs.length} runs kept`);
  t.equal(runs.filter((p) => p.status.phase === 'Running').length, 1, 'only the newest runs');
  for (const key of action.modified) t.equal(pod(sim, key)?.status.phase, 'Succeeded');
});

t.test('scale, relabel and namespace relabel change what they say', async (t) => {
  const sim = await clusterSim(t);
  const churn = new ClusterChurn(sim, { seed: 9, intervalMs: 0, now: () => NOW });
  const count = sim.list('pods').length;
  const up = churn.perform('scale-up') as ChurnAction;
  t.equal(sim.list('pods').length, count + 1);
  t.ok(pod(sim, up.created[0] ?? ''));
  const down = churn.perform('scale-down') as ChurnAction;
  t.equal(sim.list('pods').length, count);
  t.equal(pod(sim, down.deleted[0] ?? ''), undefined);
  const relabel = churn.perform('relabel') as ChurnAction;
  t.ok(pod(sim, relabel.modified[0] ?? '')?.metadata.labels?.['example.com/revision']);
  const ns = churn.perform('namespace-relabel') as ChurnAction;
  t.match(sim.get('namespaces', undefined, ns.modified[0] ?? '')?.metadata.labels, { 'cost-center': /^cc-\d{3}$/ });
});

t.test('seeded: the same seed drives the same sequence of actions', async (t) => {
  const runs: string[][] = [];
  for (let i = 0; i < 2; i++) {
    const sim = await clusterSim(t);
    const churn = new ClusterChurn(sim, { seed: 21, intervalMs: 0, now: () => NOW });
    const seen: string[] = [];
    for (let s = 0; s < 25; s++) {
      const action = churn.step();
      seen.push(`${action?.type} +${action?.created.join(',')} -${action?.deleted.join(',')}`);
    }
    runs.push(seen);
  }
  t.same(runs[0], runs[1]);
  t.ok(new Set(runs[0]?.map((s) => s.split(' ')[0])).size >= 4, 'several action types');
});

t.test('startChurn runs on its interval until stopped', async (t) => {
  const sim = await clusterSim(t);
  const actions: ChurnAction[] = [];
  const churn = startChurn(sim, { seed: 2, intervalMs: 10, onAction: (a) => actions.push(a) });
  t.teardown(() => churn.stop());
  while (actions.length < 3) await new Promise((resolve) => setTimeout(resolve, 10));
  churn.stop();
  const after = actions.length;
  await new Promise((resolve) => setTimeout(resolve, 50));
  t.equal(actions.length, after, 'no action after stop');
});
