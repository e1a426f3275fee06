/**
 * The live-tail page as the service serves it: the page and its assets under a content-hash
 * version with a strict CSP, reachable without a token; the page's WebSocket authorised by a
 * subprotocol that the service never echoes. The page itself runs in test/ui/page.test.ts.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { WebSocket } from 'ws';
import { WS_BEARER_PREFIX, WS_SUBPROTOCOL } from '../../src/server/auth.ts';
import { loadUiAssets, UI_DIR } from '../../src/server/ui/assets.ts';
import { get, post, ndjson, rawEvent, startStack } from './harness.ts';

const TOKEN = 'ui-secret-token';

function assetBase(html: string): string {
  const base = /<script type="module" src="(\/ui\/[\w-]+\/)app\.js"><\/script>/.exec(html)?.[1];
  if (base === undefined) throw new Error(`no module script in the page: ${html.slice(0, 300)}`);
  return base;
}

t.test('the page: strict CSP, revalidated; its assets: versioned by content, cached for good', async (t) => {
  const stack = await startStack(t);
  const page = await get(`${stack.url}/`);
  t.equal(page.status, 200);
  t.match(page.headers.get('content-type'), /^text\/html/);
  t.equal(page.headers.get('cache-control'), 'no-cache');
  const csp = page.headers.get('content-security-policy') ?? '';
  t.match(csp, /default-src 'none'/);
  t.match(csp, /script-src 'self'(;|$)/);
  t.match(csp, /style-src 'self'(;|$)/);
  t.notMatch(csp, /unsafe-inline|unsafe-eval/, 'nothing inline, no eval');
  t.equal(page.headers.get('x-content-type-options'), 'nosniff');
  t.notMatch(page.text, /<script>|<style>|\sstyle=|\son\w+=/, 'the page has no inline script, style or handler');

  const base = assetBase(page.text);
  t.equal(base, `/ui/${loadUiAssets({}).version}/`, 'the version is the hash of the files');
  for (const [file, type] of [['app.js', /^text\/javascript/], ['app.css', /^text\/css/]] as const) {
    const asset = await get(`${stack.url}${base}${file}`);
    t.equal(asset.status, 200, file);
    t.match(asset.headers.get('content-type'), type);
    t.equal(asset.headers.get('cache-control'), 'public, max-age=31536000, immutable');
    t.equal(asset.text, readFileSync(join(UI_DIR, file), 'utf8'));
  }
  const stale = await get(`${stack.url}/ui/0000000000000000/app.js`);
  t.equal(stale.status, 404, 'an asset of another version is not served under this one');
  t.match(JSON.parse(stale.text), { error: 'not found', details: [{ field: 'path', message: /another version/ }] });
  t.equal((await get(`${stack.url}${base}nope.js`)).status, 404);
  t.equal((await get(`${stack.url}${base}..%2Fpackage.json`)).status, 404, 'only the listed files');
});

t.test('every module the page imports is one of its served files', async (t) => {
  const files = new Set(readdirSync(UI_DIR));
  for (const file of files) {
    if (!file.endsWith('.js')) continue;
    for (const m of readFileSync(join(UI_DIR, file), 'utf8').matchAll(/from '\.\/([\w-]+\.js)'/g)) t.ok(files.has(m[1]!), `${file} imports ${m[1]}`);
  }
});

t.test('with server.authToken: the page loads without it, the API and the stream need it', async (t) => {
  const stack = await startStack(t, { config: { server: { authToken: TOKEN } } });
  const page = await get(`${stack.url}/`);
  t.equal(page.status, 200, 'the page needs no token');
  t.equal((await get(`${stack.url}${assetBase(page.text)}app.js`)).status, 200, 'nor its assets');
  t.equal((await get(`${stack.url}/v1/pods`)).status, 401, 'the data does');

  const open = (protocols: string[]) =>
    new Promise<{ socket: WebSocket } | { status: number }>((resolve, reject) => {
      const socket = new WebSocket(`${stack.url.replace(/^http/, 'ws')}/v1/stream`, protocols);
      socket.once('open', () => resolve({ socket }));
      socket.once('unexpected-response', (_req, res) => {
        res.resume();
        resolve({ status: res.statusCode ?? 0 });
      });
      socket.once('error', reject);
    });
  const bearer = (token: string) => WS_BEARER_PREFIX + Buffer.from(token).toString('base64url');

  t.same(await open([WS_SUBPROTOCOL]), { status: 401 }, 'no token offered: 401 before the upgrade');
  t.same(await open([WS_SUBPROTOCOL, bearer('wrong')]), { status: 401 }, 'a wrong token: 401');
  const opened = await open([WS_SUBPROTOCOL, bearer(TOKEN)]);
  if (!('socket' in opened)) throw new Error(`expected an upgrade, got ${opened.status}`);
  const socket = opened.socket;
  t.teardown(() => socket.close());
  t.equal(socket.protocol, WS_SUBPROTOCOL, "the service picks the API's subprotocol, never echoing the token");

  const received: string[] = [];
  socket.on('message', (data) => received.push(data.toString()));
  const cart = stack.pod('cart');
  const res = await post(`${stack.url}/v1/enrich`, ndjson([rawEvent(cart, 'hello page')]), {
    'content-type': 'application/x-ndjson',
    authorization: `Bearer ${TOKEN}`,
  });
  t.equal(res.status, 200);
  const deadline = Date.now() + 30_000;
  while (!received.join('').includes('hello page') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  t.match(received.join(''), /hello page/, 'events flow to the subscriber');
});
