/** Checkpoints: the file format, atomic writes, and restarts that neither lose nor repeat lines. */
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { createFileSink } from '../../src/sink/index.ts';
import {
  CheckpointStore,
  createSerialisingStage,
  entryJson,
  parseCheckpoints,
  serialiseCheckpoints,
  startFileSource,
  type CheckpointEntry,
} from '../../src/source/index.ts';
import { emptyFingerprint } from '../../src/source/fingerprint.ts';
import { append, cri, lines, messagesOf, podDir, recordingLogger, sourceEnv, sourceOptions, testMetrics, waitFor } from './fixtures.ts';

const entry = (over: Partial<CheckpointEntry> = {}): CheckpointEntry => ({
  path: '/var/log/pods/ns_p_u/c/0.log', dev: '2049', ino: '1234', headLength: 256, headHash: 'ab'.repeat(20), offset: 4096, ...over,
});

t.test('format: round trip, and corrupt files named precisely', async (t) => {
  const entries = [entry(), entry({ ino: '99', offset: 0, headLength: 10 })];
  const text = serialiseCheckpoints(entries, '2026-11-23T10:00:00.000Z', 7);
  t.same(parseCheckpoints(text), { ok: true, entries, seq: 7 });
  t.match(JSON.parse(text), { version: 1, writtenAt: '2026-11-23T10:00:00.000Z', seq: 7 });
  t.same(parseCheckpoints('{"version":1,"files":[]}'), { ok: true, entries: [], seq: 0 }, 'a snapshot of an earlier version, without seq');
  const bad = (doc: string, error: RegExp) => {
    const r = parseCheckpoints(doc);
    t.equal(r.ok, false, doc.slice(0, 40));
    if (!r.ok) t.match(r.error, error);
  };
  bad('{"version":1,"files":[', /not JSON/);
  bad('[]', /"files" is not an array|version/);
  bad('{"version":2,"files":[]}', /version is 2, this build reads version 1/);
  bad('{"version":1,"files":[{"path":"x","dev":"1","ino":"2","headLength":0,"headHash":"","offset":-1}]}', /files\[0\]\.offset/);
  bad('{"version":1,"files":[{"path":"x","dev":"1","headLength":0,"headHash":"","offset":1}]}', /files\[0\]\.ino/);
  bad('null', /not a JSON object/);
  bad('{"version":1,"seq":-1,"files":[]}', /"seq"/);
  const odd = entry({ path: '/var/log/pods/ns_p\\"q_u/c/0.log', headHash: '' });
  t.same(JSON.parse(entryJson(odd)), odd, 'journal text of an entry is its JSON, whatever the path holds');
});

t.test('format: parked entries (files of excluded pods, never opened)', async (t) => {
  const parked = entry({ offset: 5000, ...emptyFingerprint('2049', '77'), parked: true });
  const text = serialiseCheckpoints([entry(), parked], '2026-12-05T10:00:00.000Z', 3);
  t.same(parseCheckpoints(text), { ok: true, entries: [entry(), parked], seq: 3 }, 'round trip');
  t.same(JSON.parse(text).files[0], { path: entry().path, dev: '2049', ino: '1234', headLength: 256, headHash: 'ab'.repeat(20), offset: 4096 }, 'an entry read as before has no parked field');
  t.same(JSON.parse(entryJson(parked)), parked, 'journal text of a parked entry');
  t.match(JSON.parse(text).files[1], { headLength: 0, headHash: /^[0-9a-f]{40}$/ }, 'an empty fingerprint, which a build without parking matches by inode');
  const bad = (file: string, error: RegExp) => {
    const r = parseCheckpoints(`{"version":1,"files":[${file}]}`);
    t.equal(r.ok, false, file);
    if (!r.ok) t.match(r.error, error);
  };
  bad('{"path":"x","dev":"1","ino":"2","headLength":0,"headHash":"","offset":1,"parked":false}', /^files\[0\]\.parked is invalid: true or absent$/);
  bad('{"path":"x","dev":"1","ino":"2","headLength":0,"headHash":"","offset":1,"parked":"yes"}', /^files\[0\]\.parked is invalid/);
  bad('{"path":"x","dev":"1","ino":"2","headLength":12,"headHash":"","offset":1,"parked":true}', /^files\[0\]\.headLength must be 0 in a parked entry$/);
  bad('{"path":"x","dev":"1","ino":"2","headHash":"","offset":1,"parked":true}', /^files\[0\]\.headLength is missing or invalid$/);
});

t.test('store: atomic save, load, and a corrupt file kept aside', async (t) => {
  const dir = t.testdir();
  const store = new CheckpointStore(join(dir, 'nested', 'data'));
  t.same(await store.load(), { status: 'missing', entries: [] });
  await store.save([entry()], '2026-11-23T10:00:00.000Z');
  t.same(await store.load(), { status: 'loaded', entries: [entry()] });
  t.notOk(existsSync(`${store.path}.tmp`), 'no temporary file left');
  writeFileSync(store.path, '{"version":1,"files":[{"pa');
  const corrupt = await store.load(1234);
  t.equal(corrupt.status, 'corrupt');
  if (corrupt.status === 'corrupt') {
    t.match(corrupt.error, /not JSON/);
    t.equal(corrupt.keptAs, `${store.path}.corrupt-1234`);
    t.equal(readFileSync(corrupt.keptAs!, 'utf8'), '{"version":1,"files":[{"pa');
  }
  t.same(await store.load(), { status: 'missing', entries: [] }, 'the corrupt file no longer blocks the next start');
});

t.test('journal: every acknowledgement appended at once, applied over the snapshot in order', async (t) => {
  const dir = t.testdir();
  const store = new CheckpointStore(dir);
  t.same(await store.load(), { status: 'missing', entries: [] });
  store.append([entryJson(entry({ ino: '1', offset: 10 }))], []);
  store.append([entryJson(entry({ ino: '2', offset: 5 })), entryJson(entry({ ino: '1', offset: 20 }))], []);
  t.equal(store.pendingRecords, 2);
  // A crash now: nothing but the journal tells the positions.
  const reloaded = await new CheckpointStore(dir).load();
  t.same(reloaded, { status: 'loaded', entries: [entry({ ino: '1', offset: 20 }), entry({ ino: '2', offset: 5 })], journalError: undefined });

  await store.save([entry({ ino: '1', offset: 20 }), entry({ ino: '2', offset: 5 })], '2026-11-23T10:00:00.000Z');
  t.equal(store.pendingRecords, 0);
  t.same(readdirSync(dir).filter((n) => n.startsWith('checkpoints.journal.')), [], 'journal files covered by the snapshot are deleted');
  store.append([entryJson(entry({ ino: '2', offset: 50 }))], ['2049:1']);
  store.close();
  const after = new CheckpointStore(dir);
  t.same(await after.load(), { status: 'loaded', entries: [entry({ ino: '2', offset: 50 })], journalError: undefined }, 'snapshot, then the newer record');
  // The next store continues the sequence: its records are newer than everything loaded.
  after.append([entryJson(entry({ ino: '3', offset: 1 }))], []);
  after.close();
  t.same((await new CheckpointStore(dir).load()).entries.map((e) => e.ino), ['2', '3']);
});

t.test('journal: a crash between starting a new journal and the snapshot, a torn append, a damaged record', async (t) => {
  const dir = t.testdir();
  const store = new CheckpointStore(dir);
  await store.load();
  store.append([entryJson(entry({ ino: '1', offset: 10 }))], []);
  // Journal 0 holds seq 1; a snapshot started (journal 1 opened) but never finished: the old snapshot and both journals count.
  writeFileSync(join(dir, 'checkpoints.journal.1'), `${JSON.stringify({ seq: 2, set: [entry({ ino: '1', offset: 30 })], del: [] })}\n`);
  t.same((await new CheckpointStore(dir).load()).entries.map((e) => e.offset), [30]);
  // A snapshot that includes seq 2, with the old journals still there: their records are not applied again.
  writeFileSync(store.path, serialiseCheckpoints([entry({ ino: '1', offset: 30 })], 'now', 2));
  writeFileSync(join(dir, 'checkpoints.journal.0'), `${JSON.stringify({ seq: 1, set: [entry({ ino: '1', offset: 10 })], del: [] })}\n`);
  t.same((await new CheckpointStore(dir).load()).entries.map((e) => e.offset), [30], 'records older than the snapshot are skipped');
  // An append cut short by a power loss: ignored, the positions are older (lines repeat, none is lost).
  writeFileSync(join(dir, 'checkpoints.journal.2'), `${JSON.stringify({ seq: 3, set: [entry({ ino: '1', offset: 40 })], del: [] })}\n{"seq":4,"set":[{"pa`);
  t.same(await new CheckpointStore(dir).load(), { status: 'loaded', entries: [entry({ ino: '1', offset: 40 })], journalError: undefined });
  // A damaged whole line: what came before stands, and it is said.
  writeFileSync(join(dir, 'checkpoints.journal.3'), `not json\n${JSON.stringify({ seq: 9, set: [entry({ ino: '1', offset: 90 })], del: [] })}\n`);
  const damaged = await new CheckpointStore(dir).load();
  t.same(damaged.entries.map((e) => e.offset), [40]);
  t.match(damaged.journalError, /checkpoints\.journal\.3 line 1: not JSON/);
});

const env = sourceEnv;

t.test('a restart continues where the delivered data ended: nothing lost, nothing repeated', async (t) => {
  const e = env(t);
  const pod = podDir(e.podsDir, 'ns', 'p', 'u1');
  const first = lines('first', 100);
  append(pod.log, cri(first));
  let source = await e.start();
  await waitFor('first run', () => messagesOf(e.out).length >= 100);
  await source.stop();
  const second = lines('second', 50);
  append(pod.log, cri(second));
  const fresh = podDir(e.podsDir, 'ns', 'q', 'u2');
  append(fresh.log, cri(['a file that appeared while stopped']));
  // readFrom=end only concerns files without a checkpoint: the known file still continues where it was.
  source = await e.start({ readFrom: 'end' });
  t.teardown(() => source.stop());
  await waitFor('second run', () => messagesOf(e.out, pod.log).length >= 150);
  append(fresh.log, cri(['appended after the start']));
  await waitFor('new line of the unknown file', () => messagesOf(e.out, fresh.log).length >= 1);
  await source.stop();
  t.same(messagesOf(e.out, pod.log), [...first, ...second]);
  t.same(messagesOf(e.out, fresh.log), ['appended after the start'], 'readFrom=end skips what an unknown file already had');
});

t.test('a reused inode is not mistaken for the old file', async (t) => {
  const e = env(t);
  const pod = podDir(e.podsDir, 'ns', 'p', 'u1');
  append(pod.log, cri(lines('old content', 30)));
  let source = await e.start();
  await waitFor('first run', () => messagesOf(e.out).length >= 30);
  await source.stop();
  // Same inode, new content longer than the old offset: only the fingerprint tells them apart.
  const replacement = lines('replacement', 60);
  writeFileSync(pod.log, cri(replacement));
  source = await e.start();
  t.teardown(() => source.stop());
  await waitFor('second run', () => messagesOf(e.out).length >= 90);
  await source.stop();
  t.same(messagesOf(e.out).slice(30), replacement);
});

t.test('a corrupt checkpoint file: said clearly, and reading starts per readFrom', async (t) => {
  const e = env(t);
  const pod = podDir(e.podsDir, 'ns', 'p', 'u1');
  append(pod.log, cri(lines('existing', 5)));
  writeFileSync(join(e.dataDir, 'checkpoints.json'), 'this is not json');
  const source = await e.start({ readFrom: 'end' });
  t.teardown(() => source.stop());
  t.equal(source.stats().checkpointStatus, 'corrupt');
  const said = e.logger.records.find((r) => r.level === 'error');
  t.match(said?.msg, /checkpoint file is corrupt; starting every file per readFrom=end/);
  t.match(said?.obj, { error: /not JSON/ });
  t.ok(readdirSync(e.dataDir).some((n) => n.startsWith('checkpoints.json.corrupt-')), 'the corrupt file is kept for inspection');
  append(pod.log, cri(['after start']));
  await waitFor('new line', () => messagesOf(e.out).length >= 1);
  await source.stop();
  t.same(messagesOf(e.out), ['after start']);
  t.equal(JSON.parse(readFileSync(join(e.dataDir, 'checkpoints.json'), 'utf8')).version, 1, 'a valid file is written again');
});

t.test('checkpoints only cover what the sink acknowledged', async (t) => {
  const root = t.testdir({ pods: {}, data: {} });
  const podsDir = join(root, 'pods');
  const pod = podDir(podsDir, 'ns', 'p', 'u1');
  append(pod.log, cri(lines('held', 10)));
  // A sink that never acknowledges: a directory where the file should be, so every append fails.
  const sinkPath = join(root, 'data');
  const source = await startFileSource(sourceOptions(podsDir, join(root, 'data')), {
    enrich: createSerialisingStage(), sink: createFileSink(sinkPath), metrics: testMetrics(), logger: recordingLogger(),
  });
  await waitFor('failed attempts', () => source.stats().failedAttempts >= 2);
  await source.stop({ timeoutMs: 50 });
  const saved = JSON.parse(readFileSync(join(root, 'data', 'checkpoints.json'), 'utf8')) as { files: CheckpointEntry[] };
  t.equal(saved.files.length, 1);
  t.equal(saved.files[0]?.offset, 0, 'nothing delivered, nothing checkpointed');
});

/** The highest offset the journal files of `dataDir` hold for any file (0 when none). */
function journaledOffset(dataDir: string): number {
  let offset = 0;
  for (const name of readdirSync(dataDir).filter((n) => n.startsWith('checkpoints.journal.'))) {
    for (const line of readFileSync(join(dataDir, name), 'utf8').split('\n')) {
      if (line === '') continue;
      for (const e of (JSON.parse(line) as { set: CheckpointEntry[] }).set) offset = Math.max(offset, e.offset);
    }
  }
  return offset;
}

t.test('journal: positions of a trickle are appended by themselves, with no further batch nor snapshot', async (t) => {
  const root = t.testdir({ pods: {}, data: {} });
  const podsDir = join(root, 'pods');
  const dataDir = join(root, 'data');
  const pod = podDir(podsDir, 'ns', 'p', 'u1');
  append(pod.log, '');
  const out = join(root, 'out.ndjson');
  // No snapshot during the test: only the journal can carry the position.
  const source = await startFileSource(sourceOptions(podsDir, dataDir, { checkpointInterval: 3_600_000, batchMaxEvents: 1000 }), {
    enrich: createSerialisingStage(), sink: createFileSink(out), metrics: testMetrics(), logger: recordingLogger(),
  });
  t.teardown(() => source.stop());
  const text = cri(lines('one of two', 2));
  append(pod.log, text);
  await waitFor('both lines in the sink', () => existsSync(out) && messagesOf(out).length === 2);
  // Two lines are far from batchMaxEvents: coalesced, and appended within 250 ms all the same.
  await waitFor('the acknowledged position in the journal', () => journaledOffset(dataDir) === Buffer.byteLength(text));
  t.equal(journaledOffset(dataDir), Buffer.byteLength(text), 'the journal holds the end of the file');
});

t.test('journal: after a backlog (batchMaxEvents lines or more), positions are journaled before the next write', async (t) => {
  const root = t.testdir({ pods: {}, data: {} });
  const podsDir = join(root, 'pods');
  const dataDir = join(root, 'data');
  const pod = podDir(podsDir, 'ns', 'p', 'u1');
  const first = cri(lines('first', 40));
  append(pod.log, first);
  const out = join(root, 'out.ndjson');
  const inner = createFileSink(out);
  /** What the journal held at each write. */
  const journaledAtWrite: number[] = [];
  const sink: typeof inner = {
    get available() {
      return inner.available;
    },
    write(chunk) {
      journaledAtWrite.push(journaledOffset(dataDir));
      return inner.write(chunk);
    },
    close: () => inner.close(),
  };
  const source = await startFileSource(sourceOptions(podsDir, dataDir, { checkpointInterval: 3_600_000, batchMaxEvents: 5, readFrom: 'beginning' }), {
    enrich: createSerialisingStage(), sink, metrics: testMetrics(), logger: recordingLogger(),
  });
  t.teardown(() => source.stop());
  await waitFor('the 40 lines of the backlog in the sink', () => existsSync(out) && messagesOf(out).length === 40);
  const writesOfFirst = journaledAtWrite.length;
  t.ok(writesOfFirst >= 8, `${writesOfFirst} writes of at most 5 lines`);
  append(pod.log, cri(lines('second', 5)));
  await waitFor('the next 5 lines in the sink', () => messagesOf(out).length === 45);
  // 40 lines acknowledged under one progress mark: journaled at once, not within 250 ms.
  t.equal(journaledAtWrite[writesOfFirst], Buffer.byteLength(first), 'the backlog\'s end was in the journal when the next batch was written');
});
