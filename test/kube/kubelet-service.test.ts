/**
 * `serve` with kubernetes.podSource: kubelet, as the runtime starts it from a configuration:
 * /readyz before and after the first successful poll, enrichment from kubelet pods, and the
 * start-up errors of a kubelet that cannot be used (no URL, unreadable CA or token file).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import t from 'tap';
import type { Config, ConfigInput } from '../../src/config/index.ts';
import { testConfig } from '../builders/defaults.ts';
import { createLogger } from '../../src/log/index.ts';
import { toKubeletConnection } from '../../src/runtime/options.ts';
import { startService, type RuntimeEnv } from '../../src/runtime/service.ts';
import { namespaceFor, nodeFor, podFor, startSimKubelet } from '../../src/sim/index.ts';
import { kubeConfigFor, startSim, tempDir, waitFor } from './helpers.ts';

/** Parsed as every test's configuration is (test/builders/defaults.ts: the gRPC receiver off). */
function config(input: ConfigInput): Config {
  return testConfig(input);
}

function runtime(env: Record<string, string> = {}): RuntimeEnv {
  return { env, homeDir: undefined, logger: createLogger({ level: 'fatal', destination: new PassThrough() }), stdout: new PassThrough() };
}

t.test('/readyz waits for the kubelet; then lines are enriched from its pods', async (t) => {
  const sim = await startSim(t);
  sim.create('namespaces', namespaceFor({ name: 'shop' }));
  sim.create('nodes', nodeFor({ name: 'node-a' }));
  const pod = sim.create('pods', podFor({ name: 'cart-1', namespace: 'shop', nodeName: 'node-a', labels: { app: 'cart' } }));
  const dir = tempDir(t);
  const tokenFile = join(dir, 'token');
  writeFileSync(tokenFile, 'secret-1');
  const kubelet = await startSimKubelet(sim, { nodeName: 'node-a', token: 'secret-1' });
  t.teardown(() => kubelet.close());
  kubelet.failNext(1_000_000, 503);

  const c = config({
    server: { listen: '127.0.0.1:0' },
    kubernetes: { nodeName: 'node-a', podSource: 'kubelet', kubelet: { url: kubelet.url, insecureSkipTlsVerify: true, tokenFile, pollInterval: '100ms' } },
  });
  const service = await startService(c, runtime(), { kubeConfig: kubeConfigFor(t, sim) });
  t.teardown(() => service.stop());

  const notReady = await waitFor(async () => {
    const res = await fetch(`${service.url}/readyz`);
    const body = (await res.json()) as { details?: { kind: string; message: string }[] };
    return res.status === 503 && body.details?.some((d) => d.kind === 'pods' && /kubelet/.test(d.message)) ? body : undefined;
  }, '/readyz names the failing kubelet');
  t.match(notReady.details, [{ kind: 'pods', message: /pods: kubelet http:\/\/127\.0\.0\.1:\d+\/pods: 503/ }]);

  kubelet.reset();
  await waitFor(async () => (await fetch(`${service.url}/readyz`)).status === 200, '/readyz answers 200 after the first poll');

  const uid = pod.metadata.uid!;
  const line = '2026-11-24T10:00:00.000000000Z stdout F hello from cart';
  const res = await fetch(`${service.url}/v1/enrich`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-ndjson' },
    body: `${JSON.stringify({ file: `/var/log/pods/shop_cart-1_${uid}/app/0.log`, line })}\n`,
  });
  t.equal(res.status, 200);
  t.match(JSON.parse((await res.text()).trim()), { kubernetes: { pod_name: 'cart-1', pod_labels: { app: 'cart' }, pod_node_name: 'node-a' } });
  t.notOk(sim.requests.some((r) => r.kind === 'pods'), 'no pods list or watch on the API server');
});

t.test('start-up errors name the key: no URL, unreadable CA file, unreadable token file', async (t) => {
  const sim = await startSim(t);
  const dir = tempDir(t);
  const tokenFile = join(dir, 'token');
  writeFileSync(tokenFile, 'secret-1');
  const kubeConfig = kubeConfigFor(t, sim);
  const start = (kubelet: NonNullable<ConfigInput['kubernetes']>['kubelet'], env: Record<string, string> = {}) =>
    startService(config({ server: { listen: '127.0.0.1:0' }, kubernetes: { podSource: 'kubelet', kubelet } }), runtime(env), { kubeConfig });

  await t.rejects(start({ tokenFile }), { name: 'StartupError', code: 'kubelet_url_unknown', message: /kubernetes\.kubelet\.url: not set, and \$NODE_IP is empty/ });
  await t.rejects(start({ tokenFile, caFile: join(dir, 'missing-ca.crt') }, { NODE_IP: '10.0.0.5' }), { code: 'unreadable_ca_file', message: /kubernetes\.kubelet\.caFile: cannot read .*missing-ca\.crt \(ENOENT\)/ });
  await t.rejects(start({ url: 'https://127.0.0.1:1', tokenFile: join(dir, 'no-token') }), { code: 'unreadable_token_file', message: /kubernetes\.kubelet\.tokenFile: cannot read the token file/ });

  // NODE_IP makes the default URL (an IPv6 address in brackets).
  t.equal(toKubeletConnection(config({}), { NODE_IP: 'fd00::5' })?.url, 'https://[fd00::5]:10250');
  const v4 = await start({ tokenFile }, { NODE_IP: '127.0.0.1' });
  t.teardown(() => v4.stop());
  t.match(v4.reflectors.status().find((s) => s.kind === 'pods'), { synced: false });
  await waitFor(() => v4.reflectors.status().find((s) => s.kind === 'pods')?.lastError, 'the default URL is tried');
  t.match(v4.reflectors.status().find((s) => s.kind === 'pods')?.lastError, /kubelet https:\/\/127\.0\.0\.1:10250\/pods/);
});
