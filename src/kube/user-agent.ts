/**
 * Our name on every request to the API server, so its audit log and API priority and fairness
 * can tell the agent apart (without it, client-node's Watch and our lists send undici's).
 */
import type { KubeConfig } from './client-node.ts';
import { PACKAGE_VERSION } from '../version/index.ts';

const USER_AGENT = `kube-log-enricher/${PACKAGE_VERSION}`;

/** The two KubeConfig methods every request goes through (client-node's Watch uses no other). */
export type RequestConfig = Pick<KubeConfig, 'getCurrentCluster' | 'applySecurityAuthentication'>;

/**
 * The kubeconfig as requests see it: credentials and TLS as configured, plus our User-Agent.
 * client-node's Watch takes no headers, but it sends whatever applySecurityAuthentication sets.
 */
export function withUserAgent(kc: KubeConfig): RequestConfig {
  return {
    getCurrentCluster: () => kc.getCurrentCluster(),
    applySecurityAuthentication: async (context) => {
      await kc.applySecurityAuthentication(context);
      context.setHeaderParam('User-Agent', USER_AGENT);
    },
  };
}
