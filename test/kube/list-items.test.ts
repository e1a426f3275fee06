/**
 * splitListItems against JSON.parse: for every list answer, the envelope and the items parsed
 * one by one must equal the answer parsed whole; text not shaped like a list is left to
 * JSON.parse (undefined), never split wrongly.
 */
import { isDeepStrictEqual } from 'node:util';
import t from 'tap';
import { splitListItems } from '../../src/kube/list-items.ts';
import { SeededRandom } from '../../src/sim/index.ts';

function reassembled(text: string): unknown {
  const parts = splitListItems(text);
  if (parts === undefined) return undefined;
  const envelope = JSON.parse(parts.envelope) as { items: unknown[] };
  for (let i = 0; i < parts.spans.length; i += 2) envelope.items.push(JSON.parse(text.slice(parts.spans[i], parts.spans[i + 1])));
  return envelope;
}

t.test('lists shaped as the API server writes them', async (t) => {
  const cases: Record<string, string> = {
    'usual order': '{"kind":"PodList","apiVersion":"v1","metadata":{"resourceVersion":"42","continue":"abc"},"items":[{"metadata":{"name":"a"}},{"metadata":{"name":"b"}}]}',
    'items first': '{"items":[{"a":1}],"metadata":{"resourceVersion":"1"}}',
    'empty items': '{"metadata":{"resourceVersion":"1"},"items":[]}',
    'empty items with spaces': '{ "metadata" : {"resourceVersion":"1"} , "items" : [ \n ] }',
    'pretty printed': JSON.stringify({ kind: 'PodList', metadata: { resourceVersion: '7' }, items: [{ a: [1, 2, { b: '}' }] }, { c: null }] }, null, 2),
    'strings with brackets, commas, quotes and escapes': String.raw`{"metadata":{"resourceVersion":"1"},"items":[{"s":"],}{[\"x\\"},{"t":"\\","u":"\u005d"},"plain",3,true,null,[1,[2]]]}`,
    'a key named items below the top': '{"metadata":{"items":[1,2],"resourceVersion":"1"},"items":[{"items":[{"items":[]}]}]}',
    'the word items as a value': '{"kind":"items","metadata":{"resourceVersion":"1"},"items":[{"x":"items"}]}',
    'unicode': '{"metadata":{"resourceVersion":"1"},"items":[{"label":"café ☕ 日本"},{"emoji":"🙂"}]}',
  };
  for (const [name, text] of Object.entries(cases)) {
    t.ok(splitListItems(text), `${name}: split`);
    t.same(reassembled(text), JSON.parse(text), `${name}: the same objects as JSON.parse`);
  }
});

t.test('random lists: split and whole parse agree', async (t) => {
  const random = new SeededRandom(11);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random.next() * xs.length)]!;
  const strings = ['', 'a', '"', '\\', '\\"', '],[', '{}', ',', ':', 'items', '\n\t', 'é', '\u2028', '"items":['];
  const value = (depth: number): unknown => {
    const r = random.next();
    if (depth > 3 || r < 0.3) return pick([0, -1.5, 1e21, true, false, null, ...strings]);
    if (r < 0.65) return Array.from({ length: Math.floor(random.next() * 4) }, () => value(depth + 1));
    return Object.fromEntries(Array.from({ length: Math.floor(random.next() * 4) }, () => [pick(strings), value(depth + 1)]));
  };
  let checked = 0;
  for (let n = 0; n < 300; n++) {
    const list = { kind: 'List', metadata: { resourceVersion: String(n) }, items: Array.from({ length: Math.floor(random.next() * 6) }, () => value(0)) };
    const text = JSON.stringify(list, null, n % 3 === 0 ? 1 : undefined);
    const again = reassembled(text);
    if (again === undefined) {
      t.fail(`list ${n} was not split: ${text.slice(0, 200)}`);
      continue;
    }
    // node:util's strict deep equality (tap's same() is loose about types).
    t.ok(isDeepStrictEqual(again, JSON.parse(text)), `list ${n}`);
    checked++;
  }
  t.equal(checked, 300, 'every random list split');
});

t.test('text that is not a list is left to JSON.parse', async (t) => {
  const notLists: Record<string, string> = {
    'an array': '[1,2]',
    'no items': '{"metadata":{"resourceVersion":"1"}}',
    'items not an array': '{"items":{"a":1}}',
    'unterminated string': '{"items":["abc]}',
    'unbalanced': '{"items":[{"a":1}]',
    'too many closers': '{"items":[]}}',
    'array closed by a brace': '{"items":[{"a":1}}',
    'empty element': '{"items":[1,,2]}',
    'trailing comma': '{"items":[1,]}',
    'leading comma': '{"items":[,1]}',
    'empty text': '',
  };
  for (const [name, text] of Object.entries(notLists)) t.equal(splitListItems(text), undefined, name);
});

t.test('malformed elements are found by parsing them', async (t) => {
  // The scan tracks nesting only: an element with garbage in it is split, and JSON.parse refuses it.
  const parts = splitListItems('{"metadata":{"resourceVersion":"1"},"items":[{"a":1} x,{"b":2}]}');
  t.ok(parts);
  t.throws(() => JSON.parse('{"metadata":{"resourceVersion":"1"},"items":[{"a":1} x,{"b":2}]}'.slice(parts!.spans[0], parts!.spans[1])), 'the bad element does not parse');
});
