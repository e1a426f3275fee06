import t from 'tap';
import fc from 'fast-check';
import { BackoffSequence, backoffDelay, validateBackoff } from '../../src/backoff/index.ts';
import { defaultBackoff } from '../builders/defaults.ts';

const policy = { initialMs: 100, maxMs: 1000, factor: 2, jitter: 0.5 };

t.test('grows by the factor up to the cap; jitter spreads around the base', async (t) => {
  const mid = () => 0.5; // no jitter
  t.same([0, 1, 2, 3, 4, 5].map((n) => backoffDelay(policy, n, mid)), [100, 200, 400, 800, 1000, 1000]);
  t.equal(backoffDelay(policy, 1, () => 0), 100, 'lowest: base × (1 − jitter)');
  t.equal(backoffDelay(policy, 1, () => 0.999999), 300, 'highest: base × (1 + jitter)');
  t.equal(backoffDelay(policy, 10, () => 0.999999), 1000, 'never above maxMs');
  t.equal(backoffDelay({ ...policy, jitter: 0 }, 2, Math.random), 400, 'jitter 0: exact');
});

t.test('property: every delay lies within [base × (1 − jitter), min(max, base × (1 + jitter))]', async (t) => {
  fc.assert(
    fc.property(
      fc.record({ initialMs: fc.integer({ min: 1, max: 5000 }), extra: fc.integer({ min: 0, max: 60_000 }), factor: fc.double({ min: 1, max: 4, noNaN: true }), jitter: fc.double({ min: 0, max: 1, noNaN: true }) }),
      fc.integer({ min: 0, max: 40 }),
      fc.double({ min: 0, max: 0.999999, noNaN: true }),
      (p, attempt, r) => {
        const b = { initialMs: p.initialMs, maxMs: p.initialMs + p.extra, factor: p.factor, jitter: p.jitter };
        const base = Math.min(b.maxMs, b.initialMs * b.factor ** attempt);
        const d = backoffDelay(b, attempt, () => r);
        return d >= Math.floor(base * (1 - b.jitter)) - 1 && d <= Math.min(b.maxMs, Math.ceil(base * (1 + b.jitter)) + 1);
      },
    ),
  );
  t.pass();
});

t.test('a sequence counts consecutive failures and resets on success', async (t) => {
  const seq = new BackoffSequence({ ...policy, jitter: 0 });
  t.same([seq.next(), seq.next(), seq.next()], [100, 200, 400]);
  t.equal(seq.attempts, 3);
  seq.reset();
  t.equal(seq.next(), 100);
});

t.test('invalid policies are refused with one message per field', async (t) => {
  t.same(validateBackoff(defaultBackoff()), []);
  const problems = validateBackoff({ initialMs: -1, maxMs: Number.NaN, factor: 0.5, jitter: 2 });
  t.equal(problems.length, 4);
  t.match(problems.join('\n'), /initialMs.*\n.*maxMs.*\n.*factor.*\n.*jitter/);
  t.throws(() => new BackoffSequence({ initialMs: 10, maxMs: 5, factor: 2, jitter: 0 }), /backoff\.maxMs must be a number >= initialMs/);
});
