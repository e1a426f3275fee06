/**
 * `demo`: the agent on an embedded simulated cluster. A simulated API server on loopback holds a
 * generated cluster; a growing pod-log tree in a temp dir is written for the pods of one node,
 * with partial lines, rotation, and pods created and deleted while their last lines are still
 * being written — so the retaining store can be seen at work. Needs no cluster.
 *
 * With `kubernetes.podSource: kubelet` (`demo --set kubernetes.podSource=kubelet`), a simulated
 * kubelet serves the node's /pods and the agent polls it (at most every second here); a new pod's
 * containers then start writing one poll interval after it was created, as the first poll after a
 * pod's admission is what makes its metadata known.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Config } from '../config/index.ts';
import { KubeConfig } from '../kube/index.ts';
import { startAgent, type Agent } from '../runtime/agent.ts';
import type { RuntimeEnv } from '../runtime/service.ts';
import { generateCluster, podFor, SeededRandom, startSimApiServer, startSimKubelet, type PodJson, type SimApiServer, type SimKubelet } from '../sim/index.ts';
import { LogTreeWriter, type DemoPodFiles } from './log-tree.ts';

/** Pace of the simulated node; short enough that a pod deletion shows within seconds. */
export interface DemoTiming {
  /** A line per container of a few pods at each tick. */
  tickMs: number;
  /** A pod is deleted (and another created) this often. */
  churnMs: number;
  /** A deleted pod's containers keep writing this long: their last lines. */
  lastLinesMs: number;
  /** The kubelet removes a deleted pod's log directory this long after its last line. */
  removeDirAfterMs: number;
}

const DEFAULT_DEMO_TIMING: DemoTiming = { tickMs: 250, churnMs: 4000, lastLinesMs: 1500, removeDirAfterMs: 15_000 };

/** The demo's kubelet poll interval at most: its pods come and go within seconds. */
const DEMO_KUBELET_POLL_MS = 1000;
const DEMO_KUBELET_TOKEN = 'demo-kubelet-token';

/** The message a deleted pod writes after its deletion; the demo test looks for it. */
export const LAST_LINE_MARKER = 'last line after pod deletion';

interface LivePod {
  files: DemoPodFiles;
  /** Its containers write from this time on (pods created while running, in kubelet mode: after a poll). */
  startWritingAt: number;
  /** When set: the pod is deleted in the API; it writes until this time, then its dir goes. */
  stopWritingAt: number | undefined;
}

export interface Demo {
  readonly agent: Agent;
  readonly sim: SimApiServer;
  /** Set with kubernetes.podSource: kubelet. */
  readonly kubelet: SimKubelet | undefined;
  readonly dir: string;
  stop(): Promise<void>;
}

function filesOf(pod: PodJson, random: () => number): DemoPodFiles {
  const m = pod.metadata;
  // A static pod's log directory is named by the kubelet's config hash, not the API uid.
  const uid = m.annotations?.['kubernetes.io/config.mirror'] ?? m.uid!;
  return {
    namespace: m.namespace!,
    name: m.name!,
    uid,
    app: m.labels?.['app.kubernetes.io/name'] ?? m.labels?.app ?? m.name!,
    containers: pod.spec.containers.map((c) => c.name),
    // Nodes run one runtime; the demo mixes both formats to show both decoders.
    format: random() < 0.25 ? 'docker' : 'cri',
  };
}

export async function startDemo(config: Config, runtime: RuntimeEnv, timing: DemoTiming = DEFAULT_DEMO_TIMING): Promise<Demo> {
  const rng = new SeededRandom(20261124);
  const random = () => rng.next();
  const dir = mkdtempSync(join(tmpdir(), 'kube-log-enricher-demo-'));
  const podsDir = join(dir, 'pods');
  const sim = await startSimApiServer({ bookmarkIntervalMs: 10_000 });
  let timers: NodeJS.Timeout[] = [];
  let kubelet: SimKubelet | undefined;
  try {
    const cluster = generateCluster({ seed: 7, nodes: 3, podsPerNode: 8, namespaces: 3 });
    const nodeName = cluster.nodes[0]!.metadata.name!;
    for (const ns of cluster.namespaces) sim.create('namespaces', ns);
    for (const node of cluster.nodes) sim.create('nodes', node);
    const writer = new LogTreeWriter({ podsDir, splitBytes: 512, rotateBytes: 256 * 1024, random });
    const live = new Map<string, LivePod>();
    for (const pod of cluster.pods) {
      const stored = sim.create('pods', pod) as PodJson;
      if (stored.spec.nodeName !== nodeName) continue;
      const files = filesOf(stored, random);
      writer.createPod(files);
      live.set(`${files.namespace}/${files.name}`, { files, startWritingAt: 0, stopWritingAt: undefined });
    }

    const kubeletMode = config.kubernetes.podSource === 'kubelet';
    const kubeletPollMs = Math.min(config.kubernetes.kubelet.pollInterval, DEMO_KUBELET_POLL_MS);
    let kubeletSettings = config.kubernetes.kubelet;
    if (kubeletMode) {
      kubelet = await startSimKubelet(sim, { nodeName, token: DEMO_KUBELET_TOKEN });
      const tokenFile = join(dir, 'kubelet-token');
      writeFileSync(tokenFile, DEMO_KUBELET_TOKEN, { mode: 0o600 });
      kubeletSettings = { ...kubeletSettings, url: kubelet.url, tokenFile, caFile: undefined, insecureSkipTlsVerify: true, pollInterval: kubeletPollMs };
    }

    const kubeConfig = new KubeConfig();
    kubeConfig.loadFromString(sim.kubeconfigYaml());
    const demoConfig: Config = {
      ...config,
      kubernetes: { ...config.kubernetes, nodeName, kubeconfig: undefined, kubelet: kubeletSettings },
      source: { ...config.source, podsDir, dataDir: join(dir, 'data'), rotateWait: Math.min(config.source.rotateWait, 2000) },
    };

    const tick = () => {
      const now = Date.now();
      for (const [key, pod] of live) {
        if (pod.stopWritingAt !== undefined && now > pod.stopWritingAt) {
          live.delete(key);
          const t = setTimeout(() => writer.removePod(pod.files), timing.removeDirAfterMs);
          t.unref();
          continue;
        }
        if (now < pod.startWritingAt) continue;
        if (pod.stopWritingAt !== undefined) writer.writeMarker(pod.files, now, LAST_LINE_MARKER);
        else if (random() < 0.5) writer.writeLine(pod.files, now);
      }
    };
    let created = 0;
    const churn = () => {
      const candidates = [...live.values()].filter((p) => p.stopWritingAt === undefined);
      const victim = candidates[Math.floor(random() * candidates.length)];
      if (victim !== undefined && candidates.length > 4) {
        sim.delete('pods', victim.files.namespace, victim.files.name, { graceful: true });
        victim.stopWritingAt = Date.now() + timing.lastLinesMs;
        runtime.logger.info({ pod: `${victim.files.namespace}/${victim.files.name}` }, 'demo: pod deleted; its last lines are still being written');
      }
      const namespace = cluster.namespaces[Math.floor(random() * cluster.namespaces.length)]!.metadata.name!;
      const name = `web-${(++created).toString(36)}-${Math.floor(random() * 1e6).toString(36)}`;
      const pod = sim.create('pods', podFor({ name, namespace, nodeName, labels: { app: 'web', 'app.kubernetes.io/name': 'web' } })) as PodJson;
      const files = filesOf(pod, random);
      writer.createPod(files);
      // In kubelet mode the pod is known after the next poll: its containers start after that.
      const startWritingAt = kubeletMode ? Date.now() + kubeletPollMs + 500 : 0;
      live.set(`${files.namespace}/${files.name}`, { files, startWritingAt, stopWritingAt: undefined });
    };

    // Some history before the agent starts, so the first output comes at once.
    for (let i = 0; i < 4; i++) tick();
    const agent = await startAgent(demoConfig, runtime, { kubeConfig });
    timers = [setInterval(tick, timing.tickMs), setInterval(churn, timing.churnMs)];

    let stopping: Promise<void> | undefined;
    return {
      agent,
      sim,
      kubelet,
      dir,
      stop: () =>
        (stopping ??= (async () => {
          for (const t of timers) clearInterval(t);
          await agent.stop();
          await kubelet?.close();
          await sim.close();
          rmSync(dir, { recursive: true, force: true });
        })()),
    };
  } catch (e) {
    for (const t of timers) clearInterval(t);
    await kubelet?.close();
    await sim.close();
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
}
