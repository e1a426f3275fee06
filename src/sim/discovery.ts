/** The API server's discovery and health routes: /version, /api, /api/v1, /apis, /healthz... */
import type { Reply } from './reply.ts';
import { objectKindOf, type InfoRoute } from './routes.ts';
import { CLUSTER_SCOPED } from './store.ts';

export function serveDiscovery(reply: Reply, route: InfoRoute, port: number): void {
  switch (route.type) {
    case 'version':
      return reply.json(200, {
        major: '1', minor: '33', emulationMajor: '1', emulationMinor: '33', minCompatibilityMajor: '1', minCompatibilityMinor: '32',
        gitVersion: 'v1.33.2', gitCommit: '0000000000000000000000000000000000000000', gitTreeState: 'clean',
        buildDate: '2025-06-17T18:36:30Z', goVersion: 'go1.24.4', compiler: 'gc', platform: 'linux/amd64',
      });
    case 'api':
      return reply.json(200, {
        kind: 'APIVersions', versions: ['v1'],
        serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress: `127.0.0.1:${port}` }],
      });
    case 'apiV1':
      return reply.json(200, {
        kind: 'APIResourceList', groupVersion: 'v1',
        resources: (['namespaces', 'nodes', 'pods'] as const).map((kind) => ({
          name: kind, singularName: objectKindOf(kind).toLowerCase(), namespaced: !CLUSTER_SCOPED.has(kind), kind: objectKindOf(kind),
          verbs: ['get', 'list', 'watch'], shortNames: kind === 'pods' ? ['po'] : kind === 'namespaces' ? ['ns'] : ['no'],
        })),
      });
    case 'apis':
      return reply.json(200, { kind: 'APIGroupList', apiVersion: 'v1', groups: [] });
    default:
      return reply.ok();
  }
}
