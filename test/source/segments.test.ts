/** Which files of a log path are read after a restart, or when a rotation is noticed: the pure rules. */
import t from 'tap';
import { isRotatedName, planRestart, successorsOf, type Segment } from '../../src/source/segments.ts';

const seg = (name: string, key: string, size = 100, mtimeNs = 0n): Segment => ({ file: `/p/c/${name}`, key, size, mtimeNs, live: name === '0.log' });
const plan = (segments: Segment[], checkpointed: [string, number][], seen = true, readFrom: 'beginning' | 'end' = 'beginning') =>
  planRestart(segments, new Map(checkpointed), seen, readFrom).map((p) => `${p.segment.file.slice(5)}:${p.from === 'checkpoint' ? p.offset : p.from}`);

t.test('rotated names: the kubelet\'s timestamped files, not compressed or temporary ones', async (t) => {
  t.ok(isRotatedName('0.log', '0.log.20261123-101500'));
  t.ok(isRotatedName('0.log', '0.log.1'));
  t.notOk(isRotatedName('0.log', '0.log.20261123-101500.gz'));
  t.notOk(isRotatedName('0.log', '0.log.20261123-101500.tmp'));
  t.notOk(isRotatedName('0.log', '0.log'));
  t.notOk(isRotatedName('0.log', '0.log.'));
  t.notOk(isRotatedName('0.log', '10.log.20261123-101500'), 'another restart\'s file');
  t.notOk(isRotatedName('1.log', '1.logx'));
});

t.test('restart plans', async (t) => {
  const r1 = seg('0.log.20261123-100000', 'r1');
  const r2 = seg('0.log.20261123-110000', 'r2');
  const live = seg('0.log', 'live');
  t.same(plan([r1, r2, live], [['live', 40]]), ['0.log:40'], 'nothing rotated since: the live file resumes, older files were delivered');
  t.same(plan([r1, r2, live], [['r2', 40]]), ['0.log.20261123-110000:40', '0.log:start'], 'rotated once while down');
  t.same(plan([r1, r2, live], [['r1', 40]]), ['0.log.20261123-100000:40', '0.log.20261123-110000:start', '0.log:start'], 'rotated twice while down');
  t.same(plan([r1, r2, live], [['r1', 100], ['r2', 10]]), ['0.log.20261123-110000:10', '0.log:start'], 'a rotated file checkpointed at its end is done');
  t.same(plan([r1, r2, live], [['r1', 60], ['live', 5]]), ['0.log.20261123-100000:60', '0.log:5'], 'an older file not fully delivered still resumes');
  t.same(plan([r1, r2, live], []), ['0.log.20261123-100000:start', '0.log.20261123-110000:start', '0.log:start'], 'the checkpointed file is gone (compressed or deleted): everything left is newer');
  t.same(plan([r1, r2, live], [], false), ['0.log.20261123-100000:start', '0.log.20261123-110000:start', '0.log:start'], 'a container never seen: everything, from the start');
  t.same(plan([r1, r2, live], [], false, 'end'), ['0.log:end'], 'readFrom=end applies to containers never seen');
  t.same(plan([r1, r2, live], [['r2', 0]], true, 'end'), ['0.log.20261123-110000:0', '0.log:start'], 'and only to them');
  t.same(plan([r1], [['r1', 20]]), ['0.log.20261123-100000:20'], 'no live file (yet)');
});

t.test('successors of a file rotated away while it was being read', async (t) => {
  const a = seg('0.log.20261123-100000', 'a', 100, 10n);
  const b = seg('0.log.20261123-110000', 'b', 100, 20n);
  const live = seg('0.log', 'c', 100, 30n);
  t.same(successorsOf([a, b, live], { key: 'a', mtimeNs: 10n }, new Set()).map((s) => s.key), ['b', 'c'], 'rotated twice before it was noticed');
  t.same(successorsOf([a, b, live], { key: 'b', mtimeNs: 20n }, new Set()).map((s) => s.key), ['c']);
  t.same(successorsOf([b, live], { key: 'a', mtimeNs: 10n }, new Set()).map((s) => s.key), ['b', 'c'], 'gone from the directory: by modification time');
  t.same(successorsOf([a, b, live], { key: 'x', mtimeNs: 15n }, new Set()).map((s) => s.key), ['b', 'c'], 'older files are not successors');
  t.same(successorsOf([a, b, live], { key: 'a', mtimeNs: 10n }, new Set(['b'])).map((s) => s.key), ['c'], 'files already read are skipped');
});
