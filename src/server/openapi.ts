/**
 * The OpenAPI 3.1 document, generated from the routes' zod schemas by @fastify/swagger. The same
 * document is served at GET /openapi.json and committed as openapi/openapi.json (`npm run openapi`).
 */
import fastifySwagger, { type SwaggerTransform } from '@fastify/swagger';
import type { FastifyInstance } from 'fastify';
import { jsonSchemaTransform, jsonSchemaTransformObject } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { PACKAGE_VERSION } from '../version/index.ts';

export const OPENAPI_ROUTE = '/openapi.json';

type ContentSchemas = Record<string, { schema: z.ZodType }>;

function isContentMap(body: unknown): body is { content: ContentSchemas } {
  return typeof body === 'object' && body !== null && 'content' in body && !(body instanceof z.ZodType);
}

/**
 * jsonSchemaTransform, plus request bodies given per content type (`body: {content: {...}}`),
 * which Fastify validates per type but the type provider's transform does not convert.
 */
export const zodSchemaTransform: SwaggerTransform = (document) => {
  const schema = document.schema as Record<string, unknown> | undefined;
  const body = schema?.body;
  if (schema === undefined || !isContentMap(body)) return jsonSchemaTransform(document as never);
  const { body: _body, ...rest } = schema;
  const transformed = jsonSchemaTransform({ ...document, schema: rest } as never);
  const content: Record<string, { schema: unknown }> = {};
  for (const [type, { schema: zodSchema }] of Object.entries(body.content)) {
    content[type] = { schema: z.toJSONSchema(zodSchema, { target: 'draft-2020-12', io: 'input', unrepresentable: 'any' }) };
  }
  return { ...transformed, schema: { ...(transformed.schema as object), body: { content } } };
};

export interface HeaderDoc {
  description: string;
  schema: { type: 'integer' | 'string' };
}

/** A route-level transform adding response headers (OpenAPI has a place for them, zod does not). */
export function withResponseHeaders(headers: Record<string, Record<string, HeaderDoc>>): SwaggerTransform {
  return (document) => {
    const transformed = zodSchemaTransform(document);
    const responses = (transformed.schema as { response?: Record<string, Record<string, unknown>> }).response ?? {};
    for (const [status, byName] of Object.entries(headers)) {
      const response = responses[status];
      if (response === undefined) continue;
      const documented: Record<string, unknown> = {};
      for (const [name, doc] of Object.entries(byName)) documented[name] = { ...doc.schema, description: doc.description };
      response.headers = documented;
    }
    return transformed;
  };
}

const API_DESCRIPTION = [
  "Gives container log lines their pod's identity and metadata (kube-log-enricher).",
  '',
  'Errors are always JSON: `{"error": "...", "details": [...]}`. When the service runs with',
  '`server.authToken`, every route but /healthz and /readyz needs `Authorization: Bearer <token>`.',
  '',
  'Before any route, every request may be answered, in the same shape and then with the connection closed: 400 when it',
  'is not HTTP/1.1, 408 when its line and headers did not arrive within `server.headersTimeout` or the whole request',
  'within `server.requestTimeout`, 431 when its line (the URL with its query) and headers exceed 16 KiB.',
  '',
  'While the service shuts down, requests in flight are answered; one that still arrives (on a connection opened before)',
  'gets 503 with `Retry-After` before its body is read, nothing of it used, and its connection is closed.',
].join('\n');

export async function registerOpenApi(app: FastifyInstance): Promise<void> {
  await app.register(fastifySwagger, {
    openapi: {
      openapi: '3.1.0',
      info: { title: 'kube-log-enricher', description: API_DESCRIPTION, version: PACKAGE_VERSION },
      components: { securitySchemes: { bearerAuth: { type: 'http', scheme: 'bearer', description: 'server.authToken, when configured' } } },
      security: [{ bearerAuth: [] }],
      tags: [
        { name: 'enrichment', description: 'Raw events in, enriched events out' },
        { name: 'streaming', description: 'WebSocket routes' },
        { name: 'operations', description: 'Health, readiness, metrics and this document' },
      ],
    },
    transform: zodSchemaTransform,
    transformObject: jsonSchemaTransformObject,
  });
}

/** The document as committed: stable key order from the route order, two-space indent, final newline. */
export function renderOpenApi(app: FastifyInstance): string {
  return `${JSON.stringify(app.swagger(), null, 2)}\n`;
}
