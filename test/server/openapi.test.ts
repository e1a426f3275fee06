/**
 * The OpenAPI document: the committed file equals the generated one, GET /openapi.json serves
 * it, and real answers of the service validate against the schemas it documents.
 */
import { readFileSync } from 'node:fs';
import t from 'tap';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { generateOpenApi, OPENAPI_FILE } from '../../scripts/generate-openapi.ts';
import { fileOf, get, ndjson, post, rawEvent, startStack, waitFor } from './harness.ts';

type Json = Record<string, unknown>;
interface Operation {
  responses: Record<string, { description: string; content?: Record<string, { schema: Json }>; headers?: Json }>;
  requestBody?: { content: Record<string, { schema: Json }> };
  parameters?: { name: string; in: string }[];
  security?: unknown[];
}
type Document = { openapi: string; info: { version: string }; paths: Record<string, Record<string, Operation>>; components: { schemas: Record<string, Json> } };

t.test('openapi/openapi.json is up to date', async (t) => {
  const generated = await generateOpenApi();
  let committed = '';
  try {
    committed = readFileSync(OPENAPI_FILE, 'utf8');
  } catch {
    // reported below
  }
  t.ok(committed === generated, 'openapi/openapi.json differs from the document the routes generate: run `npm run openapi` and commit openapi/openapi.json');
});

t.test('the document and the service agree', async (t) => {
  const doc = JSON.parse(readFileSync(OPENAPI_FILE, 'utf8')) as Document;
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  const stack = await startStack(t);

  t.test('GET /openapi.json serves the committed document', async (t) => {
    const res = await get(`${stack.url}/openapi.json`);
    t.equal(res.status, 200);
    t.match(res.headers.get('content-type'), /^application\/json/);
    t.same(JSON.parse(res.text), doc);
  });

  t.test('shape: OpenAPI 3.1, package version, every route, WebSockets as GET with 101', async (t) => {
    t.equal(doc.openapi, '3.1.0');
    t.equal(doc.info.version, pkg.version);
    t.same(Object.keys(doc.paths).sort(), ['/healthz', '/metrics', '/openapi.json', '/readyz', '/v1/enrich', '/v1/forward', '/v1/ingest', '/v1/logs', '/v1/lookup', '/v1/pods', '/v1/stream', '/v1/views'].sort());
    for (const path of ['/v1/ingest', '/v1/stream']) {
      const op = doc.paths[path]!.get!;
      t.ok(op.responses['101'], `${path}: 101 Switching Protocols`);
      t.match((op as unknown as { description: string }).description, /NDJSON/, `${path}: message formats described`);
    }
    t.same(
      Object.keys(doc.paths['/v1/enrich']!.post!.requestBody!.content).sort(),
      ['application/json', 'application/json-lines', 'application/jsonl', 'application/ndjson', 'application/x-jsonlines', 'application/x-ndjson'],
      'JSON, and NDJSON under each of its names',
    );
    t.same(Object.keys(doc.paths['/v1/enrich']!.post!.responses['200']!.content!).sort(), ['application/json', 'application/x-ndjson']);
    t.ok(doc.paths['/v1/enrich']!.post!.responses['200']!.headers!['X-Enrich-Errors'], 'error headers documented');
    t.ok(doc.paths['/v1/forward']!.post!.responses['503']!.headers!['Retry-After'], 'Retry-After documented');
    t.same(doc.paths['/healthz']!.get!.security, [], 'probes need no token');
    t.same(doc.paths['/readyz']!.get!.security, []);
    t.same(
      doc.paths['/v1/stream']!.get!.parameters!.map((p) => p.name),
      ['namespace', 'pod', 'container', 'labelSelector'],
    );
  });

  t.test('real answers validate against the documented schemas', async (t) => {
    const ajv = new Ajv2020({ strict: true, validateFormats: false, allowUnionTypes: true });
    // Document-relative references inlined, so each response schema compiles on its own.
    const inline = (value: unknown): unknown => {
      if (Array.isArray(value)) return value.map(inline);
      if (typeof value !== 'object' || value === null) return value;
      const ref = (value as { $ref?: string }).$ref;
      if (ref !== undefined) return inline(doc.components.schemas[ref.replace('#/components/schemas/', '')]);
      return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, inline(v)]));
    };
    const check = (path: string, method: string, status: number, body: unknown, type = 'application/json') => {
      const schema = doc.paths[path]![method]!.responses[String(status)]!.content![type]!.schema;
      const validate = ajv.compile(inline(schema) as Json);
      t.ok(validate(body), `${method.toUpperCase()} ${path} ${status}: ${ajv.errorsText(validate.errors)}`);
    };
    const cart = stack.pod('cart');

    const enriched = await post(`${stack.url}/v1/enrich`, JSON.stringify([rawEvent(cart, 'a'), 3]), { 'content-type': 'application/json' });
    check('/v1/enrich', 'post', 200, JSON.parse(enriched.text));
    const bad = await post(`${stack.url}/v1/enrich`, '{"events": [', { 'content-type': 'application/json' });
    check('/v1/enrich', 'post', 400, JSON.parse(bad.text));
    const unsupported = await post(`${stack.url}/v1/enrich`, 'x', { 'content-type': 'text/plain' });
    check('/v1/enrich', 'post', 415, JSON.parse(unsupported.text));
    const lookup = await get(`${stack.url}/v1/lookup?file=${encodeURIComponent(fileOf(cart))}`);
    check('/v1/lookup', 'get', 200, JSON.parse(lookup.text));
    const unknown = await get(`${stack.url}/v1/lookup?file=/nope`);
    check('/v1/lookup', 'get', 200, JSON.parse(unknown.text));
    const views = await post(`${stack.url}/v1/views`, JSON.stringify({ files: [fileOf(cart), '/nope'] }), { 'content-type': 'application/json' });
    check('/v1/views', 'post', 200, JSON.parse(views.text));
    check('/v1/views', 'post', 400, JSON.parse((await post(`${stack.url}/v1/views`, '{"files": [1]}', { 'content-type': 'application/json' })).text));
    check('/v1/views', 'post', 415, JSON.parse((await post(`${stack.url}/v1/views`, 'x', { 'content-type': 'text/plain' })).text));
    stack.sim.delete('pods', cart.namespace, cart.name);
    await waitFor(async () => (JSON.parse((await get(`${stack.url}/v1/pods?state=retained`)).text) as { retained: number }).retained === 1, 'a retained pod');
    check('/v1/pods', 'get', 200, JSON.parse((await get(`${stack.url}/v1/pods`)).text));
    check('/v1/pods', 'get', 400, JSON.parse((await get(`${stack.url}/v1/pods?labelSelector=a%20in`)).text));
    check('/readyz', 'get', 200, JSON.parse((await get(`${stack.url}/readyz`)).text));
    check('/healthz', 'get', 200, JSON.parse((await get(`${stack.url}/healthz`)).text));
    const forward = await post(`${stack.url}/v1/forward`, ndjson([rawEvent(cart, 'f')]), { 'content-type': 'application/x-ndjson' });
    check('/v1/forward', 'post', 501, JSON.parse(forward.text));
    check('/v1/stream', 'get', 426, JSON.parse((await get(`${stack.url}/v1/stream`)).text));
  });
});
