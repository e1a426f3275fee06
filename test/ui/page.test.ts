/**
 * The live-tail page in a real browser (the system's headless Chromium) against the demo: a
 * simulated cluster, a growing pod-log tree and pods deleted as it runs. The service has a token,
 * so the page must ask for it first. Every wait is for a condition, with a generous cap.
 */
import { Writable } from 'node:stream';
import t from 'tap';
import type { Page } from 'playwright-core';
import { defaultConfig, type Config } from '../../src/config/index.ts';
import { startDemo } from '../../src/demo/demo.ts';
import { createLogger } from '../../src/log/index.ts';
import { criLine, podLogPath } from '../builders/lines.ts';
import { waitFor } from '../builders/wait.ts';
import { chromiumMissing, launchChromium } from './browser.ts';

// What the callbacks passed to page.evaluate / waitForFunction use: they run in the page.
interface PageElement {
  textContent: string | null;
  hidden: boolean;
  getAttribute(name: string): string | null;
}
declare const document: { querySelector(selector: string): PageElement | null; querySelectorAll(selector: string): Iterable<PageElement> & { length: number } };
declare const location: { href: string };
declare const sessionStorage: { getItem(key: string): string | null };

const TOKEN = 'page-test-token';
/** A cap for a loaded machine, not a measure. */
const CAP_MS = 120_000;
const HOSTILE = '<script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2"> pwned-marker';

interface PodRow {
  namespace: string;
  name: string;
  uid: string;
  state: string;
  containers: string[];
  labels: Record<string, string>;
}

async function startTestDemo(t: { teardown(fn: () => unknown): void }) {
  const base = defaultConfig();
  const config: Config = {
    ...base,
    server: { ...base.server, listen: '127.0.0.1:0', grpcListen: '', authToken: TOKEN },
    source: { ...base.source, sink: 'stdout' },
  };
  const discard = new Writable({ write: (_chunk, _encoding, done) => done() });
  const runtime = { env: {}, homeDir: undefined, logger: createLogger({ level: 'warn' }), stdout: discard };
  // Pods deleted every 1.5 s, so a retained one shows soon; it keeps the default 60 s deletion delay.
  const demo = await startDemo(config, runtime, { tickMs: 200, churnMs: 1500, lastLinesMs: 1000, removeDirAfterMs: 10_000 });
  t.teardown(() => demo.stop());
  return demo;
}

async function api<T>(url: string, path: string, init: RequestInit = {}): Promise<T> {
  const res = await fetch(`${url}${path}`, { ...init, headers: { authorization: `Bearer ${TOKEN}`, ...(init.headers ?? {}) } });
  if (!res.ok) throw new Error(`${path}: HTTP ${res.status} ${await res.text()}`);
  return (await res.json()) as T;
}

/** The rows in sight: their where (ns/pod/container) and message. */
async function visibleRows(page: Page): Promise<{ where: string; message: string; kind: string }[]> {
  return page.$$eval('#spacer .row:not([hidden])', (rows) =>
    rows.map((row) => ({
      where: row.querySelector('.where')?.textContent ?? '',
      message: row.querySelector('.message')?.textContent ?? '',
      kind: row.classList.contains('event') ? 'event' : row.classList.contains('gap') ? 'gap' : 'other',
    })),
  );
}

async function statusNumber(page: Page, key: 'received' | 'dropped'): Promise<number> {
  return Number(await page.getAttribute('#status', `data-${key}`));
}

async function shownCount(page: Page): Promise<number> {
  const text = (await page.textContent('#status')) ?? '';
  return Number(/([\d,]+) shown/.exec(text)?.[1]?.replace(/,/g, '') ?? NaN);
}

async function applyFilters(page: Page, values: Partial<Record<'namespace' | 'pod' | 'container' | 'labelSelector' | 'q', string>>): Promise<void> {
  for (const [name, value] of Object.entries(values)) await page.fill(`#filters [name="${name}"]`, value);
  await page.click('#filters button[type="submit"]');
}

t.test('the live-tail page against the demo', { skip: chromiumMissing() }, async (t) => {
  t.setTimeout(900_000);
  const demo = await startTestDemo(t);
  const url = demo.agent.service.url;
  const launched = await launchChromium();
  t.teardown(() => launched.close());
  const page = await launched.context.newPage();
  page.setDefaultTimeout(CAP_MS);
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(m.text());
  });
  const urls: string[] = [];
  page.on('request', (r) => urls.push(r.url()));
  page.on('websocket', (ws) => urls.push(ws.url()));

  await t.test('asks for the token, keeps it in sessionStorage, never puts it in a URL', async (t) => {
    await page.goto(`${url}/`);
    await page.waitForSelector('#login[open]');
    await page.fill('#login [name="token"]', 'not-the-token');
    await page.click('#login button[type="submit"]');
    await page.waitForSelector('#login[open] #login-error:not([hidden])');
    t.match(await page.textContent('#login-error'), /does not match/, 'a wrong token is refused, and it says so');
    await page.fill('#login [name="token"]', TOKEN);
    await page.click('#login button[type="submit"]');
    await page.waitForSelector('#connection.ok');
    t.equal(await page.evaluate(() => sessionStorage.getItem('kube-log-enricher.token')), TOKEN);
    t.equal(await page.evaluate(() => document.querySelector('#filter-error')!.hidden), true, 'no error shown');
  });

  await t.test('follows live events', async (t) => {
    await page.waitForFunction(() => document.querySelectorAll('#spacer .row.event:not([hidden])').length >= 5);
    const rows = await visibleRows(page);
    t.ok(rows.filter((r) => r.kind === 'event').length >= 5, `events are shown (${rows.length} rows in sight)`);
    t.ok(rows.every((r) => r.kind !== 'event' || /^[\w.-]+\/[\w.-]+\/[\w.-]+$/.test(r.where)), 'each names its namespace/pod/container');
    const stderr = await page.$$('#spacer .row.stderr .stream');
    if (stderr.length > 0) t.equal(await stderr[0]!.textContent(), 'ERR', 'stderr lines are marked');
  });

  // A pod the demo created (labelled app=web) and that is still live: churn makes one every 1.5 s.
  const web = await waitFor(async () => {
    const live = (await api<{ pods: PodRow[] }>(url, '/v1/pods?state=live&labelSelector=app%3Dweb')).pods;
    return live.find((p) => p.namespace !== 'kube-system') ?? live[0];
  }, 'a live pod labelled app=web', CAP_MS);

  await t.test('filters by namespace, in the URL', async (t) => {
    const namespace = web.namespace;
    await applyFilters(page, { namespace });
    await page.waitForFunction((ns) => new URL(location.href).searchParams.get('namespace') === ns, namespace);
    // Rows shown before the filter took effect may still be there for a moment: wait for the list
    // the filter gives (it is cleared and refilled), then look at it.
    const rows = await waitFor(async () => {
      const events = (await visibleRows(page)).filter((r) => r.kind === 'event');
      return events.length >= 2 && events.every((r) => r.where.startsWith(`${namespace}/`)) ? events : undefined;
    }, `at least 2 events, all of ${namespace}`, CAP_MS);
    t.ok(rows.length >= 2, `events of ${namespace} (${rows.length})`);
    t.same(rows.filter((r) => !r.where.startsWith(`${namespace}/`)), [], `only ${namespace}`);
  });

  await t.test('filters by label selector; a bad one is shown inline', async (t) => {
    await applyFilters(page, { namespace: '', labelSelector: 'app in (' });
    await page.waitForSelector('#filter-error:not([hidden])');
    t.match(await page.textContent('#filter-error'), /labelSelector/, 'the error names the field');

    await applyFilters(page, { labelSelector: 'app=web' });
    await page.waitForSelector('#filter-error', { state: 'hidden' });
    await page.waitForFunction(() => new URL(location.href).searchParams.get('labelSelector') === 'app=web');
    // As above: the rows of the previous filter may still show for a moment.
    const podOf = (r: { where: string }): string => r.where.split('/').slice(0, 2).join('/');
    const { rows, webPods } = await waitFor(async () => {
      const events = (await visibleRows(page)).filter((r) => r.kind === 'event');
      const pods = new Set((await api<{ pods: PodRow[] }>(url, '/v1/pods?labelSelector=app%3Dweb')).pods.map((p) => `${p.namespace}/${p.name}`));
      return events.length >= 2 && events.every((r) => pods.has(podOf(r))) ? { rows: events, webPods: pods } : undefined;
    }, 'at least 2 events, all of pods labelled app=web', CAP_MS);
    t.same(rows.filter((r) => !webPods.has(podOf(r))), [], 'only pods labelled app=web');
  });

  await t.test('a shared URL restores the filters', async (t) => {
    const shared = page.url();
    const other = await launched.context.newPage();
    t.teardown(() => other.close());
    await other.goto(shared);
    t.equal(await other.inputValue('#filters [name="labelSelector"]'), 'app=web', 'the token is in this tab session only, the filters come from the URL');
  });

  await t.test('pauses without moving, resumes with what arrived meanwhile', async (t) => {
    await page.click('#pause');
    await page.waitForSelector('#pause[aria-pressed="true"]');
    const shown = await shownCount(page);
    const firstRow = (await visibleRows(page))[0];
    const received = await statusNumber(page, 'received');
    await page.waitForFunction((n) => Number(document.querySelector('#status')!.getAttribute('data-received')) >= n + 3, received);
    t.equal(await shownCount(page), shown, 'nothing added to the list while paused');
    t.same((await visibleRows(page))[0], firstRow, 'the same rows in sight');
    t.match(await page.textContent('#status'), /[1-9][\d,]* waiting/, 'says how many wait');
    await page.click('#pause');
    await page.waitForSelector('#pause[aria-pressed="false"]');
    t.ok((await shownCount(page)) >= shown + 3, 'what arrived while paused is shown');
  });

  await t.test('a line expands to the whole event', async (t) => {
    const row = page.locator('#spacer .row.event:not([hidden])').nth(1);
    await row.click();
    await page.waitForSelector('#spacer #detail:not([hidden])');
    const rowBox = (await row.boundingBox())!;
    const detailBox = (await page.locator('#detail').boundingBox())!;
    t.ok(Math.abs(detailBox.y - (rowBox.y + rowBox.height)) <= 2, `the detail opens right under its line (${rowBox.y + rowBox.height} vs ${detailBox.y})`);
    const event = JSON.parse((await page.textContent('#detail-json'))!) as { message: string; kubernetes: { pod_name: string; pod_labels: Record<string, string> } };
    t.equal(event.kubernetes.pod_labels.app, 'web', 'the enriched event, labels and all');
    t.match(await page.textContent('#detail-json'), /\n {2}"kubernetes": \{/, 'pretty-printed');
    t.ok(await page.isVisible('#copy'), 'with a copy button');
    await page.keyboard.press('Escape');
    await page.waitForSelector('#detail', { state: 'hidden' });
    t.pass('Escape closes it');
  });

  await t.test("a retained pod's countdown", async (t) => {
    const handle = await page.waitForFunction(
      () => {
        const el = document.querySelector('#pods .retained .state');
        const m = el === null ? null : /forgotten in (\d+) s/.exec(el.textContent ?? '');
        return m === null ? null : Number(m[1]);
      },
      undefined,
      { timeout: CAP_MS },
    );
    const first = (await handle.jsonValue()) as number;
    t.ok(first > 0 && first <= 60, `seconds left within the deletion delay (${first})`);
    await page.waitForFunction(
      (n) => [...document.querySelectorAll('#pods .retained .state')].some((el) => Number(/forgotten in (\d+) s/.exec(el.textContent ?? '')?.[1]) < n),
      first,
    );
    t.pass('it counts down');
  });

  await t.test('a log line is text, never HTML; the search highlights it', async (t) => {
    await applyFilters(page, { labelSelector: '', namespace: web.namespace, pod: web.name });
    await page.waitForFunction((p) => new URL(location.href).searchParams.get('pod') === p, web.name);
    await page.waitForSelector('#connection.ok');
    const file = podLogPath({ namespace: web.namespace, pod: web.name, uid: web.uid, container: web.containers[0]! });
    // Posted until it shows: the subscription may be a moment behind the filter change.
    await page.fill('#filters [name="q"]', 'pwned-marker');
    const deadline = Date.now() + CAP_MS;
    while (!(await page.$('#spacer .row.event:not([hidden]) mark'))) {
      if (Date.now() > deadline) throw new Error('the hostile line never showed');
      await api(url, '/v1/enrich', {
        method: 'POST',
        headers: { 'content-type': 'application/x-ndjson' },
        body: JSON.stringify({ file, line: criLine({ message: HOSTILE }) }) + '\n',
      });
      await page.waitForTimeout(500);
    }
    const rows = (await visibleRows(page)).filter((r) => r.message.includes('pwned-marker'));
    t.ok(rows.length >= 1, 'the line is listed');
    t.equal(rows[0]!.message, HOSTILE, 'shown exactly as text');
    t.equal(await page.evaluate(() => (globalThis as { __pwned?: number }).__pwned), undefined, 'nothing in it ran');
    t.equal(await page.$$eval('#spacer img, #spacer script, #detail img, #detail script', (els) => els.length), 0, 'no element made from it');
    t.same(await page.$$eval('#spacer .row:not([hidden]) mark', (els) => [...new Set(els.map((e) => e.textContent))]), ['pwned-marker'], 'the match highlighted');
    await page.click('#spacer .row.event:not([hidden]) >> nth=0');
    await page.waitForSelector('#spacer #detail:not([hidden])');
    t.match(await page.textContent('#detail-json'), /<script>window.__pwned = 1<\/script>/, 'the detail shows it as text too');
    t.equal(await page.evaluate(() => (globalThis as { __pwned?: number }).__pwned), undefined);
  });

  t.same(urls.filter((u) => u.includes(TOKEN) || u.includes(Buffer.from(TOKEN).toString('base64url'))), [], 'no URL carries the token');
  t.same(
    errors.filter((e) => !/Failed to load resource: .* status of 40[01]/.test(e)),
    [],
    'no script error and no CSP violation in the console (the 401 that asks for the token and the 400 of the bad selector aside)',
  );
});
