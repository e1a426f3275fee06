/** Request duration per route pattern (never the raw URL: bounded label values), method and status. */
import type { FastifyInstance } from 'fastify';
import type { Metrics } from '../metrics/index.ts';

/** The route label of requests that matched no route. */
export const UNMATCHED_ROUTE = 'unmatched';

export function installHttpMetrics(app: FastifyInstance, metrics: Metrics): void {
  app.addHook('onResponse', (request, reply, done) => {
    const route = request.is404 ? UNMATCHED_ROUTE : (request.routeOptions.url ?? UNMATCHED_ROUTE);
    metrics.httpDuration.observe({ route, method: request.method, status_code: String(reply.statusCode) }, reply.elapsedTime / 1000);
    done();
  });
}
