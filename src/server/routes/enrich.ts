/**
 * POST /v1/enrich and POST /v1/forward: a batch of raw events in (JSON or NDJSON, optionally
 * compressed), enriched in order with one merge session per request. /v1/enrich answers with the
 * events; /v1/forward hands them to the sink and answers only once the sink has acknowledged them.
 */
import type { Readable } from 'node:stream';
import { errorCodes, type FastifyReply, type FastifyRequest } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { type BatchResult, ByteWriterPool, type Enricher } from '../../enrich/index.ts';
import { ENRICH_HEADERS, ENRICH_ROUTE, JSON_TYPE, NDJSON_TYPE, NDJSON_TYPES } from '../../protocol/index.ts';
import type { Sink } from '../../sink/types.ts';
import { sendAnswer } from '../answer-sender.ts';
import {
  ANSWER_PART_BYTES,
  AnswerEncoder,
  MAX_ERRORS_IN_HEADER,
  errorsHeader,
  NdjsonReader,
  negotiateFormat,
  readBodyStream,
  type BatchFormat,
  type BodyReader,
} from '../batch-codec.ts';
import { installContentDecoding, SUPPORTED_CONTENT_ENCODINGS } from '../content-encoding.ts';
import { ApiError, errorResponse } from '../errors.ts';
import type { EventBus } from '../event-bus.ts';
import { installInflightBudget, type ByteBudget } from '../inflight-budget.ts';
import { JsonBatchReader } from '../json-batch-reader.ts';
import { withResponseHeaders } from '../openapi.ts';
import { enrichWholeBatch, SinkDelivery, SinkRefusedError } from '../sink-delivery.ts';

export interface EnrichRoutesDeps {
  enricher: Enricher;
  bus: EventBus;
  sink: Sink | undefined;
  /** server.maxBodyBytes, applied to decompressed bodies too. */
  maxBodyBytes: number;
  /** server.maxInflightBytes: request bytes being enriched and answered at once, across both routes. */
  budget: ByteBudget;
  /** server.maxInflightWait: how long a request that does not fit waits for room before its 503. */
  maxInflightWaitMs: number;
  /** server.sendTimeout: a client that stops reading its answer this long loses its connection. */
  sendTimeoutMs: number;
  /** True once the server shuts down (a streamed answer then closes its connection). */
  closing: () => boolean;
  /** The clock deciding when a sink that reported itself unavailable is tried again. */
  now: () => number;
}

// --- Schemas -----------------------------------------------------------------------------------

const RawEventSchema = z
  .unknown()
  .describe(
    'A raw event: an object with `file` (the log path) and either `line` (the line as the runtime wrote it, CRI or Docker json-file, ' +
      'format detected per line) or `message` (already decoded; then `timestamp` and `stream` may be given). Other fields pass through ' +
      'untouched. The field names are configurable (`enrichment.input`); these are the defaults.',
  );

const JsonBatchSchema = z
  .union([z.object({ events: z.array(RawEventSchema) }), z.array(RawEventSchema)], { error: 'expected {"events": [...]} or a JSON array of events' })
  .describe(
    '`{"events": [...]}`, or a bare array as the `http` outputs of Vector and Fluent Bit send. NDJSON labelled application/json ' +
      '(Fluent Bit `json_lines` before v3.0.x) is recognised too: a body of several newline-separated JSON values, or one object ' +
      'without `events` followed by a newline; it is read as the array of its lines.',
  );

const NdjsonBatchSchema = z
  .array(RawEventSchema)
  .describe('NDJSON: one raw event (a JSON object) per line, blank lines ignored; shown here as the array of parsed lines.');

const BatchBodySchema = {
  content: {
    [JSON_TYPE]: { schema: JsonBatchSchema },
    ...Object.fromEntries(NDJSON_TYPES.map((type) => [type, { schema: NdjsonBatchSchema }])),
  },
};

const EnrichedEventSchema = z
  .record(z.string(), z.unknown())
  .describe('An enriched event in the configured schema (`vector` by default: `message`, `timestamp`, `stream`, `file`, `kubernetes: {...}`).');

const EventErrorSchema = z
  .object({
    index: z.number().int().describe('0-based index of the event in the request (for NDJSON: among the non-blank lines).'),
    field: z.string().describe('The input field at fault, with its configured name.'),
    error: z.string(),
  })
  .describe('An event that could not be used; the rest of the batch is answered.');

const EnrichJsonAnswerSchema = z.object({
  events: z.array(EnrichedEventSchema).describe('The enriched events, in request order (partial lines merged).'),
  errors: z.array(EventErrorSchema),
});

const EnrichNdjsonAnswerSchema = z
  .string()
  .describe(
    'One enriched event per line, in request order, each line ending with a newline. Only events: per-event errors are in the ' +
      '`X-Enrich-Errors` (count) and `X-Enrich-Error-Details` headers, so the body can be passed on as it is.',
  );

const ForwardAnswerSchema = z.object({
  accepted: z.number().int().describe('Enriched events the sink acknowledged.'),
  errors: z.array(EventErrorSchema),
});

/** `?multiline=false` (NO_JOIN_QUERY): the client joined multi-line records itself. */
export const MultilineQuerySchema = z.object({
  multiline: z
    .enum(['true', 'false'])
    .optional()
    .transform((value) => value !== 'false')
    .describe(
      '`false`: lines of pods with a multiline annotation are not joined here, because the client joined them already with the ' +
        'rules of POST /v1/views (the bundled `source` does, so that no line waits in the service between batches). Default `true`.',
    ),
});

const BATCH_ERRORS = {
  400: errorResponse('Malformed body (naming the line or position), a body that is not a batch, or one that does not decode as its `Content-Encoding`.'),
  401: errorResponse('Missing or wrong bearer token (when `server.authToken` is set).'),
  408: errorResponse('The body did not arrive within `server.requestTimeout`; the connection is closed.'),
  413: errorResponse('Body larger than `server.maxBodyBytes`, compressed or once decompressed.'),
  415: errorResponse(
    `A Content-Type other than application/json or NDJSON (${NDJSON_TYPES.join(', ')}), or a Content-Encoding other than ` +
      `${SUPPORTED_CONTENT_ENCODINGS.join(', ')}.`,
  ),
};

const BUSY = errorResponse(
  'The requests being enriched held `server.maxInflightBytes` (a burst of large batches) for all of the ' +
    '`server.maxInflightWait` this one waited, or the service is shutting down: nothing of this one was used; retry after ' +
    '`Retry-After` seconds.',
);

const RETRY_AFTER_HEADER = { 'Retry-After': { description: 'Seconds after which a retry makes sense.', schema: { type: 'integer' as const } } };

const ENCODING_NOTE =
  ' Bodies may be compressed (`Content-Encoding`: gzip, deflate, br or zstd); `server.maxBodyBytes` applies to the decompressed size too.' +
  ' While the requests being enriched hold `server.maxInflightBytes`, one more waits (its body unread, in arrival order) up to ' +
  '`server.maxInflightWait` for room, then is answered 503 with `Retry-After`.';

const ENRICH_RESPONSE_HEADERS = {
  503: RETRY_AFTER_HEADER,
  200: {
    [ENRICH_HEADERS.errors]: { description: 'Events reported as invalid (always present).', schema: { type: 'integer' as const } },
    [ENRICH_HEADERS.errorDetails]: {
      description: `NDJSON answers only, when there are errors: the first ${MAX_ERRORS_IN_HEADER} as a JSON array of {index, line, field, error}.`,
      schema: { type: 'string' as const },
    },
    [ENRICH_HEADERS.excluded]: { description: 'Events skipped because their pod or container is excluded from log collection.', schema: { type: 'integer' as const } },
    [ENRICH_HEADERS.merged]: { description: 'Partial-line fragments merged into a following event.', schema: { type: 'integer' as const } },
  },
};

// --- Handlers ----------------------------------------------------------------------------------

/** How each request's body arrived; set by the content-type parsers. */
const requestBatches = new WeakMap<FastifyRequest, { format: BatchFormat; lines: Int32Array | undefined }>();

/**
 * The request's events, taken from it: the request no longer refers to them, so once enriched
 * they can be collected while the answer is still being sent.
 */
function takeEvents(request: FastifyRequest): unknown[] {
  const body: unknown = request.body;
  request.body = undefined;
  if (Array.isArray(body)) return body;
  if (typeof body === 'object' && body !== null && Array.isArray((body as { events?: unknown }).events)) return (body as { events: unknown[] }).events;
  throw new ApiError(400, 'missing_body', 'missing request body', [
    { field: 'body', message: 'send {"events": [...]} as application/json or one event per line as application/x-ndjson' },
  ]);
}

export function enrichRoutes(deps: EnrichRoutesDeps): FastifyPluginAsyncZod {
  const { enricher, bus } = deps;
  const delivery = deps.sink === undefined ? undefined : new SinkDelivery(deps.sink, deps.now);
  const writers = new ByteWriterPool();
  const sending = { writers, partBytes: ANSWER_PART_BYTES, sendTimeoutMs: deps.sendTimeoutMs, closing: deps.closing };

  function sinkUnavailable(message: string, retryAfterSeconds: number): ApiError {
    const seconds = Math.max(1, Math.ceil(retryAfterSeconds));
    return new ApiError(503, 'sink_unavailable', 'the sink is unavailable, retry later', [{ message }], { 'retry-after': String(seconds) });
  }

  return async (app) => {
    installContentDecoding(app, deps.maxBodyBytes);
    // After decoding: a compressed body takes its decompressed size.
    installInflightBudget(app, deps.budget, { maxBodyBytes: deps.maxBodyBytes, waitMs: deps.maxInflightWaitMs });
    // Only JSON and NDJSON; anything else is a 415 before the body is read.
    app.removeAllContentTypeParsers();
    // Both parsed as they stream in, an event at a time: neither the bytes nor a string of the
    // whole body are held (save for JSON bodies that are not a batch, see JsonBatchReader).
    const tooLarge = () => new errorCodes.FST_ERR_CTP_BODY_TOO_LARGE();
    const readBody = <T>(request: FastifyRequest, payload: Readable, reader: BodyReader<T>): Promise<T> => {
      if (Number(request.headers['content-length']) > deps.maxBodyBytes) throw tooLarge();
      return readBodyStream(payload, deps.maxBodyBytes, tooLarge, reader);
    };
    app.addContentTypeParser(JSON_TYPE, async (request: FastifyRequest, payload: Readable) => {
      const parsed = await readBody(request, payload, new JsonBatchReader());
      // Answered as JSON, the type the client named; `lines` numbers its errors if it asks for NDJSON.
      requestBatches.set(request, { format: 'json', lines: parsed.lines });
      return parsed.value;
    });
    app.addContentTypeParser([...NDJSON_TYPES], async (request: FastifyRequest, payload: Readable) => {
      const batch = await readBody(request, payload, new NdjsonReader());
      requestBatches.set(request, { format: 'ndjson', lines: batch.lines });
      return batch.events;
    });

    app.route({
      method: 'POST',
      url: ENRICH_ROUTE,
      config: { swaggerTransform: withResponseHeaders(ENRICH_RESPONSE_HEADERS) },
      schema: {
        tags: ['enrichment'],
        summary: 'Enrich a batch of raw events',
        description:
          'Answers in the request type unless `Accept` asks for the other one. Consecutive partial lines of the same file and ' +
          'stream within the request are merged into one event, and so are the lines of a multi-line record of a pod with a ' +
          'multiline annotation (unless `multiline=false`). Events that cannot be matched to a pod are returned with the ' +
          'identity parsed from their path and a marker saying why; events that cannot be used at all are reported per event.' +
          ENCODING_NOTE,
        querystring: MultilineQuerySchema,
        body: BatchBodySchema,
        response: {
          200: {
            description: 'The enriched events, in order.',
            content: { [JSON_TYPE]: { schema: EnrichJsonAnswerSchema }, [NDJSON_TYPE]: { schema: EnrichNdjsonAnswerSchema } },
          },
          ...BATCH_ERRORS,
          503: BUSY,
        },
      },
      handler: async (request, reply) => {
        const arrived = requestBatches.get(request);
        const result = enrichWholeBatch(enricher, takeEvents(request), 'enrich', request.query.multiline);
        bus.publish(result.records);
        const format = negotiateFormat(request.headers.accept, arrived?.format ?? 'json');
        reply.header(ENRICH_HEADERS.errors, String(result.errors.length));
        reply.header(ENRICH_HEADERS.excluded, String(result.excluded));
        reply.header(ENRICH_HEADERS.merged, String(result.merged));
        if (format === 'ndjson' && result.errors.length > 0) reply.header(ENRICH_HEADERS.errorDetails, errorsHeader(result.errors, arrived?.lines));
        reply.type(format === 'ndjson' ? `${NDJSON_TYPE}; charset=utf-8` : `${JSON_TYPE}; charset=utf-8`);
        // The answer is pre-serialised bytes (documented by the schemas above), sent as they are.
        return sendAnswer(reply as unknown as FastifyReply, new AnswerEncoder(result.records, format, result.errors), sending);
      },
    });

    app.route({
      method: 'POST',
      url: '/v1/forward',
      config: { swaggerTransform: withResponseHeaders({ 503: RETRY_AFTER_HEADER }) },
      schema: {
        tags: ['enrichment'],
        summary: 'Enrich a batch and deliver it to the configured sink',
        description:
          'For push-only shippers (Vector `http` sink, Fluent Bit `http` output): the same input as /v1/enrich. The answer (200) ' +
          'comes only after the sink acknowledged the events; while the sink is down the answer is 503 with `Retry-After`, so the ' +
          'shipper retries and nothing is lost. While the sink reports itself unavailable, one request per `Retry-After` period ' +
          'tries the write (and is answered 200 if it succeeds); the others get the 503 at once.' +
          ENCODING_NOTE,
        body: BatchBodySchema,
        response: {
          200: ForwardAnswerSchema.describe('The sink acknowledged the enriched events.'),
          ...BATCH_ERRORS,
          501: errorResponse('The service runs without a sink: use /v1/enrich, or configure one.'),
          503: errorResponse(
            'The sink is unavailable, the requests being enriched held `server.maxInflightBytes` for all of ' +
              '`server.maxInflightWait`, or the service is shutting down; retry after ' +
              '`Retry-After` seconds. When the sink failed after a batch of more than 1 MiB of output was partly written, a ' +
              'retry may repeat the events of the parts it had acknowledged.',
          ),
        },
      },
      handler: async (request, reply) => {
        if (delivery === undefined) {
          throw new ApiError(501, 'no_sink', 'no sink is configured for /v1/forward', [
            { message: 'this service was started without a sink; use POST /v1/enrich, or run it with a sink configured' },
          ]);
        }
        const events = takeEvents(request);
        let result: BatchResult;
        try {
          result = await delivery.deliver(() => enrichWholeBatch(enricher, events, 'forward'), (err) => request.log.error({ err }, 'sink write failed'));
        } catch (err) {
          if (err instanceof SinkRefusedError) throw sinkUnavailable(err.message, err.retryAfterSeconds);
          throw err;
        }
        bus.publish(result.records);
        return reply.type(JSON_TYPE).send({ accepted: result.records.length, errors: result.errors });
      },
    });
  };
}
