/**
 * JsonArrayStream against JSON.parse, for list answers as the reflectors read them (member
 * `items`, nothing kept): whatever the chunks the bytes arrive in, the members and the elements
 * handed over must equal the answer parsed whole; text that is not such an object is a fault,
 * named by line and column, and never split wrongly. (The service's batches, the other user,
 * are checked the same way in test/server/json-batch-reader.test.ts.)
 */
import { isDeepStrictEqual } from 'node:util';
import t from 'tap';
import { JsonArrayStream, type JsonStreamEnd } from '../../src/json/array-stream.ts';
import { SeededRandom } from '../../src/sim/index.ts';

interface Read {
  end: JsonStreamEnd;
  /** The members and the items, put back together. */
  value: Record<string, unknown>;
}

/** `text` pushed in pieces of at most `piece` bytes (0: whole). */
function read(text: string, piece = 0): Read {
  const value: Record<string, unknown> = {};
  const stream = new JsonArrayStream({
    member: 'items',
    topLevelArray: false,
    keepUntilArray: false,
    onArrayStart: () => {
      value.items = [];
    },
    onElement: (item) => (value.items as unknown[]).push(item),
    onMember: (key, member) => {
      value[key] = member;
    },
  });
  const bytes = Buffer.from(text, 'utf8');
  const step = piece > 0 ? piece : Math.max(1, bytes.length);
  for (let at = 0; at < bytes.length; at += step) stream.push(bytes.subarray(at, at + step));
  return { end: stream.end(), value };
}

const PIECES = [0, 1, 2, 3, 7, 64];

t.test('lists shaped as the API server writes them, in pieces of any size', async (t) => {
  const cases: Record<string, string> = {
    'usual order': '{"kind":"PodList","apiVersion":"v1","metadata":{"resourceVersion":"42","continue":"abc"},"items":[{"metadata":{"name":"a"}},{"metadata":{"name":"b"}}]}',
    'items first': '{"items":[{"a":1}],"metadata":{"resourceVersion":"1"}}',
    'empty items': '{"metadata":{"resourceVersion":"1"},"items":[]}',
    'empty items with spaces': '{ "metadata" : {"resourceVersion":"1"} , "items" : [ \n ] }',
    'pretty printed': JSON.stringify({ kind: 'PodList', metadata: { resourceVersion: '7' }, items: [{ a: [1, 2, { b: '}' }] }, { c: null }] }, null, 2),
    'strings with brackets, commas, quotes and escapes': String.raw`{"metadata":{"resourceVersion":"1"},"items":[{"s":"],}{[\"x\\"},{"t":"\\","u":"\u005d"},"plain",3,true,null,[1,[2]]]}`,
    'a key named items below the top': '{"metadata":{"items":[1,2],"resourceVersion":"1"},"items":[{"items":[{"items":[]}]}]}',
    'the word items as a value': '{"kind":"items","metadata":{"resourceVersion":"1"},"items":[{"x":"items"}]}',
    'unicode split anywhere': '{"metadata":{"resourceVersion":"1"},"items":[{"label":"café ☕ 日本"},{"emoji":"🙂"}]}',
    'no items': '{"metadata":{"resourceVersion":"1"}}',
    'items null': '{"metadata":{"resourceVersion":"1"},"items":null}',
    'an empty object': ' {} ',
  };
  for (const [name, text] of Object.entries(cases)) {
    for (const piece of PIECES) {
      const r = read(text, piece);
      t.equal(r.end.kind, 'read', `${name} (pieces of ${piece}): read`);
      t.ok(isDeepStrictEqual(r.value, JSON.parse(text)), `${name} (pieces of ${piece}): the same values as JSON.parse`);
    }
  }
});

t.test('random lists in random pieces: streamed and whole parse agree', async (t) => {
  const random = new SeededRandom(11);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random.next() * xs.length)]!;
  const strings = ['', 'a', '"', '\\', '\\"', '],[', '{}', ',', ':', 'items', '\n\t', 'é', '\u2028', '"items":[', '🙂'];
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
    const r = read(text, 1 + Math.floor(random.next() * 40));
    // node:util's strict deep equality (tap's same() is loose about types).
    if (r.end.kind === 'read' && isDeepStrictEqual(r.value, JSON.parse(text))) checked++;
    else t.fail(`list ${n}: ${JSON.stringify(r.end)} ${text.slice(0, 200)}`);
  }
  t.equal(checked, 300, 'every random list read as JSON.parse reads it');
});

t.test('text that is not a list is a fault with its line and column, in any pieces', async (t) => {
  const faults: Record<string, [string, string]> = {
    'an array': ['[1,2]', 'line 1 column 1: not a JSON object'],
    'items not an array after an array': ['{"items":[1],"items":{"a":1}}', 'line 1 column 22: "items" is not an array'],
    'unterminated string': ['{"items":["abc]}', 'line 1 column 17: the body ends before its JSON value does'],
    'unbalanced': ['{"items":[{"a":1}]', 'line 1 column 19: the body ends before its JSON value does'],
    'too many closers': ['{"items":[]}}', 'line 1 column 13: expected nothing after the JSON value, found "}"'],
    'array closed by a brace': ['{"items":[{"a":1}}', `line 1 column 18: expected ',' or ']' after an element, found "}"`],
    'empty element': ['{"items":[1,,2]}', 'line 1 column 13: expected an element, found ","'],
    'trailing comma': ['{"items":[1,]}', 'line 1 column 13: expected an element, found "]"'],
    'leading comma': ['{"items":[,1]}', 'line 1 column 11: expected an element, found ","'],
    'trailing comma in the object': ['{"items":[],}', 'line 1 column 13: expected a member name (a string), found "}"'],
    'garbage in an element': ['{"items":[{"a":1} x,{"b":2}]}', `line 1 column 19: expected ',' or ']' after an element, found "x"`],
    'bad value in an element': ['{\n"items":[\n{"a":tru}]}', 'line 3 column 1: Unexpected token'],
    'empty text': ['', 'line 1 column 1: the body ends before its JSON value does'],
  };
  for (const [name, [text, expected]] of Object.entries(faults)) {
    for (const piece of PIECES) {
      const r = read(text, piece);
      const said = r.end.kind === 'fault' ? `line ${r.end.fault.line} column ${r.end.fault.column}: ${r.end.fault.reason}` : r.end.kind;
      t.ok(said.startsWith(expected), `${name} (pieces of ${piece}): ${said}`);
    }
  }
});

t.test('elements are handed over as they arrive, before the body ends', async (t) => {
  const seen: unknown[] = [];
  const stream = new JsonArrayStream({ member: 'items', topLevelArray: false, keepUntilArray: false, onElement: (v) => seen.push(v) });
  stream.push(Buffer.from('{"metadata":{"resourceVersion":"1"},"items":[{"n":1},{"n":'));
  t.same(seen, [{ n: 1 }], 'the first element, whole, before the rest came');
  stream.push(Buffer.from('2}]}'));
  t.same(seen, [{ n: 1 }, { n: 2 }]);
  t.equal(stream.end().kind, 'read');
});

t.test('an element the caller refuses stops the read: push() throws its error', async (t) => {
  const stream = new JsonArrayStream({
    member: 'items',
    topLevelArray: false,
    keepUntilArray: false,
    onElement: () => {
      throw new Error('refused');
    },
  });
  t.throws(() => stream.push(Buffer.from('{"items":[1]}')), /refused/);
});
