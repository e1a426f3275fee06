/** Probes, Prometheus metrics and the OpenAPI document. */
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { ReadinessSource } from '../../kube/types.ts';
import type { Metrics } from '../../metrics/index.ts';
import { ApiError, errorResponse } from '../errors.ts';
import { OPENAPI_ROUTE } from '../openapi.ts';

export interface OperationsRoutesDeps {
  readiness: ReadinessSource;
  metrics: Metrics;
}

const ReflectorSchema = z.object({
  kind: z.enum(['pods', 'namespaces', 'nodes']),
  synced: z.boolean().describe('The initial list completed. Until then an event whose object of this kind is not in the store yet says so (`pending_metadata`).'),
  lastError: z.string().nullable(),
  lastEventAgeSeconds: z
    .number()
    .nullable()
    .describe('Seconds since the store was last brought up to date for this kind (a completed list, a watch event or bookmark): how stale it may be. As `kube_log_enricher_reflector_last_event_age_seconds`.'),
  lastContactAgeSeconds: z
    .number()
    .nullable()
    .describe('Seconds since the API server last answered this reflector (a list page, a watch accepted, a line on a watch). As `kube_log_enricher_reflector_last_contact_age_seconds`.'),
});

const ReadyAnswerSchema = z.object({
  status: z.literal('ready'),
  reflectors: z.array(ReflectorSchema).describe('One per watched kind: pods, and namespaces and nodes unless their watches are turned off.'),
});
const HealthAnswerSchema = z.object({ status: z.literal('ok') });

export function operationsRoutes(deps: OperationsRoutesDeps): FastifyPluginAsyncZod {
  const { readiness, metrics } = deps;
  return async (app) => {
    app.route({
      method: 'GET',
      url: '/healthz',
      schema: {
        tags: ['operations'],
        summary: 'Liveness: the process is up',
        security: [],
        response: { 200: HealthAnswerSchema },
      },
      handler: async () => ({ status: 'ok' as const }),
    });

    app.route({
      method: 'GET',
      url: '/readyz',
      schema: {
        tags: ['operations'],
        summary: 'Readiness: the initial list of every watched resource has synced',
        description:
          'Ready (200) once pods, namespaces and nodes (those watched) have each completed their initial list; the answer says, per ' +
          'reflector, how long ago its store was last brought up to date and how long ago the API server last answered it. Not ready ' +
          '(503): one detail per reflector not synced yet, with its last error.',
        security: [],
        response: {
          200: ReadyAnswerSchema,
          503: errorResponse('Not ready; one detail per reflector not synced yet, with its last error.'),
        },
      },
      handler: async () => {
        const statuses = readiness.status();
        const waiting = statuses.filter((s) => !s.synced);
        if (waiting.length > 0) {
          throw new ApiError(
            503,
            'not_ready',
            'not ready',
            waiting.map((s) => ({ kind: s.kind, message: s.lastError === undefined ? `${s.kind}: initial list not complete yet` : `${s.kind}: ${s.lastError}` })),
          );
        }
        return {
          status: 'ready' as const,
          reflectors: statuses.map((s) => ({
            kind: s.kind,
            synced: s.synced,
            lastError: s.lastError ?? null,
            lastEventAgeSeconds: s.lastEventAgeSeconds ?? null,
            lastContactAgeSeconds: s.lastContactAgeSeconds ?? null,
          })),
        };
      },
    });

    app.route({
      method: 'GET',
      url: '/metrics',
      schema: {
        tags: ['operations'],
        summary: 'Prometheus metrics (text exposition format)',
        produces: ['text/plain'],
        response: { 200: z.string().describe('Prometheus text exposition format 0.0.4.') },
      },
      handler: async (_request, reply) => {
        const text = await metrics.registry.metrics();
        return reply.type(metrics.registry.contentType).send(text);
      },
    });

    app.route({
      method: 'GET',
      url: OPENAPI_ROUTE,
      schema: {
        tags: ['operations'],
        summary: 'This OpenAPI 3.1 document (equal to openapi/openapi.json in the repository)',
        response: { 200: z.record(z.string(), z.unknown()).describe('An OpenAPI 3.1 document.') },
      },
      handler: async () => app.swagger() as unknown as Record<string, unknown>,
    });
  };
}
