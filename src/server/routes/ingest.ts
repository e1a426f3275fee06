/**
 * GET /v1/ingest (WebSocket): raw events in, enriched events out on the same connection, in
 * order, one merge session per connection. Bad messages are answered, never a disconnect.
 */
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { ByteWriterPool, type Enricher } from '../../enrich/index.ts';
import type { Metrics } from '../../metrics/index.ts';
import { INGEST_ROUTE } from '../../protocol/index.ts';
import { ApiError, errorResponse } from '../errors.ts';
import { MultilineQuerySchema } from './enrich.ts';
import type { EventBus } from '../event-bus.ts';
import type { ByteBudget } from '../inflight-budget.ts';
import { IngestConnection, type IngestLimits } from '../ingest-connection.ts';
import type { WebSocketConnections } from '../websocket-shutdown.ts';

export interface IngestRoutesDeps {
  enricher: Enricher;
  metrics: Metrics;
  bus: EventBus;
  connections: WebSocketConnections;
  limits: IngestLimits;
  /** server.maxInflightBytes, shared with the HTTP routes: a message holds its share until it is answered. */
  budget: ByteBudget;
}

const INGEST_DESCRIPTION = [
  'A WebSocket (send the usual upgrade request). Messages from the client are text (or binary UTF-8): a JSON object (one raw',
  'event), a JSON array of raw events, or NDJSON text (one raw event per line), with the same raw events as POST /v1/enrich.',
  '',
  'Messages from the service, in the order of the input:',
  '- enriched events as NDJSON text: one event per line, each line ending with a newline;',
  '- `{"error": "...", "details": [...]}` for a message that could not be parsed (the whole message is ignored, details name',
  '  the line) or for events of it that could not be used (details carry `index`, `line`, `field`, `message`).',
  '',
  'Consecutive partial lines of the same file and stream are merged across messages; a partial line whose final fragment does',
  'not arrive is sent after `enrichment.partialFlushTimeout`. Messages larger than `server.maxBodyBytes` close the connection',
  'with 1009; on shutdown the service answers what it received, sends what is pending and closes with 1001. The lines of a',
  'multi-line record (pods with a multiline annotation) are joined per file and stream across messages, the last record sent',
  'after `enrichment.multiline.flushTimeout` of quiet; not with `multiline=false`.',
  '',
  'Backpressure, never an error: the service stops reading from the connection while its client does not read its answers,',
  'while a message waits for room in `server.maxInflightBytes` (shared with POST /v1/enrich and /v1/forward; each message holds',
  'its size there until its answer is sent, and waits as long as it takes, first come first served), and while an answer over',
  '1 MiB goes out: such an answer is one WebSocket message sent in fragments of 1 MiB, each written once the previous one is',
  'out (WebSocket libraries put them together).',
  '',
  'With `?ack=true` every message gets exactly one answer, in order: a first line `{"ack": n, "events": k, "excluded": x,',
  '"merged": m, "errors": [...]}` (n counts the messages of the connection from 1; errors are per-event details as above),',
  'then the k enriched events as NDJSON. A message that could not be parsed gets `{"ack": n, "events": 0, "error": "...",',
  '"details": [...]}`. Partial lines are merged and multi-line records joined all the same, but no timer flushes them (an',
  'answer never comes unasked): a partial line whose final fragment is overdue, or a record held past',
  '`enrichment.multiline.flushTimeout` (the last stack trace of a container that went quiet), goes out with the answer to the',
  'next message (an empty one, `[]`, will do), or at shutdown in an answer with `"ack": null`; when the client closes, it goes',
  'only to /v1/stream. A client that cannot send such messages joins records itself (rules from POST /v1/views) and connects',
  'with `multiline=false`, as the bundled `source` (`source.transport: websocket`) does.',
].join('\n');

const IngestQuerySchema = z.object({
  ack: z
    .enum(['true', 'false'])
    .optional()
    .transform((value) => value === 'true')
    .describe('`true`: one answer per message, starting with an acknowledgement line (see above).'),
  ...MultilineQuerySchema.shape,
});

export const UpgradeResponseSchema = z.null().describe('Switching Protocols: the connection is now a WebSocket.');

export function upgradeRequired(route: string): ApiError {
  return new ApiError(426, 'upgrade_required', `${route} is a WebSocket route`, [{ message: 'connect with a WebSocket client (Connection: Upgrade, Upgrade: websocket)' }], {
    upgrade: 'websocket',
  });
}

export function ingestRoutes(deps: IngestRoutesDeps): FastifyPluginAsyncZod {
  const { metrics, connections, limits } = deps;
  const writers = new ByteWriterPool();
  return async (app) => {
    app.route({
      method: 'GET',
      url: INGEST_ROUTE,
      schema: {
        tags: ['streaming'],
        summary: 'Enrich events over a WebSocket',
        description: INGEST_DESCRIPTION,
        querystring: IngestQuerySchema,
        response: {
          101: UpgradeResponseSchema,
          400: errorResponse('A bad query parameter, answered before the upgrade.'),
          401: errorResponse('Missing or wrong bearer token.'),
          426: errorResponse('A plain GET: this route needs a WebSocket upgrade.'),
        },
      },
      handler: async () => {
        throw upgradeRequired(INGEST_ROUTE);
      },
      wsHandler: (socket, request) => {
        metrics.wsClients.inc({ route: INGEST_ROUTE });
        const connection = new IngestConnection(socket, { enricher: deps.enricher, bus: deps.bus, writers, budget: deps.budget, log: request.log }, limits, {
          ack: request.query.ack,
          multiline: request.query.multiline,
        });
        const forget = connections.add(connection);
        socket.on('message', (data) => connection.onMessage(data));
        socket.on('close', () => {
          forget();
          metrics.wsClients.dec({ route: INGEST_ROUTE });
          connection.onClose();
        });
      },
    });
  };
}
