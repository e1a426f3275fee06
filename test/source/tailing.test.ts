/** The file source on real files: appends, many files, rotation, truncation, deletion, partial lines, long lines. */
import { mkdirSync, renameSync, rmSync, truncateSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { createFileSink } from '../../src/sink/index.ts';
import { createSerialisingStage, startFileSource, type BatchEnricher, type FileSource, type FileSourceOptions } from '../../src/source/index.ts';
import { append, criLine, dockerLine, messagesOf, metricValue, podDir, readEvents, recordingLogger, sourceOptions, testMetrics, waitFor } from './fixtures.ts';

async function run(t: Test, overrides: Partial<FileSourceOptions> = {}, stage: BatchEnricher = createSerialisingStage(), now?: () => number) {
  const root = t.testdir({ pods: {}, data: {} });
  const podsDir = join(root, 'pods');
  const out = join(root, 'out.ndjson');
  const metrics = testMetrics();
  const logger = recordingLogger();
  const sink = createFileSink(out);
  const start = () => startFileSource(sourceOptions(podsDir, join(root, 'data'), overrides), { enrich: stage, sink, metrics, logger, now });
  return { root, podsDir, out, metrics, logger, sink, start };
}

t.test('reads existing lines, then lines appended while it runs, in order', async (t) => {
  const env = await run(t);
  const pod = podDir(env.podsDir, 'shop', 'cart-1', 'uid-1');
  const written: string[] = [];
  const write = (n: number) => {
    let text = '';
    for (let i = 0; i < n; i++) {
      const m = `line ${written.length}`;
      written.push(m);
      text += criLine(m);
    }
    append(pod.log, text);
  };
  write(100);
  const source = await env.start();
  t.teardown(() => source.stop());
  await waitFor('first 100 lines', () => messagesOf(env.out).length >= 100);
  for (let round = 0; round < 5; round++) write(40);
  await waitFor('all 300 lines', () => messagesOf(env.out).length >= 300);
  await source.stop();
  t.same(messagesOf(env.out), written, 'every line once, in order');
  t.equal(readEvents(env.out)[0]?.file, pod.log, 'events name the log path');
  t.equal(await metricValue(env.metrics, 'kube_log_enricher_lines_read_total'), 300);
});

t.test('follows many files at once, keeping each file in order', async (t) => {
  const env = await run(t, { readChunkBytes: 4096 });
  const files: string[] = [];
  for (let p = 0; p < 15; p++) {
    for (const c of ['app', 'sidecar']) files.push(podDir(env.podsDir, 'ns', `pod-${p}`, `uid-${p}`, c).log);
  }
  const source = await env.start();
  t.teardown(() => source.stop());
  for (let round = 0; round < 10; round++) {
    for (const f of files) append(f, criLine(`${f}#${round}a`) + criLine(`${f}#${round}b`, 'stderr'));
  }
  await waitFor('all lines of all files', () => messagesOf(env.out).length >= files.length * 20);
  await source.stop();
  const events = readEvents(env.out);
  t.equal(events.length, files.length * 20, 'nothing lost or duplicated');
  for (const f of files) {
    const expected = [];
    for (let round = 0; round < 10; round++) expected.push(`${f}#${round}a`, `${f}#${round}b`);
    t.same(events.filter((e) => e.file === f).map((e) => e.message), expected, `order of ${f}`);
  }
});

t.test('rename rotation while writing: the old file is finished before the new one', async (t) => {
  const env = await run(t, { rotateWait: 5_000 });
  const pod = podDir(env.podsDir, 'ns', 'rot', 'uid-r');
  const source = await env.start();
  t.teardown(() => source.stop());
  const expected: string[] = [];
  const write = (path: string, m: string) => {
    expected.push(m);
    append(path, criLine(m));
  };
  for (let i = 0; i < 50; i++) write(pod.log, `before ${i}`);
  await waitFor('some lines read', () => messagesOf(env.out).length > 0);
  const rotated = `${pod.log}.20261123-101500`;
  renameSync(pod.log, rotated);
  writeFileSync(pod.log, '');
  // The runtime keeps writing to the renamed file until the kubelet tells it to reopen.
  for (let i = 0; i < 30; i++) write(rotated, `late ${i}`);
  for (let i = 0; i < 50; i++) write(pod.log, `after ${i}`);
  await waitFor('all lines', () => messagesOf(env.out).length >= expected.length);
  // A second rotation, to show the chain continues.
  renameSync(pod.log, `${pod.log}.20261123-101600`);
  for (let i = 0; i < 10; i++) write(pod.log, `third ${i}`);
  await waitFor('lines after the second rotation', () => messagesOf(env.out).length >= expected.length);
  await source.stop();
  t.same(messagesOf(env.out), expected, 'all lines, once, in write order');
  t.equal(await metricValue(env.metrics, 'kube_log_enricher_file_rotations_total', { kind: 'rename' }), 2);
});

t.test('copy-truncate: reading restarts at the beginning', async (t) => {
  const env = await run(t);
  const pod = podDir(env.podsDir, 'ns', 'ct', 'uid-ct');
  const before = Array.from({ length: 40 }, (_, i) => `before truncation ${i}`);
  append(pod.log, before.map((m) => criLine(m)).join(''));
  const source = await env.start();
  t.teardown(() => source.stop());
  await waitFor('first lines', () => messagesOf(env.out).length >= 40);
  truncateSync(pod.log, 0);
  const after = ['after 1', 'after 2', 'after 3'];
  append(pod.log, after.map((m) => criLine(m)).join(''));
  await waitFor('lines after truncation', () => messagesOf(env.out).length >= 43);
  await source.stop();
  t.same(messagesOf(env.out), [...before, ...after]);
  t.equal(await metricValue(env.metrics, 'kube_log_enricher_file_rotations_total', { kind: 'truncate' }), 1);
});

t.test('a file deleted mid-read is read to its end through the open descriptor, then closed', async (t) => {
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  const serialiser = createSerialisingStage();
  // A stage that holds the first batch until told: reading stops at maxBufferedBytes meanwhile.
  const gated: BatchEnricher = { name: 'gated', processBatch: async (b) => (await gate, serialiser.processBatch(b)) };
  const env = await run(t, { maxBufferedBytes: 64 * 1024, readChunkBytes: 16 * 1024, rotateWait: 50 }, gated);
  const pod = podDir(env.podsDir, 'ns', 'del', 'uid-del');
  const expected = Array.from({ length: 20_000 }, (_, i) => `line ${i} ${'x'.repeat(20)}`);
  writeFileSync(pod.log, expected.map((m) => criLine(m)).join(''));
  const source = await env.start();
  t.teardown(() => source.stop());
  await waitFor('reading paused by backpressure', () => source.stats().backpressure);
  const size = Buffer.byteLength(expected.map((m) => criLine(m)).join(''));
  t.ok(await metricValue(env.metrics, 'kube_log_enricher_bytes_read_total') < size / 2, 'only part of the file was read before deletion');
  rmSync(pod.podDir, { recursive: true });
  release();
  await waitFor('all lines of the deleted file', () => messagesOf(env.out).length >= expected.length);
  await waitFor('file closed', () => source.stats().filesTailed === 0 && source.stats().pathsFollowed === 0);
  await source.stop();
  t.same(messagesOf(env.out), expected);
  t.equal(await metricValue(env.metrics, 'kube_log_enricher_files_tailed'), 0);
});

t.test('pods appearing and disappearing are noticed', async (t) => {
  const env = await run(t, { rescanInterval: 60_000 });
  const source = await env.start();
  t.teardown(() => source.stop());
  t.equal(source.stats().pathsFollowed, 0);
  // fs.watch (not the hour-long rescan) must notice this.
  const a = podDir(env.podsDir, 'ns', 'a', 'uid-a');
  append(a.log, criLine('hello from a'));
  await waitFor('new pod noticed', () => messagesOf(env.out).includes('hello from a'));
  const second = podDir(env.podsDir, 'ns', 'a', 'uid-a', 'sidecar');
  append(second.log, criLine('hello from the sidecar'));
  await waitFor('new container noticed', () => messagesOf(env.out).includes('hello from the sidecar'));
  append(a.log, criLine('last words'));
  rmSync(a.podDir, { recursive: true });
  await waitFor('last words read', () => messagesOf(env.out).includes('last words'));
  await waitFor('pod dir gone: files closed', () => source.stats().pathsFollowed === 0);
  await source.stop();
  t.same(messagesOf(env.out), ['hello from a', 'hello from the sidecar', 'last words']);
});

t.test('partial lines: merged per stream, across a rotation, and flushed after the timeout', async (t) => {
  // The source's clock stands still until the test moves it: the flush timeout cannot expire early on a slow machine.
  let clock = Date.now();
  const env = await run(t, { partialFlushTimeout: 100 }, createSerialisingStage(), () => clock);
  const pod = podDir(env.podsDir, 'ns', 'part', 'uid-p');
  const first = criLine('hello ', 'stdout', 'P');
  append(pod.log, first + criLine('err-start ', 'stderr', 'P') + criLine('wor', 'stdout', 'P') + criLine('err-end', 'stderr', 'F'));
  const source = await env.start();
  t.teardown(() => source.stop());
  await waitFor('stderr line', () => messagesOf(env.out).length >= 1);
  renameSync(pod.log, `${pod.log}.20261123-101500`);
  append(pod.log, criLine('ld', 'stdout', 'F') + criLine('never finished', 'stdout', 'P'));
  await waitFor('the merged line', () => messagesOf(env.out).length >= 2);
  await waitFor('the last fragment read', async () => (await metricValue(env.metrics, 'kube_log_enricher_lines_read_total')) >= 6);
  clock += 1000;
  await waitFor('the unfinished line flushed after the timeout', () => messagesOf(env.out).length >= 3);
  await source.stop();
  const events = readEvents(env.out);
  t.same(events.map((e) => e.message), ['err-start err-end', 'hello world', 'never finished']);
  t.equal(events[1]?.timestamp, first.split(' ')[0], 'a merged line keeps its first fragment\'s timestamp');
  t.equal(await metricValue(env.metrics, 'kube_log_enricher_events_merged_total'), 3);
});

t.test('lines over maxLineBytes are truncated or dropped, and counted', async (t) => {
  for (const action of ['truncate', 'drop'] as const) {
    await t.test(action, async (t) => {
      const env = await run(t, { maxLineBytes: 1000, maxLineAction: action, readChunkBytes: 4096 });
      const pod = podDir(env.podsDir, 'ns', 'long', 'uid-l');
      // One long line within a chunk, one spanning several chunks, and a short one after each.
      append(pod.log, criLine('a'.repeat(1500)) + criLine('short 1') + criLine('é'.repeat(10_000)) + criLine('short 2'));
      const source = await env.start();
      t.teardown(() => source.stop());
      await waitFor('short lines', () => messagesOf(env.out).includes('short 2'));
      await source.stop();
      const got = messagesOf(env.out);
      if (action === 'drop') {
        t.same(got, ['short 1', 'short 2']);
        t.equal(await metricValue(env.metrics, 'kube_log_enricher_lines_dropped_total', { reason: 'max_line_bytes' }), 2);
      } else {
        t.equal(got.length, 4);
        t.ok(got[0]!.startsWith('aaa') && Buffer.byteLength(got[0]!) < 1000, 'first long line cut');
        t.ok(/^é+$/.test(got[2]!), 'cut on a character boundary');
        t.same([got[1], got[3]], ['short 1', 'short 2']);
        t.equal(await metricValue(env.metrics, 'kube_log_enricher_lines_truncated_total', { reason: 'max_line_bytes' }), 2);
      }
    });
  }
});

t.test('Docker json-file lines, undecodable lines passed on raw, the own pod never tailed', async (t) => {
  const env = await run(t, { selfPodUid: 'uid-self' });
  const pod = podDir(env.podsDir, 'ns', 'docker', 'uid-d');
  const self = podDir(env.podsDir, 'kube-system', 'kube-log-enricher-x', 'uid-self');
  append(self.log, criLine('my own output'));
  append(pod.log, dockerLine('from docker') + 'not a log line\n' + '\n' + dockerLine('to stderr', 'stderr'));
  const source = await env.start();
  t.teardown(() => source.stop());
  await waitFor('lines', () => messagesOf(env.out).length >= 3);
  await source.stop();
  const events = readEvents(env.out);
  t.same(events.map((e) => [e.stream, e.message]), [['stdout', 'from docker'], ['stdout', 'not a log line'], ['stderr', 'to stderr']]);
  t.equal(await metricValue(env.metrics, 'kube_log_enricher_lines_dropped_total', { reason: 'empty_line' }), 1);
  t.equal(await metricValue(env.metrics, 'kube_log_enricher_event_errors_total', { reason: 'undecodable_line' }), 1);
});

t.test('include and exclude globs relative to podsDir', async (t) => {
  const env = await run(t, { include: ['kube-system_*/**/*.log', 'shop_*/**/*.log'], exclude: ['**/istio-proxy/*.log'] });
  append(podDir(env.podsDir, 'kube-system', 'dns', 'u1').log, criLine('dns'));
  append(podDir(env.podsDir, 'shop', 'cart', 'u2').log, criLine('cart'));
  append(podDir(env.podsDir, 'shop', 'cart', 'u2', 'istio-proxy').log, criLine('proxy'));
  append(podDir(env.podsDir, 'other', 'x', 'u3').log, criLine('other'));
  mkdirSync(join(env.podsDir, 'shop_cart_u2', 'app', 'nested'), { recursive: true });
  const source = await env.start();
  t.teardown(() => source.stop());
  await waitFor('lines', () => messagesOf(env.out).length >= 2);
  await source.rescan();
  await source.stop();
  t.same(messagesOf(env.out).sort(), ['cart', 'dns']);
});

t.test('the source pauses reading while delivery is slow: buffered bytes stay bounded', async (t) => {
  const serialiser = createSerialisingStage();
  let maxBuffered = 0;
  let slowBatches = 0;
  // The stage looks at the source it feeds, which exists only once started.
  const running: { source?: FileSource } = {};
  const slow: BatchEnricher = {
    name: 'slow',
    async processBatch(b) {
      maxBuffered = Math.max(maxBuffered, running.source?.stats().bufferedBytes ?? 0);
      if (slowBatches++ < 20) await new Promise((r) => setTimeout(r, 5));
      return serialiser.processBatch(b);
    },
  };
  const env = await run(t, { maxBufferedBytes: 32 * 1024, readChunkBytes: 8 * 1024 }, slow);
  const lines = Array.from({ length: 5000 }, (_, i) => `line ${i} ${'y'.repeat(50)}`);
  for (let p = 0; p < 3; p++) writeFileSync(podDir(env.podsDir, 'ns', `p${p}`, `u${p}`).log, lines.map((m) => criLine(m)).join(''));
  const source = await env.start();
  running.source = source;
  t.teardown(() => source.stop());
  await waitFor('all lines', () => messagesOf(env.out).length >= 15_000);
  await source.stop();
  // The bound is exceeded by at most the chunks in flight when it was reached.
  t.ok(maxBuffered <= 32 * 1024 + 2 * (8 * 1024 + 64 * 1024), `buffered at most ${maxBuffered} bytes`);
  t.equal(messagesOf(env.out).length, 15_000);
});

t.test('a line without newline at the end of a deleted file is still delivered', async (t) => {
  const env = await run(t, { rotateWait: 20 });
  const pod = podDir(env.podsDir, 'ns', 'nonl', 'uid-n');
  append(pod.log, criLine('complete') + criLine('no newline').trimEnd());
  const source = await env.start();
  t.teardown(() => source.stop());
  await waitFor('complete line', () => messagesOf(env.out).length >= 1);
  unlinkSync(pod.log);
  await waitFor('last line', () => messagesOf(env.out).length >= 2);
  await source.stop();
  t.same(messagesOf(env.out), ['complete', 'no newline']);
});
