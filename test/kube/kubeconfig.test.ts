/** loadKubeConfig: search order, errors naming every place tried, token files re-read per request. */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { createServer as createTlsServer } from 'node:tls';
import t, { type Test } from 'tap';
import { stringify } from 'yaml';
import { HttpMethod, KubeConfig, RequestContext } from '@kubernetes/client-node';
import { loadKubeConfig, type KubeConfigResult } from '../../src/kube/index.ts';
import { podFor } from '../../src/sim/index.ts';
import { metricValue, readyWithin, startHarness, startSim, tempDir, waitFor } from './helpers.ts';

function kubeconfigText(options: { server?: string; contexts?: string[]; current?: string; user?: Record<string, unknown>; skipTls?: boolean } = {}): string {
  const contexts = options.contexts ?? ['main'];
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: contexts.map((c) => ({ name: `cluster-${c}`, cluster: { server: options.server ?? `https://${c}.example:6443`, ...(options.skipTls ? { 'insecure-skip-tls-verify': true } : {}) } })),
    users: contexts.map((c) => ({ name: `user-${c}`, user: options.user ?? { token: `token-of-${c}` } })),
    contexts: contexts.map((c) => ({ name: c, context: { cluster: `cluster-${c}`, user: `user-${c}` } })),
    'current-context': options.current ?? contexts[0],
  });
}

function serviceAccountDir(root: string, token = 'sa-token'): string {
  const dir = join(root, 'serviceaccount');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'token'), token);
  writeFileSync(join(dir, 'namespace'), 'logging');
  return dir;
}

async function authHeader(kc: KubeConfig): Promise<string | undefined> {
  const ctx = new RequestContext('https://example.invalid/api', HttpMethod.GET);
  await kc.applySecurityAuthentication(ctx);
  return ctx.getHeaders().Authorization;
}

function expectOk(t: Test, r: KubeConfigResult) {
  if (!r.ok) throw new Error(`expected a config, got: ${r.message}`);
  return r;
}

t.test('an explicit path is the only place tried', async (t) => {
  const root = tempDir(t);
  const path = join(root, 'config');
  writeFileSync(path, kubeconfigText({ contexts: ['a', 'b'] }));
  const sa = serviceAccountDir(root);
  const env = { KUBERNETES_SERVICE_HOST: '10.0.0.1', KUBERNETES_SERVICE_PORT: '443' };
  const r = expectOk(t, loadKubeConfig({ kubeconfig: path, env, homeDir: root, serviceAccountDir: sa }));
  t.equal(r.source, 'explicit', 'wins over in-cluster');
  t.equal(r.kubeConfig.getCurrentCluster()?.server, 'https://a.example:6443');
  t.match(r.description, /context "a", server https:\/\/a\.example:6443/);
  t.notMatch(r.description, /token/);

  const withContext = expectOk(t, loadKubeConfig({ kubeconfig: path, context: 'b', env, homeDir: root }));
  t.equal(withContext.kubeConfig.getCurrentCluster()?.server, 'https://b.example:6443');

  const badContext = loadKubeConfig({ kubeconfig: path, context: 'nope', env, homeDir: root });
  t.match(badContext, { ok: false, code: 'context_not_found' });
  t.match(!badContext.ok && badContext.message, /context "nope" not found \(available: a, b\)/);

  const missing = loadKubeConfig({ kubeconfig: join(root, 'missing'), env, homeDir: root, serviceAccountDir: sa });
  t.match(missing, { ok: false, code: 'kubeconfig_not_found' });
  t.same(!missing.ok && missing.tried, [`kubeconfig ${join(root, 'missing')}: not found`], 'nothing else tried');
});

t.test('search order: in-cluster, then $KUBECONFIG, then ~/.kube/config; the error names every place', async (t) => {
  const root = tempDir(t);
  const sa = serviceAccountDir(root);
  const envFile = join(root, 'env-config');
  writeFileSync(envFile, kubeconfigText({ contexts: ['from-env'] }));
  const home = join(root, 'home');
  mkdirSync(join(home, '.kube'), { recursive: true });
  writeFileSync(join(home, '.kube', 'config'), kubeconfigText({ contexts: ['from-home'] }));
  const inCluster = { KUBERNETES_SERVICE_HOST: '10.96.0.1', KUBERNETES_SERVICE_PORT: '443' };

  const a = expectOk(t, loadKubeConfig({ env: { ...inCluster, KUBECONFIG: envFile }, homeDir: home, serviceAccountDir: sa }));
  t.equal(a.source, 'in-cluster');
  t.equal(a.kubeConfig.getCurrentCluster()?.server, 'https://10.96.0.1:443');
  t.equal(a.kubeConfig.getContextObject(a.kubeConfig.currentContext)?.namespace, 'logging');

  const b = expectOk(t, loadKubeConfig({ env: { ...inCluster, KUBECONFIG: envFile }, homeDir: home, serviceAccountDir: join(root, 'no-sa') }));
  t.equal(b.source, 'KUBECONFIG', 'no token file: in-cluster skipped');
  t.equal(b.kubeConfig.currentContext, 'from-env');

  const c = expectOk(t, loadKubeConfig({ env: {}, homeDir: home, serviceAccountDir: sa }));
  t.equal(c.source, 'home', 'no service env: in-cluster skipped, no $KUBECONFIG');
  t.equal(c.kubeConfig.currentContext, 'from-home');

  const none = loadKubeConfig({ env: { KUBECONFIG: join(root, 'gone') }, homeDir: join(root, 'empty-home'), serviceAccountDir: sa });
  t.match(none, { ok: false, code: 'kubeconfig_not_found' });
  if (!none.ok) {
    t.same(none.tried, [
      `in-cluster service account (${sa}): KUBERNETES_SERVICE_HOST/KUBERNETES_SERVICE_PORT not set`,
      `$KUBECONFIG ${join(root, 'gone')}: not found`,
      `~/.kube/config ${join(root, 'empty-home', '.kube', 'config')}: not found`,
    ]);
    t.match(none.message, /no Kubernetes credentials found.*tried, in order: in-cluster.*\$KUBECONFIG.*~\/\.kube\/config/);
  }
  const noHome = loadKubeConfig({ env: {}, homeDir: undefined, serviceAccountDir: sa });
  t.same(!noHome.ok && noHome.tried.slice(1), ['$KUBECONFIG: not set', '~/.kube/config: no home directory']);
});

t.test('$KUBECONFIG is a path list: existing files are merged, the first wins, missing ones are skipped', async (t) => {
  const root = tempDir(t);
  const first = join(root, 'first');
  const second = join(root, 'second');
  writeFileSync(first, kubeconfigText({ contexts: ['one'] }));
  writeFileSync(second, kubeconfigText({ contexts: ['one', 'two'], current: 'two', server: 'https://second.example' }));
  const env = { KUBECONFIG: [join(root, 'missing'), first, second].join(':') };
  const r = expectOk(t, loadKubeConfig({ env, homeDir: undefined, serviceAccountDir: join(root, 'no-sa') }));
  t.equal(r.kubeConfig.currentContext, 'one', 'current-context of the first file');
  t.equal(r.kubeConfig.getCurrentCluster()?.server, 'https://one.example:6443', 'the first file wins a name clash');
  const two = expectOk(t, loadKubeConfig({ env, context: 'two', homeDir: undefined, serviceAccountDir: join(root, 'no-sa') }));
  t.equal(two.kubeConfig.getCurrentCluster()?.server, 'https://second.example');
});

t.test('bad files are clear errors that never quote the file', async (t) => {
  const root = tempDir(t);
  const broken = join(root, 'broken');
  writeFileSync(broken, 'users:\n  - name: x\n    user: {token: "super-secret-value"\n  bad: [');
  const r = loadKubeConfig({ kubeconfig: broken, env: {}, homeDir: undefined });
  t.match(r, { ok: false, code: 'kubeconfig_invalid' });
  t.notMatch(JSON.stringify(r), /super-secret-value/);
  t.match(!r.ok && r.message, /is invalid: YAML error/);

  const http = join(root, 'http');
  writeFileSync(http, kubeconfigText({ server: 'http://127.0.0.1:8080' }));
  const plain = loadKubeConfig({ kubeconfig: http, env: {}, homeDir: undefined });
  t.match(plain, { ok: false, code: 'kubeconfig_invalid' });
  t.match(!plain.ok && plain.message, /plain http:\/\/ without insecure-skip-tls-verify/);

  const noCluster = join(root, 'nocluster');
  writeFileSync(noCluster, stringify({ contexts: [{ name: 'x', context: { cluster: 'ghost' } }], 'current-context': 'x' }));
  t.match(loadKubeConfig({ kubeconfig: noCluster, env: {}, homeDir: undefined }), { ok: false, code: 'kubeconfig_invalid', message: /cluster of context "x" is not defined/ });

  const empty = join(root, 'empty');
  writeFileSync(empty, '');
  t.match(loadKubeConfig({ kubeconfig: empty, env: {}, homeDir: undefined }), { ok: false, code: 'kubeconfig_invalid' });
});

t.test('in-cluster details: IPv6 hosts are bracketed; the CA file is used when present', async (t) => {
  const root = tempDir(t);
  const sa = serviceAccountDir(root);
  const v6 = expectOk(t, loadKubeConfig({ env: { KUBERNETES_SERVICE_HOST: 'fd00::1', KUBERNETES_SERVICE_PORT: '443' }, homeDir: undefined, serviceAccountDir: sa }));
  t.equal(v6.kubeConfig.getCurrentCluster()?.server, 'https://[fd00::1]:443');
  t.equal(v6.kubeConfig.getCurrentCluster()?.caFile, undefined);
  writeFileSync(join(sa, 'ca.crt'), 'not used here');
  const withCa = expectOk(t, loadKubeConfig({ env: { KUBERNETES_SERVICE_HOST: '10.0.0.1', KUBERNETES_SERVICE_PORT: '443' }, homeDir: undefined, serviceAccountDir: sa }));
  t.equal(withCa.kubeConfig.getCurrentCluster()?.caFile, join(sa, 'ca.crt'));
});

t.test('token files are re-read on every request (client-node alone caches them for 60 s)', async (t) => {
  const root = tempDir(t);
  const sa = serviceAccountDir(root, 'first-token');

  // What client-node's own in-cluster loader does: the rotated token is not seen.
  const prefix = join(root, 'prefix');
  const saUnderPrefix = join(prefix, 'var/run/secrets/kubernetes.io/serviceaccount');
  mkdirSync(saUnderPrefix, { recursive: true });
  writeFileSync(join(saUnderPrefix, 'token'), 'first-token');
  writeFileSync(join(saUnderPrefix, 'ca.crt'), ''); // client-node reads it on every request
  const theirs = new KubeConfig();
  const saved = { host: process.env.KUBERNETES_SERVICE_HOST, port: process.env.KUBERNETES_SERVICE_PORT };
  process.env.KUBERNETES_SERVICE_HOST = '10.0.0.1';
  process.env.KUBERNETES_SERVICE_PORT = '443';
  try {
    theirs.loadFromCluster(prefix);
  } finally {
    for (const [k, v] of [['KUBERNETES_SERVICE_HOST', saved.host], ['KUBERNETES_SERVICE_PORT', saved.port]] as const) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
  t.equal(await authHeader(theirs), 'Bearer first-token');
  writeFileSync(join(saUnderPrefix, 'token'), 'second-token');
  t.equal(await authHeader(theirs), 'Bearer first-token', 'client-node 2.0.1 keeps the old token (re-read after 60 s only)');

  // Ours: the next request carries the rotated token.
  const ours = expectOk(t, loadKubeConfig({ env: { KUBERNETES_SERVICE_HOST: '10.0.0.1', KUBERNETES_SERVICE_PORT: '443' }, homeDir: undefined, serviceAccountDir: sa }));
  t.equal(await authHeader(ours.kubeConfig), 'Bearer first-token');
  writeFileSync(join(sa, 'token'), 'second-token\n');
  t.equal(await authHeader(ours.kubeConfig), 'Bearer second-token');

  // The same for a kubeconfig user with kubectl's `tokenFile` (or client-node's `token-file`).
  for (const field of ['tokenFile', 'token-file']) {
    const tokenPath = join(root, `${field}.txt`);
    writeFileSync(tokenPath, 'file-one');
    const cfg = join(root, `cfg-${field}`);
    writeFileSync(cfg, kubeconfigText({ user: { [field]: `${field}.txt` } }));
    const fromFile = expectOk(t, loadKubeConfig({ kubeconfig: cfg, env: {}, homeDir: undefined }));
    t.equal(await authHeader(fromFile.kubeConfig), 'Bearer file-one', `${field}: relative to the kubeconfig's directory`);
    writeFileSync(tokenPath, 'file-two');
    t.equal(await authHeader(fromFile.kubeConfig), 'Bearer file-two', `${field}: re-read`);
  }
  const plainToken = expectOk(t, loadKubeConfig({ kubeconfig: (() => { const p = join(root, 'plain'); writeFileSync(p, kubeconfigText()); return p; })(), env: {}, homeDir: undefined }));
  t.equal(await authHeader(plainToken.kubeConfig), 'Bearer token-of-main', 'static tokens untouched');
});

function haveOpenssl(): boolean {
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

t.test('in-cluster end to end: TLS with the service account CA, a rotated token, the real reflectors', { skip: haveOpenssl() ? false : 'openssl not available to make a test certificate' }, async (t) => {
  const root = tempDir(t);
  const sa = serviceAccountDir(root, 'bound-token-1');
  execFileSync('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
    '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1',
    '-keyout', join(root, 'key.pem'), '-out', join(sa, 'ca.crt'),
  ], { stdio: 'ignore' });

  const sim = await startSim(t, { token: 'bound-token-1' });
  // The sim speaks plain HTTP: a TLS terminator in front of it plays the API server's HTTPS.
  const sockets = new Set<Socket>();
  const tls = createTlsServer({ key: readFileSync(join(root, 'key.pem')), cert: readFileSync(join(sa, 'ca.crt')) }, (client) => {
    const upstream = connect(sim.port, '127.0.0.1');
    sockets.add(client).add(upstream);
    client.pipe(upstream).pipe(client);
    const close = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', close).on('close', close);
    upstream.on('error', close).on('close', close);
  });
  await new Promise<void>((resolve) => tls.listen(0, '127.0.0.1', resolve));
  t.teardown(() => {
    for (const s of sockets) s.destroy();
    return new Promise<void>((resolve) => tls.close(() => resolve()));
  });
  const port = (tls.address() as { port: number }).port;

  const loaded = expectOk(t, loadKubeConfig({ env: { KUBERNETES_SERVICE_HOST: '127.0.0.1', KUBERNETES_SERVICE_PORT: String(port) }, homeDir: undefined, serviceAccountDir: sa }));
  t.equal(loaded.source, 'in-cluster');
  sim.create('pods', podFor({ name: 'a', uid: 'ua', nodeName: 'node-a' }));
  const h = startHarness(t, sim, { kubeConfig: loaded.kubeConfig, nodeName: 'node-a', watchNodes: false, watchNamespaces: false });
  await readyWithin(h.reflectors);
  t.ok(h.store.reader().podByUid('ua'), 'listed over TLS with the bound token');
  await sim.waitForWatchCount(1);

  writeFileSync(join(sa, 'token'), 'bound-token-2');
  sim.faults.requireToken('bound-token-2');
  sim.faults.closeWatches();
  sim.create('pods', podFor({ name: 'b', uid: 'ub', nodeName: 'node-a' }));
  await waitFor(() => h.store.reader().podByUid('ub'), 'a pod seen through a watch made with the rotated token');
  t.equal(await metricValue(h.metrics, 'api_errors_total', { code: 'http_401' }), 0, 'the old token was never sent after the rotation');
  t.notMatch(JSON.stringify(h.lines), /bound-token/);
});
