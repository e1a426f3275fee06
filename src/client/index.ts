/**
 * The service client: how the `source` command reaches a remote enrichment service, over
 * keep-alive HTTP (/v1/enrich) or one acknowledged WebSocket (/v1/ingest). Each is a stage of the
 * file source (a `BatchEnricher`), the way a sink is its last step: it speaks the protocol of
 * src/protocol/ and uses only the sinks' public HTTP helpers. ServiceViews tells the file source
 * which files to leave unread and how to join their lines (POST /v1/views).
 */
export { createRemoteStage } from './http.ts';
export { createRemoteWebSocketStage } from './websocket.ts';
export { RemoteServiceError } from './errors.ts';
export { ServiceViews, type ServiceViewsOptions } from './views.ts';
export type { RemoteStageOptions } from './options.ts';
