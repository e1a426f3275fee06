import t from 'tap';
import { createPathResolver, podIdentityFromPath } from '../../src/paths/index.ts';
import { podLogPath, podUid } from '../builders/lines.ts';

const path = (i: number) => podLogPath({ namespace: 'ns', pod: `pod-${i}`, uid: podUid(`pod-${i}`), container: 'app' });

t.test('answers what podIdentityFromPath answers, parsing each path once', async (t) => {
  const resolver = createPathResolver();
  const first = resolver.resolve(path(1));
  t.same(first, podIdentityFromPath(path(1)));
  t.equal(resolver.resolve(path(1)), first, 'the second answer is the cached object');
  t.equal(resolver.size, 1);

  const bad = resolver.resolve('/var/log/syslog');
  t.same(bad, podIdentityFromPath('/var/log/syslog'));
  t.equal(resolver.resolve('/var/log/syslog'), bad, 'unrecognised paths are cached too');
  t.equal(resolver.size, 2);
});

t.test('cached answers are frozen, so one caller cannot change another\'s', async (t) => {
  const resolver = createPathResolver();
  const m = resolver.resolve(path(1));
  t.ok(Object.isFrozen(m));
  if (m.ok) {
    t.ok(Object.isFrozen(m.identity));
    t.throws(() => {
      (m.identity as { namespace: string }).namespace = 'other';
    }, TypeError);
  }
});

t.test('bounded: past maxEntries the oldest path is evicted, and re-parsed when seen again', async (t) => {
  const resolver = createPathResolver({ maxEntries: 3 });
  const answers = [1, 2, 3].map((i) => resolver.resolve(path(i)));
  t.equal(resolver.size, 3);
  resolver.resolve(path(4));
  t.equal(resolver.size, 3);
  t.equal(resolver.resolve(path(3)), answers[2], 'a recent path is still cached');
  const again = resolver.resolve(path(1));
  t.not(again, answers[0], 'the oldest was evicted and parsed anew');
  t.same(again, answers[0]);
  t.equal(resolver.size, 3);
  resolver.clear();
  t.equal(resolver.size, 0);
});

t.test('a non-string path is answered and not cached', async (t) => {
  const resolver = createPathResolver();
  const m = resolver.resolve(42 as unknown as string);
  t.match(m, { ok: false, reason: 'path_not_recognised' });
  t.equal(resolver.size, 0);
});

t.test('invalid maxEntries is refused', async (t) => {
  t.throws(() => createPathResolver({ maxEntries: 0 }), { name: 'RangeError', message: /maxEntries/ });
  t.throws(() => createPathResolver({ maxEntries: 2.5 }), { message: /maxEntries/ });
});
