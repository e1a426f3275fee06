/**
 * GET /v1/stream (WebSocket): the enriched events passing through the service, filtered per
 * subscriber. A slow subscriber loses events (counted and announced), never slows anyone else.
 */
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Metrics } from '../../metrics/index.ts';
import { parseLabelSelector } from '../../selectors/index.ts';
import { ApiError, errorResponse } from '../errors.ts';
import { MAX_PENDING_EVENTS, type EventBus } from '../event-bus.ts';
import { withResponseHeaders } from '../openapi.ts';
import { StreamSubscriber } from '../stream-subscriber.ts';
import type { WebSocketConnections } from '../websocket-shutdown.ts';
import { UpgradeResponseSchema, upgradeRequired } from './ingest.ts';

export const STREAM_ROUTE = '/v1/stream';

export interface StreamRoutesDeps {
  metrics: Metrics;
  bus: EventBus;
  connections: WebSocketConnections;
  /** Events queued per subscriber before its events are dropped. */
  maxQueuedEvents: number;
  /** Subscribers at once; one more is refused. */
  maxSubscribers: number;
}

/** Close code for a subscriber that got past the check below while the last places were taken (RFC 6455: try again later). */
const TRY_AGAIN_LATER = 1013;
const RETRY_AFTER_SECONDS = 5;

function tooManySubscribers(max: number): ApiError {
  return new ApiError(
    503,
    'too_many_subscribers',
    `the service has ${max} /v1/stream subscribers already`,
    [{ message: `at most ${max} subscribers at once (server.maxStreamSubscribers); retry later, or share a subscription` }],
    { 'retry-after': String(RETRY_AFTER_SECONDS) },
  );
}

const name = (what: string) => z.string().min(1).max(253).optional().describe(`Only events of this ${what} (exact match).`);

export const StreamQuerySchema = z.object({
  namespace: name('namespace'),
  pod: name('pod name'),
  container: name('container name'),
  labelSelector: z
    .string()
    .max(4096)
    .transform((text, ctx) => {
      const parsed = parseLabelSelector(text, { allowComparisons: true });
      if (parsed.ok) return parsed.selector;
      ctx.addIssue({ code: 'custom', message: parsed.error });
      return z.NEVER;
    })
    .optional()
    .describe(
      'A Kubernetes label selector on the pod labels, as kubectl takes it: `app=cart,tier!=db`, `env in (prod,staging)`, `!canary`, ' +
        '`apps.kubernetes.io/pod-index>0` (`>` and `<` compare integers; a label that is not one never matches). ' +
        'Events of pods the service does not know never match a non-empty selector.',
    ),
});

const STREAM_DESCRIPTION = [
  'A WebSocket (send the usual upgrade request) receiving the enriched events passing through the service: from /v1/enrich,',
  '/v1/forward (once the sink acknowledged them), /v1/ingest and the bundled file source. Filters combine with AND.',
  '',
  'Messages from the service:',
  '- enriched events as NDJSON text: one event per line, each line ending with a newline;',
  '- `{"dropped": n}`: n events were dropped at this point of the stream (sent once the subscriber has read up to the gap):',
  '  the subscriber did not keep up (at most `server.streamBufferEvents` events wait per subscriber), or the service did not:',
  `  the fan-out runs after the answers, with at most \`server.streamTimeShare\` of the service's time, and at most ${MAX_PENDING_EVENTS}`,
  '  published events wait for it.',
  '',
  'Messages from the client are ignored. On shutdown the service closes with 1001. At most `server.maxStreamSubscribers`',
  'subscribe at once: one more is refused with 503 and `Retry-After` (or, when it raced for the last place, closed with',
  '1013 right after the upgrade).',
].join('\n');

export function streamRoutes(deps: StreamRoutesDeps): FastifyPluginAsyncZod {
  const { metrics, bus, connections, maxQueuedEvents, maxSubscribers } = deps;
  // Called for every subscriber a chunk overflows: the labelled child, not a label lookup each time.
  const droppedCounter = metrics.wsDropped.labels({ route: STREAM_ROUTE });
  const onDropped = (count: number) => droppedCounter.inc(count);
  return async (app) => {
    app.route({
      method: 'GET',
      url: STREAM_ROUTE,
      config: {
        swaggerTransform: withResponseHeaders({
          503: { 'Retry-After': { description: 'Seconds after which a retry makes sense.', schema: { type: 'integer' } } },
        }),
      },
      // Refused before the upgrade, so the client gets an HTTP answer it can act on.
      preHandler: async (request) => {
        if (request.ws && bus.subscriberCount >= maxSubscribers) throw tooManySubscribers(maxSubscribers);
      },
      schema: {
        tags: ['streaming'],
        summary: 'Subscribe to enriched events',
        description: STREAM_DESCRIPTION,
        querystring: StreamQuerySchema,
        response: {
          101: UpgradeResponseSchema,
          400: errorResponse('A bad filter (e.g. a label selector that does not parse), answered before the upgrade.'),
          401: errorResponse('Missing or wrong bearer token.'),
          426: errorResponse('A plain GET: this route needs a WebSocket upgrade.'),
          503: errorResponse('`server.maxStreamSubscribers` subscribers are connected already; retry after `Retry-After` seconds.'),
        },
      },
      handler: async () => {
        throw upgradeRequired(STREAM_ROUTE);
      },
      wsHandler: (socket, request) => {
        // Upgrades that passed the check at the same time: the ones past the limit are turned away here.
        if (bus.subscriberCount >= maxSubscribers) {
          socket.close(TRY_AGAIN_LATER, `at most ${maxSubscribers} subscribers (server.maxStreamSubscribers)`);
          return;
        }
        const { namespace, pod, container, labelSelector } = request.query;
        const subscriber = new StreamSubscriber(socket, bus.scheduler, { maxQueuedEvents, onDropped });
        metrics.wsClients.inc({ route: STREAM_ROUTE });
        const unsubscribe = bus.subscribe({ namespace, pod, container, labelSelector }, subscriber);
        const forget = connections.add({ shutdown: () => socket.close(1001, 'server shutting down') });
        socket.on('close', () => {
          unsubscribe();
          forget();
          subscriber.close();
          metrics.wsClients.dec({ route: STREAM_ROUTE });
        });
      },
    });
  };
}
