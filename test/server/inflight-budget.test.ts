/** ByteBudget and Reservation on their own: who gets room, in which order, and when a wait ends. */
import t from 'tap';
import { ByteBudget, Reservation } from '../../src/server/inflight-budget.ts';

/** Lets pending promise callbacks run. */
const settled = () => new Promise((resolve) => setImmediate(resolve));

t.test('anything fits when nothing is in flight; beyond the limit, not at once', async (t) => {
  const budget = new ByteBudget(100);
  t.ok(budget.tryTake(250), 'larger than the limit, alone: runs');
  t.notOk(budget.tryTake(1), 'nothing more beside it');
  budget.give(250);
  t.ok(budget.tryTake(60));
  t.ok(budget.tryTake(40), 'up to the limit');
  t.notOk(budget.tryTake(1));
  t.equal(budget.used, 100);
});

t.test('waiters are let in in arrival order; a large one is not overtaken by smaller ones behind it', async (t) => {
  const budget = new ByteBudget(100);
  t.ok(budget.tryTake(90));
  const granted: string[] = [];
  const large = budget.take(80, Number.POSITIVE_INFINITY).then((ok) => ok && granted.push('large'));
  const small = budget.take(5, Number.POSITIVE_INFINITY).then((ok) => ok && granted.push('small'));
  t.equal(budget.waiting, 2);
  t.notOk(budget.tryTake(5), 'a newcomer does not overtake the waiters, even when it would fit');
  await settled();
  t.same(granted, [], 'the small one waits behind the large one, although 5 bytes are free');
  budget.give(90);
  await Promise.all([large, small]);
  t.same(granted, ['large', 'small'], 'both, in order, once there is room');
  t.equal(budget.used, 85);
  t.equal(budget.waiting, 0);
});

t.test('the next part of an admitted body goes ahead of the waiters', async (t) => {
  const budget = new ByteBudget(100);
  t.ok(budget.tryTake(70));
  const newcomer = budget.take(50, Number.POSITIVE_INFINITY);
  t.ok(budget.tryTake(20, true), 'a part that fits goes in although someone waits');
  const nextPart = budget.take(30, Number.POSITIVE_INFINITY, { ahead: true });
  const order: string[] = [];
  void newcomer.then(() => order.push('newcomer'));
  void nextPart.then(() => order.push('next part'));
  budget.give(70);
  await Promise.all([newcomer, nextPart]);
  t.same(order, ['next part', 'newcomer']);
});

t.test('a wait ends after waitMs, or when its signal aborts; the waiters behind it move up', async (t) => {
  const observed: [number, number][] = [];
  const budget = new ByteBudget(100, (used, waiting) => observed.push([used, waiting]));
  t.ok(budget.tryTake(60));
  t.equal(await budget.take(50, 0), false, 'no wait at all');
  t.equal(await budget.take(50, 1), false, 'gave up after its wait');
  const aborted = new AbortController();
  const blocked = budget.take(50, Number.POSITIVE_INFINITY, { signal: aborted.signal });
  const behind = budget.take(30, Number.POSITIVE_INFINITY);
  await settled();
  t.equal(budget.waiting, 2);
  aborted.abort();
  t.equal(await blocked, false, 'the aborted wait ends');
  t.equal(await behind, true, 'the one behind it fits and goes in');
  t.equal(budget.used, 90);
  t.same(observed.at(-1), [90, 0], 'the observer saw every change');
  t.ok(
    observed.some(([, waiting]) => waiting === 2),
    'including the waiters',
  );
});

t.test('a reservation gives back all it took, once, and its release ends its wait', async (t) => {
  const budget = new ByteBudget(100);
  const holder = new Reservation(budget, 0);
  t.ok(holder.tryTake(60));
  t.ok(holder.tryTake(30));
  const waiting = new Reservation(budget, 60_000);
  const granted = waiting.take(50);
  await settled();
  waiting.release();
  t.equal(await granted, false, 'released while it waited: no room taken');
  holder.release();
  holder.release();
  t.equal(budget.used, 0, 'all given back, once');
  const late = new Reservation(budget, 60_000);
  late.release();
  t.equal(await late.take(10), false, 'nothing is taken after release');
  t.equal(budget.used, 0);
});
