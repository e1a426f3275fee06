/**
 * POST /v1/logs: the OTLP/HTTP logs receiver (https://opentelemetry.io/docs/specs/otlp/#otlphttp).
 * Protobuf or OTLP/JSON in, optionally compressed; the records enriched, regrouped by pod and
 * delivered to the sink (src/otlp/receiver.ts); answered with an ExportLogsServiceResponse in the
 * request's type, errors as a google.rpc.Status in the request's type, the status codes OTLP
 * clients act on (400 and 413 are not retried, 503 with Retry-After is).
 */
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Enricher } from '../../enrich/types.ts';
// The modules themselves, not otlp/index.ts: that one brings @grpc/grpc-js, which only the
// gRPC receiver needs (loaded by runtime/service.ts when server.grpcListen is set).
import { ProtocolError, toOtlpJson } from '../../otlp/json.ts';
import { ExportRefusedError, LogsReceiver } from '../../otlp/receiver.ts';
import type { LogsRequest, RpcStatus } from '../../otlp/types.ts';
import type { Sink } from '../../sink/types.ts';
import { installContentDecoding, SUPPORTED_CONTENT_ENCODINGS } from '../content-encoding.ts';
import { ApiError, toApiError, unsupportedMediaType } from '../errors.ts';
import { installInflightBudget, type ByteBudget } from '../inflight-budget.ts';
import { withResponseHeaders } from '../openapi.ts';

export const OTLP_LOGS_ROUTE = '/v1/logs';
export const PROTOBUF_TYPE = 'application/x-protobuf';
const JSON_TYPE = 'application/json';

export interface OtlpRoutesDeps {
  /** Built with otlpEnricherOptions; undefined: the route answers 501. */
  enricher: Enricher | undefined;
  sink: Sink | undefined;
  /** server.maxBodyBytes, applied to decompressed bodies too. */
  maxBodyBytes: number;
  /** server.maxInflightBytes, shared with the other enriching routes. */
  budget: ByteBudget;
  maxInflightWaitMs: number;
  now: () => number;
}

// --- Schemas (documentation: the bodies are checked by the protocol definitions) -------------

const RequestSchema = z
  .unknown()
  .describe(
    'An OTLP ExportLogsServiceRequest (opentelemetry/proto/collector/logs/v1, vendored in proto/): protobuf, or OTLP/JSON ' +
      '(lowerCamelCase fields, hex traceId/spanId, 64-bit integers as strings). Each log record needs the `log.file.path` ' +
      'attribute (on the record or its resource) and a string body: the line as the runtime wrote it (CRI or Docker json-file) ' +
      'or an already decoded message (then `log.iostream` gives the stream and the record time the timestamp).',
  );

const ResponseSchema = z
  .object({
    partialSuccess: z
      .object({
        rejectedLogRecords: z.string().describe('Records that could not be used (int64, as a string in OTLP/JSON).'),
        errorMessage: z.string().describe('Which records and why (the first few).'),
      })
      .optional(),
  })
  .describe('An ExportLogsServiceResponse, in the request\'s content type; `{}` when every record was delivered.');

const StatusSchema = z
  .object({ code: z.number().int().describe('The gRPC status code.'), message: z.string() })
  .describe('A google.rpc.Status, in the request\'s content type (JSON for an unsupported one).');

function statusResponse(description: string) {
  return { description, content: { [PROTOBUF_TYPE]: { schema: StatusSchema }, [JSON_TYPE]: { schema: StatusSchema } } };
}

const RETRY_AFTER = { 'Retry-After': { description: 'Seconds after which a retry makes sense.', schema: { type: 'integer' as const } } };

// --- Answers -------------------------------------------------------------------------------------

/** gRPC codes (google.rpc.Code) for the HTTP statuses this route answers with. */
function grpcCodeOf(status: number): number {
  switch (status) {
    case 400:
    case 413:
    case 415:
      return 3; // INVALID_ARGUMENT
    case 401:
      return 16; // UNAUTHENTICATED
    case 408:
      return 4; // DEADLINE_EXCEEDED
    case 501:
      return 12; // UNIMPLEMENTED
    case 503:
      return 14; // UNAVAILABLE
    default:
      return status >= 500 ? 13 : 3; // INTERNAL, INVALID_ARGUMENT
  }
}

function answersProtobuf(request: FastifyRequest): boolean {
  return (request.headers['content-type'] ?? '').split(';', 1)[0]!.trim().toLowerCase() === PROTOBUF_TYPE;
}

type ProtoModule = typeof import('../../otlp/proto.ts');
let protoModule: Promise<ProtoModule> | undefined;
/**
 * protobufjs and the parsed definitions (otlp/proto.ts), loaded on the first OTLP request: about
 * 2 MB of heap that a process nobody sends OTLP to does not need.
 */
function loadProto(): Promise<ProtoModule> {
  protoModule ??= import('../../otlp/proto.ts');
  return protoModule;
}

async function send(reply: FastifyReply, protobuf: boolean, json: string, bytes: (proto: ProtoModule) => Uint8Array): Promise<FastifyReply> {
  if (protobuf) return reply.type(PROTOBUF_TYPE).send(Buffer.from(bytes(await loadProto())));
  return reply.type(`${JSON_TYPE}; charset=utf-8`).send(json);
}

/** An ApiError as OTLP wants it: the same status and headers, a Status whose message names the field. */
function sendStatus(reply: FastifyReply, request: FastifyRequest, error: ApiError): Promise<FastifyReply> {
  reply.code(error.statusCode);
  for (const [name, value] of Object.entries(error.headers)) reply.header(name, value);
  const reasons = error.details.map((d) => (d.field === undefined ? d.message : `${d.field}: ${d.message}`));
  const status: RpcStatus = { code: grpcCodeOf(error.statusCode), message: [error.message, ...reasons].join('; ') };
  return send(reply, answersProtobuf(request), toOtlpJson(status), (proto) => proto.encodeStatus(status));
}

const OTLP_MEDIA_TYPES = `OTLP/HTTP takes ${PROTOBUF_TYPE} (protobuf) or ${JSON_TYPE} (OTLP/JSON)`;

function malformed(err: ProtocolError | SyntaxError): ApiError {
  const field = err instanceof ProtocolError ? (err.field ?? 'body') : 'body';
  return new ApiError(400, 'malformed_body', 'malformed OTLP request', [{ field, message: err.message }]);
}

function refused(err: ExportRefusedError): ApiError {
  if (err.code === 'no_sink') return new ApiError(501, 'no_sink', 'no sink is configured for the OTLP receiver', [{ message: err.message }]);
  return new ApiError(503, 'sink_unavailable', 'the sink is unavailable, retry later', [{ message: err.message }], { 'retry-after': String(err.retryAfterSeconds) });
}

// --- The route -----------------------------------------------------------------------------------

export function otlpRoutes(deps: OtlpRoutesDeps): FastifyPluginAsyncZod {
  const enricher = deps.enricher;
  let receiver: LogsReceiver | undefined;

  return async (app) => {
    if (enricher !== undefined) {
      receiver = new LogsReceiver({ enricher, sink: deps.sink, now: deps.now, onSinkError: (err) => app.log.error({ err }, 'sink write failed') });
    }
    installContentDecoding(app, deps.maxBodyBytes);
    installInflightBudget(app, deps.budget, { maxBodyBytes: deps.maxBodyBytes, waitMs: deps.maxInflightWaitMs });
    app.removeAllContentTypeParsers();
    // Read whole (a protobuf message is not decoded in parts); Fastify stops at maxBodyBytes with a 413.
    app.addContentTypeParser([PROTOBUF_TYPE, JSON_TYPE], { parseAs: 'buffer', bodyLimit: deps.maxBodyBytes }, (_request, body, done) => done(null, body));
    app.setErrorHandler(async (err: unknown, request: FastifyRequest, reply: FastifyReply) => {
      const error = (err as Partial<FastifyError>).code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE' ? unsupportedMediaType(OTLP_MEDIA_TYPES) : toApiError(err, deps.maxBodyBytes);
      if (error.code === 'internal') request.log.error({ err }, 'OTLP request failed');
      return sendStatus(reply, request, error);
    });

    app.route({
      method: 'POST',
      url: OTLP_LOGS_ROUTE,
      config: { swaggerTransform: withResponseHeaders({ 503: RETRY_AFTER }) },
      schema: {
        tags: ['enrichment'],
        summary: 'OTLP/HTTP logs receiver: enrich the records and deliver them to the sink',
        description:
          'For OpenTelemetry Collectors (`otlphttp` exporter), SDKs and other OTLP shippers. Each record gets its pod\'s metadata ' +
          'as resource attributes in the `otel` schema\'s names (k8s.pod.name, k8s.namespace.name, k8s.pod.label.<key>, ...); ' +
          'records are regrouped into one ResourceLogs per pod container and written to the sink as one OTLP/JSON line per ' +
          'request (the Collector `file` exporter format). The answer (200) comes only after the sink acknowledged; records ' +
          'that cannot be used (no `log.file.path`, a body that is not a string, a malformed runtime line) are counted in ' +
          '`partialSuccess`, the others delivered. While the sink is unavailable: 503 with `Retry-After`, nothing kept. ' +
          `Bodies may be compressed (\`Content-Encoding\`: ${SUPPORTED_CONTENT_ENCODINGS.filter((c) => c !== 'identity').join(', ')}); ` +
          '`server.maxBodyBytes` applies to the decompressed size too, and the request holds its share of `server.maxInflightBytes`.',
        body: { content: { [PROTOBUF_TYPE]: { schema: RequestSchema }, [JSON_TYPE]: { schema: RequestSchema } } },
        response: {
          200: { description: 'The sink acknowledged the enriched records.', content: { [PROTOBUF_TYPE]: { schema: ResponseSchema }, [JSON_TYPE]: { schema: ResponseSchema } } },
          400: statusResponse('Not an ExportLogsServiceRequest (garbage protobuf, invalid JSON, a hex id that is not hex), or a body that does not decode as its `Content-Encoding`. Not retried.'),
          401: statusResponse('Missing or wrong bearer token (when `server.authToken` is set); this one in the API\'s JSON error shape.'),
          413: statusResponse('Body larger than `server.maxBodyBytes`, compressed or once decompressed. Not retried: send smaller batches.'),
          415: statusResponse(`A Content-Type other than ${PROTOBUF_TYPE} or ${JSON_TYPE}, or an unsupported Content-Encoding.`),
          501: statusResponse('The service runs without a sink.'),
          503: statusResponse(
            'The sink is unavailable, the requests being enriched held `server.maxInflightBytes` for all of `server.maxInflightWait`, ' +
              'or the service is shutting down; retry after `Retry-After` seconds.',
          ),
        },
      },
      handler: async (request, reply) => {
        const body = request.body as unknown;
        request.body = undefined;
        const protobuf = answersProtobuf(request);
        if (receiver === undefined) {
          throw new ApiError(501, 'no_sink', 'the OTLP receiver is not configured in this process', [{ message: 'run `kube-log-enricher serve` (or agent) with a sink' }]);
        }
        if (!Buffer.isBuffer(body)) throw new ApiError(400, 'missing_body', 'missing request body', [{ field: 'body', message: 'send an ExportLogsServiceRequest' }]);
        const proto = await loadProto();
        let logs: LogsRequest;
        try {
          logs = protobuf ? proto.decodeLogsRequest(body) : proto.logsRequestFromJson(JSON.parse(body.toString('utf8')));
        } catch (err) {
          if (err instanceof ProtocolError || err instanceof SyntaxError) throw malformed(err);
          throw err;
        }
        try {
          const { response } = await receiver.export(logs, 'otlp');
          return await send(reply, protobuf, toOtlpJson(response), (p) => p.encodeLogsResponse(response));
        } catch (err) {
          if (err instanceof ExportRefusedError) throw refused(err);
          throw err;
        }
      },
    });
  };
}
