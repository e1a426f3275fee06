/**
 * Rotation at the awkward moments: while the source is stopped (once, twice), before its first
 * acknowledgement (then killed), twice before the running source notices, with the rotated file
 * already deleted; and a busy container directory (its watch closed, files read every round)
 * whose container restarts into a new file.
 */
import { mkdirSync, renameSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { append, cri, criLine, lines, messagesOf, metricValue, podDir, sourceEnv, startSourceChild, waitFor } from './fixtures.ts';

let stamp = 100000;
const rotatedName = (log: string) => `${log}.20261123-${stamp++}`;
const env = sourceEnv;

t.test('rotated twice while stopped: the unread tail, the whole file in between, then the new one (readFrom=end notwithstanding)', async (t) => {
  const e = env(t);
  const pod = podDir(e.podsDir, 'ns', 'p', 'u1');
  const before = lines('before', 20);
  append(pod.log, cri(before));
  let source = await e.start();
  await waitFor('first run', () => messagesOf(e.out).length >= 20);
  await source.stop();
  const tail = lines('unread tail', 10);
  append(pod.log, cri(tail));
  renameSync(pod.log, rotatedName(pod.log));
  const between = lines('written and rotated while down', 15);
  append(pod.log, cri(between));
  renameSync(pod.log, rotatedName(pod.log));
  const after = lines('new file', 5);
  append(pod.log, cri(after));
  source = await e.start({ readFrom: 'end' });
  t.teardown(() => source.stop());
  await waitFor('second run', () => messagesOf(e.out).length >= 50);
  append(pod.log, cri(['appended later']));
  await waitFor('the live file followed', () => messagesOf(e.out).length >= 51);
  await source.stop();
  t.same(messagesOf(e.out), [...before, ...tail, ...between, ...after, 'appended later'], 'every line once, in order');
  t.ok(e.logger.records.some((r) => r.msg?.includes('rotated file left unread')), 'says it finishes the checkpointed rotated file');
  t.ok(e.logger.records.some((r) => r.msg?.includes('rotated while the source was down')), 'and reads the one it never saw');
});

t.test('rotated before the first acknowledgement, then SIGKILL: the rotated file is not skipped', async (t) => {
  const e = env(t);
  const pod = podDir(e.podsDir, 'ns', 'p', 'u1');
  const first = lines('first', 30);
  append(pod.log, cri(first));
  // A sink that never acknowledges: a directory where the output file should be.
  const blocked = join(e.root, 'blocked');
  mkdirSync(blocked);
  const run = startSourceChild(e.podsDir, e.dataDir, blocked);
  await run.ready;
  const more = lines('more before the rotation', 10);
  append(pod.log, cri(more));
  renameSync(pod.log, rotatedName(pod.log));
  const next = lines('after the rotation', 10);
  append(pod.log, cri(next));
  await waitFor('the rotation noticed (a failed delivery attempt follows every read)', () => run.stderr.join('').includes('delivery failed'), 60_000);
  run.child.kill('SIGKILL');
  await run.exited;
  const again = startSourceChild(e.podsDir, e.dataDir, e.out);
  t.teardown(() => again.child.kill('SIGKILL'));
  await waitFor('everything delivered', () => messagesOf(e.out).length >= 50, 60_000);
  await again.ready;
  again.child.kill('SIGTERM');
  t.equal(await again.exited, 0, 'graceful stop exits 0');
  t.same(messagesOf(e.out), [...first, ...more, ...next]);
});

t.test('while running: rotated twice before the source looks, the first rotated file already deleted', async (t) => {
  for (const deleteFirst of [false, true]) {
    await t.test(deleteFirst ? 'first rotated file deleted' : 'both rotated files kept', async (t) => {
      const e = env(t);
      const pod = podDir(e.podsDir, 'ns', 'p', 'u1');
      const a = lines('a', 10);
      append(pod.log, cri(a));
      // A slow safety poll and no busy mode in the way: the watch event is what wakes the reader.
      const source = await e.start({ batchMaxWait: 200 });
      t.teardown(() => source.stop());
      await waitFor('first file read', () => messagesOf(e.out).length >= 10);
      const aTail = lines('a tail', 5);
      append(pod.log, cri(aTail));
      const aRotated = rotatedName(pod.log);
      renameSync(pod.log, aRotated);
      const b = lines('b', 7);
      append(pod.log, cri(b));
      renameSync(pod.log, rotatedName(pod.log));
      const c = lines('c', 3);
      append(pod.log, cri(c));
      if (deleteFirst) unlinkSync(aRotated);
      await waitFor('all three files read', () => messagesOf(e.out).length >= 25);
      await source.stop();
      t.same(messagesOf(e.out), [...a, ...aTail, ...b, ...c]);
    });
  }
});

t.test('a busy directory is read every round without its watch; its container restarting into 1.log is found', async (t) => {
  const e = env(t);
  const pod = podDir(e.podsDir, 'ns', 'busy', 'u1');
  const source = await e.start({ batchMaxWait: 10, rescanInterval: 60_000 });
  t.teardown(() => source.stop());
  const written: string[] = [];
  let busySeen = false;
  for (let i = 0; i < 4000 && !busySeen; i++) {
    const m = `busy ${i}`;
    written.push(m);
    append(pod.log, criLine(m));
    await new Promise((r) => setTimeout(r, 3));
    busySeen = source.stats().busyDirectories > 0;
  }
  t.ok(busySeen, 'the directory was seen busy');
  t.equal(await metricValue(e.metrics, 'kube_log_enricher_directories_busy'), 1, 'and counted');
  // The container restarts: a new file beside the old one, while the directory is not watched.
  const restarted = join(pod.containerDir, '1.log');
  append(restarted, cri(lines('after restart', 5)));
  await waitFor('the busy directory watched again', () => source.stats().busyDirectories === 0);
  await waitFor('the new file found and read', () => messagesOf(e.out, restarted).length >= 5);
  await waitFor('the old file read to its end', () => messagesOf(e.out, pod.log).length >= written.length);
  await source.stop();
  t.same(messagesOf(e.out, pod.log), written);
  t.same(messagesOf(e.out, restarted), lines('after restart', 5));
});
