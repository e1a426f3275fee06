/** The /v1/stream send scheduler: round robin between senders, and sending held to its share of the time (an injected clock). */
import t from 'tap';
import { SendScheduler, type ScheduledSender } from '../../src/server/send-scheduler.ts';
import { waitFor } from '../builders/wait.ts';

/** A sender of `messages` messages of `bytes` each; each send takes `costMs` on the clock. */
function sender(name: string, messages: number, log: string[], clock: { ms: number }, bytes = 100, costMs = 0): ScheduledSender & { left: number } {
  return {
    left: messages,
    get ready() {
      return this.left > 0;
    },
    sendNext() {
      this.left--;
      log.push(name);
      clock.ms += costMs;
      return bytes;
    },
  };
}

t.test('one message per sender in turn; a slice stops after bytesPerTurn', async (t) => {
  const clock = { ms: 0 };
  const scheduler = new SendScheduler({ share: 0.1, bytesPerTurn: 250, now: () => clock.ms });
  t.teardown(() => scheduler.stop());
  const log: string[] = [];
  const a = sender('a', 3, log, clock);
  const b = sender('b', 3, log, clock);
  scheduler.wake(a);
  scheduler.wake(b);
  t.same(log, [], 'nothing is sent inside wake()');
  await waitFor(() => a.left === 0 && b.left === 0, 'both done');
  t.same(log, ['a', 'b', 'a', 'b', 'a', 'b'], 'round robin');
});

t.test('sending takes at most its share of the time: past it, the scheduler waits for the clock', async (t) => {
  const clock = { ms: 0 };
  // Each send costs 4 ms and earns 4 * 0.5 = 2 ms back: from a 10 ms burst, 5 sends, then a wait.
  const scheduler = new SendScheduler({ share: 0.5, burstMs: 10, bytesPerTurn: 1, now: () => clock.ms });
  t.teardown(() => scheduler.stop());
  const log: string[] = [];
  const busy = sender('busy', 100, log, clock, 100, 4);
  scheduler.wake(busy);
  await waitFor(() => log.length >= 5, 'the burst');
  // The injected clock stands still: however long this waits, no credit comes back.
  await new Promise((resolve) => setTimeout(resolve, 100));
  t.equal(log.length, 5, 'no more sends until time passes');
  // 8 ms of other work earn 4 ms: a send, whose own 4 ms earn 2 more: a second one. Then 16 ms
  // have passed, 8 of them sending: half.
  clock.ms += 8;
  await waitFor(() => log.length >= 7, 'two sends after 8 ms');
  await new Promise((resolve) => setTimeout(resolve, 100));
  t.equal(log.length, 7, 'and only two');
  const before = log.length;
  clock.ms += 10_000;
  await waitFor(() => log.length > before, 'sends again after a long wait');
  await new Promise((resolve) => setTimeout(resolve, 100));
  t.equal(log.length, before + 5, 'time saved up is capped at burstMs: after 10 s, the same 5 sends as at the start');
  await waitFor(() => {
    clock.ms += 100;
    return busy.left === 0;
  }, 'the rest while time passes');
});

t.test('stop() ends sending; a stopped scheduler takes no work', async (t) => {
  const clock = { ms: 0 };
  const scheduler = new SendScheduler({ share: 0.1, now: () => clock.ms });
  const log: string[] = [];
  const a = sender('a', 3, log, clock);
  scheduler.wake(a);
  scheduler.stop();
  scheduler.wake(a);
  await new Promise((resolve) => setImmediate(resolve));
  await new Promise((resolve) => setTimeout(resolve, 20));
  t.same(log, []);
  t.throws(() => new SendScheduler({ share: 0 }), RangeError, 'a share of 0 would never send');
});
