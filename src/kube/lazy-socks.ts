/**
 * What @kubernetes/client-node's KubeConfig module imports from `socks-proxy-agent` and `socks`,
 * loaded on first use instead of at start-up (see client-node.ts, which hands KubeConfig this
 * module in their place). They serve only a cluster reached through a `socks5://` proxy-url;
 * loaded eagerly they cost ~1.8 MiB of heap (with ip-address and smart-buffer) in every agent of
 * every node. The real classes are returned, so a SOCKS user gets exactly the client's behaviour.
 */
import { createRequire } from 'node:module';
import type * as SocksModule from 'socks';
import type * as SocksProxyAgentModule from 'socks-proxy-agent';

// Resolved from KubeConfig's own module, as its imports would be.
const load = createRequire(import.meta.resolve('@kubernetes/client-node/dist/config.js'));
let agentModule: typeof SocksProxyAgentModule | undefined;
let socksModule: typeof SocksModule | undefined;

/** `new SocksProxyAgent(...)` builds the real one (a constructor may return another object). */
export const SocksProxyAgent = function SocksProxyAgent(...args: ConstructorParameters<typeof SocksProxyAgentModule.SocksProxyAgent>) {
  agentModule ??= load('socks-proxy-agent') as typeof SocksProxyAgentModule;
  return new agentModule.SocksProxyAgent(...args);
} as unknown as typeof SocksProxyAgentModule.SocksProxyAgent;

/** KubeConfig calls only the static SocksClient.createConnection. */
export const SocksClient = {
  createConnection(...args: Parameters<typeof SocksModule.SocksClient.createConnection>): ReturnType<typeof SocksModule.SocksClient.createConnection> {
    socksModule ??= load('socks') as typeof SocksModule;
    return socksModule.SocksClient.createConnection(...args);
  },
};
