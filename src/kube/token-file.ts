/**
 * Bearer tokens read from a file on every request.
 *
 * Why: in-cluster tokens are bound service-account tokens that the kubelet rotates (by default
 * it rewrites the projected file at 80% of a one-hour lifetime). client-node 2.0.1's in-cluster
 * loader uses its FileAuth, which caches the token and re-reads the file at most once every 60 s
 * (and a kubeconfig's `token-file` is read once, at load time; kubectl's `tokenFile` is ignored).
 * Requests here are few (a list page, a watch (re)start), so reading the small file each time
 * costs nothing and the newest token is always the one sent.
 */
import type { KubeConfig, User } from '@kubernetes/client-node';
import { readTokenFileAsync } from '../config/token-file.ts';
import { KubeApiError } from './errors.ts';

/** The authProvider name our users carry; client-node's own authenticators do not claim it. */
const TOKEN_FILE_PROVIDER = 'kube-log-enricher/token-file';

/** A kubeconfig user whose token comes from `path`, re-read on every request. */
export function tokenFileUser(name: string, path: string): User {
  return { name, authProvider: { name: TOKEN_FILE_PROVIDER, config: { path } } };
}

/** client-node's Authenticator interface is not exported by the package: take it from addAuthenticator. */
type Authenticator = Parameters<KubeConfig['addAuthenticator']>[0];

export const tokenFileAuthenticator: Authenticator = {
  isAuthProvider(user: User): boolean {
    return (user.authProvider as { name?: unknown } | undefined)?.name === TOKEN_FILE_PROVIDER;
  },
  async applyAuthentication(user, opts): Promise<void> {
    const path = (user.authProvider as { config: { path: string } }).config.path;
    const read = await readTokenFileAsync(path);
    if (!read.ok) throw new KubeApiError({ code: 'auth_config', status: undefined, message: read.message });
    const target = opts as { headers?: Record<string, string> };
    target.headers ??= {};
    target.headers.Authorization = `Bearer ${read.token}`;
  },
};
