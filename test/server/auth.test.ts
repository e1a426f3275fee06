/** The optional bearer token: every route but the probes, HTTP and WebSocket alike. */
import t from 'tap';
import { bearerTokenMatches } from '../../src/server/auth.ts';
import { createHash } from 'node:crypto';
import { get, ndjson, post, rawEvent, startStack, WsClient } from './harness.ts';

const TOKEN = 'kle-test-token-6f1c';
const RIGHT = { authorization: `Bearer ${TOKEN}` };

t.test('bearerTokenMatches', async (t) => {
  const digest = createHash('sha256').update(TOKEN).digest();
  t.ok(bearerTokenMatches(`Bearer ${TOKEN}`, digest));
  t.ok(bearerTokenMatches(`bearer ${TOKEN}`, digest), 'scheme is case-insensitive');
  t.notOk(bearerTokenMatches(undefined, digest));
  t.notOk(bearerTokenMatches(`Bearer ${TOKEN}x`, digest));
  t.notOk(bearerTokenMatches('Bearer x', digest), 'a shorter token is compared without throwing');
  t.notOk(bearerTokenMatches(`Basic ${TOKEN}`, digest));
  t.notOk(bearerTokenMatches(`Bearer ${TOKEN} extra`, digest));
  t.notOk(bearerTokenMatches('Bearer', digest));
});

t.test('routes with a token configured', async (t) => {
  const stack = await startStack(t, { config: { server: { authToken: TOKEN } } });
  const cart = stack.pod('cart');

  t.test('probes need no token', async (t) => {
    t.equal((await get(`${stack.url}/healthz`)).status, 200);
    t.equal((await get(`${stack.url}/readyz`)).status, 200);
  });

  t.test('missing token: 401 with WWW-Authenticate', async (t) => {
    for (const path of ['/metrics', '/openapi.json', '/v1/lookup?file=/x', '/v1/stream', '/no-such-route']) {
      const res = await get(`${stack.url}${path}`);
      t.equal(res.status, 401, path);
      t.match(res.headers.get('www-authenticate'), /^Bearer realm="kube-log-enricher"$/, path);
      t.match(JSON.parse(res.text), { error: 'authentication required', details: [{ field: 'authorization' }] }, path);
    }
    const enrich = await post(`${stack.url}/v1/enrich`, ndjson([rawEvent(cart, 'x')]), { 'content-type': 'application/x-ndjson' });
    t.equal(enrich.status, 401);
  });

  t.test('wrong token: 401 invalid_token', async (t) => {
    for (const authorization of [`Bearer ${TOKEN.slice(0, -1)}`, `Bearer ${TOKEN}${TOKEN}`, `Basic ${TOKEN}`, 'Bearer ']) {
      const res = await get(`${stack.url}/metrics`, { authorization });
      t.equal(res.status, 401, authorization);
      t.match(res.headers.get('www-authenticate'), /error="invalid_token"/);
      t.notMatch(res.text, TOKEN, 'the token is never echoed');
    }
  });

  t.test('right token: served', async (t) => {
    t.equal((await get(`${stack.url}/metrics`, RIGHT)).status, 200);
    t.equal((await get(`${stack.url}/openapi.json`, RIGHT)).status, 200);
    const res = await post(`${stack.url}/v1/enrich`, ndjson([rawEvent(cart, 'x')]), { 'content-type': 'application/x-ndjson', ...RIGHT });
    t.equal(res.status, 200);
  });

  t.test('WebSocket upgrades are checked before the upgrade', async (t) => {
    const refused = await WsClient.open(`${stack.url}/v1/stream`).then(
      () => undefined,
      (err: { status?: number; body?: string }) => err,
    );
    t.equal(refused?.status, 401);
    t.match(JSON.parse(refused?.body ?? '{}'), { error: 'authentication required' });
    const wrong = await WsClient.open(`${stack.url}/v1/ingest`, { authorization: 'Bearer nope' }).then(
      () => undefined,
      (err: { status?: number }) => err,
    );
    t.equal(wrong?.status, 401);
    const client = await WsClient.open(`${stack.url}/v1/ingest`, RIGHT);
    client.socket.send(JSON.stringify(rawEvent(cart, 'authorised')));
    await client.until(() => client.events().length === 1, 'the enriched event');
    t.equal(client.events()[0]!.message, 'authorised');
    await client.close();
  });
});
