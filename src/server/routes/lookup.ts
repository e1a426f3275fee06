/**
 * GET /v1/lookup?file=PATH: what the service knows for a log path, for debugging a shipper's
 * setup: the identity parsed from the path, the pod (live, or deleted and retained until when),
 * its namespace and node, and what is not known yet because a reflector has not synced.
 */
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Enricher } from '../../enrich/index.ts';
import type { PodLogIdentity } from '../../paths/types.ts';
import type { NamespaceMeta, NodeMeta, PodMeta, StoreEntry, StoreReader } from '../../store/types.ts';
import { errorResponse } from '../errors.ts';

export interface LookupRoutesDeps {
  enricher: Enricher;
  store: StoreReader;
}

// --- Schemas -----------------------------------------------------------------------------------

const LabelsSchema = z.record(z.string(), z.string());

const IdentitySchema = z
  .object({
    layout: z.enum(['pods', 'containers']).describe('/var/log/pods/<ns>_<pod>_<uid>/<container>/<n>.log or /var/log/containers/<pod>_<ns>_<container>-<id>.log'),
    namespace: z.string(),
    podName: z.string(),
    podUid: z.string().nullable().describe("The pod's API uid, or for a static pod the kubelet's config hash."),
    containerName: z.string(),
    restartCount: z.number().int().nullable(),
    containerId: z.string().nullable().describe('64-hex runtime id (containers layout only).'),
    rotated: z.boolean(),
    compressed: z.boolean(),
  })
  .describe('Who wrote the file, as far as its path tells.');

const LifecycleShape = {
  state: z.enum(['live', 'retained']).describe('retained: deleted from the API server, still used to enrich late lines.'),
  deletedAt: z.iso.datetime().nullable().describe('When the API server reported the deletion.'),
  retainedUntil: z.iso.datetime().nullable().describe('When a retained object is forgotten (deletedAt + kubernetes.deletionDelay, later while it is still needed; see keptBy).'),
  keptBy: z
    .enum(['unread_files', 'recent_lookups'])
    .nullable()
    .describe('Why a retained pod is kept past deletedAt + kubernetes.deletionDelay: unread_files (its log files still had data to read), recent_lookups (events still asked for it); at most kubernetes.maxRetention after its deletion. Null otherwise.'),
};

const PodSchema = z.object({
  ...LifecycleShape,
  metadata: z.object({
    uid: z.string(),
    name: z.string(),
    namespace: z.string(),
    resourceVersion: z.string(),
    labels: LabelsSchema,
    annotations: LabelsSchema,
    nodeName: z.string().nullable(),
    podIP: z.string().nullable(),
    podIPs: z.array(z.string()),
    owner: z.object({ kind: z.string(), name: z.string(), uid: z.string() }).nullable(),
    mirrorHash: z.string().nullable().describe('kubernetes.io/config.mirror of a static pod.'),
    containers: z.array(
      z.object({ name: z.string(), image: z.string(), imageId: z.string().nullable(), containerId: z.string().nullable(), init: z.boolean() }),
    ),
    creationTimestamp: z.string().nullable(),
  }),
});

const ObjectMetaSchema = z.object({ ...LifecycleShape, name: z.string(), uid: z.string(), labels: LabelsSchema, annotations: LabelsSchema });

const LookupAnswerSchema = z.object({
  file: z.string(),
  matched: z.boolean().describe('True when the events of this file get pod metadata.'),
  reason: z.string().nullable().describe('Why not, when not matched: path_not_recognised, pod_not_found, container_not_found.'),
  identity: IdentitySchema.nullable(),
  pod: PodSchema.nullable(),
  namespace: ObjectMetaSchema.nullable(),
  node: ObjectMetaSchema.nullable(),
  pendingMetadata: z
    .array(z.enum(['pod', 'namespace', 'node']))
    .describe(
      'What the events of this file lack only because its kind has not completed its initial list yet (the pod, its namespace, its ' +
        'node), as their `pending_metadata` marker says: a `null` pod, namespace or node listed here is not known *yet*, one not ' +
        'listed is known not to be there. Empty when nothing is pending; only kinds the output includes are listed.',
    ),
});

const LookupQuerySchema = z.object({
  file: z.string().min(1).max(4096).describe('A log path, e.g. /var/log/pods/shop_cart-7d9f8-x2x4q_0b6c.../cart/0.log'),
});

// --- Mapping -----------------------------------------------------------------------------------

type Answer = z.output<typeof LookupAnswerSchema>;

function iso(epochMs: number | undefined): string | null {
  return epochMs === undefined ? null : new Date(epochMs).toISOString();
}

function lifecycle(entry: StoreEntry<unknown>) {
  return { state: entry.deletedAt === undefined ? ('live' as const) : ('retained' as const), deletedAt: iso(entry.deletedAt), retainedUntil: iso(entry.expiresAt), keptBy: entry.keptBy ?? null };
}

function identityAnswer(identity: PodLogIdentity): Answer['identity'] {
  return {
    layout: identity.layout,
    namespace: identity.namespace,
    podName: identity.podName,
    podUid: identity.podUid ?? null,
    containerName: identity.containerName,
    restartCount: identity.restartCount ?? null,
    containerId: identity.containerId ?? null,
    rotated: identity.rotated,
    compressed: identity.compressed,
  };
}

function podAnswer(entry: StoreEntry<PodMeta>): Answer['pod'] {
  const pod = entry.object;
  return {
    ...lifecycle(entry),
    metadata: {
      uid: pod.uid,
      name: pod.name,
      namespace: pod.namespace,
      resourceVersion: pod.resourceVersion,
      labels: { ...pod.labels },
      annotations: { ...pod.annotations },
      nodeName: pod.nodeName ?? null,
      podIP: pod.podIP ?? null,
      podIPs: [...pod.podIPs],
      owner: pod.owner === undefined ? null : { kind: pod.owner.kind, name: pod.owner.name, uid: pod.owner.uid },
      mirrorHash: pod.mirrorHash ?? null,
      containers: pod.containers.map((c) => ({ name: c.name, image: c.image, imageId: c.imageId ?? null, containerId: c.containerId ?? null, init: c.init })),
      creationTimestamp: pod.creationTimestamp ?? null,
    },
  };
}

function objectAnswer(entry: StoreEntry<NamespaceMeta | NodeMeta> | undefined): Answer['namespace'] {
  if (entry === undefined) return null;
  const o = entry.object;
  return { ...lifecycle(entry), name: o.name, uid: o.uid, labels: { ...o.labels }, annotations: { ...o.annotations } };
}

// --- Route -------------------------------------------------------------------------------------

export function lookupRoutes(deps: LookupRoutesDeps): FastifyPluginAsyncZod {
  const { enricher, store } = deps;
  return async (app) => {
    app.route({
      method: 'GET',
      url: '/v1/lookup',
      schema: {
        tags: ['enrichment'],
        summary: 'What the service knows for a log path',
        querystring: LookupQuerySchema,
        response: {
          200: LookupAnswerSchema,
          400: errorResponse('`file` missing or empty.'),
          401: errorResponse('Missing or wrong bearer token.'),
        },
      },
      handler: async (request) => {
        const resolution = enricher.resolve(request.query.file);
        const podEntry = resolution.pod;
        const namespaceName = podEntry?.object.namespace ?? resolution.identity?.namespace;
        const nodeName = podEntry?.object.nodeName;
        return {
          file: resolution.file,
          matched: resolution.matched,
          reason: resolution.reason ?? null,
          identity: resolution.identity === undefined ? null : identityAnswer(resolution.identity),
          pod: podEntry === undefined ? null : podAnswer(podEntry),
          namespace: objectAnswer(namespaceName === undefined ? undefined : store.namespace(namespaceName)),
          node: objectAnswer(nodeName === undefined ? undefined : store.node(nodeName)),
          pendingMetadata: [...resolution.pending],
        };
      },
    });
  };
}
