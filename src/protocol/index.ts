/**
 * The protocol between the bundled `source` (src/client/) and the service (src/server/), written
 * once for both sides: the routes, the media types, the `X-Enrich-*` headers of an NDJSON answer,
 * the acknowledgement line of a /v1/ingest answer and the raw event the source sends. The
 * external contract is docs/ and openapi/openapi.json; this module is what the code of both ends
 * reads it from. Nothing here does I/O.
 */
export { JSON_TYPE, NDJSON_TYPE, NDJSON_TYPES } from './media-types.ts';
export { ackLine, readAckLine, type AckLine } from './ack.ts';
export { DEFAULT_FIELDS, quoteFields, serialiseRawEvent, type QuotedFields, type RawEventFields } from './raw-event.ts';
export { FileViewSchema, MAX_VIEW_FILES, MAX_VIEW_PATH_CHARS, ViewsAnswerSchema, ViewsRequestSchema, type FileViewAnswer, type ViewsAnswer, type ViewsRequest } from './views.ts';

/** POST: raw events in, enriched events out (the `source` over HTTP). */
export const ENRICH_ROUTE = '/v1/enrich';
/** WebSocket: raw events in, enriched events out, per message (the `source` over a WebSocket). */
export const INGEST_ROUTE = '/v1/ingest';
/** The query that puts a /v1/ingest connection in acknowledged mode (one answer per message, see ack.ts). */
export const INGEST_ACK_QUERY = 'ack=true';
/** POST: what the service says of log files (excluded, multi-line rule) before the `source` reads them (views.ts). */
export const VIEWS_ROUTE = '/v1/views';
/**
 * The query (on /v1/enrich and /v1/ingest) of a client that joined multi-line records itself,
 * with the rules of /v1/views: the service then joins nothing, so it holds no line between batches.
 */
export const NO_JOIN_QUERY = 'multiline=false';

/**
 * The headers of an NDJSON /v1/enrich answer: its body carries only events, so what else came of
 * the request travels here. Names as the OpenAPI document spells them; Node gives them lower-cased.
 */
export const ENRICH_HEADERS = {
  /** Events reported as invalid (always present). */
  errors: 'X-Enrich-Errors',
  /** The first few errors as a JSON array (ASCII only). */
  errorDetails: 'X-Enrich-Error-Details',
  /** Events skipped because their pod or container is excluded. */
  excluded: 'X-Enrich-Excluded',
  /** Partial-line fragments merged into a following event. */
  merged: 'X-Enrich-Merged',
} as const;

/** WebSocket close code of a /v1/ingest message over the service's server.maxBodyBytes (ws's maxPayload). */
export const MESSAGE_TOO_BIG = 1009;
