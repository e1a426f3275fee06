/** Maps request paths of the core v1 API onto the simulated kinds (pure). */
import type { SimKind } from './types.ts';

export type Verb = 'list' | 'watch' | 'get';

export interface ResourceRoute {
  type: 'resource';
  kind: SimKind;
  /** Set for a namespaced collection or object path. */
  namespace: string | undefined;
  /** Set for a single-object path. */
  name: string | undefined;
  /** The deprecated `/api/v1/watch/...` form: a watch whatever the query says. */
  watchPath: boolean;
}

export interface InfoRoute {
  type: 'version' | 'api' | 'apiV1' | 'apis' | 'health';
}

export type Route = ResourceRoute | InfoRoute;

function resource(kind: SimKind, namespace: string | undefined, name: string | undefined, watchPath: boolean): ResourceRoute {
  return { type: 'resource', kind, namespace, name, watchPath };
}

/** Undefined for a path the simulated server does not serve (404). */
export function routeFor(pathname: string): Route | undefined {
  switch (pathname) {
    case '/version':
    case '/version/':
      return { type: 'version' };
    case '/api':
    case '/api/':
      return { type: 'api' };
    case '/api/v1':
    case '/api/v1/':
      return { type: 'apiV1' };
    case '/apis':
    case '/apis/':
      return { type: 'apis' };
    case '/healthz':
    case '/livez':
    case '/readyz':
      return { type: 'health' };
  }
  if (!pathname.startsWith('/api/v1/')) return undefined;
  let segments: string[];
  try {
    segments = pathname.slice('/api/v1/'.length).split('/').map(decodeURIComponent);
  } catch {
    return undefined;
  }
  if (segments[segments.length - 1] === '') segments.pop();
  let watchPath = false;
  if (segments[0] === 'watch') {
    watchPath = true;
    segments.shift();
  }
  if (segments.some((s) => s === '')) return undefined;
  const [a, b, c, d] = segments;
  switch (segments.length) {
    case 1:
      if (a === 'pods' || a === 'namespaces' || a === 'nodes') return resource(a, undefined, undefined, watchPath);
      return undefined;
    case 2:
      if (a === 'namespaces') return resource('namespaces', undefined, b, watchPath);
      if (a === 'nodes') return resource('nodes', undefined, b, watchPath);
      return undefined;
    case 3:
      if (a === 'namespaces' && c === 'pods') return resource('pods', b, undefined, watchPath);
      return undefined;
    case 4:
      if (a === 'namespaces' && c === 'pods') return resource('pods', b, d, watchPath);
      return undefined;
    default:
      return undefined;
  }
}

export function listKindOf(kind: SimKind): string {
  return kind === 'pods' ? 'PodList' : kind === 'namespaces' ? 'NamespaceList' : 'NodeList';
}

export function objectKindOf(kind: SimKind): string {
  return kind === 'pods' ? 'Pod' : kind === 'namespaces' ? 'Namespace' : 'Node';
}

/**
 * An object's JSON with kind and apiVersion first, as `get` and watch events carry them (stored
 * objects have neither). Built from the cached text: no new serialisation per reader.
 */
export function withKindJson(kind: SimKind, objectJson: string): string {
  const head = `{"kind":"${objectKindOf(kind)}","apiVersion":"v1"`;
  return objectJson === '{}' ? `${head}}` : `${head},${objectJson.slice(1)}`;
}
