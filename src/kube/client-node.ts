/**
 * The parts of @kubernetes/client-node this project uses (KubeConfig, Watch, the HTTP request
 * types), loaded without the package's generated API clients and models.
 *
 * Why: the package's KubeConfig module imports `./gen/index.js` for two small functions, and that
 * index loads every generated API class and model of Kubernetes: about 55 MiB of RSS, 20 MiB of
 * heap and a third of a second of start-up, in a DaemonSet whose pods should stay small (the
 * agent's peak RSS target is 200 MiB). A module resolve hook, registered only for this load, hands
 * KubeConfig a module with just those two functions, taken from the same files the index
 * re-exports. Nothing else changes: the same classes, the same code paths. Should a release of the
 * client import more from that index, loading fails at start-up naming the missing export (and
 * test/kube/client-node.test.ts fails first). The same hook hands it lazy-socks.ts for its SOCKS
 * proxy imports (another ~1.8 MiB of heap, for clusters behind a socks5:// proxy only).
 */
import { registerHooks } from 'node:module';
import type * as ConfigModule from '@kubernetes/client-node/dist/config.js';
import type * as HttpModule from '@kubernetes/client-node/dist/gen/http/http.js';
import type * as FetchModule from '@kubernetes/client-node/dist/gen/http/isomorphic-fetch.js';
import type * as WatchModule from '@kubernetes/client-node/dist/watch.js';

const PACKAGE = '@kubernetes/client-node';
/** What KubeConfig's module imports from the generated index, and where each really lives. */
export const GENERATED_IMPORTS_OF_CONFIG: Readonly<Record<string, string>> = {
  createConfiguration: `${PACKAGE}/dist/gen/configuration.js`,
  ServerConfiguration: `${PACKAGE}/dist/gen/servers.js`,
};

const slimIndex =
  'data:text/javascript,' +
  encodeURIComponent(
    Object.entries(GENERATED_IMPORTS_OF_CONFIG)
      .map(([name, module]) => `export { ${name} } from ${JSON.stringify(import.meta.resolve(module))};`)
      .join('\n'),
  );

// This file's own extension: .ts when run from src/ (tests), .js from dist/.
const lazySocks = new URL(`./lazy-socks${import.meta.url.slice(import.meta.url.lastIndexOf('.'))}`, import.meta.url).href;
/** What KubeConfig's module imports, handed something lighter instead. */
export const REPLACED_IMPORTS_OF_CONFIG: Readonly<Record<string, string>> = {
  './gen/index.js': slimIndex,
  'socks-proxy-agent': lazySocks,
  socks: lazySocks,
};

const hooks = registerHooks({
  resolve(specifier, context, nextResolve) {
    const replacement = REPLACED_IMPORTS_OF_CONFIG[specifier];
    if (replacement !== undefined && context.parentURL?.endsWith(`/${PACKAGE}/dist/config.js`)) return { url: replacement, shortCircuit: true };
    return nextResolve(specifier, context);
  },
});
let modules: [typeof ConfigModule, typeof WatchModule, typeof HttpModule, typeof FetchModule];
try {
  modules = await Promise.all([
    import(`${PACKAGE}/dist/config.js`) as Promise<typeof ConfigModule>,
    import(`${PACKAGE}/dist/watch.js`) as Promise<typeof WatchModule>,
    import(`${PACKAGE}/dist/gen/http/http.js`) as Promise<typeof HttpModule>,
    import(`${PACKAGE}/dist/gen/http/isomorphic-fetch.js`) as Promise<typeof FetchModule>,
  ]);
} finally {
  hooks.deregister();
}
const [config, watch, http, fetchLibrary] = modules;

export const KubeConfig = config.KubeConfig;
export type KubeConfig = ConfigModule.KubeConfig;
export const Watch = watch.Watch;
export type Watch = WatchModule.Watch;
export const HttpMethod = http.HttpMethod;
export type HttpMethod = HttpModule.HttpMethod;
export const RequestContext = http.RequestContext;
export type RequestContext = HttpModule.RequestContext;
export type ResponseContext = HttpModule.ResponseContext;
export const IsomorphicFetchHttpLibrary = fetchLibrary.IsomorphicFetchHttpLibrary;
export type IsomorphicFetchHttpLibrary = FetchModule.IsomorphicFetchHttpLibrary;
