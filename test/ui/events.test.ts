/**
 * The page's pure modules, run in Node on real service output: what a row shows of an event of
 * each output schema, the search, and the counters read from /metrics. (The page as a whole runs
 * in a browser in page.test.ts.)
 */
import t from 'tap';
import { get, ndjson, post, rawEvent, startStack } from '../server/harness.ts';

interface Row {
  seq: number;
  kind: string;
  time: string;
  namespace: string;
  pod: string;
  container: string;
  stderr: boolean;
  message: string;
  raw: string;
}
interface EventsModule {
  Row: new (seq: number, kind: string) => Row;
  fillFromEvent(row: Row, event: unknown, raw: string): Row;
  compileSearch(query: string, asRegex: boolean): { regex?: RegExp; error?: string };
  rowMatches(row: Row, regex: RegExp | undefined): boolean;
  matchRanges(regex: RegExp | undefined, value: string, limit?: number): [number, number][];
}
interface StorePanelModule {
  parseCounters(text: string): { totals: Map<string, number>; unmatched: Map<string, number> };
}

// Browser modules, loaded as they are served (a specifier TypeScript does not resolve: plain JS).
const events = (await import('../../ui/events.js' as string)) as EventsModule;
const storePanel = (await import('../../ui/store-panel.js' as string)) as StorePanelModule;

for (const schema of ['vector', 'fluentbit', 'otel'] as const) {
  t.test(`a row of a ${schema} event`, async (t) => {
    const stack = await startStack(t, { config: { enrichment: { schema } } });
    const front = stack.pod('front');
    const res = await post(`${stack.url}/v1/enrich`, ndjson([rawEvent(front, 'disk <b>full</b>', { stream: 'stderr', container: 'sidecar' })]), {
      'content-type': 'application/x-ndjson',
    });
    t.equal(res.status, 200);
    const line = res.text.trim();
    const row = events.fillFromEvent(new events.Row(1, 'event'), JSON.parse(line), line);
    t.match(row, { namespace: 'shop', pod: front.name, container: 'sidecar', stderr: true, message: 'disk <b>full</b>', raw: line });
    t.match(row.time, /^\d\d:\d\d:\d\d(\.\d{1,3})?$/, `a clock time (${row.time})`);
  });
}

t.test('search: text is literal and case-insensitive, /regex/flags and the regex box compile, errors say so', async (t) => {
  const row = new events.Row(1, 'event');
  row.message = 'GET /api/v1/cart?id=1 took 3.5s';
  const find = (query: string, asRegex = false) => {
    const { regex, error } = events.compileSearch(query, asRegex);
    if (error !== undefined) throw new Error(error);
    return events.matchRanges(regex, row.message);
  };
  t.same(find('CART?ID'), [[12, 19]], 'special characters are literal');
  t.same(find('3.5'), [[27, 30]]);
  t.same(find('/\\d/'), [[10, 11], [20, 21], [27, 28], [29, 30]], '/regex/ (global added)');
  t.same(find('^get', true), [[0, 3]], 'the regex box: case-insensitive');
  t.same(find('/^get/'), [], 'flags as written');
  t.match(events.compileSearch('(', true), { error: /^search: / });
  t.same(events.compileSearch('', false), { regex: undefined });
  const gap = new events.Row(2, 'gap');
  t.equal(events.rowMatches(gap, events.compileSearch('nothing', false).regex), true, 'a gap always shows');
  t.equal(events.rowMatches(row, events.compileSearch('nothing', false).regex), false);
  const pod = new events.Row(3, 'event');
  pod.pod = 'cart-7d9f8';
  t.equal(events.rowMatches(pod, events.compileSearch('cart', false).regex), true, 'the pod name is searched too');
  t.same(events.matchRanges(events.compileSearch('/x*/', false).regex, 'abc'), [], 'empty matches end the scan');
});

t.test("the store panel's counters from the service's /metrics", async (t) => {
  const stack = await startStack(t);
  const unknown = rawEvent({ namespace: 'gone', name: 'ghost-0', uid: '0b6c1d2e-0000-4000-8000-000000000000', container: 'app', labels: {} }, 'hello');
  await post(`${stack.url}/v1/enrich`, ndjson([rawEvent(stack.pod('cart'), 'a'), unknown, unknown]), { 'content-type': 'application/x-ndjson' });
  const { totals, unmatched } = storePanel.parseCounters((await get(`${stack.url}/metrics`)).text);
  t.equal(totals.get('events_in_total'), 3, 'events in, summed over routes');
  t.equal(totals.get('events_out_total'), 3);
  t.same([...unmatched].filter(([, n]) => n > 0), [['pod_not_found', 2]], 'unmatched by reason');
});
