/**
 * Where the credentials come from, in this order (docs/configuration.md, `kubernetes.kubeconfig`):
 *   1. an explicit kubeconfig path (then nothing else is tried),
 *   2. the in-cluster service account (KUBERNETES_SERVICE_HOST/PORT and the token file),
 *   3. $KUBECONFIG (a path list; existing files are merged, the first one wins on conflicts),
 *   4. ~/.kube/config.
 * The result is a client-node KubeConfig or an error value naming every place tried. Token files
 * (in-cluster, or a kubeconfig user's `tokenFile`/`token-file`) are re-read on every request,
 * see token-file.ts. Error messages never quote file contents: a kubeconfig holds secrets.
 */
import { readFileSync, statSync } from 'node:fs';
import { isIPv6 } from 'node:net';
import { delimiter, dirname, join, resolve } from 'node:path';
import type { Cluster, Context, User } from '@kubernetes/client-node';
import { parse as parseYaml } from 'yaml';
import { KubeConfig } from './client-node.ts';
import { tokenFileAuthenticator, tokenFileUser } from './token-file.ts';

const DEFAULT_SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

export interface LoadKubeConfigOptions {
  /** An explicit kubeconfig path: when set, it is the only place tried. */
  kubeconfig?: string | undefined;
  /** A context of the kubeconfig file to use instead of its current-context (files only). */
  context?: string | undefined;
  env: Readonly<Record<string, string | undefined>>;
  homeDir: string | undefined;
  serviceAccountDir?: string;
}

export type KubeConfigSource = 'explicit' | 'in-cluster' | 'KUBECONFIG' | 'home';

export interface LoadedKubeConfig {
  ok: true;
  kubeConfig: KubeConfig;
  source: KubeConfigSource;
  /** For a start-up log line: where it came from and which server (no secrets). */
  description: string;
}

export interface KubeConfigLoadError {
  ok: false;
  code: 'kubeconfig_not_found' | 'kubeconfig_invalid' | 'context_not_found';
  message: string;
  /** Every place looked at, in order, with what was found there. */
  tried: string[];
}

export type KubeConfigResult = LoadedKubeConfig | KubeConfigLoadError;

type FileOutcome = { kind: 'missing'; why: string } | { kind: 'invalid'; why: string } | { kind: 'loaded'; kc: KubeConfig };

function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

/** A YAML error's kind and position, never the snippet of the file it quotes. */
function yamlProblem(err: unknown): string {
  const e = err as { reason?: unknown; mark?: { line?: number }; code?: unknown; linePos?: { line: number }[]; message?: unknown };
  if (Array.isArray(e.linePos)) return `YAML error: ${String(e.code)} at line ${e.linePos[0]?.line ?? '?'}`;
  if (typeof e.reason === 'string') return `YAML error: ${e.reason} at line ${(e.mark?.line ?? 0) + 1}`;
  if (typeof e.code === 'string' && /^E[A-Z]+$/.test(e.code)) return `cannot read (${e.code})`;
  const first = typeof e.message === 'string' ? e.message.split('\n')[0]! : String(err);
  return first.length > 200 ? `${first.slice(0, 200)}...` : first;
}

/**
 * Users whose token lives in a file (kubectl's `tokenFile`, client-node's `token-file`) get the
 * re-reading authenticator instead of a token frozen at load time. Rewritten before client-node
 * sees the file: it would read `token-file` once, relative to the working directory.
 */
function withTokenFiles(raw: Record<string, unknown>, baseDir: string): void {
  const users = raw.users;
  if (!Array.isArray(users)) return;
  for (const entry of users as { user?: Record<string, unknown> }[]) {
    const user = entry?.user;
    if (typeof user !== 'object' || user === null) continue;
    const file = user.tokenFile ?? user['token-file'];
    if (typeof file !== 'string' || file === '' || user.token !== undefined) continue;
    delete user.tokenFile;
    delete user['token-file'];
    user['auth-provider'] = tokenFileUser('', resolve(baseDir, file)).authProvider;
  }
}

function loadFile(path: string): FileOutcome {
  if (!isFile(path)) return { kind: 'missing', why: 'not found' };
  let raw: unknown;
  try {
    raw = parseYaml(readFileSync(path, 'utf8'));
  } catch (err) {
    return { kind: 'invalid', why: yamlProblem(err) };
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return { kind: 'invalid', why: 'not a kubeconfig (empty, or not a YAML mapping)' };
  withTokenFiles(raw as Record<string, unknown>, dirname(path));
  const kc = new KubeConfig();
  try {
    kc.loadFromString(JSON.stringify(raw)); // JSON is YAML: no second YAML rendering needed
    kc.makePathsAbsolute(dirname(path));
  } catch (err) {
    return { kind: 'invalid', why: yamlProblem(err) };
  }
  return { kind: 'loaded', kc };
}

/** kubectl's merge rule: the first file to define a name wins. */
function mergeInto(target: KubeConfig, other: KubeConfig): void {
  const add = <T extends { name: string }>(into: T[], from: readonly T[]) => {
    for (const item of from) if (!into.some((x) => x.name === item.name)) into.push(item);
  };
  add<Cluster>(target.clusters, other.clusters);
  add<User>(target.users, other.users);
  add<Context>(target.contexts, other.contexts);
  if (!target.currentContext) target.currentContext = other.currentContext;
}

/** Checks that the config can make requests; returns a problem or undefined. */
function usable(kc: KubeConfig, context: string | undefined): { code: KubeConfigLoadError['code']; why: string } | undefined {
  if (context !== undefined) {
    if (kc.getContextObject(context) === null) {
      const names = kc.contexts.map((c) => c.name);
      return { code: 'context_not_found', why: `context "${context}" not found (available: ${names.length > 0 ? names.join(', ') : 'none'})` };
    }
    kc.setCurrentContext(context);
  }
  if (!kc.currentContext) return { code: 'kubeconfig_invalid', why: 'no current-context set (pass a context)' };
  if (kc.getContextObject(kc.currentContext) === null) return { code: 'kubeconfig_invalid', why: `current-context "${kc.currentContext}" is not defined` };
  const cluster = kc.getCurrentCluster();
  if (cluster === null) return { code: 'kubeconfig_invalid', why: `the cluster of context "${kc.currentContext}" is not defined` };
  if (cluster.server.startsWith('http:') && !cluster.skipTLSVerify) {
    return { code: 'kubeconfig_invalid', why: `cluster "${cluster.name}" uses plain http:// without insecure-skip-tls-verify: true, which client-node refuses` };
  }
  return undefined;
}

function loaded(kc: KubeConfig, source: KubeConfigSource, where: string): LoadedKubeConfig {
  kc.addAuthenticator(tokenFileAuthenticator);
  return { ok: true, kubeConfig: kc, source, description: `${where}, context "${kc.currentContext}", server ${kc.getCurrentCluster()!.server}` };
}

function inCluster(env: LoadKubeConfigOptions['env'], dir: string): { kc: KubeConfig } | { why: string } {
  const host = env.KUBERNETES_SERVICE_HOST;
  const port = env.KUBERNETES_SERVICE_PORT;
  if (!host || !port) return { why: 'KUBERNETES_SERVICE_HOST/KUBERNETES_SERVICE_PORT not set' };
  const tokenPath = join(dir, 'token');
  if (!isFile(tokenPath)) return { why: `token file ${tokenPath} not found` };
  const caPath = join(dir, 'ca.crt');
  const server = `https://${isIPv6(host) ? `[${host}]` : host}:${port}`;
  let namespace: string | undefined;
  try {
    namespace = readFileSync(join(dir, 'namespace'), 'utf8').trim() || undefined;
  } catch {
    namespace = undefined;
  }
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'in-cluster', server, skipTLSVerify: false, ...(isFile(caPath) ? { caFile: caPath } : {}) }],
    users: [tokenFileUser('in-cluster', tokenPath)],
    contexts: [{ name: 'in-cluster', cluster: 'in-cluster', user: 'in-cluster', namespace }],
    currentContext: 'in-cluster',
  });
  return { kc };
}

export function loadKubeConfig(options: LoadKubeConfigOptions): KubeConfigResult {
  const tried: string[] = [];
  const fail = (code: KubeConfigLoadError['code'], message: string): KubeConfigLoadError => ({
    ok: false,
    code,
    message: `${message}; tried, in order: ${tried.join('; ')}`,
    tried,
  });
  const fromFile = (path: string, source: KubeConfigSource, label: string): KubeConfigResult | undefined => {
    const outcome = loadFile(path);
    if (outcome.kind === 'missing') {
      tried.push(`${label} ${path}: ${outcome.why}`);
      return undefined;
    }
    if (outcome.kind === 'invalid') {
      tried.push(`${label} ${path}: ${outcome.why}`);
      return fail('kubeconfig_invalid', `kubeconfig ${path} is invalid: ${outcome.why}`);
    }
    const problem = usable(outcome.kc, options.context);
    tried.push(`${label} ${path}: ${problem === undefined ? 'loaded' : problem.why}`);
    if (problem !== undefined) return fail(problem.code, `kubeconfig ${path}: ${problem.why}`);
    return loaded(outcome.kc, source, `${label} ${path}`);
  };

  // 1. Explicit path: the user said where, so nothing else is tried.
  if (options.kubeconfig !== undefined && options.kubeconfig !== '') {
    const path = resolve(options.kubeconfig);
    return fromFile(path, 'explicit', 'kubeconfig') ?? fail('kubeconfig_not_found', `kubeconfig ${path} not found`);
  }

  // 2. In-cluster service account.
  const dir = options.serviceAccountDir ?? DEFAULT_SERVICE_ACCOUNT_DIR;
  const cluster = inCluster(options.env, dir);
  if ('kc' in cluster) {
    tried.push(`in-cluster service account (${dir}): loaded`);
    return loaded(cluster.kc, 'in-cluster', `in-cluster service account ${dir}`);
  }
  tried.push(`in-cluster service account (${dir}): ${cluster.why}`);

  // 3. $KUBECONFIG, a path list like kubectl's.
  const list = (options.env.KUBECONFIG ?? '').split(delimiter).filter((p) => p !== '');
  if (list.length === 0) tried.push('$KUBECONFIG: not set');
  else {
    let merged: KubeConfig | undefined;
    const names: string[] = [];
    for (const p of list) {
      const path = resolve(p);
      const outcome = loadFile(path);
      if (outcome.kind === 'missing') {
        tried.push(`$KUBECONFIG ${path}: not found`);
        continue;
      }
      if (outcome.kind === 'invalid') {
        tried.push(`$KUBECONFIG ${path}: ${outcome.why}`);
        return fail('kubeconfig_invalid', `kubeconfig ${path} (from $KUBECONFIG) is invalid: ${outcome.why}`);
      }
      tried.push(`$KUBECONFIG ${path}: loaded`);
      names.push(path);
      if (merged === undefined) merged = outcome.kc;
      else mergeInto(merged, outcome.kc);
    }
    if (merged !== undefined) {
      const problem = usable(merged, options.context);
      if (problem !== undefined) return fail(problem.code, `$KUBECONFIG (${names.join(delimiter)}): ${problem.why}`);
      return loaded(merged, 'KUBECONFIG', `$KUBECONFIG ${names.join(delimiter)}`);
    }
  }

  // 4. ~/.kube/config
  if (options.homeDir === undefined || options.homeDir === '') tried.push('~/.kube/config: no home directory');
  else {
    const result = fromFile(join(options.homeDir, '.kube', 'config'), 'home', '~/.kube/config');
    if (result !== undefined) return result;
  }
  return fail('kubeconfig_not_found', 'no Kubernetes credentials found (set kubernetes.kubeconfig, run in a pod with a service account, or set $KUBECONFIG)');
}

export interface KubeletConnection {
  /** The kubelet's base URL, e.g. https://10.0.0.5:10250. */
  url: string;
  /** Bearer token file, re-read on every request (it rotates). */
  tokenFile: string;
  /** CA bundle the kubelet's serving certificate is checked against; unset: the system's. */
  caFile?: string | undefined;
  insecureSkipTlsVerify: boolean;
}

/**
 * A kubeconfig whose cluster is a kubelet: requests to it go through the same transport as those
 * to the API server (TLS, the token-file authenticator, our User-Agent). Plain http:// needs
 * insecureSkipTlsVerify, as client-node requires (the configuration checks it first).
 */
export function kubeletKubeConfig(c: KubeletConnection): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'kubelet', server: c.url, skipTLSVerify: c.insecureSkipTlsVerify, ...(c.caFile === undefined ? {} : { caFile: c.caFile }) }],
    users: [tokenFileUser('kubelet', c.tokenFile)],
    contexts: [{ name: 'kubelet', cluster: 'kubelet', user: 'kubelet' }],
    currentContext: 'kubelet',
  });
  kc.addAuthenticator(tokenFileAuthenticator);
  return kc;
}
