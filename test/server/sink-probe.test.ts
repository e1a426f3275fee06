import t from 'tap';
import { SinkProbe } from '../../src/server/sink-probe.ts';

function probeWithClock(start = 1_000_000) {
  const clock = { ms: start };
  return { clock, probe: new SinkProbe(() => clock.ms) };
}

t.test('an available sink is always written to, failures or not', async (t) => {
  const { probe } = probeWithClock();
  t.same(probe.admit(true), { kind: 'write' });
  probe.failed(30);
  t.same(probe.admit(true), { kind: 'write' }, 'the sink knows best when it says it is available');
});

t.test('an unavailable sink: refused within the retry period, one probe after it', async (t) => {
  const { clock, probe } = probeWithClock();
  probe.failed(5);
  t.same(probe.admit(false), { kind: 'refuse', retryAfterSeconds: 5 });
  clock.ms += 4200;
  t.same(probe.admit(false), { kind: 'refuse', retryAfterSeconds: 1 }, 'the time left, rounded up to whole seconds');
  clock.ms += 800;
  const first = probe.admit(false);
  t.same(first, { kind: 'probe' });
  t.same(probe.admit(false), { kind: 'refuse', retryAfterSeconds: 5 }, 'one probe at a time');
  t.same(probe.admit(false), { kind: 'refuse', retryAfterSeconds: 5 });

  probe.failed(7);
  probe.settled(first);
  t.same(probe.admit(false), { kind: 'refuse', retryAfterSeconds: 7 }, 'a failed probe starts a new period, of the new length');
  clock.ms += 7000;
  const second = probe.admit(false);
  t.same(second, { kind: 'probe' });
  probe.settled(second);
  t.same(probe.admit(false), { kind: 'probe' }, 'a probe that did not fail (e.g. a bad body) leaves the next one due');
});

t.test('a sink unavailable before any failure was seen is probed at once', async (t) => {
  const { probe } = probeWithClock();
  const admission = probe.admit(false);
  t.same(admission, { kind: 'probe' });
  t.same(probe.admit(false), { kind: 'refuse', retryAfterSeconds: 1 });
  probe.settled(admission);
});

t.test('settling a plain write does not end a probe in flight', async (t) => {
  const { probe } = probeWithClock();
  const write = probe.admit(true);
  const probing = probe.admit(false);
  t.same(probing, { kind: 'probe' });
  probe.settled(write);
  t.equal(probe.admit(false).kind, 'refuse');
  probe.settled(probing);
  t.equal(probe.admit(false).kind, 'probe');
});

t.test('a Retry-After below one second still waits one second', async (t) => {
  const { clock, probe } = probeWithClock();
  probe.failed(0);
  t.same(probe.admit(false), { kind: 'refuse', retryAfterSeconds: 1 });
  clock.ms += 1000;
  t.equal(probe.admit(false).kind, 'probe');
});
