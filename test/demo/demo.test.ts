/**
 * `kube-log-enricher demo` as a user runs it: a child process, its stdout read for a few seconds.
 * It must print enriched events for several pods, including lines written by a pod after it was
 * deleted from the API (the retaining store at work), and clean up its temp dir on SIGINT.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createInterface } from 'node:readline';
import t from 'tap';
import { LAST_LINE_MARKER } from '../../src/demo/demo.ts';

interface VectorEvent {
  message: string;
  kubernetes?: { pod_name?: string; pod_namespace?: string; pod_uid?: string };
}

const MODES: { name: string; args: string[] }[] = [
  { name: 'pods from the API server', args: [] },
  { name: 'pods from a simulated kubelet (kubernetes.podSource: kubelet)', args: ['--set', 'kubernetes.podSource=kubelet'] },
];

for (const mode of MODES) t.test(`demo prints enriched events, keeps enriching a deleted pod, and cleans up: ${mode.name}`, async (t) => {
  // Port 0 for the OTLP/gRPC receiver too: its default, 4317, may be taken on the test machine.
  const child = spawn(process.execPath, ['src/cli/main.ts', 'demo', '--listen', '127.0.0.1:0', '--set', 'server.grpcListen=127.0.0.1:0', ...mode.args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));

  const pods = new Set<string>();
  let deletedPodLine: VectorEvent | undefined;
  let unmatched = 0;
  let events = 0;
  // One SIGINT only: a second one means "exit now" (exit 1). The deadline is a cap for a machine too
  // loaded to show five pods in time, not a measure: the assertions below say what was missing.
  const interrupt = (): void => {
    if (child.exitCode === null && !child.killed) child.kill('SIGINT');
  };
  const deadline = setTimeout(interrupt, 90_000);
  const lines = createInterface({ input: child.stdout });
  for await (const line of lines) {
    const event = JSON.parse(line) as VectorEvent;
    events++;
    if (event.kubernetes?.pod_uid === undefined) unmatched++;
    else pods.add(`${event.kubernetes.pod_namespace}/${event.kubernetes.pod_name}`);
    if (event.message.startsWith(LAST_LINE_MARKER) && event.kubernetes?.pod_uid !== undefined) deletedPodLine ??= event;
    if (pods.size >= 5 && deletedPodLine !== undefined) interrupt();
  }
  clearTimeout(deadline);
  const code = await exited;

  t.ok(events > 0, `events were printed (${events})`);
  t.ok(pods.size >= 5, `events of several pods (${pods.size})`);
  t.ok(deletedPodLine, 'a line written after its pod was deleted is still enriched');
  t.equal(deletedPodLine?.kubernetes?.pod_name !== undefined, true, 'it carries the pod name');
  t.equal(unmatched, 0, 'every event matched a pod');
  t.equal(code, 0, `exit 0 after SIGINT; stderr: ${stderr.slice(-500)}`);
  const dir = /pod-log tree in (\S+?);/.exec(stderr)?.[1];
  t.ok(dir, 'the banner names the temp dir');
  t.equal(existsSync(dir!), false, 'the temp dir is removed');
  t.match(stderr, /http:\/\/127\.0\.0\.1:\d+\/metrics/, 'the banner gives the API URLs');
  if (mode.args.length > 0) t.match(stderr, /read from a simulated kubelet at http:\/\/127\.0\.0\.1:\d+\/pods/, 'the banner says where pods come from');
});
