import type { Metrics } from '../metrics/index.ts';
import type { RawEventFields } from '../protocol/index.ts';
import type { SourceLogger } from '../source/index.ts';

export interface RemoteStageOptions {
  /** Base URL of the enrichment service, e.g. http://127.0.0.1:8080 */
  service: string | URL;
  /** Bearer token (server.authToken of the service). Never logged. */
  token?: string | undefined;
  fields?: RawEventFields;
  /** True: the source joined multi-line records itself; the service is asked not to join them again (NO_JOIN_QUERY). */
  joined?: boolean;
  timeoutMs?: number;
  metrics?: Metrics;
  logger?: SourceLogger;
}

/** `route` (no leading slash, may carry a query) under the service's base URL, whether or not that ends in a slash. */
export function serviceUrl(service: string | URL, route: string): URL {
  const base = new URL(service);
  return new URL(route.replace(/^\//, ''), base.href.endsWith('/') ? base : new URL(`${base.href}/`));
}
