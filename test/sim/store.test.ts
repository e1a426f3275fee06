/**
 * The simulated etcd's ordered reads against a plain model: sorted keys kept incrementally, and
 * the state at an older RV (current objects overlaid with the changes since) read page by page.
 */
import t from 'tap';
import fc from 'fast-check';
import { SortedKeys, keyRange, lowerBound } from '../../src/sim/sorted-keys.ts';
import { ObjectStore } from '../../src/sim/store.ts';
import type { KubeObject } from '../../src/sim/index.ts';

const keyArb = fc.constantFrom('a/x', 'a/y', 'a/z', 'a-b/x', 'ab/x', 'b/x', 'b/y', 'b/é', 'c/1', 'c/10', 'c/2', 'x');

t.test('SortedKeys matches a sorted set under any mix of adds, deletes and reads', (t) => {
  const opArb = fc.oneof(
    fc.record({ op: fc.constant('toggle' as const), key: keyArb }),
    fc.record({ op: fc.constant('read' as const), key: keyArb }),
  );
  fc.assert(fc.property(fc.array(opArb, { maxLength: 80 }), (ops) => {
    const keys = new SortedKeys();
    const model = new Set<string>();
    for (const { op, key } of ops) {
      if (op === 'toggle') {
        if (model.has(key)) {
          model.delete(key);
          keys.delete(key);
        } else {
          model.add(key);
          keys.add(key);
        }
      } else if (keys.keys().join('|') !== [...model].sort().join('|')) {
        return false;
      }
      if (keys.size !== model.size) return false;
    }
    return keys.keys().join('|') === [...model].sort().join('|');
  }));
  t.pass('no counterexample');
  t.end();
});

t.test('lowerBound and keyRange select the keys >= from with the prefix', (t) => {
  fc.assert(fc.property(fc.uniqueArray(keyArb), fc.constantFrom('', 'a/', 'b/', 'c/', 'z/'), keyArb, (unsorted, prefix, from) => {
    const keys = [...unsorted].sort();
    const { start, end } = keyRange(keys, prefix, from);
    const expected = keys.filter((k) => k >= from && k.startsWith(prefix));
    return keys.slice(start, end).join('|') === expected.join('|')
      && lowerBound(keys, from) === keys.filter((k) => k < from).length;
  }));
  t.same(keyRange(['a/1', 'a/2', 'b/1'], 'a/', 'a/2'), { start: 1, end: 2 });
  t.same(keyRange([], 'a/', ''), { start: 0, end: 0 });
  t.end();
});

function pod(key: string, label: string): KubeObject {
  const [namespace, name] = key.split('/') as [string, string];
  return { metadata: { name, namespace, labels: { v: label } }, spec: { containers: [] } };
}

type Op = { op: 'put' | 'delete'; key: string; label: string } | { op: 'compact' };

t.test('the state at any retained RV, read in any range and page size, is the model state at that RV', (t) => {
  const podKeyArb = fc.constantFrom('a/x', 'a/y', 'a/z', 'a-b/x', 'ab/x', 'b/x', 'b/y', 'b/é', 'c/1', 'c/10', 'c/2');
  const opArb: fc.Arbitrary<Op> = fc.oneof(
    { weight: 10, arbitrary: fc.record({ op: fc.constantFrom('put' as const, 'delete' as const), key: podKeyArb, label: fc.constantFrom('1', '2', '3') }) },
    { weight: 1, arbitrary: fc.constant({ op: 'compact' as const }) },
  );
  fc.assert(fc.property(
    fc.array(opArb, { maxLength: 60 }),
    fc.integer({ min: 3, max: 40 }),
    fc.constantFrom('', 'a/', 'b/', 'c/'),
    fc.integer({ min: 1, max: 4 }),
    (ops, historyLimit, prefix, pageSize) => {
      const store = new ObjectStore({ historyLimit, uid: () => 'uid', now: () => new Date(0) });
      // Model: the JSON of each key's object after every RV.
      const snapshots = new Map<number, Map<string, string>>([[store.resourceVersion, new Map()]]);
      let live = new Map<string, string>();
      for (const op of ops) {
        if (op.op === 'compact') {
          store.compact();
          continue;
        }
        const [namespace, name] = op.key.split('/') as [string, string];
        if (op.op === 'delete') {
          if (!live.has(op.key)) continue;
          store.delete('pods', namespace, name);
          live = new Map(live);
          live.delete(op.key);
        } else {
          const object = live.has(op.key) ? store.update('pods', pod(op.key, op.label)) : store.create('pods', pod(op.key, op.label));
          live = new Map(live);
          live.set(op.key, store.jsonOf(object));
        }
        snapshots.set(store.resourceVersion, live);
      }
      for (const [rv, expected] of snapshots) {
        const state = store.state('pods', rv);
        if (rv < store.floor) {
          if (state !== undefined) return false;
          continue;
        }
        if (state === undefined) return false;
        const want = [...expected.keys()].filter((k) => k.startsWith(prefix)).sort();
        // Page through it as the server does: each page resumes at the key after the last one.
        const got: string[] = [];
        let from = '';
        for (;;) {
          if (state.count(prefix, from) !== want.length - got.length) return false;
          const page: string[] = [];
          let next: string | undefined;
          for (const [key, object] of state.entries(prefix, from)) {
            if (page.length === pageSize) {
              next = key;
              break;
            }
            if (store.jsonOf(object) !== expected.get(key)) return false;
            page.push(key);
          }
          got.push(...page);
          if (next === undefined) break;
          from = next;
        }
        if (got.join('|') !== want.join('|')) return false;
      }
      return true;
    },
  ), { numRuns: 300 });
  t.pass('no counterexample');
  t.end();
});

t.test('stored objects are copies: changing the input or a returned object later changes nothing', (t) => {
  const store = new ObjectStore();
  const input = pod('a/x', '1');
  const stored = store.create('pods', input);
  (input.metadata.labels as Record<string, string>).v = 'changed';
  t.equal(store.get('pods', 'a', 'x')?.metadata.labels?.v, '1');
  t.equal(JSON.parse(store.jsonOf(stored)).metadata.labels.v, '1', 'the cached text is the stored state');
  t.notOk('kind' in stored);
  t.end();
});

t.test('a long run past historyLimit keeps exactly the last changes, in order', (t) => {
  const store = new ObjectStore({ historyLimit: 10 });
  for (let i = 0; i < 3000; i++) {
    const key = `a/p${i % 50}`;
    if (i < 50) store.create('pods', pod(key, String(i)));
    else store.update('pods', pod(key, String(i)));
  }
  const rv = store.resourceVersion;
  t.equal(store.floor, rv - 10);
  t.same(store.changesSince(store.floor)?.map((c) => c.rv), Array.from({ length: 10 }, (_, i) => rv - 9 + i));
  t.equal(store.changesSince(store.floor - 1), undefined, 'older changes are gone');
  // Change i has RV i + 2: at rv - 5 the last 50 changes in are 2945..2994, one per pod.
  const state = store.state('pods', rv - 5);
  const labels = [...(state?.entries('', '') ?? [])].map(([, o]) => Number(o.metadata.labels?.v)).sort((a, b) => a - b);
  t.same(labels, Array.from({ length: 50 }, (_, i) => 2945 + i), 'the state 5 changes ago');
  t.end();
});
