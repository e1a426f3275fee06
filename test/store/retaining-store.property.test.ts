/** Model-based check: random add/delete/relist/clock sequences against a plain model of retention. */
import t from 'tap';
import fc from 'fast-check';
import { RetainingStore } from '../../src/store/index.ts';
import { manualClock, rawPod } from './builders.ts';

const DELAY = 1000;
const NAMES = ['web', 'db', 'job'];
const UIDS = ['u0', 'u1', 'u2', 'u3', 'u4', 'u5'];
const nameOf = (uid: string) => NAMES[Number(uid.slice(1)) % NAMES.length]!;

type Op = { op: 'add'; uid: string } | { op: 'del'; uid: string } | { op: 'relist'; uids: string[] } | { op: 'tick'; ms: number };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ op: fc.constant('add' as const), uid: fc.constantFrom(...UIDS) }),
  fc.record({ op: fc.constant('del' as const), uid: fc.constantFrom(...UIDS) }),
  fc.record({ op: fc.constant('relist' as const), uids: fc.uniqueArray(fc.constantFrom(...UIDS), { maxLength: 4 }) }),
  fc.record({ op: fc.constant('tick' as const), ms: fc.integer({ min: 1, max: 700 }) }),
);

interface ModelPod {
  live: boolean;
  deletedAt: number | undefined;
}

t.test('the store agrees with a simple model of retention', async (t) => {
  let rv = 0;
  fc.assert(
    fc.property(fc.array(opArb, { maxLength: 40 }), (ops) => {
      const clock = manualClock();
      const store = new RetainingStore({ deletionDelayMs: DELAY, now: clock.now, timers: clock.timers });
      const reader = store.reader();
      const model = new Map<string, ModelPod>();
      const lastDeleted = new Map<string, string>();
      const visible = (p: ModelPod | undefined) => p !== undefined && (p.live || clock.now() < p.deletedAt! + DELAY);
      const pod = (uid: string) => rawPod({ name: nameOf(uid), uid, resourceVersion: String(++rv) });

      const markDeleted = (uid: string) => {
        const p = model.get(uid);
        if (p !== undefined && !p.live) return;
        model.set(uid, { live: false, deletedAt: clock.now() });
        lastDeleted.set(nameOf(uid), uid);
      };
      const upsert = (uid: string) => {
        for (const [other, p] of model) if (other !== uid && p.live && nameOf(other) === nameOf(uid)) markDeleted(other);
        model.set(uid, { live: true, deletedAt: undefined });
        if (lastDeleted.get(nameOf(uid)) === uid) lastDeleted.delete(nameOf(uid));
      };

      for (const o of ops) {
        if (o.op === 'add') {
          store.apply('pods', 'ADDED', pod(o.uid));
          upsert(o.uid);
        } else if (o.op === 'del') {
          store.apply('pods', 'DELETED', pod(o.uid));
          if (!visible(model.get(o.uid)) && model.get(o.uid)?.live !== true) model.delete(o.uid); // evicted: a fresh final state
          markDeleted(o.uid);
        } else if (o.op === 'relist') {
          store.replace('pods', o.uids.map(pod));
          for (const uid of o.uids) upsert(uid);
          for (const [uid, p] of model) if (p.live && !o.uids.includes(uid)) markDeleted(uid);
        } else {
          clock.advance(o.ms);
        }

        // Invariants after every step.
        for (const uid of UIDS) {
          const m = model.get(uid);
          const e = reader.podByUid(uid);
          if (!visible(m)) {
            if (e !== undefined) return false;
            continue;
          }
          if (e === undefined || e.object.uid !== uid) return false;
          if ((e.deletedAt === undefined) !== m!.live) return false;
          if (!m!.live && e.deletedAt !== m!.deletedAt) return false;
        }
        for (const name of NAMES) {
          const liveUid = UIDS.find((u) => nameOf(u) === name && model.get(u)?.live === true);
          const retainedUid = lastDeleted.get(name);
          const expected = liveUid ?? (retainedUid !== undefined && visible(model.get(retainedUid)) ? retainedUid : undefined);
          if (reader.podByName('default', name)?.object.uid !== expected) return false;
        }
        const live = [...model.values()].filter((p) => p.live).length;
        if (store.counts()[0]!.live !== live) return false;
      }
      store.close();
      return true;
    }),
    { numRuns: 300 },
  );
  t.pass('300 random sequences agree with the model');
});
