/** A kubeconfig pointing at the simulated API server (plain http needs insecure-skip-tls-verify). */
import { stringify } from 'yaml';

export interface KubeconfigOptions {
  /** Bearer token for the user entry; defaults to the token the server requires, if any. */
  token?: string | undefined;
  /** Default namespace of the context. */
  namespace?: string;
}

export function kubeconfigYaml(server: string, options: KubeconfigOptions = {}): string {
  const user: Record<string, string> = {};
  if (options.token !== undefined) user.token = options.token;
  const context: Record<string, string> = { cluster: 'sim', user: 'sim-user' };
  if (options.namespace !== undefined) context.namespace = options.namespace;
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'sim', cluster: { server, 'insecure-skip-tls-verify': true } }],
    users: [{ name: 'sim-user', user }],
    contexts: [{ name: 'sim', context }],
    'current-context': 'sim',
    preferences: {},
  });
}
