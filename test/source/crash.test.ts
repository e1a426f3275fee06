/**
 * Crash safety: the source runs in a child process writing to a file sink while a writer appends
 * (with rotations, some of them while the source is down, and split lines); the child is killed
 * with SIGKILL at random points and restarted. Afterwards every written line must be in the
 * output, in order per file, and the repeats must stay within the batches in flight at each kill
 * (checkpoints are journaled at every acknowledgement). Nothing here depends on the machine's
 * speed: the final run is waited for until it stops making progress, then every line is counted.
 */
import { appendFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import t from 'tap';
import { criLine, podDir, readEvents, startSourceChild, waitFor } from './fixtures.ts';

const KILLS = 8;
const BATCH = 200;

t.test('killed with SIGKILL at random points, rotations while up and down: no line lost, repeats within the batches in flight', async (t) => {
  const root = t.testdir({ pods: {}, data: {} });
  const podsDir = join(root, 'pods');
  const dataDir = join(root, 'data');
  const out = join(root, 'out.ndjson');
  const files = [podDir(podsDir, 'ns', 'a', 'ua').log, podDir(podsDir, 'ns', 'b', 'ub').log, podDir(podsDir, 'ns', 'b', 'ub', 'side').log];
  const written = new Map<string, string[]>(files.map((f) => [f, []]));
  let seq = 0;
  let rotations = 0;
  const rotate = (f: string) => renameSync(f, `${f}.20261123-${String(100000 + rotations++)}`);

  // The writer: a few lines per file every few ms; every 40th line split into two fragments; rotations now and then.
  let writing = true;
  const writer = (async () => {
    for (let tick = 0; writing; tick++) {
      for (const f of files) {
        let text = '';
        for (let i = 0; i < 4; i++) {
          const id = `${f.slice(-12)}#${seq++}`;
          if (seq % 40 === 0) {
            text += criLine(`${id} [first half`, 'stdout', 'P') + criLine(' second half]', 'stdout', 'F');
            written.get(f)!.push(`${id} [first half second half]`);
          } else {
            text += criLine(id);
            written.get(f)!.push(id);
          }
        }
        appendFileSync(f, text);
      }
      if (tick % 60 === 59) rotate(files[tick % files.length]!);
      await delay(5);
    }
  })();

  let rotatedWhileDown = 0;
  for (let kill = 0; kill < KILLS; kill++) {
    const run = startSourceChild(podsDir, dataDir, out, { batchMaxEvents: BATCH });
    // Sometimes during start-up, mostly while running.
    await (Math.random() < 0.2 ? delay(Math.random() * 300) : run.ready.then(() => delay(200 + Math.random() * 1200)));
    run.child.kill('SIGKILL');
    t.equal(await run.exited, null, `run ${kill + 1} was killed`);
    // Down for a while: the kubelet may rotate meanwhile, once or twice.
    if (kill % 3 === 1) {
      rotate(files[kill % files.length]!);
      rotatedWhileDown++;
      if (kill % 2 === 1) {
        await delay(30);
        rotate(files[kill % files.length]!);
        rotatedWhileDown++;
      }
    }
  }
  writing = false;
  await writer;

  const final = startSourceChild(podsDir, dataDir, out, { batchMaxEvents: BATCH });
  t.teardown(() => final.child.kill('SIGKILL'));
  await final.ready;
  const total = [...written.values()].reduce((n, w) => n + w.length, 0);
  const delivered = () => new Set(readEvents(out, { lines: 0 }).map((e) => e.message)).size;
  // Waited for until every line is there or nothing moved for 20 s: then the assertions below say what is missing.
  let last = -1;
  let lastChange = Date.now();
  await waitFor('every written line delivered, or no progress for 20 s', () => {
    const now = delivered();
    if (now !== last) {
      last = now;
      lastChange = Date.now();
    }
    return now >= total || Date.now() - lastChange > 20_000;
  }, 100_000);
  final.child.kill('SIGTERM');
  t.equal(await final.exited, 0, 'graceful stop exits 0');

  const torn = { lines: 0 };
  const events = readEvents(out, torn);
  t.ok(torn.lines <= KILLS, `${torn.lines} torn lines: at most one per kill, each a line of its own`);
  let repeats = 0;
  let lost = 0;
  for (const f of files) {
    const got = events.filter((e) => e.file === f).map((e) => e.message);
    const firstSeen: string[] = [];
    const seen = new Set<string>();
    for (const m of got) {
      if (seen.has(m)) repeats++;
      else {
        seen.add(m);
        firstSeen.push(m);
      }
    }
    const missing = written.get(f)!.filter((m) => !seen.has(m));
    lost += missing.length;
    if (missing.length > 0) t.comment(`${f}: ${missing.length} missing, first ${missing.slice(0, 3).join(', ')}, last ${missing.at(-1)}; stderr of the final run: ${final.stderr.join('').slice(0, 3000)}`);
    t.same(firstSeen, written.get(f), `${f}: every line, in order`);
  }
  t.equal(lost, 0, `no line lost (${total} written)`);
  t.ok(rotations > rotatedWhileDown && rotatedWhileDown > 0, `${rotations} rotations, ${rotatedWhileDown} of them while the source was down`);
  // Each kill repeats at most the batches that were written but not yet acknowledged.
  t.ok(repeats <= KILLS * 2 * BATCH, `${repeats} lines repeated over ${KILLS} kills (at most ${2 * BATCH} each)`);
  t.comment(`written ${total}, output ${events.length}, repeated ${repeats}, rotations ${rotations} (${rotatedWhileDown} while down)`);
});
