/**
 * The HTTP + WebSocket API of the enrichment service. Its contract: the routes and schemas in
 * openapi/openapi.json (generated from the routes' zod schemas), docs/integrations.md for shippers.
 */
export { buildApp, createInflightBudget, type AppDeps } from './app.ts';
export { ByteBudget, Reservation } from './inflight-budget.ts';
export { enrichWholeBatch, SinkDelivery, SinkRefusedError } from './sink-delivery.ts';
export { startServer, ListenError, type RunningServer, type StartServerOptions, type TlsMaterial } from './listen.ts';
export { ServerOptionsError, type ServerOptions } from './options.ts';
export { EventBus, type EventSubscriber } from './event-bus.ts';
export { ApiError, type ErrorBody, type ErrorDetail } from './errors.ts';
export { renderOpenApi, OPENAPI_ROUTE } from './openapi.ts';
