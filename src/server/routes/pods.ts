/**
 * GET /v1/pods: the pods the store holds, live and retained (deleted, still enriching late lines),
 * with the time left before a retained one is forgotten. The page's store panel polls it; its
 * filters are /v1/stream's, so the page also uses it to check a filter before subscribing.
 */
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { labelSelectorMatches } from '../../selectors/index.ts';
import type { PodMeta, StoreEntry, StoreReader } from '../../store/types.ts';
import { errorResponse } from '../errors.ts';
import { StreamQuerySchema } from './stream.ts';

export interface PodsRoutesDeps {
  store: StoreReader;
  /** Epoch ms; tests move it by hand. */
  now: () => number;
}

/** More pods than a node runs (110 by default, 250 at most in practice): the answer stays small. */
const MAX_PODS = 1000;

const PodsQuerySchema = z.object({
  namespace: StreamQuerySchema.shape.namespace.describe('Only pods of this namespace (exact match).'),
  labelSelector: StreamQuerySchema.shape.labelSelector.describe('Only pods whose labels match, in the syntax /v1/stream takes.'),
  state: z.enum(['live', 'retained']).optional().describe('Only live pods, or only retained ones (deleted from the API server, kept for late lines).'),
});

const PodRowSchema = z.object({
  namespace: z.string(),
  name: z.string(),
  uid: z.string(),
  state: z.enum(['live', 'retained']),
  nodeName: z.string().nullable(),
  labels: z.record(z.string(), z.string()),
  containers: z.array(z.string()).describe('Container names, init containers included.'),
  deletedAt: z.iso.datetime().nullable().describe('When the API server reported the deletion.'),
  retainedUntil: z.iso.datetime().nullable().describe('When a retained pod is forgotten (deletedAt + kubernetes.deletionDelay).'),
  secondsLeft: z.number().nullable().describe("Seconds until a retained pod is forgotten, by the service's clock (a countdown needs no clock agreement)."),
});

const PodsAnswerSchema = z.object({
  now: z.iso.datetime().describe("The service's clock when it answered."),
  live: z.number().int().describe('Live pods matching the filters.'),
  retained: z.number().int().describe('Retained pods matching the filters.'),
  truncated: z.boolean().describe(`More than ${MAX_PODS} pods matched: the first ${MAX_PODS} by namespace and name are listed.`),
  pods: z.array(PodRowSchema).describe('Sorted by namespace, then name.'),
});

type PodRow = z.output<typeof PodRowSchema>;

function iso(epochMs: number | undefined): string | null {
  return epochMs === undefined ? null : new Date(epochMs).toISOString();
}

function podRow(entry: StoreEntry<PodMeta>, now: number): PodRow {
  const pod = entry.object;
  return {
    namespace: pod.namespace,
    name: pod.name,
    uid: pod.uid,
    state: entry.deletedAt === undefined ? 'live' : 'retained',
    nodeName: pod.nodeName ?? null,
    labels: { ...pod.labels },
    containers: pod.containers.map((c) => c.name),
    deletedAt: iso(entry.deletedAt),
    retainedUntil: iso(entry.expiresAt),
    secondsLeft: entry.expiresAt === undefined ? null : Math.max(0, (entry.expiresAt - now) / 1000),
  };
}

export function podsRoutes(deps: PodsRoutesDeps): FastifyPluginAsyncZod {
  const { store, now } = deps;
  return async (app) => {
    app.route({
      method: 'GET',
      url: '/v1/pods',
      schema: {
        tags: ['enrichment'],
        summary: "The store's pods, live and retained",
        description:
          'Every pod the store holds for enrichment: live ones and retained ones (deleted from the API server, still enriching the ' +
          'lines read after the deletion until `kubernetes.deletionDelay` has passed), with the seconds left before a retained pod is forgotten.',
        querystring: PodsQuerySchema,
        response: {
          200: PodsAnswerSchema,
          400: errorResponse('A bad filter: a label selector that does not parse, an empty or too long namespace, an unknown state.'),
          401: errorResponse('Missing or wrong bearer token.'),
        },
      },
      handler: async (request) => {
        const { namespace, labelSelector, state } = request.query;
        const at = now();
        const rows: PodRow[] = [];
        for (const entry of store.pods()) {
          const pod = entry.object;
          if (namespace !== undefined && pod.namespace !== namespace) continue;
          if (state !== undefined && (entry.deletedAt === undefined ? 'live' : 'retained') !== state) continue;
          if (labelSelector !== undefined && !labelSelectorMatches(labelSelector, pod.labels)) continue;
          rows.push(podRow(entry, at));
        }
        rows.sort((a, b) => (a.namespace === b.namespace ? (a.name < b.name ? -1 : a.name > b.name ? 1 : 0) : a.namespace < b.namespace ? -1 : 1));
        const live = rows.reduce((n, r) => n + (r.state === 'live' ? 1 : 0), 0);
        return { now: new Date(at).toISOString(), live, retained: rows.length - live, truncated: rows.length > MAX_PODS, pods: rows.slice(0, MAX_PODS) };
      },
    });
  };
}
